"""Fan-out throughput under KIS's rate limit, and the client's per-request overhead.

    python benchmarks/fanout.py [--requests 200] [--limit 18] [--rounds 5]

1. ``--requests`` price queries through AsyncKISClient.get_current_prices against an
   in-process MockKIS that enforces ``--limit`` requests per second on a sliding window:
   achieved rate, its ratio to the limit, and EGW00201 answers sent by the server and
   seen by the caller. Targets: ratio >= 0.95, nothing surfaced.
2. With the limit lifted: the time per get_current_price against a bare httpx GET plus
   json.loads of the same request over the same transport. Target: ratio <= 2.0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from datetime import datetime

import httpx

from kis_async import KST, AsyncKISClient, KISError
from kis_async.mock import DEMO_APP_KEY, DEMO_APP_SECRET, MockClock, MockKIS

PRICE_PATH = "/uapi/domestic-stock/v1/quotations/inquire-price"
#: A Friday mid-session; frozen so every run sees the same market.
SESSION = datetime(2026, 11, 20, 11, 0, tzinfo=KST)


async def throughput(requests: int, limit: float) -> dict[str, float]:
    mock = MockKIS(seed=0, clock=MockClock(SESSION, frozen=True), rate_limit=limit)
    tickers = [mock.tickers[i % len(mock.tickers)] for i in range(requests)]
    async with AsyncKISClient.for_mock(mock) as kis:
        await kis.get_current_price(tickers[0])  # token and first contact outside the clock
        await asyncio.sleep(1.1)  # let the server's one-second window empty
        surfaced = 0
        started = time.perf_counter()
        # get_current_prices de-duplicates tickers, so fan out in batches of distinct ones.
        for batch_start in range(0, requests, len(mock.tickers)):
            batch = tickers[batch_start : batch_start + len(mock.tickers)]
            results = await kis.get_current_prices(batch, return_exceptions=True)
            surfaced += sum(isinstance(r, KISError) for r in results.values())
        elapsed = time.perf_counter() - started
    rate = requests / elapsed
    return {
        "requests": requests,
        "seconds": elapsed,
        "rate": rate,
        "ratio": rate / limit,
        "egw00201_sent": mock.stats.rate_limited,
        "errors_surfaced": surfaced,
    }


async def overhead(calls: int, rounds: int) -> dict[str, float]:
    mock = MockKIS(seed=0, clock=MockClock(SESSION, frozen=True), rate_limit=float("inf"))
    async with (
        AsyncKISClient.for_mock(mock) as kis,
        httpx.AsyncClient(transport=mock.transport, base_url="http://mock") as bare,
    ):
        await kis.get_current_price("005930")  # the client's token first...
        mock.clock.advance(61)  # ...then KIS's one-a-minute rule lets the bare client ask
        token = (
            await bare.post(
                "/oauth2/tokenP",
                json={
                    "grant_type": "client_credentials",
                    "appkey": DEMO_APP_KEY,
                    "appsecret": DEMO_APP_SECRET,
                },
            )
        ).json()["access_token"]
        headers = {
            "content-type": "application/json; charset=utf-8",
            "authorization": f"Bearer {token}",
            "appkey": DEMO_APP_KEY,
            "appsecret": DEMO_APP_SECRET,
            "tr_id": "FHKST01010100",
            "custtype": "P",
        }
        params = {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"}

        async def bare_call() -> None:
            response = await bare.get(PRICE_PATH, params=params, headers=headers)
            json.loads(response.content)

        async def client_call() -> None:
            await kis.get_current_price("005930")

        for _ in range(200):  # warm both paths and the mock's caches
            await bare_call()
            await client_call()
        bare_times: list[float] = []
        client_times: list[float] = []
        for _ in range(rounds):  # alternate, so drift in the machine hits both alike
            for call, sink in ((bare_call, bare_times), (client_call, client_times)):
                started = time.perf_counter()
                for _ in range(calls):
                    await call()
                sink.append((time.perf_counter() - started) / calls)
    bare_us = statistics.median(bare_times) * 1e6
    client_us = statistics.median(client_times) * 1e6
    return {"bare_us": bare_us, "client_us": client_us, "ratio": client_us / bare_us}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--limit", type=float, default=18.0)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    fan = asyncio.run(throughput(args.requests, args.limit))
    print(f"fan-out: {fan['requests']:.0f} price queries in {fan['seconds']:.2f} s")
    print(
        f"  achieved {fan['rate']:.2f} req/s against a limit of {args.limit:g} req/s: "
        f"ratio {fan['ratio']:.3f} (target >= 0.95)"
    )
    print(
        f"  EGW00201 sent by the server: {fan['egw00201_sent']}; "
        f"errors seen by the caller: {fan['errors_surfaced']} (target 0)"
    )

    cost = asyncio.run(overhead(args.calls, args.rounds))
    print(f"overhead, limit lifted, median of {args.rounds} rounds of {args.calls} calls:")
    print(f"  bare httpx GET + json.loads: {cost['bare_us']:.0f} us/request")
    print(f"  AsyncKISClient.get_current_price: {cost['client_us']:.0f} us/request")
    print(f"  ratio {cost['ratio']:.2f} (target <= 2.0)")

    ok = fan["ratio"] >= 0.95 and fan["errors_surfaced"] == 0 and cost["ratio"] <= 2.0
    print("targets met" if ok else "TARGETS MISSED")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()

"""Several processes on one app key: each rate-budget backend against one served mock.

    python benchmarks/shared_budget.py [--processes 4] [--quotes 50] [--limit 18]
                                       [--redis redis://127.0.0.1:6379/0] [--headroom 0.03]

1. For each backend (process, machine, Redis): ``--processes`` processes, each quoting
   ``--quotes`` tickers on the same app key, against ONE mock served by
   ``python -m kis_async.mock --rate-limit LIMIT`` in a process of its own. All start
   together (a shared start time, tokens fetched before it). Reported: aggregate
   quotes per second, its ratio to the limit, EGW00201 answers the server sent, and
   tokenP requests in all. Targets (machine, Redis): ratio >= 0.95 with 0 EGW00201
   and 1 token.
2. The cost of one budget acquire with nothing to wait for, in microseconds.
3. A 100-ticker fan-out over one key and over three keys (AppKeyPool), in-process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from kis_async import AsyncKISClient, KISSettings
from kis_async.mock import DEMO_APP_KEY, DEMO_APP_SECRET, MockKIS
from kis_async.shared import AppKeyPool, MachineBudget, Pacing, ProcessBudget, RedisBudget
from kis_async.shared._budget import _PacedBudget


async def _worker(job: dict[str, Any]) -> dict[str, Any]:
    settings = KISSettings(_env_file=None, **job["settings"])
    async with AsyncKISClient(settings) as kis:
        await kis._tokens.get()  # the token before the start: rates measure quotes only
        delay = job["start_at"] - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        results = await kis.get_current_prices(job["tickers"], return_exceptions=True)
        ended = time.time()
        return {
            "quotes": sum(not isinstance(r, Exception) for r in results.values()),
            "rate_limited": kis.stats.rate_limited,
            "token_requests": kis.token_requests,
            "ended": ended,
        }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _served_mock(limit: float, home: Path) -> tuple[asyncio.subprocess.Process, str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIS_")}
    env["XDG_CACHE_HOME"] = str(home)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kis_async.mock",
        "--port",
        str(port),
        "--rate-limit",
        str(limit),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
    )
    for _ in range(500):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.02)
            continue
        writer.close()
        await writer.wait_closed()
        return proc, f"http://127.0.0.1:{port}"
    raise RuntimeError("the mock did not start")


async def run_backend(
    backend: str, processes: int, quotes: int, limit: float, headroom: float, redis_url: str
) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="kis-bench-"))
    proc, base_url = await _served_mock(limit, home)
    tickers = list(MockKIS().tickers)
    settings: dict[str, Any] = {
        "env": "mock",
        "base_url": base_url,
        "app_key": DEMO_APP_KEY,
        "app_secret": DEMO_APP_SECRET,
        "rate_limit": limit,
        "rate_limit_headroom": headroom,
        "token_cache_dir": str(home / "tokens"),
        "rate_budget": redis_url if backend == "redis" else backend,
        "redis_prefix": f"kis-bench-{uuid.uuid4().hex[:8]}",
        "api_queue_timeout": None,
    }
    start_at = time.time() + 3.0 + 0.5 * processes  # after every process is up
    jobs = [
        {
            "settings": settings,
            "tickers": [tickers[(i * quotes + k) % len(tickers)] for k in range(quotes)],
            "start_at": start_at,
        }
        for i in range(processes)
    ]
    try:
        workers = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--worker",
                json.dumps(job),
                stdout=asyncio.subprocess.PIPE,
                env={**os.environ, "XDG_CACHE_HOME": str(home)},
            )
            for job in jobs
        ]
        outputs = await asyncio.gather(*(w.communicate() for w in workers))
    finally:
        proc.terminate()
        await proc.wait()
    results = [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outputs]
    done = sum(r["quotes"] for r in results)
    elapsed = max(r["ended"] for r in results) - start_at
    rate = done / elapsed
    return {
        "backend": backend,
        "quotes": done,
        "seconds": elapsed,
        "rate": rate,
        "ratio": rate / limit,
        "egw00201": sum(r["rate_limited"] for r in results),
        "tokens": sum(r["token_requests"] for r in results),
    }


async def acquire_cost(budget: _PacedBudget, rounds: int) -> float:
    for _ in range(20):
        await budget.acquire()
    started = time.perf_counter()
    for _ in range(rounds):
        await budget.acquire()
    elapsed = time.perf_counter() - started
    await budget.aclose()
    return elapsed / rounds * 1e6


async def pool_fan_out(keys: int, limit: float) -> float:
    mock = MockKIS(1, rate_limit=limit)
    clients = []
    for i in range(keys):
        key, secret = f"PSBENCHKEY{i:026d}", f"bench-secret-{i}"
        mock.add_app(key, secret)
        clients.append(AsyncKISClient.for_mock(mock, app_key=key, app_secret=secret))
    async with AppKeyPool(clients) as pool:
        for kis in clients:
            await kis._tokens.get()
        await asyncio.sleep(1.1)
        started = time.perf_counter()
        await pool.get_current_prices(mock.tickers[:100])
        return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--quotes", type=int, default=50)
    parser.add_argument("--limit", type=float, default=18.0)
    parser.add_argument("--headroom", type=float, default=0.03)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()

    print(
        f"{args.processes} processes x {args.quotes} quotes, one app key, served mock at "
        f"{args.limit:g} req/s, headroom {args.headroom:g}"
    )
    print(f"{'backend':8} {'req/s':>7} {'ratio':>6} {'EGW00201':>9} {'tokens':>7}")
    for backend in ("process", "machine", "redis"):
        row = await run_backend(
            backend, args.processes, args.quotes, args.limit, args.headroom, args.redis
        )
        print(
            f"{row['backend']:8} {row['rate']:7.2f} {row['ratio']:6.3f} "
            f"{row['egw00201']:9d} {row['tokens']:7d}"
        )

    huge = Pacing(1e9)
    prefix = f"kis-bench-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as directory:
        costs = {
            "process": await acquire_cost(ProcessBudget(huge), args.rounds),
            "machine": await acquire_cost(MachineBudget(Path(directory), "k", huge), args.rounds),
            "redis": await acquire_cost(
                RedisBudget(args.redis, "k", huge, prefix=prefix), args.rounds
            ),
        }
    print(f"one acquire with nothing to wait for (mean of {args.rounds}):")
    for name, cost in costs.items():
        print(f"  {name:8} {cost:8.1f} us")

    one = await pool_fan_out(1, args.limit)
    three = await pool_fan_out(3, args.limit)
    print(
        f"100-ticker fan-out at {args.limit:g} req/s per key: 1 key {one:.2f} s, "
        f"3 keys (AppKeyPool) {three:.2f} s, {one / three:.2f}x sooner"
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        print(json.dumps(asyncio.run(_worker(json.loads(sys.argv[2])))))
    else:
        asyncio.run(main())

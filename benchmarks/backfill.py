"""Backfill throughput: every mock ticker x one year of daily bars under KIS's limit.

    python benchmarks/backfill.py [--limit 18] [--days 365] [--latency 0.02]

Against an in-process MockKIS enforcing ``--limit`` requests per second (sliding
window) with ``--latency`` seconds per answer, one :func:`kis_async.backfill.backfill`
of every ticker into a fresh SQLite file. Reports:

- chart calls sent vs the minimum needed (per ticker ceil(sessions / 100), one page of
  KIS's period chart holding 100 bars). Target: equal.
- wall time vs the bound requests / limit, as ``efficiency = bound / wall``.
  Target >= 0.95.
- EGW00201 answers the server had to send (target 0), and a complete rerun's calls
  (target: one overlap check per ticker).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from kis_async import KST, AsyncKISClient, PriceType
from kis_async.backfill import backfill, last_complete_day
from kis_async.mock import MockClock, MockKIS

CHART = "/uapi/domestic-stock/v1/quotations/inquire-daily-itemchartprice"
#: A Friday mid-session; frozen so every run sees the same market.
SESSION = datetime(2026, 11, 20, 11, 0, tzinfo=KST)


async def run(limit: float, days: int, latency: float, concurrency: int) -> dict[str, object]:
    mock = MockKIS(seed=0, clock=MockClock(SESSION, frozen=True), rate_limit=limit, latency=latency)
    end = last_complete_day(SESSION)
    start = end - timedelta(days=days - 1)
    tickers = list(mock.tickers)
    async with AsyncKISClient.for_mock(mock) as kis:
        # The minimum: pages of 100 over each ticker's sessions in the range (counted on
        # an unlimited twin of the same market, outside the clock).
        twin = MockKIS(seed=0, clock=MockClock(SESSION, frozen=True), rate_limit=float("inf"))
        async with AsyncKISClient.for_mock(twin) as counter:
            minimum = 0
            for ticker in tickers:
                bars = await counter.get_chart_data(ticker, PriceType.DAILY, 400, end=end)
                sessions = sum(1 for bar in bars if bar.date >= start)
                minimum += max(1, -(-sessions // 100))
        await kis.get_current_price(tickers[0])  # the token, outside the clock
        await asyncio.sleep(1.1)  # let the server's one-second window empty
        mock.stats.reset()
        with tempfile.TemporaryDirectory() as folder:
            store = Path(folder) / "bars.sqlite"
            started = time.perf_counter()
            report = await backfill(kis, tickers, start, end, store=store, concurrency=concurrency)
            wall = time.perf_counter() - started
            sent = mock.stats.requests[CHART]
            limited = mock.stats.rate_limited
            mock.stats.reset()
            await asyncio.sleep(1.1)
            rerun = await backfill(kis, tickers, start, end, store=store)
    bound = sent / limit
    return {
        "tickers": len(tickers),
        "start": start.isoformat(),
        "end": end.isoformat(),
        "bars": report.bars_written,
        "chart_calls": sent,
        "minimum_calls": minimum,
        "calls_over_minimum": sent / minimum,
        "wall_seconds": round(wall, 3),
        "bound_seconds": round(bound, 3),
        "efficiency": round(bound / wall, 4),
        "egw00201_sent": limited,
        "failed": len(report.failed),
        "rerun_calls": rerun.chart_calls,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=float, default=18.0, help="requests/s (default 18)")
    parser.add_argument("--days", type=int, default=365, help="calendar days (default 365)")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per answer")
    parser.add_argument("--concurrency", type=int, default=8, help="tickers at once")
    args = parser.parse_args()
    result = asyncio.run(run(args.limit, args.days, args.latency, args.concurrency))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

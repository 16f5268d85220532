"""One "process" or "host" of the sharing tests: quotes a list of tickers and reports.

Run as ``python worker.py '<json>'``; prints one JSON line. ``skew`` seconds are added to
this process's ``time.time`` and ``time.monotonic`` before anything else is imported,
as on a host whose clock is off.
"""

from __future__ import annotations

import json
import sys
import time


def _skew(seconds: float) -> None:
    real_time, real_monotonic = time.time, time.monotonic
    time.time = lambda: real_time() + seconds
    time.monotonic = lambda: real_monotonic() + seconds


async def _run(job: dict[str, object]) -> dict[str, object]:
    from kis_async import AsyncKISClient, KISSettings

    settings = KISSettings(_env_file=None, **job["settings"])  # type: ignore[arg-type]
    tickers = list(job["tickers"])  # type: ignore[call-overload]
    async with AsyncKISClient(settings) as kis:
        started = time.perf_counter()
        results = await kis.get_current_prices(tickers, return_exceptions=True)
        elapsed = time.perf_counter() - started
        budget = kis._gate.stats
        return {
            "prices": sum(1 for r in results.values() if not isinstance(r, Exception)),
            "errors": sorted(
                {type(r).__name__ for r in results.values() if isinstance(r, Exception)}
            ),
            "requests": kis.stats.requests,
            "rate_limited": kis.stats.rate_limited,
            "token_requests": kis.token_requests,
            "elapsed": elapsed,
            "budget_rate": budget.rate,
            "budget_acquired": budget.acquired,
            "budget_outages": budget.outages,
            "budget_decreases": budget.decreases,
            "budget_late": budget.late,
        }


def main() -> None:
    job = json.loads(sys.argv[1])
    if job.get("skew"):
        _skew(float(job["skew"]))
    import asyncio

    print(json.dumps(asyncio.run(_run(job))))


if __name__ == "__main__":
    main()

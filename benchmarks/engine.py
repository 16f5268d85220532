"""The trading engine's exit check: wall time under KIS's limit, and its own CPU cost.

    python benchmarks/engine.py [--positions 100] [--limit 18] [--rounds 20]

1. ``check_exits`` over ``--positions`` open positions against an in-process MockKIS
   enforcing ``--limit`` requests per second: the wall time against the bound
   positions / limit (one price request a position, all in one fan-out through the
   rate gate). Target: achieved rate >= 0.95 of the limit, no EGW00201.
2. With the limit lifted, CPU time (process time) per ``check_exits`` round against a
   bare ``get_current_prices`` fan-out of the same tickers: the difference is the
   engine's own work (ledger reads and writes on its thread, rule evaluation), reported
   per decision (one decision a position a round); and the same check with the prices
   already in hand, which is the engine alone.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from kis_async import KST, AsyncKISClient
from kis_async.engine import EngineConfig, Ledger, TradingEngine
from kis_async.mock import DEMO_ACCOUNT_NO, MockClock, MockKIS

#: A Friday mid-session; frozen so every run sees the same market.
SESSION = datetime(2026, 11, 20, 11, 0, tzinfo=KST)
#: Rules that never fire here: the check prices and evaluates, it does not sell.
CONFIG = EngineConfig(
    _env_file=None, stop_loss=Decimal("-0.9"), take_profit=Decimal("9"), fill_timeout=0
)


def _mock(limit: float, positions: int) -> MockKIS:
    mock = MockKIS(seed=0, clock=MockClock(SESSION, frozen=True), rate_limit=limit)
    account = mock.account(DEMO_ACCOUNT_NO)
    for code in mock.tickers[:positions]:
        account.set_holding(code, 10, mock.current_price(code))
    return mock


async def wall_time(positions: int, limit: float, scratch: Path) -> dict[str, float]:
    mock = _mock(limit, positions)
    async with AsyncKISClient.for_mock(mock) as kis:
        engine = TradingEngine(kis, Ledger(scratch / "wall.db"), config=CONFIG)
        async with engine:
            assert len(await engine.ledger.positions()) == positions
            await asyncio.sleep(1.1)  # let the server's one-second window empty
            rejected_before = mock.stats.rate_limited
            started = time.perf_counter()
            decisions = await engine.check_exits()
            elapsed = time.perf_counter() - started
    bound = positions / limit
    return {
        "seconds": elapsed,
        "bound": bound,
        "rate": positions / elapsed,
        "ratio": bound / elapsed,
        "egw00201": mock.stats.rate_limited - rejected_before,
        "sold": len(decisions),
    }


async def cpu_cost(positions: int, rounds: int, scratch: Path) -> dict[str, float]:
    mock = _mock(float("inf"), positions)
    tickers = list(mock.tickers[:positions])
    async with AsyncKISClient.for_mock(mock) as kis:
        engine = TradingEngine(kis, Ledger(scratch / "cpu.db"), config=CONFIG)
        async with engine:
            for _ in range(3):  # warm both paths
                await engine.check_exits()
                await kis.get_current_prices(tickers)
            engine_cpu: list[float] = []
            fanout_cpu: list[float] = []
            alone_cpu: list[float] = []
            quotes = await kis.get_current_prices(tickers)

            async def cached(_tickers: object) -> object:
                return quotes

            for _ in range(rounds):  # alternate, so drift in the machine hits all alike
                started = time.process_time()
                await engine.check_exits()
                engine_cpu.append(time.process_time() - started)
                started = time.process_time()
                await kis.get_current_prices(tickers)
                fanout_cpu.append(time.process_time() - started)
                # The same check with the prices already in hand: the engine alone.
                fetch = engine._quotes
                engine._quotes = cached  # type: ignore[assignment,method-assign]
                started = time.process_time()
                await engine.check_exits()
                alone_cpu.append(time.process_time() - started)
                engine._quotes = fetch  # type: ignore[method-assign]
    engine_ms = statistics.median(engine_cpu) * 1e3
    fanout_ms = statistics.median(fanout_cpu) * 1e3
    alone_ms = statistics.median(alone_cpu) * 1e3
    return {
        "alone_us_per_decision": alone_ms * 1e3 / positions,
        "engine_ms": engine_ms,
        "fanout_ms": fanout_ms,
        "own_us_per_decision": (engine_ms - fanout_ms) * 1e3 / positions,
        "total_us_per_decision": engine_ms * 1e3 / positions,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--positions", type=int, default=100)
    parser.add_argument("--limit", type=float, default=18.0)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        wall = asyncio.run(wall_time(args.positions, args.limit, scratch))
        print(
            f"check_exits over {args.positions} positions at {args.limit:g} req/s: "
            f"{wall['seconds']:.2f} s against the bound {wall['bound']:.2f} s"
        )
        print(
            f"  {wall['rate']:.2f} price requests/s: ratio {wall['ratio']:.3f} of the gate's "
            f"rate (target >= 0.95); EGW00201 answers: {wall['egw00201']:.0f} (target 0)"
        )
        cpu = asyncio.run(cpu_cost(args.positions, args.rounds, scratch))
    print(f"CPU, limit lifted, median of {args.rounds} rounds (client and mock included):")
    print(f"  check_exits: {cpu['engine_ms']:.1f} ms a round")
    print(f"  bare get_current_prices of the same tickers: {cpu['fanout_ms']:.1f} ms")
    print(
        f"  difference: {cpu['own_us_per_decision']:.0f} us per decision "
        f"({cpu['total_us_per_decision']:.0f} us per decision with the fan-out)"
    )
    print(
        f"  the engine alone (prices in hand: ledger read, rules, high-water write): "
        f"{cpu['alone_us_per_decision']:.0f} us per decision"
    )
    ok = wall["ratio"] >= 0.95 and wall["egw00201"] == 0
    print("targets met" if ok else "TARGETS MISSED")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()

"""A small momentum bot: the trading engine on the mock, its clock running fast.

    python examples/trading_bot.py [--rounds N] [--minutes M] [--ledger PATH]

Every round the engine prices the watch list and all open positions in one fan-out,
sells what crossed its stop-loss, take-profit or trailing stop, and the strategy buys
what rose for three rounds in a row. The mock's clock moves M simulated minutes a round,
so a whole session passes in seconds. A live table shows positions and trades; the run
ends by itself after N rounds, or on Ctrl-C, and prints the portfolio either way.
Nothing here touches real money: it runs on the embedded mock server only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import tempfile
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from kis_async import KST, AsyncKISClient, CurrentPrice
from kis_async.engine import EngineConfig, EngineRuleError, Ledger, TradingEngine
from kis_async.mock import MockClock, MockKIS

WATCH = ("005930", "000660", "035420", "051910", "005380", "035720", "068270", "105560")
#: A Friday morning: the session the bot trades through.
OPEN = datetime(2026, 11, 20, 9, 5, tzinfo=KST)

console = Console()


class Momentum:
    """Buy a ticker whose price rose three rounds in a row; the engine's rules sell."""

    tickers = WATCH

    def __init__(
        self,
        clock: MockClock,
        minutes: float,
        budget_krw: int,
        after_round: Callable[[TradingEngine], Awaitable[None]] | None = None,
    ) -> None:
        self.after_round = after_round
        self.clock = clock
        self.minutes = minutes
        self.budget_krw = budget_krw
        self.history: dict[str, deque[int]] = {t: deque(maxlen=4) for t in WATCH}
        self.rounds = 0

    async def on_prices(self, prices: Mapping[str, CurrentPrice], engine: TradingEngine) -> None:
        held = {p.ticker for p in await engine.ledger.positions()}
        for ticker in WATCH:
            quote = prices.get(ticker)
            if quote is None:
                continue
            past = self.history[ticker]
            past.append(quote.current_price)
            rising = len(past) == 4 and all(a < b for a, b in itertools.pairwise(past))
            if rising and ticker not in held:
                # Max positions reached: the rules say no and nothing is sent.
                with contextlib.suppress(EngineRuleError):
                    await engine.buy(ticker, self.budget_krw, reason="momentum")
        self.rounds += 1
        if self.after_round is not None:
            await self.after_round(engine)
        # The mock's market moves only when its clock does: this is the fast clock.
        self.clock.advance(self.minutes * 60)


def render(engine_view: list[list[str]], trades: list[list[str]], now: datetime) -> Group:
    positions = Table(title=f"Positions at {now:%H:%M} KST (simulated)")
    for column in ("ticker", "qty", "avg cost", "last", "P&L", "stop", "target"):
        positions.add_column(column, justify="right")
    for row in engine_view:
        positions.add_row(*row)
    recent = Table(title="Trades")
    for column in ("side", "ticker", "filled", "avg price", "reason", "realised"):
        recent.add_column(column, justify="right")
    for row in trades[-8:]:
        recent.add_row(*row)
    return Group(positions, recent)


async def snapshot(engine: TradingEngine) -> tuple[list[list[str]], list[list[str]]]:
    rows = [
        [
            p.ticker,
            f"{p.quantity:,}",
            f"{p.avg_cost:,.0f}",
            f"{p.last_price:,}",
            f"{p.unrealised_pnl:+,}",
            f"{p.stop_price:,.0f}" if p.stop_price is not None else "-",
            f"{p.target_price:,.0f}" if p.target_price is not None else "-",
        ]
        for p in await engine.positions()
    ]
    trades = [
        [
            t.side.value,
            t.ticker,
            f"{t.filled:,}/{t.requested:,}",
            f"{t.average_price:,.0f}" if t.average_price is not None else "-",
            t.reason,
            f"{t.realised_pnl:+,}" if t.side.value == "sell" else "",
        ]
        for t in engine.recent
    ]
    return rows, trades


async def main(rounds: int, minutes: float, ledger_path: Path) -> None:
    clock = MockClock(OPEN, frozen=True)
    mock = MockKIS(seed=11, clock=clock, rate_limit=float("inf"))
    config = EngineConfig(
        _env_file=None,
        stop_loss=Decimal("-0.015"),
        take_profit=Decimal("0.02"),
        trailing_stop=Decimal("0.01"),
        max_positions=4,
        max_position_krw=5_000_000,
        fill_timeout=0,
    )
    async with AsyncKISClient.for_mock(mock) as kis:
        engine = TradingEngine(kis, Ledger(ledger_path), config=config)
        async with engine:
            interrupted = False
            with Live(console=console, refresh_per_second=8) as live:

                async def show(engine: TradingEngine) -> None:
                    rows, trades = await snapshot(engine)
                    live.update(render(rows, trades, clock.now()))

                strategy = Momentum(clock, minutes, budget_krw=3_000_000, after_round=show)
                try:
                    await engine.run(interval=0.02, strategy=strategy, steps=rounds)
                except asyncio.CancelledError:
                    interrupted = True  # Ctrl-C: the engine finished what it was sending
            summary = await engine.portfolio()
            console.print()
            console.print(summary)
            note = "stopped by Ctrl-C" if interrupted else f"{strategy.rounds} rounds"
            console.print(
                f"{note}, {clock.now():%H:%M} KST; {len(engine.recent)} trades; "
                f"total P&L {summary.total_pnl:+,} KRW"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=75, help="rounds to run (default 75)")
    parser.add_argument(
        "--minutes", type=float, default=5, help="simulated minutes a round (default 5)"
    )
    parser.add_argument("--ledger", type=Path, default=None, help="ledger file (default: temp)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        path = args.ledger or Path(scratch) / "ledger.db"
        # Ctrl-C: the portfolio was printed on the way out.
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main(args.rounds, args.minutes, path))

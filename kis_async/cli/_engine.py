"""``kis engine ...``: the trading engine from a terminal, over its public API only.

Every subcommand opens ``TradingEngine(client, Ledger(--ledger), config=EngineConfig())``
(so ``KIS_ENGINE_*`` settings apply), which reconciles the ledger with the broker, does
its one thing and closes the ledger.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from kis_async.cli._app import CommandError, _check_real_money, _confirm, _price
from kis_async.cli._output import Output

if TYPE_CHECKING:
    from kis_async import AsyncKISClient, CurrentPrice
    from kis_async.engine import ExitDecision, Position, ReconcileReport, TradeResult, TradingEngine

__all__ = ["add_engine_commands", "run_engine_command"]

#: Position columns a table shows (JSON lines carry every field).
_POSITION_COLUMNS = (
    "ticker",
    "quantity",
    "avg_cost",
    "last_price",
    "market_value",
    "unrealised_pnl",
    "unrealised_pct",
    "sector",
    "stop_price",
    "target_price",
    "trailing_price",
)


def _positive_int(text: str) -> int:
    value = _price(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a whole number above 0, got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"seconds must be 0 or more, got {text!r}")
    return value


def add_engine_commands(commands: Any, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``kis engine`` and its subcommands to the ``kis`` parser's ``commands``."""
    text = "the trading engine: positions, portfolio, reconcile, buy, sell, exits, run"
    engine: argparse.ArgumentParser = commands.add_parser(
        "engine", help=text, description=text, parents=[common]
    )
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument(
        "--ledger",
        type=Path,
        metavar="PATH",
        help="the engine's SQLite ledger (default KIS_ENGINE_LEDGER_PATH, else data/ledger.db)",
    )
    shared.add_argument(
        "--dry-run",
        action="store_true",
        help="send no order: fills are simulated at the touch (use a ledger of its own)",
    )
    subs = engine.add_subparsers(dest="engine_command", metavar="SUBCOMMAND", required=True)

    def sub(name: str, text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = subs.add_parser(
            name, help=text, description=text, parents=[common, shared]
        )
        return parser

    sub("positions", "open positions at current prices (KRW, shares)")
    sub("portfolio", "cash, equity, P&L, fees, taxes, win rate and positions (KRW)")
    sub("reconcile", "bring the ledger to the broker's state and print what differed")
    buy = sub("buy", "buy as many shares as AMOUNT_KRW pays for, fees included")
    buy.add_argument("ticker", metavar="TICKER")
    buy.add_argument("amount", type=_positive_int, metavar="AMOUNT_KRW")
    buy.add_argument("--sector", help="the position's sector (for max_sector_exposure)")
    sell = sub("sell", "sell QTY shares (default: the whole position)")
    sell.add_argument("ticker", metavar="TICKER")
    sell.add_argument("quantity", type=_positive_int, nargs="?", metavar="QTY")
    exits = sub("check-exits", "sell the positions at or past an exit rule")
    run = sub("run", "the monitor loop: prices and exits every interval (Ctrl-C stops)")
    run.add_argument(
        "--interval", type=_seconds, required=True, metavar="S", help="seconds between rounds"
    )
    run.add_argument("--rounds", type=_positive_int, metavar="N", help="stop after N rounds")
    for trading in (buy, sell, exits):
        trading.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    return engine


@asynccontextmanager
async def _engine(kis: AsyncKISClient, args: argparse.Namespace) -> AsyncIterator[TradingEngine]:
    from kis_async.engine import EngineConfig, Ledger, TradingEngine

    config = EngineConfig()
    path = args.ledger if args.ledger is not None else config.ledger_path
    async with TradingEngine(kis, Ledger(path), config=config, dry_run=args.dry_run) as engine:
        yield engine


def _record(value: Any) -> dict[str, Any]:
    record: dict[str, Any] = dataclasses.asdict(value)
    return record


def _trade_record(result: TradeResult) -> dict[str, Any]:
    return {**_record(result), "cash_flow": result.cash_flow}


def _decision_record(decision: ExitDecision) -> dict[str, Any]:
    result = decision.result
    return {
        "ticker": decision.ticker,
        "reason": decision.reason,
        "price": decision.price,
        "threshold": decision.threshold,
        "quantity": decision.quantity,
        "sold": result.filled if result is not None else 0,
        "average_price": result.average_price if result is not None else None,
        "status": result.status if result is not None else None,
        "skipped": decision.skipped,
        "error": decision.error,
    }


def _reconcile_record(report: ReconcileReport) -> dict[str, Any]:
    return {**_record(report), "in_agreement": report.in_agreement}


def _note_reconcile(out: Output, report: ReconcileReport | None) -> None:
    if report is not None and not report.in_agreement:
        out.note(
            f"reconcile on open set {len(report.differences)} figure(s) to the broker's "
            "(kis engine reconcile shows them)"
        )


def _show(out: Output, title: str, record: Mapping[str, Any]) -> None:
    # In JSON mode a plan goes to stderr: stdout carries only what was done.
    if out.json:
        out.note(f"{title.lower()}: {dict(record)}")
    else:
        out.record(title, record)


def _trade_status(result: TradeResult) -> int:
    return 0 if result.filled > 0 else 1


async def _positions(engine: TradingEngine, args: argparse.Namespace, out: Output) -> int:
    positions = await engine.positions()
    if out.json:
        out.rows("", [_record(p) for p in positions])
    else:
        title = "Engine positions (KRW, shares)" + (" (simulated)" if engine.dry_run else "")
        rows = [{k: _record(p)[k] for k in _POSITION_COLUMNS} for p in positions]
        out.rows(title, rows)
        if not positions:
            out.note("no open positions")
    return 0


async def _portfolio(engine: TradingEngine, args: argparse.Namespace, out: Output) -> int:
    summary = await engine.portfolio()
    if out.json:
        out.line(
            {
                **summary.totals(),
                "total_pnl": summary.total_pnl,
                "sells": summary.sells,
                "wins": summary.wins,
                "sector_exposure": summary.sector_exposure,
                "positions": [_record(p) for p in summary.positions],
            }
        )
        return 0
    console = out._rich()
    if console is not None:
        console.print(summary)
    else:
        out.record("Portfolio (KRW)", summary.totals())
        out.rows(
            "Positions", [{k: _record(p)[k] for k in _POSITION_COLUMNS} for p in summary.positions]
        )
    return 0


async def _reconcile(engine: TradingEngine, args: argparse.Namespace, out: Output) -> int:
    # Opening the engine ran reconcile; its report is the one that did the work.
    report = engine.last_reconcile
    if report is None:  # pragma: no cover - open() always reconciles
        report = await engine.reconcile()
    record = _reconcile_record(report)
    if out.json:
        out.line(record)
        return 0
    summary = {k: v for k, v in record.items() if k != "differences"}
    out.record("Reconcile", summary)
    if report.differences:
        out.rows("Differences (set to the broker's)", [_record(d) for d in report.differences])
    else:
        out.note("the ledger agrees with the broker")
    return 0


async def _buy(engine: TradingEngine, args: argparse.Namespace, out: Output, stdin: IO[str]) -> int:
    from kis_async.engine import shares_for

    book = await engine.client.get_order_book(args.ticker)
    if book.best_ask is None:
        raise CommandError(f"no one offers {args.ticker} (no ask in the book); nothing was sent")
    plan = {
        "side": "buy",
        "ticker": args.ticker,
        "amount_krw": args.amount,
        "best_ask": book.best_ask,
        "about_shares": shares_for(args.amount, book.best_ask, engine.config),
        "order_style": engine.config.order_style,
        "fill_timeout": engine.config.fill_timeout,
        "dry_run": engine.dry_run,
        "env": engine.client.settings.env,
    }
    _show(out, "Engine buy", plan)
    if not plan["about_shares"]:
        raise CommandError(f"{args.amount:,} KRW does not buy one share of {args.ticker}")
    verb = "Simulate" if engine.dry_run else "Place"
    if not args.yes and not _confirm(out, stdin, f"{verb} this buy?"):
        out.note("not placed")
        return 1
    result = await engine.buy(args.ticker, args.amount, sector=args.sector)
    out.record("Engine bought", _trade_record(result))
    return _trade_status(result)


async def _sell(
    engine: TradingEngine, args: argparse.Namespace, out: Output, stdin: IO[str]
) -> int:
    held = next((p for p in await engine.positions() if p.ticker == args.ticker), None)
    if held is None:
        raise CommandError(f"no open position in {args.ticker}; nothing was sent")
    if args.quantity is not None and args.quantity > held.quantity:
        raise CommandError(
            f"cannot sell {args.quantity:,} shares of {args.ticker}: {held.quantity:,} held"
        )
    plan = {
        "side": "sell",
        "ticker": args.ticker,
        "quantity": args.quantity or held.quantity,
        "held": held.quantity,
        "last_price": held.last_price,
        "avg_cost": held.avg_cost,
        "order_style": engine.config.order_style,
        "dry_run": engine.dry_run,
        "env": engine.client.settings.env,
    }
    _show(out, "Engine sell", plan)
    verb = "Simulate" if engine.dry_run else "Place"
    if not args.yes and not _confirm(out, stdin, f"{verb} this sell?"):
        out.note("not placed")
        return 1
    result = await engine.sell(args.ticker, args.quantity)
    out.record("Engine sold", _trade_record(result))
    return _trade_status(result)


def _past_a_rule(position: Position) -> str | None:
    """The exit rule ``position`` is at or past, by its documented thresholds."""
    price = position.last_price
    if position.stop_price is not None and price <= position.stop_price:
        return "stop_loss"
    if position.trailing_price is not None and price <= position.trailing_price:
        return "trailing_stop"
    if position.target_price is not None and price >= position.target_price:
        return "take_profit"
    return None


async def _check_exits(
    engine: TradingEngine, args: argparse.Namespace, out: Output, stdin: IO[str]
) -> int:
    if not (args.yes or engine.dry_run):
        # Ask first: show what is past a rule now, before check_exits sells it.
        due = [(p, rule) for p in await engine.positions() if (rule := _past_a_rule(p))]
        if not due:
            out.note("no position is past an exit rule")
            return 0
        for position, rule in due:
            _show(
                out,
                "Exit due",
                {
                    "ticker": position.ticker,
                    "rule": rule,
                    "quantity": position.quantity,
                    "last_price": position.last_price,
                    "avg_cost": position.avg_cost,
                },
            )
        if not _confirm(out, stdin, f"Sell {len(due)} position(s)?"):
            out.note("nothing sold")
            return 1
    decisions = await engine.check_exits()
    records = [_decision_record(d) for d in decisions]
    if records or out.json:
        out.rows("Exits (KRW, shares)" + (" (simulated)" if engine.dry_run else ""), records)
    if not records:
        out.note("no exit rule fired")
    return 1 if any(d.error for d in decisions) else 0


class _Reporter:
    """A strategy that only reports: each round's quotes and the trades the round made."""

    def __init__(self, out: Output) -> None:
        self.out = out
        self.round = 0
        self._seen: set[int] = set()

    async def on_prices(self, prices: Mapping[str, CurrentPrice], engine: TradingEngine) -> None:
        self.round += 1
        trades = [t for t in engine.recent if t.intent_id not in self._seen]
        self._seen.update(t.intent_id for t in trades)
        for trade in trades:
            record = {"type": "trade", "round": self.round, **_trade_record(trade)}
            if self.out.json:
                self.out.line(record)
            else:
                self.out.stdout.write(
                    f"round {self.round}: {trade.side} {trade.filled:,}/{trade.requested:,} "
                    f"{trade.ticker} at {trade.average_price or '-'} KRW ({trade.reason}, "
                    f"{trade.status})\n"
                )
        quotes = {ticker: quote.current_price for ticker, quote in prices.items()}
        if self.out.json:
            self.out.line(
                {
                    "type": "round",
                    "round": self.round,
                    "at": engine.client.clock.now(),
                    "prices": quotes,
                    "trades": len(trades),
                }
            )
        else:
            shown = ", ".join(f"{t} {p:,}" for t, p in quotes.items()) or "no positions"
            self.out.stdout.write(f"round {self.round}: {shown} (KRW)\n")
            self.out.stdout.flush()


async def _run(engine: TradingEngine, args: argparse.Namespace, out: Output) -> int:
    reporter = _Reporter(out)
    await engine.run(args.interval, reporter, steps=args.rounds)
    return 0


async def run_engine_command(
    kis: AsyncKISClient, args: argparse.Namespace, out: Output, stdin: IO[str]
) -> int:
    """Run ``kis engine SUBCOMMAND``: its exit status."""
    name = args.engine_command
    if name in ("buy", "sell", "check-exits", "run"):
        # Before any prompt or ledger: real money needs its confirmation variable.
        _check_real_money(kis.settings)
    async with _engine(kis, args) as engine:
        if name != "reconcile":
            _note_reconcile(out, engine.last_reconcile)
        if name == "buy":
            return await _buy(engine, args, out, stdin)
        if name == "sell":
            return await _sell(engine, args, out, stdin)
        if name == "check-exits":
            return await _check_exits(engine, args, out, stdin)
        reads = {
            "positions": _positions,
            "portfolio": _portfolio,
            "reconcile": _reconcile,
            "run": _run,
        }
        return await reads[name](engine, args, out)

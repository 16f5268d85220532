"""Exits on trade ticks: the stream side of ``TradingEngine.run(source="stream")``.

:class:`TickExits` keeps one trade-tick subscription (H0STCNT0) per open position and
evaluates the engine's exit rules (stop-loss, trailing stop, take-profit) on every
tick, so a stop fires on the first trade past its threshold instead of at the next
price fan-out. The sell goes through the engine's own exit path, under the ticker's
lock, so a tick exit, ``check_exits`` and a manual ``sell`` never sell one position
twice. The highest price a tick shows is written to the ledger as ``check_exits``
writes the fan-out's, so trailing stops survive a restart.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import anyio
from anyio.abc import TaskGroup

from kis_async._errors import KISError
from kis_async._redact import get_logger

from ._models import ExitDecision

if TYPE_CHECKING:
    from kis_async.stream import KISStream, StreamView, Subscription, TradeTick

    from ._engine import TradingEngine
    from ._ledger import LedgerPosition

__all__ = ["TickExits"]

logger = get_logger("kis_async.engine")


@dataclass
class _Watch:
    """One watched position: its subscription, its view and what the ledger holds."""

    held: LedgerPosition
    subscriptions: tuple[Subscription, ...]
    view: StreamView[TradeTick]
    active: bool = True
    #: The highest price seen (ticks and ledger), KRW.
    high: int = 0
    ticks: int = field(default=0)


class TickExits:
    """Watches every open position on the trade stream and sells on an exit tick.

    A position is subscribed when it appears in the ledger (the engine nudges this
    watcher whenever it records a fill; it also looks every ``resync`` seconds, which
    catches a reconcile's repairs) and unsubscribed once it is closed. A session holds
    at most ``stream.max_subscriptions`` registrations (40; fill notices take one):
    positions beyond what is free are left to the periodic price fan-out of
    ``run``, and a warning says which. ``decisions`` lists every exit a tick fired,
    and each is also logged to the ledger as a ``tick_exit`` event.
    """

    def __init__(self, engine: TradingEngine, stream: KISStream, *, resync: float = 5.0) -> None:
        self._engine = engine
        self._stream = stream
        self._resync = max(resync, 0.01)
        self._watches: dict[str, _Watch] = {}
        self._changed = anyio.Event()
        self._group: TaskGroup | None = None
        self._unwatched: frozenset[str] = frozenset()
        #: Exits fired by ticks, oldest first.
        self.decisions: list[ExitDecision] = []

    @property
    def watched(self) -> frozenset[str]:
        """Tickers whose trade ticks are watched now."""
        return frozenset(t for t, w in self._watches.items() if w.active)

    @property
    def unwatched(self) -> frozenset[str]:
        """Open positions beyond the subscription cap (left to the periodic fan-out)."""
        return self._unwatched

    def touch(self, ticker: str) -> None:
        """A position may have changed: look at the ledger again soon (never blocks)."""
        self._changed.set()

    async def start(self, group: TaskGroup) -> None:
        """Subscribe the open positions now, then keep the set in step in ``group``."""
        self._group = group
        await self.sync()
        group.start_soon(self._keep_in_step)

    async def _keep_in_step(self) -> None:
        while True:
            with anyio.move_on_after(self._resync):
                await self._changed.wait()
            self._changed = anyio.Event()
            try:
                await self.sync()
            except KISError as exc:
                logger.warning("tick exits: could not update the subscriptions: %s", exc)

    async def sync(self) -> None:
        """Subscribe the open positions not watched yet; unsubscribe the closed ones."""
        assert self._group is not None, "start() first"
        held = {p.ticker: p for p in await self._engine.ledger.positions() if p.quantity > 0}
        gone = [t for t in self._watches if t not in held]
        for ticker in gone:
            watch = self._watches.pop(ticker)
            watch.active = False
            watch.view.close()
            if not self._stream.closed:
                await self._stream.unsubscribe(watch.subscriptions)
        for ticker, position in held.items():
            if ticker in self._watches:
                watch = self._watches[ticker]
                watch.held = position
                watch.high = max(watch.high, position.high_price)
        stream = self._stream
        free = stream.max_subscriptions - len(stream.subscriptions)
        new = sorted(t for t in held if t not in self._watches)
        wanted, left = new[: max(free, 0)], new[max(free, 0) :]
        for ticker in wanted:
            view = stream.trades(ticker)  # before subscribing, so no tick is missed
            try:
                subscriptions = await stream.subscribe_trades([ticker])
            except KISError:
                view.close()
                left.append(ticker)
                continue
            watch = _Watch(held[ticker], subscriptions, view, high=held[ticker].high_price)
            self._watches[ticker] = watch
            self._group.start_soon(self._read, ticker, watch)
        unwatched = frozenset(left)
        if unwatched and unwatched != self._unwatched:
            logger.warning(
                "tick exits: %d positions beyond the stream's %d registrations are checked "
                "by the periodic price fan-out only: %s",
                len(unwatched),
                stream.max_subscriptions,
                ", ".join(sorted(unwatched)),
            )
        self._unwatched = unwatched

    async def _read(self, ticker: str, watch: _Watch) -> None:
        async for tick in watch.view:
            if not watch.active:
                return
            watch.ticks += 1
            await self._on_tick(ticker, watch, tick.price)

    async def _on_tick(self, ticker: str, watch: _Watch, price: int) -> None:
        engine = self._engine
        if price > watch.high:
            watch.high = price
            await engine.ledger.update_high({ticker: price}, at=engine._now())
        # The snapshot's high may lag the ticks': trailing stops follow the ticks' high.
        snapshot = replace(watch.held, high_price=max(watch.held.high_price, watch.high))
        position = engine._position(snapshot, price)
        if engine._exit_rule(position) is None:
            return
        # Decided on a snapshot: read the ledger again (a buy may have moved the average
        # cost), with the high this tick made.
        fresh = await engine.ledger.position(ticker)
        if fresh is None or fresh.quantity == 0:
            watch.active = False
            self.touch(ticker)
            return
        watch.held = fresh
        position = engine._position(fresh, price)
        rule = engine._exit_rule(position)
        if rule is None:
            return
        reason, threshold = rule
        decisions: list[ExitDecision] = []
        await engine._exit(position, reason, threshold, decisions)
        # The exit is done: its record is written even when the run is cancelled now.
        with anyio.CancelScope(shield=True):
            await self._record(ticker, watch, price, decisions)

    async def _record(
        self, ticker: str, watch: _Watch, price: int, decisions: list[ExitDecision]
    ) -> None:
        engine = self._engine
        for decision in decisions:
            if decision.skipped:
                continue  # another exit or a manual sell got there first
            self.decisions.append(decision)
            await engine.ledger.log(
                "tick_exit",
                at=engine._now(),
                ticker=ticker,
                reason=decision.reason,
                price=price,
                threshold=str(decision.threshold),
                tick=watch.ticks,
                sold=decision.result.filled if decision.result is not None else 0,
                error=decision.error,
            )
        after = await engine.ledger.position(ticker)
        if after is None or after.quantity == 0:
            watch.active = False
        else:
            watch.held = after
        self.touch(ticker)

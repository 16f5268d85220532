"""Where the engine learns what its orders filled: a seam with one implementation today.

:class:`FillSource` answers "how far has each of these orders got?" with cumulative
totals (shares and KRW filled, shares still resting). Totals, not events, so a look may
be repeated or missed without double counting, and a restart can read them again. The
order history (``inquire-daily-ccld``: ``tot_ccld_qty``, ``tot_ccld_amt``, ``rmn_qty``)
is the record of truth. :class:`StreamFills` adds KIS's WebSocket fill notices
(H0STCNI0/9) as the signal to look: the engine reads the history as soon as a notice
for one of its orders arrives, instead of at the next poll.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import anyio
from anyio.abc import TaskGroup

from kis_async._clock import KST
from kis_async._trading_models import OrderRecord

if TYPE_CHECKING:
    from kis_async._client import AsyncKISClient
    from kis_async.stream import FillNotice, KISStream, StreamView

    from ._ledger import LedgerOrder

__all__ = ["FillSource", "OrderHistoryFills", "OrderProgress", "StreamFills", "order_key"]


def order_key(order_id: str) -> str:
    """An order id without its zero padding (KIS pads ODNO to 10 digits in places)."""
    return order_id.strip().lstrip("0") or "0"


@dataclass(frozen=True)
class OrderProgress:
    """Where one order stands at the broker: cumulative shares and KRW filled.

    ``resting`` is what still sits on the book (0 once the order is done: filled,
    cancelled, or its session over); ``record`` the history row it came from;
    ``executions`` the order's executions as (shares, KRW price), oldest first, when
    the source saw each one (fill notices), else empty.
    """

    order_id: str
    filled_quantity: int
    filled_amount: int
    resting: int
    record: OrderRecord | None = None
    executions: tuple[tuple[int, int], ...] = ()

    @property
    def done(self) -> bool:
        """Whether nothing of the order rests on the book any more (``resting`` is 0)."""
        return self.resting == 0


@runtime_checkable
class FillSource(Protocol):
    """Reports the progress of the engine's orders."""

    async def progress(self, orders: Sequence[LedgerOrder]) -> dict[str, OrderProgress]:
        """Progress by order id for each of ``orders`` the source can see."""
        ...

    async def wait(self, orders: Sequence[LedgerOrder], seconds: float) -> None:
        """Return when one of ``orders`` may have moved on, or after ``seconds``."""
        ...


class OrderHistoryFills:
    """Fills from the order history: one paged query covers every order asked about."""

    def __init__(self, client: AsyncKISClient) -> None:
        self._client = client

    async def progress(self, orders: Sequence[LedgerOrder]) -> dict[str, OrderProgress]:
        """Progress by order id, from one history query from the oldest order's day to today."""
        if not orders:
            return {}
        today = self._client.clock.now().astimezone(KST).date()
        start = min(min(o.ordered_at.astimezone(KST).date() for o in orders), today)
        tickers = {o.ticker for o in orders}
        # One ticker: let KIS filter; several: one query for all of them.
        ticker = next(iter(tickers)) if len(tickers) == 1 else None
        records = await self.records(start, today, ticker=ticker)
        wanted = {order_key(o.order_id): o.order_id for o in orders}
        found: dict[str, OrderProgress] = {}
        for record in records:
            order_id = wanted.get(order_key(record.order_id))
            if order_id is not None:
                found[order_id] = OrderProgress(
                    order_id=order_id,
                    filled_quantity=record.filled_quantity,
                    filled_amount=record.filled_amount,
                    resting=record.remaining_quantity,
                    record=record,
                )
        return found

    async def wait(self, orders: Sequence[LedgerOrder], seconds: float) -> None:
        """Polling: nothing tells when an order moves on, so wait the whole interval."""
        await anyio.sleep(seconds)

    async def records(
        self, start: date, end: date, *, ticker: str | None = None
    ) -> list[OrderRecord]:
        """The order history from ``start`` to ``end`` (KST dates), all pages."""
        return await self._client.get_orders(start, end, ticker=ticker)


class StreamFills:
    """Fill notices from KIS's WebSocket as the signal, the order history as the truth.

    A notice (acceptance, fill, revise or cancel) marks its order as moved; ``wait``
    returns as soon as one of the orders it watches is marked, and ``progress`` reads the
    history then. Totals still come from the history, so a notice that is lost (a
    reconnect, a full queue) costs only latency: the poll interval still applies.
    ``start`` subscribes and reads notices in ``group`` until the group is cancelled.
    """

    def __init__(self, client: AsyncKISClient, stream: KISStream) -> None:
        self._history = OrderHistoryFills(client)
        self._stream = stream
        self._marked: set[str] = set()
        self._executions: dict[str, list[tuple[int, int]]] = {}
        self._changed = anyio.Event()
        #: Notices read so far.
        self.notices = 0

    async def start(self, group: TaskGroup) -> None:
        """Subscribe to this account's fill notices and read them in ``group``."""
        view = self._stream.fills()  # before subscribing, so no notice is missed
        await self._stream.subscribe_fills()
        group.start_soon(self._read, view)

    async def _read(self, view: StreamView[FillNotice]) -> None:
        async for notice in view:
            self.notices += 1
            if notice.is_fill and not notice.rejected and notice.quantity > 0:
                key = order_key(notice.order_no)
                self._executions.setdefault(key, []).append((notice.quantity, notice.price))
            for number in (notice.order_no, notice.original_order_no):
                if number.strip():
                    self._marked.add(order_key(number))
            self._changed.set()
            self._changed = anyio.Event()

    async def progress(self, orders: Sequence[LedgerOrder]) -> dict[str, OrderProgress]:
        """Progress by order id from the history, with the executions the notices reported."""
        # Unmark first: a notice that arrives during the read marks the order again.
        for order in orders:
            self._marked.discard(order_key(order.order_id))
        found = await self._history.progress(orders)
        # Each execution as the notices told it, so fees are truncated per execution
        # as the broker does (the ledger checks they add up to the history's totals).
        return {
            order_id: replace(
                progress, executions=tuple(self._executions.get(order_key(order_id), ()))
            )
            for order_id, progress in found.items()
        }

    async def wait(self, orders: Sequence[LedgerOrder], seconds: float) -> None:
        """Return when a notice names one of ``orders``, or after ``seconds``."""
        keys = {order_key(order.order_id) for order in orders}
        with anyio.move_on_after(seconds):
            while not keys & self._marked:
                await self._changed.wait()

    async def records(
        self, start: date, end: date, *, ticker: str | None = None
    ) -> list[OrderRecord]:
        """The order history from ``start`` to ``end`` (KST dates), all pages."""
        return await self._history.records(start, end, ticker=ticker)

"""Where the engine learns what its orders filled: a seam with one implementation today.

:class:`FillSource` answers "how far has each of these orders got?" with cumulative
totals (shares and KRW filled, shares still resting). Totals, not events, so a look may
be repeated or missed without double counting, and a restart can read them again. The
order history (``inquire-daily-ccld``: ``tot_ccld_qty``, ``tot_ccld_amt``, ``rmn_qty``)
is the source now; a WebSocket fill-notice source can implement the same protocol and
fall back on the history for what it missed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from kis_async._clock import KST
from kis_async._trading_models import OrderRecord

if TYPE_CHECKING:
    from kis_async._client import AsyncKISClient

    from ._ledger import LedgerOrder

__all__ = ["FillSource", "OrderHistoryFills", "OrderProgress", "order_key"]


def order_key(order_id: str) -> str:
    """An order id without its zero padding (KIS pads ODNO to 10 digits in places)."""
    return order_id.strip().lstrip("0") or "0"


@dataclass(frozen=True)
class OrderProgress:
    """Where one order stands at the broker: cumulative shares and KRW filled.

    ``resting`` is what still sits on the book (0 once the order is done: filled,
    cancelled, or its session over); ``record`` the history row it came from.
    """

    order_id: str
    filled_quantity: int
    filled_amount: int
    resting: int
    record: OrderRecord | None = None

    @property
    def done(self) -> bool:
        return self.resting == 0


@runtime_checkable
class FillSource(Protocol):
    """Reports the progress of the engine's orders."""

    async def progress(self, orders: Sequence[LedgerOrder]) -> dict[str, OrderProgress]:
        """Progress by order id for each of ``orders`` the source can see."""
        ...


class OrderHistoryFills:
    """Fills from the order history: one paged query covers every order asked about."""

    def __init__(self, client: AsyncKISClient) -> None:
        self._client = client

    async def progress(self, orders: Sequence[LedgerOrder]) -> dict[str, OrderProgress]:
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

    async def records(
        self, start: date, end: date, *, ticker: str | None = None
    ) -> list[OrderRecord]:
        """The order history from ``start`` to ``end`` (KST dates), all pages."""
        return await self._client.get_orders(start, end, ticker=ticker)

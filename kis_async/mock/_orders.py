"""Orders and fills as the mock exchange records them: data only, no matching, no wire format.

Prices and amounts are whole KRW; quantities are shares; times are aware KST datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

__all__ = ["MockFill", "MockOrder", "OrderKind", "OrderType", "Side"]

Side = Literal["buy", "sell"]
#: ``new`` from order-cash; ``revise`` / ``cancel`` from order-rvsecncl.
OrderKind = Literal["new", "revise", "cancel"]
#: ORD_DVSN ``"00"`` (limit) or ``"01"`` (market).
OrderType = Literal["limit", "market"]


@dataclass(frozen=True, slots=True)
class MockFill:
    """One execution: ``quantity`` shares at ``price`` KRW.

    ``at`` is when it printed (the acceptance time for a fill against the book, the
    minute bar's time for a resting order); ``day`` is the trade date (the session
    traded, which sets the tax rate); ``commission`` and ``tax`` are KRW, as
    :mod:`kis_async.market` computes them for this fill alone.
    """

    order_id: str
    ticker: str
    side: Side
    quantity: int
    price: int
    at: datetime
    day: date
    commission: int
    tax: int

    @property
    def amount(self) -> int:
        """Price times quantity, KRW, before commission and tax."""
        return self.price * self.quantity


@dataclass(eq=False, slots=True)
class MockOrder:
    """One order the exchange accepted.

    ``quantity`` is ORD_QTY (for a cancel order: the quantity it took off the book);
    ``price`` is ORD_UNPR (0 for a market order); ``session`` is the trading day it
    rests in (the one the market showed when it came, or the next one when that had no
    minutes left); ``original_order_id`` is the order a revise or cancel order changed.
    ``cancelled`` and ``revised`` are the quantities later taken off this order by
    cancel and revise orders. The exchange alone mutates it.
    """

    order_id: str
    org_no: str
    account_no: str
    ticker: str
    side: Side
    kind: OrderKind
    order_type: OrderType
    quantity: int
    price: int
    exchange: str
    ordered_at: datetime
    session: date
    original_order_id: str | None = None
    fills: list[MockFill] = field(default_factory=list)
    #: Shares and KRW (price times quantity) filled so far: the sums over ``fills``,
    #: kept as counters because matching asks for them on every minute bar.
    filled: int = 0
    filled_amount: int = 0
    cancelled: int = 0
    revised: int = 0
    #: No longer on the book: market orders after their sweep, orders whose session
    #: has ended, cancel orders. Its remainder then trades and reserves nothing.
    closed: bool = False
    #: The first minute bar (index into the session's bars) this order may fill on.
    next_bar: int = 0

    @property
    def remaining(self) -> int:
        """Shares neither filled nor taken off by a revise or cancel (0 for a cancel order)."""
        if self.kind == "cancel":
            return 0
        return self.quantity - self.filled - self.cancelled - self.revised

    @property
    def resting(self) -> int:
        """Shares on the book now: the remainder, unless the order is closed."""
        return 0 if self.closed else self.remaining

    @property
    def is_buy(self) -> bool:
        """Whether this is a buy order."""
        return self.side == "buy"

    def add(self, fill: MockFill) -> None:
        """Record one execution of this order."""
        self.fills.append(fill)
        self.filled += fill.quantity
        self.filled_amount += fill.amount

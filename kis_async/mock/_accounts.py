"""Mock accounts: cash, holdings and the ledger of one account, moved only by fills.

Money is whole KRW. The average purchase price is kept exact (a fraction: what the
shares held cost, per share), shown as a ``Decimal`` with 4 places, and does not change
on sells. Cash settles at once (no D+2 settlement is simulated). Every fee and
tax comes from :mod:`kis_async.market` (``buy_cost``, ``sell_proceeds``, ``FeeSchedule``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from kis_async.market import FeeSchedule, buy_cost, max_quantity, sell_proceeds
from kis_async.market import Market as Listing

from ._orders import MockFill, MockOrder

__all__ = ["AVG_PLACES", "MockAccount", "MockPosition"]

#: Average prices carry 4 decimal places, as KIS writes ``pchs_avg_pric``.
AVG_PLACES = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class MockPosition:
    """A holding: ``quantity`` shares bought at ``avg_price`` KRW on average (4 places)."""

    quantity: int
    avg_price: Decimal


def _half_up(value: Fraction) -> int:
    """``value`` (>= 0) rounded half up to a whole number."""
    return (2 * value.numerator + value.denominator) // (2 * value.denominator)


def _shown(average: Fraction) -> Decimal:
    exact = Decimal(average.numerator) / Decimal(average.denominator)
    return exact.quantize(AVG_PLACES, ROUND_HALF_UP)


class MockAccount:
    """One account of the mock exchange, owned by one app key.

    :attr:`cash`, :attr:`holdings` and :attr:`orders` first let the exchange catch up
    with the clock (resting orders fill as minutes pass), so a test reads the state
    at ``clock.now()``. :meth:`set_cash` and :meth:`set_holding` set up a test.
    """

    def __init__(
        self,
        account_no: str,
        app_key: str,
        org_no: str,
        cash: int,
        fees: FeeSchedule,
        sync: Callable[[], None],
        tickers: Collection[str] = (),
    ) -> None:
        self.account_no = account_no
        self.app_key = app_key
        #: KRX_FWDG_ORD_ORGNO of every order of this account (5 digits).
        self.org_no = org_no
        self.fees = fees
        self._sync = sync
        self._tickers = tickers
        self._cash = _check_cash(cash)
        # code -> (shares held, exact average price paid per share, KRW).
        self._lots: dict[str, tuple[int, Fraction]] = {}
        self._orders: list[MockOrder] = []
        #: Orders with shares on the book, by order number (what reserves cash/shares).
        self.open_orders: dict[str, MockOrder] = {}
        self.fills: list[MockFill] = []

    @property
    def cano(self) -> str:
        """The 8-digit account number (CANO)."""
        return self.account_no[:8]

    @property
    def product(self) -> str:
        """The 2-digit product code (ACNT_PRDT_CD)."""
        return self.account_no[-2:]

    # -- what tests read and set ----------------------------------------------------

    @property
    def cash(self) -> int:
        """Deposit, KRW (settled at once), at ``clock.now()``."""
        self._sync()
        return self._cash

    @property
    def holdings(self) -> dict[str, MockPosition]:
        """Stocks held (quantity > 0) by code, at ``clock.now()``; a copy."""
        self._sync()
        return {
            code: MockPosition(held, _shown(average))
            for code, (held, average) in self._lots.items()
            if held > 0
        }

    @property
    def orders(self) -> list[MockOrder]:
        """This account's orders in acceptance order (live objects; do not mutate)."""
        self._sync()
        return list(self._orders)

    def set_cash(self, krw: int) -> None:
        """Set the deposit to ``krw`` KRW."""
        self._cash = _check_cash(krw)

    def set_holding(self, code: str, quantity: int, avg_price: Decimal | int | str) -> None:
        """Hold ``quantity`` shares of ``code`` at ``avg_price`` KRW (0 shares: none)."""
        if code not in self._tickers:
            raise KeyError(f"{code!r} is not a ticker of the mock market")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
            raise ValueError(f"quantity must be a whole number >= 0, got {quantity!r}")
        if quantity == 0:
            self._lots.pop(code, None)
            return
        average = Decimal(avg_price).quantize(AVG_PLACES, ROUND_HALF_UP)
        if average <= 0:
            raise ValueError(f"avg_price must be positive, got {avg_price!r}")
        self._lots[code] = (quantity, Fraction(average))

    # -- what the exchange reads (no catch-up: the exchange is the one catching up) --

    def positions(self) -> dict[str, MockPosition]:
        """Every position, sold-out ones included (quantity 0)."""
        return {code: MockPosition(held, _shown(avg)) for code, (held, avg) in self._lots.items()}

    def purchase_amount(self, code: str) -> int:
        """KRW the shares of ``code`` held cost (exact average times quantity, half up)."""
        held, average = self._lots.get(code, (0, Fraction(0)))
        return _half_up(average * held)

    def recorded(self) -> list[MockOrder]:
        """This account's orders in acceptance order, as they stand (no catch-up)."""
        return list(self._orders)

    def balance(self) -> int:
        """Deposit, KRW, as it stands (no catch-up)."""
        return self._cash

    def reserved_cash(self, excluding: MockOrder | None = None) -> int:
        """KRW that resting buys hold back: each its buy cost at its limit price."""
        return sum(
            buy_cost(o.price, o.resting, self.fees)
            for o in self.open_orders.values()
            if o.is_buy and o is not excluding
        )

    def orderable_cash(self) -> int:
        """Deposit less what resting buys reserve, KRW (never below 0)."""
        return max(0, self._cash - self.reserved_cash())

    def reserved_quantity(self, code: str) -> int:
        """Shares of ``code`` that resting sells hold back."""
        return sum(
            o.resting for o in self.open_orders.values() if not o.is_buy and o.ticker == code
        )

    def orderable_quantity(self, code: str) -> int:
        """Shares of ``code`` a new sell may take: held less what resting sells reserve."""
        held = self._lots[code][0] if code in self._lots else 0
        return max(0, held - self.reserved_quantity(code))

    def fills_on(self, day: date) -> Iterable[MockFill]:
        """The fills traded on ``day``."""
        return (f for f in self.fills if f.day == day)

    # -- what the exchange changes --------------------------------------------------

    def record(self, order: MockOrder) -> None:
        """Add an accepted order; it reserves from now on while it rests."""
        self._orders.append(order)
        if order.resting:
            self.open_orders[order.order_id] = order

    def settle(self, order: MockOrder) -> None:
        """Drop ``order`` from the open orders once nothing of it rests."""
        if not order.resting:
            self.open_orders.pop(order.order_id, None)

    def fillable(self, order: MockOrder, quantity: int, price: int) -> int:
        """How much of ``quantity`` at ``price`` the account can settle.

        Reservations make this ``quantity`` in normal use; it is smaller only when a test
        set the cash or holdings below what resting orders had reserved.
        """
        if order.is_buy:
            if buy_cost(price, quantity, self.fees) <= self._cash:
                return quantity
            return max_quantity(self._cash, price, self.fees)
        held = self._lots[order.ticker][0] if order.ticker in self._lots else 0
        return min(quantity, held)

    def fill(
        self,
        order: MockOrder,
        quantity: int,
        price: int,
        at: datetime,
        day: date,
        listing: Listing,
    ) -> MockFill:
        """Execute ``quantity`` shares of ``order`` at ``price`` on trade date ``day``.

        Moves cash and shares; the sell tax is that of ``day`` and ``listing``.
        """
        amount = price * quantity
        held, average = self._lots.get(order.ticker, (0, Fraction(0)))
        if order.is_buy:
            cost = buy_cost(price, quantity, self.fees)
            commission, tax = cost - amount, 0
            self._cash -= cost
            # Exact, so many small fills give the same average as one big one.
            average = (average * held + amount) / (held + quantity)
            self._lots[order.ticker] = (held + quantity, average)
        else:
            proceeds = sell_proceeds(price, quantity, day, self.fees, listing)
            commission = self.fees.commission(amount)
            tax = amount - commission - proceeds
            self._cash += proceeds
            assert held >= quantity, "fillable() keeps sells within the holding"
            # The average purchase price does not change on sells.
            self._lots[order.ticker] = (held - quantity, average)
        fill = MockFill(
            order.order_id, order.ticker, order.side, quantity, price, at, day, commission, tax
        )
        order.add(fill)
        self.fills.append(fill)
        return fill

    def __repr__(self) -> str:
        return f"MockAccount({self.account_no!r}, cash={self._cash:,})"


def _check_cash(krw: int) -> int:
    if isinstance(krw, bool) or not isinstance(krw, int) or krw < 0:
        raise ValueError(f"cash must be whole KRW >= 0, got {krw!r}")
    return krw

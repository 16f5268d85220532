"""The mock exchange: accounts, order acceptance and matching against the simulated market.

An order is matched at once against the order book the market shows at the clock's
time (best level first; a market order that outruns the 10 levels fills the rest at
the last level's price), and whatever a limit order does not fill rests. Resting
orders fill as the clock passes minute bars of their session: a buy when a bar's low
reaches its price (at its price, or at the bar's open if the bar opened through it),
a sell when a bar's high does, each side taking at most a seeded share of the bar's
volume, best price first, then time. When its session's last bar (the 15:30 closing
auction) has passed, an order stops resting: it no longer fills, reserves or can be
changed. Catch-up is lazy: only codes with resting orders, only bars not yet walked.

Outside the session (after 15:30, before 09:00, on holidays) the market shows the last
finished session: an order then meets that session's closing book at once (much as
KIS's closing-price sessions trade at the close), and its remainder rests for the next
trading session, from its 09:00 bar. Prices are checked against the band the quotations
show. The simulated book is a view of a much larger market: the mock's own fills do not
deplete it.

Everything runs synchronously inside one request, so concurrent requests on the one
event loop never see a half-made change.

Rejections (HTTP 200). "KIS" codes are pinned by ``shared/kis-api.md`` (messages are
the mock's unless quoted there); "mock" codes are this mock's own choice:

==========  ======  =====================================================  ===========
msg_cd      rt_cd   when                                                   source
==========  ======  =====================================================  ===========
OPSQ2001    2       a body key missing or not UPPERCASE, a value not a     KIS (seen for
                    string, an unknown code value (ORD_DVSN, ...), the     INQR_DVSN);
                    account not the app's (``INVALID_CHECK_ACNO``), a      the other
                    continuation key that does not match                   names: mock
OPSQ0002    1       tr_id unknown, old (TTTC0802U ...) or of the other     KIS
                    server
MCA05918    1       unknown ticker                                         KIS
APBK0656    1       not enough orderable cash: a buy reserves its buy      KIS (PYKIS)
                    cost at its limit price (a market buy at the upper
                    limit), and resting buys hold theirs back
APBK0919    1       not enough orderable shares: held less what resting    KIS (PYKIS)
                    sells hold back
APBK1664    1       revise/cancel: no such order of this account with      KIS (PYKIS)
                    quantity still resting
APBK0506    1       limit price off the KRX tick grid                      mock (code as
                                                                           third parties
                                                                           report it)
MOCK0101    1       limit price beyond today's daily band                  mock
MOCK0102    1       NXT: a market order, or a ticker NXT does not trade    mock
MOCK0103    1       NXT or SOR on the virtual server (KRX only)            mock
MOCK0104    1       quantity not a positive whole number, or more than     mock
                    rests on the order to revise/cancel
==========  ======  =====================================================  ===========
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import date, datetime, time

from kis_async._clock import KST, Clock
from kis_async.market import FeeSchedule, InstrumentKind, buy_cost, is_on_tick

from ._accounts import MockAccount
from ._calendar import MINUTE_STAMPS, OPEN, SESSION_BARS, visible_bars
from ._intraday import DayBars
from ._market import Market
from ._orders import MockFill, MockOrder, OrderKind, OrderType, Side
from ._routes import Server
from ._wire import Rejection, gateway

__all__ = [
    "BEYOND_BAND",
    "EXCHANGES",
    "INSUFFICIENT_CASH",
    "INSUFFICIENT_HOLDINGS",
    "NOT_ON_NXT",
    "OFF_TICK",
    "ORIGINAL_NOT_FOUND",
    "QUANTITY",
    "REJECTIONS",
    "VIRTUAL_KRX_ONLY",
    "Exchange",
    "normalize_account_no",
    "rejection",
]

INSUFFICIENT_CASH = "APBK0656"
INSUFFICIENT_HOLDINGS = "APBK0919"
ORIGINAL_NOT_FOUND = "APBK1664"
OFF_TICK = "APBK0506"
BEYOND_BAND = "MOCK0101"
NOT_ON_NXT = "MOCK0102"
VIRTUAL_KRX_ONLY = "MOCK0103"
QUANTITY = "MOCK0104"

#: msg_cd -> msg1 of every business rejection (the table in the module docstring).
REJECTIONS: dict[str, str] = {
    INSUFFICIENT_CASH: "주문가능금액을 초과 했습니다",
    INSUFFICIENT_HOLDINGS: "주문가능수량을 초과 했습니다",
    ORIGINAL_NOT_FOUND: "원주문이 없거나 정정취소 가능수량이 없습니다",
    OFF_TICK: "주식주문호가단위 오류입니다",
    BEYOND_BAND: "주문가격이 가격제한폭을 벗어났습니다",
    NOT_ON_NXT: "NXT에서 주문할 수 없는 종목 또는 주문구분입니다",
    VIRTUAL_KRX_ONLY: "모의투자는 KRX 주문만 가능합니다",
    QUANTITY: "주문수량 오류입니다",
}

#: EXCG_ID_DVSN_CD values an order may name.
EXCHANGES = frozenset({"KRX", "NXT", "SOR"})
#: Each side of a minute bar fills at most this share of the bar's volume (seeded per bar).
_BAR_SHARE = (0.02, 0.10)
_ACCOUNT_NO = re.compile(r"^(\d{8})-?(\d{2})$")
_FIRST_ACCOUNT = 50_000_001


def rejection(code: str) -> Rejection:
    """The business rejection ``code`` (HTTP 200, ``rt_cd "1"``) with its message."""
    return Rejection(200, code, REJECTIONS[code])


def normalize_account_no(account_no: str) -> str:
    """``"12345678-01"`` from ``"12345678-01"`` or ``"1234567801"``; ValueError otherwise."""
    match = _ACCOUNT_NO.match(account_no.strip()) if isinstance(account_no, str) else None
    if match is None:
        raise ValueError(f"an account number is 8 digits, '-', 2 digits; got {account_no!r}")
    return f"{match[1]}-{match[2]}"


def _bar_time(session: date, index: int) -> datetime:
    stamp = MINUTE_STAMPS[index]
    return datetime.combine(session, time(stamp // 10_000, stamp // 100 % 100), KST)


def _printed(session: date, now: datetime) -> int:
    """How many of ``session``'s minute bars have printed by ``now`` (0 before it opens)."""
    if (now.date(), now.time()) < (session, OPEN):
        return 0
    return visible_bars(session, now)


class Exchange:
    """Accounts and every order, matched against ``market`` (deterministic in ``seed``)."""

    def __init__(
        self, seed: int, server: Server, market: Market, clock: Clock, fees: FeeSchedule
    ) -> None:
        self.seed = seed
        self.server = server
        self.market = market
        self.clock = clock
        self.fees = fees
        #: Every order, all accounts, in acceptance order.
        self.orders: list[MockOrder] = []
        self._by_id: dict[str, MockOrder] = {}
        self._accounts: dict[str, MockAccount] = {}
        self._by_app: dict[str, MockAccount] = {}
        # Resting orders per code in acceptance order, and per code the session they
        # rest in and the next minute bar to walk: the whole catch-up state. All of a
        # code's resting orders share one session (an older one has expired first).
        self._resting: dict[str, list[MockOrder]] = {}
        self._cursor: dict[str, tuple[date, int]] = {}
        self._next_no = random.Random(f"{seed}:odno").randrange(1_000_000, 2_000_000)
        #: Called as ``listener(event, order, fill)`` when an order is "accepted" (a new,
        #: revise or cancel order) or "filled" (``fill`` is the execution): the
        #: real-time feed's fill notices. Listeners run inside the request; no I/O.
        self.listeners: list[Callable[[str, MockOrder, MockFill | None], None]] = []

    # -- accounts ---------------------------------------------------------------------

    def open_account(self, app_key: str, account_no: str | None, cash: int) -> MockAccount:
        """Give ``app_key`` an account (``account_no`` or the next free one) with ``cash`` KRW."""
        if app_key in self._by_app:
            raise ValueError(f"app {app_key[:6]}... already owns an account")
        if account_no is None:
            number = _FIRST_ACCOUNT
            while f"{number:08d}-01" in self._accounts:
                number += 1
            account_no = f"{number:08d}-01"
        account_no = normalize_account_no(account_no)
        if account_no in self._accounts:
            raise ValueError(f"account {account_no} already belongs to another app")
        org_no = f"{random.Random(f'{self.seed}:{account_no}:org').randrange(10_000, 100_000)}"
        account = MockAccount(
            account_no, app_key, org_no, cash, self.fees, self._sync, self.market.tickers
        )
        self._accounts[account_no] = account
        self._by_app[app_key] = account
        return account

    def account(self, account_no: str) -> MockAccount:
        """The account ``account_no`` ("12345678-01"); KeyError if none."""
        try:
            return self._accounts[normalize_account_no(account_no)]
        except (KeyError, ValueError):
            raise KeyError(f"no mock account {account_no!r}") from None

    def account_for(self, app_key: str) -> MockAccount | None:
        """The account ``app_key`` owns, if any."""
        return self._by_app.get(app_key)

    def _sync(self) -> None:
        self.catch_up(self.clock.now())

    # -- new orders -------------------------------------------------------------------

    def place(
        self,
        account: MockAccount,
        ticker: str,
        side: Side,
        order_type: OrderType,
        quantity: int,
        price: int,
        exchange: str,
        now: datetime,
    ) -> MockOrder:
        """Accept (and match) a new order, or raise its rejection.

        ``quantity`` is a positive number of shares; ``price`` the limit in KRW (ignored
        for a market order); ``exchange`` one of :data:`EXCHANGES`.
        """
        market = self.market
        session = market.session(now)
        if not market.is_listed(ticker, session):
            raise gateway("MCA05918")
        self._check_venue(ticker, order_type, exchange)
        _, lower, upper = market.limits(ticker, session)
        if order_type == "limit":
            _check_price(price, lower, upper, market.tickers[ticker].kind)
        else:
            price = 0
        self.catch_up(now)
        if side == "buy":
            # A market buy reserves at the upper limit, as KIS does (kis-api.md §4.7).
            unit = price or upper
            if buy_cost(unit, quantity, self.fees) > account.orderable_cash():
                raise rejection(INSUFFICIENT_CASH)
        elif quantity > account.orderable_quantity(ticker):
            raise rejection(INSUFFICIENT_HOLDINGS)
        order = self._new_order(
            account, ticker, side, "new", order_type, quantity, price, exchange, now
        )
        self._enter(order, account, now)
        return order

    def _check_venue(self, ticker: str, order_type: OrderType, exchange: str) -> None:
        if self.server == "virtual" and exchange != "KRX":
            raise rejection(VIRTUAL_KRX_ONLY)
        # NXT takes no market orders (kis-api.md §8.4) and trades only some tickers.
        if exchange == "NXT" and (order_type == "market" or not self.market.tickers[ticker].nxt):
            raise rejection(NOT_ON_NXT)

    # -- revise and cancel --------------------------------------------------------------

    def revise(
        self,
        account: MockAccount,
        original_order_id: str,
        org_no: str,
        quantity: int | None,
        price: int,
        now: datetime,
    ) -> MockOrder:
        """Move ``quantity`` resting shares (None: all) of an order to limit ``price``.

        The revise is an order of its own with a new number; it may fill at once.
        """
        self.catch_up(now)
        original = self._original(account, original_order_id, org_no)
        moved = self._quantity(original, quantity)
        _, lower, upper = self.market.limits(original.ticker, self.market.session(now))
        _check_price(price, lower, upper, self.market.tickers[original.ticker].kind)
        if original.is_buy:
            # What resting buys would reserve with the moved shares at the new price.
            keep = buy_cost(original.price, original.resting - moved, self.fees)
            after = (
                account.reserved_cash(excluding=original) + keep + buy_cost(price, moved, self.fees)
            )
            if after > account.balance():
                raise rejection(INSUFFICIENT_CASH)
        original.revised += moved
        self._take_off(original, account)
        order = self._new_order(
            account,
            original.ticker,
            original.side,
            "revise",
            "limit",
            moved,
            price,
            original.exchange,
            now,
            original.order_id,
        )
        self._enter(order, account, now)
        return order

    def cancel(
        self,
        account: MockAccount,
        original_order_id: str,
        org_no: str,
        quantity: int | None,
        now: datetime,
    ) -> MockOrder:
        """Take ``quantity`` resting shares (None: all) of an order off the book."""
        self.catch_up(now)
        original = self._original(account, original_order_id, org_no)
        taken = self._quantity(original, quantity)
        original.cancelled += taken
        self._take_off(original, account)
        order = self._new_order(
            account,
            original.ticker,
            original.side,
            "cancel",
            original.order_type,
            taken,
            original.price,
            original.exchange,
            now,
            original.order_id,
        )
        order.closed = True
        account.record(order)
        self._notify("accepted", order, None)
        return order

    def _notify(self, event: str, order: MockOrder, fill: MockFill | None) -> None:
        for listener in self.listeners:
            listener(event, order, fill)

    def _original(self, account: MockAccount, original_order_id: str, org_no: str) -> MockOrder:
        number = original_order_id.strip()
        order = self._by_id.get(number.zfill(10)) if number.isdigit() else None
        if (
            order is None
            or order.account_no != account.account_no
            or org_no.strip() != order.org_no
            or order.resting == 0
        ):
            raise rejection(ORIGINAL_NOT_FOUND)
        return order

    @staticmethod
    def _quantity(original: MockOrder, quantity: int | None) -> int:
        if quantity is None:
            return original.resting
        if quantity > original.resting:
            raise rejection(QUANTITY)
        return quantity

    def _take_off(self, order: MockOrder, account: MockAccount) -> None:
        account.settle(order)
        if not order.resting:
            resting = self._resting.get(order.ticker)
            if resting is not None and order in resting:
                resting.remove(order)

    # -- matching ---------------------------------------------------------------------

    def _new_order(
        self,
        account: MockAccount,
        ticker: str,
        side: Side,
        kind: OrderKind,
        order_type: OrderType,
        quantity: int,
        price: int,
        exchange: str,
        now: datetime,
        original_order_id: str | None = None,
    ) -> MockOrder:
        order_id = f"{self._next_no:010d}"
        self._next_no += 1
        order = MockOrder(
            order_id=order_id,
            org_no=account.org_no,
            account_no=account.account_no,
            ticker=ticker,
            side=side,
            kind=kind,
            order_type=order_type,
            quantity=quantity,
            price=price,
            exchange=exchange,
            ordered_at=now,
            session=self.market.session(now),
            original_order_id=original_order_id,
        )
        self.orders.append(order)
        self._by_id[order_id] = order
        return order

    def _enter(self, order: MockOrder, account: MockAccount, now: datetime) -> None:
        """Sweep the book shown at ``now``; a limit order's remainder rests.

        It rests in the session shown, or in the next trading session when the one
        shown has no minutes left.
        """
        account.record(order)
        self._notify("accepted", order, None)
        self._sweep(order, account, now)
        order.next_bar = visible_bars(order.session, now)
        if order.next_bar >= SESSION_BARS:
            calendar = self.market.calendar
            order.session = calendar.day_at(calendar.index(order.session) + 1)
            order.next_bar = _printed(order.session, now)
        if order.order_type == "market":
            order.closed = True  # market orders never rest
        elif order.remaining:
            code = order.ticker
            if code not in self._resting:
                self._resting[code] = []
                self._cursor[code] = (order.session, order.next_bar)
            self._resting[code].append(order)
        account.settle(order)

    def _sweep(self, order: MockOrder, account: MockAccount, now: datetime) -> None:
        book = self.market.book(order.ticker, now)
        day = order.session  # still the session shown: the sweep comes before resting
        prices, sizes = (book.asks, book.ask_qty) if order.is_buy else (book.bids, book.bid_qty)
        last = 0
        for level, size in zip(prices, sizes, strict=True):
            if level == 0 or not order.remaining:
                break  # 0: no level beyond the daily limit
            if order.order_type == "limit" and (
                level > order.price if order.is_buy else level < order.price
            ):
                break
            last = level
            self._execute(order, account, min(order.remaining, size), level, now, day)
        if order.order_type == "market" and order.remaining:
            # What the 10 levels cannot take fills at the last one (or the last price).
            price = last or self.market.price(order.ticker, now)
            self._execute(order, account, order.remaining, price, now, day)

    def _execute(
        self,
        order: MockOrder,
        account: MockAccount,
        quantity: int,
        price: int,
        at: datetime,
        day: date,
    ) -> int:
        quantity = account.fillable(order, quantity, price)
        if quantity > 0:
            listing = self.market.tickers[order.ticker].market
            fill = account.fill(order, quantity, price, at, day, listing)
            self._notify("filled", order, fill)
        return quantity

    def catch_up(self, now: datetime) -> None:
        """Fill resting orders on every minute bar printed since the last catch-up."""
        for code in list(self._resting):
            orders = self._resting[code]
            session, start = self._cursor[code]
            stop = _printed(session, now)
            if start < stop and orders:
                self._walk(code, session, orders, start, stop)
                self._cursor[code] = (session, stop)
                orders[:] = [o for o in orders if o.resting]
            if stop >= SESSION_BARS:
                # The session is over: what still rests is done for the day.
                for order in orders:
                    order.closed = True
                    self._accounts[order.account_no].settle(order)
                orders.clear()
            if not orders:
                del self._resting[code]
                del self._cursor[code]

    def _walk(
        self, code: str, session: date, orders: list[MockOrder], start: int, stop: int
    ) -> None:
        bars = self.market.session_bars(code, session)
        # Best price first; sorted() is stable, so time priority breaks ties.
        buys = sorted((o for o in orders if o.is_buy), key=lambda o: -o.price)
        sells = sorted((o for o in orders if not o.is_buy), key=lambda o: o.price)
        for index in range(start, stop):
            if not buys and not sells:
                return
            shares = _LazyShares(self.seed, code, session, index)
            if buys and self._fill_side(buys, bars, index, session, shares):
                buys = [o for o in buys if o.resting]
            if sells and self._fill_side(sells, bars, index, session, shares):
                sells = [o for o in sells if o.resting]

    def _fill_side(
        self,
        orders: list[MockOrder],
        bars: DayBars,
        index: int,
        session: date,
        shares: _LazyShares,
    ) -> bool:
        """Fill one side's resting ``orders`` (best first) on minute bar ``index``.

        Returns whether any order was reached (and so may have filled).
        """
        low, high, opened = bars.low[index], bars.high[index], bars.open[index]
        room = -1  # the bar's capacity for this side, drawn only if some order is reached
        for order in orders:
            if order.next_bar > index:
                continue
            if order.is_buy:
                if low > order.price:
                    break  # lower-priced buys are not reached either
                price = min(opened, order.price)  # a bar that opened through it fills at open
            else:
                if high < order.price:
                    break
                price = max(opened, order.price)
            if room < 0:
                room = int(bars.volume[index] * shares.of(order.is_buy))
            if room == 0:
                break
            account = self._accounts[order.account_no]
            quantity = min(order.resting, room)
            room -= self._execute(
                order, account, quantity, price, _bar_time(session, index), session
            )
            account.settle(order)
        return room >= 0


class _LazyShares:
    """The seeded shares of one bar's volume each side may fill, drawn on first use."""

    __slots__ = ("_drawn", "_key")

    def __init__(self, seed: int, code: str, session: date, index: int) -> None:
        self._key = f"{seed}:{code}:{session:%Y%m%d}:{index}:fills"
        self._drawn: tuple[float, float] | None = None

    def _draw(self) -> tuple[float, float]:
        if self._drawn is None:
            rng = random.Random(self._key)
            self._drawn = (rng.uniform(*_BAR_SHARE), rng.uniform(*_BAR_SHARE))
        return self._drawn

    def of(self, buy: bool) -> float:
        """The share of the bar's volume the buy (or sell) side may fill."""
        return self._draw()[0 if buy else 1]


def _check_price(price: int, lower: int, upper: int, kind: InstrumentKind) -> None:
    if not is_on_tick(price, kind):
        raise rejection(OFF_TICK)
    if not lower <= price <= upper:
        raise rejection(BEYOND_BAND)

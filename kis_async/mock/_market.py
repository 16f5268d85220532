"""The simulated market: quotes, sessions and order books over seeded price paths.

Everything here is a pure function of ``(seed, ticker, anchor, time)``, cached. No HTTP,
no wire format: the quotation handlers (and, later, an exchange) read it.

Prices are whole KRW on the KRX tick grid; volumes are shares; values are KRW.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from fractions import Fraction

from kis_async.market import price_band, tick_size

from ._calendar import CONTINUOUS_MINUTES, SESSION_BARS, Calendar, visible_bars
from ._history import Bar, History
from ._intraday import DayBars
from ._prices import snap
from ._universe import Ticker

__all__ = ["BOOK_LEVELS", "Book", "Extremes", "Market", "Profile", "Quote"]

#: Order book depth, per side.
BOOK_LEVELS = 10


@dataclass(frozen=True, slots=True)
class Profile:
    """Per-ticker constants of the simulation.

    ``turnover`` is the typical share of listed shares traded a day; ``eps``/``bps``
    KRW per share; ``foreign_rate`` the percentage held by foreigners; ``loan_rate``
    the percentage of shares bought on margin.
    """

    turnover: float
    eps: int
    bps: int
    foreign_rate: float
    loan_rate: float


@dataclass(frozen=True, slots=True)
class Book:
    """The order book: 10 levels a side, best first; ``0`` price and quantity beyond a limit.

    Quantities are shares; ``*_change`` is each level's change since the previous minute.
    """

    asks: tuple[int, ...]
    ask_qty: tuple[int, ...]
    bids: tuple[int, ...]
    bid_qty: tuple[int, ...]
    ask_change: tuple[int, ...]
    bid_change: tuple[int, ...]

    @property
    def total_ask(self) -> int:
        """All ask quantity, shares."""
        return sum(self.ask_qty)

    @property
    def total_bid(self) -> int:
        """All bid quantity, shares."""
        return sum(self.bid_qty)


@dataclass(frozen=True, slots=True)
class Extremes:
    """The highest and lowest prices of a window of days (KRW) and the days they printed."""

    high: int
    high_day: date
    low: int
    low_day: date

    def including(self, bar: Bar) -> Extremes:
        """These extremes with ``bar`` (the session so far) taken into account."""
        high, high_day, low, low_day = self.high, self.high_day, self.low, self.low_day
        if bar.high >= high:
            high, high_day = bar.high, bar.day
        if low == 0 or bar.low <= low:
            low, low_day = bar.low, bar.day
        return Extremes(high, high_day, low, low_day)


@dataclass(frozen=True, slots=True)
class Quote:
    """A ticker at one instant: the session shown, today's bar so far and its context.

    ``today`` is the session's bar up to the last printed minute (its close is the
    price); ``previous`` the prior session's full bar (None on the first day);
    ``lower``/``upper`` the day's limits; ``bars`` how many minute bars have printed;
    ``w52``, ``d250`` and ``ytd`` the extremes of the last 52 weeks, the last 250
    trading days and the year to date, this session included.
    """

    ticker: Ticker
    session: date
    today: Bar
    previous: Bar | None
    lower: int
    upper: int
    bars: int
    w52: Extremes
    d250: Extremes
    ytd: Extremes

    @property
    def price(self) -> int:
        """The last price, KRW."""
        return self.today.close

    @property
    def base(self) -> int:
        """The base price of the day (the previous close), KRW."""
        return self.today.base


class _Session:
    """What a (ticker, session day) needs, computed once: bars, limits, past extremes."""

    __slots__ = ("bars", "d250", "daily", "lower", "previous", "upper", "w52", "ytd")

    def __init__(
        self,
        bars: DayBars,
        daily: Bar,
        previous: Bar | None,
        band: tuple[int, int],
        windows: tuple[Extremes, Extremes, Extremes],
    ) -> None:
        self.bars = bars
        self.daily = daily
        self.previous = previous
        self.lower, self.upper = band
        self.w52, self.d250, self.ytd = windows


class Market:
    """The simulated market for a universe, deterministic in ``seed``.

    ``anchor`` is the day on which each ticker's reference path equals its reference
    price; fixing it at construction keeps history stable while the clock moves.
    """

    def __init__(
        self, seed: int, universe: tuple[Ticker, ...], calendar: Calendar, anchor: date
    ) -> None:
        self.seed = seed
        self.calendar = calendar
        self.anchor = anchor
        self.tickers: dict[str, Ticker] = {t.code: t for t in universe}
        self._profiles: dict[str, Profile] = {}
        self._histories: dict[str, History] = {}
        self._sessions: dict[tuple[str, date], _Session] = {}
        self._books: dict[tuple[str, date, int], tuple[list[int], list[int], bool]] = {}
        # Price adjustments of past bars (splits, dividends), per ticker: (effective, ratio).
        self._adjustments: dict[str, list[tuple[date, Fraction]]] = {}

    # -- static facts ---------------------------------------------------------------

    def profile(self, code: str) -> Profile:
        """The ticker's seeded constants (turnover, fundamentals, ownership)."""
        profile = self._profiles.get(code)
        if profile is None:
            ticker = self.tickers[code]
            rng = random.Random(f"{self.seed}:{code}:profile")
            per = rng.uniform(6.0, 40.0)
            pbr = rng.uniform(0.5, 4.0)
            profile = Profile(
                turnover=rng.uniform(0.001, 0.006),
                eps=max(1, round(ticker.ref_price / per)),
                bps=max(1, round(ticker.ref_price / pbr)),
                foreign_rate=rng.uniform(3.0, 55.0),
                loan_rate=rng.uniform(0.0, 3.0),
            )
            self._profiles[code] = profile
        return profile

    def history(self, code: str) -> History:
        """The ticker's daily history (grown on demand)."""
        history = self._histories.get(code)
        if history is None:
            history = History(
                self.seed,
                self.tickers[code],
                self.calendar,
                self.anchor,
                self.profile(code).turnover,
            )
            self._histories[code] = history
        return history

    def is_listed(self, code: str, session: date) -> bool:
        """Whether ``code`` is in the universe and has traded by ``session``."""
        ticker = self.tickers.get(code)
        if ticker is None:
            return False
        return self.calendar.index_on_or_after(ticker.listed) <= self.calendar.index(session)

    def daily_bar(self, code: str, day_index: int) -> Bar:
        """The full daily bar of trading day ``day_index`` (calendar position)."""
        o, h, lo, c, volume, value, base = self.history(code).bar(day_index)
        return Bar(self.calendar.day_at(day_index), o, h, lo, c, volume, value, base)

    # -- one instant ------------------------------------------------------------------

    def session(self, now: datetime) -> date:
        """The session day shown at ``now``."""
        return self.calendar.session_date(now)

    @staticmethod
    def visible(session: date, now: datetime) -> int:
        """How many of ``session``'s minute bars have printed by ``now``."""
        return visible_bars(session, now)

    def _session(self, code: str, session: date) -> _Session:
        key = (code, session)
        state = self._sessions.get(key)
        if state is None:
            state = self._build_session(code, session)
            if len(self._sessions) > 16_384:
                self._sessions.clear()
            self._sessions[key] = state
        return state

    def _build_session(self, code: str, session: date) -> _Session:
        calendar = self.calendar
        index = calendar.index(session)
        history = self.history(code)
        daily = self.daily_bar(code, index)
        previous = self.daily_bar(code, index - 1) if index > history.first else None
        # Past windows exclude this session, which is added live as it prints.
        windows = (
            self._extremes(code, calendar.index_on_or_after(session - timedelta(days=364)), index),
            self._extremes(code, index - 250, index),
            self._extremes(
                code, calendar.index_on_or_after(session.replace(month=1, day=1)), index
            ),
        )
        bars = DayBars(self.seed, code, session, daily)
        band = price_band(daily.base, self.tickers[code].kind)
        return _Session(bars, daily, previous, band, windows)

    def _extremes(self, code: str, start: int, stop: int) -> Extremes:
        """Extremes of trading days ``start`` (inclusive) to ``stop`` (exclusive)."""
        history = self.history(code)
        start = max(start, history.first)
        if start >= stop:
            day = self.calendar.day_at(stop)
            return Extremes(0, day, 0, day)
        rows = [history.bar(i) for i in range(start, stop)]
        top = max(range(len(rows)), key=lambda i: rows[i][1])
        bottom = min(range(len(rows)), key=lambda i: rows[i][2])
        calendar = self.calendar
        return Extremes(
            rows[top][1],
            calendar.day_at(start + top),
            rows[bottom][2],
            calendar.day_at(start + bottom),
        )

    def quote(self, code: str, now: datetime) -> Quote:
        """``code`` at ``now``: the last price is the close of the last printed minute bar."""
        session = self.calendar.session_date(now)
        state = self._session(code, session)
        count = visible_bars(session, now)
        if count == SESSION_BARS:
            today = state.daily
        else:
            today = state.bars.aggregate(count, state.daily.base)
        return Quote(
            self.tickers[code],
            session,
            today,
            state.previous,
            state.lower,
            state.upper,
            count,
            state.w52.including(today),
            state.d250.including(today),
            state.ytd.including(today),
        )

    def price(self, code: str, now: datetime) -> int:
        """The last price of ``code`` at ``now``, KRW."""
        session = self.calendar.session_date(now)
        state = self._session(code, session)
        return state.bars.close[visible_bars(session, now) - 1]

    def session_bars(self, code: str, session: date) -> DayBars:
        """All of ``session``'s minute bars (the exchange walks them to fill resting orders)."""
        return self._session(code, session).bars

    def limits(self, code: str, session: date) -> tuple[int, int, int]:
        """``(base, lower, upper)`` of ``session``: the base price and the daily limits, KRW."""
        state = self._session(code, session)
        return state.daily.base, state.lower, state.upper

    def minute_bars(self, code: str, now: datetime) -> tuple[DayBars, int]:
        """The session's minute bars at ``now`` and how many of them have printed."""
        session = self.calendar.session_date(now)
        return self._session(code, session).bars, visible_bars(session, now)

    def book(self, code: str, now: datetime) -> Book:
        """The order book at ``now``: the last price at the best bid or ask, one tick apart."""
        session = self.calendar.session_date(now)
        state = self._session(code, session)
        count = visible_bars(session, now)
        price = state.bars.close[count - 1]
        ask_qty, bid_qty, at_ask = self._levels(code, session, count, state)
        prev_ask, prev_bid, _ = (
            self._levels(code, session, count - 1, state)
            if count > 1
            else (ask_qty, bid_qty, at_ask)
        )
        lower, upper = state.lower, state.upper
        # At a limit the price can only sit on the side that has room.
        if price >= upper:
            at_ask = False
        elif price <= lower:
            at_ask = True
        asks: list[int] = []
        bids: list[int] = []
        ask = price if at_ask else price + tick_size(price)
        bid = _tick_below(price) if at_ask else price
        for _ in range(BOOK_LEVELS):
            asks.append(ask if ask <= upper else 0)
            bids.append(bid if bid >= lower and bid > 0 else 0)
            ask += tick_size(ask)
            bid = _tick_below(bid) if bid > 1 else 0
        a_qty = [q if p else 0 for p, q in zip(asks, ask_qty, strict=True)]
        b_qty = [q if p else 0 for p, q in zip(bids, bid_qty, strict=True)]
        pa_qty = [q if p else 0 for p, q in zip(asks, prev_ask, strict=True)]
        pb_qty = [q if p else 0 for p, q in zip(bids, prev_bid, strict=True)]
        return Book(
            tuple(asks),
            tuple(a_qty),
            tuple(bids),
            tuple(b_qty),
            tuple(a - b for a, b in zip(a_qty, pa_qty, strict=True)),
            tuple(a - b for a, b in zip(b_qty, pb_qty, strict=True)),
        )

    def _levels(
        self, code: str, session: date, count: int, state: _Session
    ) -> tuple[list[int], list[int], bool]:
        key = (code, session, count)
        levels = self._books.get(key)
        if levels is None:
            rng = random.Random(f"{self.seed}:{code}:{session:%Y%m%d}:{count}:book")
            typical = max(1, state.daily.volume // CONTINUOUS_MINUTES)
            at_ask = rng.random() < 0.5
            ask_qty = [
                1 + int(typical * (0.6 + 0.15 * level) * math.exp(0.8 * rng.gauss(0.0, 1.0)))
                for level in range(BOOK_LEVELS)
            ]
            bid_qty = [
                1 + int(typical * (0.6 + 0.15 * level) * math.exp(0.8 * rng.gauss(0.0, 1.0)))
                for level in range(BOOK_LEVELS)
            ]
            levels = (ask_qty, bid_qty, at_ask)
            if len(self._books) > 16_384:
                self._books.clear()
            self._books[key] = levels
        return levels

    # -- ranges -----------------------------------------------------------------------

    def daily_bars(
        self,
        code: str,
        start: date,
        end: date,
        now: datetime,
        newest: int | None = None,
        *,
        adjusted: bool = True,
    ) -> list[Bar]:
        """Daily bars from ``start`` to ``end`` (inclusive), oldest first, up to the session.

        The session's own bar is the part printed by ``now``. ``newest`` keeps only the
        last that many days (so a short page of a long range costs only its page).
        ``adjusted`` applies the adjustments of :meth:`adjust` (KIS's default).
        """
        session = self.calendar.session_date(now)
        history = self.history(code)
        last = self.calendar.index_on_or_before(min(end, session))
        first = max(self.calendar.index_on_or_after(start), history.first)
        if newest is not None:
            first = max(first, last - newest + 1)
        if first > last:
            return []
        rows = [self.daily_bar(code, i) for i in range(first, last + 1)]
        if rows[-1].day == session:
            rows[-1] = self.quote(code, now).today
        for effective, ratio in self._adjustments.get(code, ()) if adjusted else ():
            rows = [_adjusted(bar, ratio) if bar.day < effective else bar for bar in rows]
        return rows

    def adjust(self, code: str, effective: date, ratio: Fraction) -> None:
        """Adjust ``code``'s chart history as a corporate action on ``effective`` would.

        Bars before ``effective`` show prices times ``ratio`` (on the tick grid) and
        volumes divided by it, as KIS's adjusted charts (``FID_ORG_ADJ_PRC=0``) do after
        a split (ratio 1/2 for two-for-one) or a dividend adjustment. Only the daily and
        longer charts change: quotes, books and trading go on from the live price.
        """
        if code not in self.tickers:
            raise KeyError(f"{code!r} is not a ticker of the mock market")
        if ratio <= 0:
            raise ValueError(f"ratio must be positive, got {ratio}")
        self._adjustments.setdefault(code, []).append((effective, Fraction(ratio)))


def _adjusted(bar: Bar, ratio: Fraction) -> Bar:
    def price(value: int) -> int:
        return snap(float(value * ratio))

    return replace(
        bar,
        open=price(bar.open),
        high=price(bar.high),
        low=price(bar.low),
        close=price(bar.close),
        base=price(bar.base),
        volume=max(1, round(bar.volume / ratio)),
    )


def _tick_below(price: int) -> int:
    """The next valid price below ``price`` (the tick of the band below may be smaller)."""
    return snap(price - 1, "down")

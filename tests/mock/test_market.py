"""The simulated market as properties: the tick grid, the band, bars that add up."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kis_async._clock import KST, Clock
from kis_async.market import is_on_tick, price_band, round_to_tick
from kis_async.mock import MockClock, MockKIS
from kis_async.mock._calendar import SESSION_BARS, Calendar, visible_bars
from kis_async.mock._intraday import DayBars
from kis_async.mock._market import Market
from kis_async.mock._prices import snap
from kis_async.mock._ratelimit import SlidingWindow
from kis_async.mock._universe import UNIVERSE, isin
from kis_async.mock._wire import ratio, scaled

CODES = [t.code for t in UNIVERSE]
ANCHOR = date(2026, 5, 12)
CALENDAR = Calendar()
#: Markets are cached per seed: history is expensive to grow and pure in the seed.
_MARKETS: dict[int, Market] = {}


def _market(seed: int) -> Market:
    if seed not in _MARKETS:
        _MARKETS[seed] = Market(seed, UNIVERSE, CALENDAR, ANCHOR)
    return _MARKETS[seed]


@given(
    price=st.floats(min_value=0.01, max_value=3_000_000, allow_nan=False),
    direction=st.sampled_from(["down", "up", "nearest"]),
)
def test_snap_is_round_to_tick(price: float, direction: str) -> None:
    assert snap(price, direction) == round_to_tick(Fraction(price), direction)  # type: ignore[arg-type]


@given(price=st.integers(min_value=1, max_value=3_000_000))
def test_snap_keeps_grid_prices(price: int) -> None:
    on_grid = round_to_tick(price, "down")
    assert snap(on_grid) == snap(on_grid, "up") == snap(on_grid, "down") == on_grid


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=3),
    code=st.sampled_from(CODES),
    offset=st.integers(min_value=0, max_value=7_000),
)
def test_every_daily_price_is_on_the_grid_and_inside_the_previous_closes_band(
    seed: int, code: str, offset: int
) -> None:
    market = _market(seed)
    history = market.history(code)
    last = CALENDAR.index(ANCHOR) + 300
    day = min(history.first + offset, last)
    # A stretch of days across a chunk boundary, so chunks must join up.
    for index in range(max(day - 3, history.first), min(day + 130, last)):
        o, h, lo, c, volume, value, base = history.bar(index)
        lower, upper = price_band(base)
        for price in (o, h, lo, c):
            assert is_on_tick(price)
            assert lower <= price <= upper
        assert lo <= min(o, c)
        assert max(o, c) <= h
        assert volume >= 1_000
        assert volume * lo <= value <= volume * h
        if index > history.first:
            assert base == history.bar(index - 1)[3], "the base is the previous close"


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=3),
    code=st.sampled_from(CODES),
    back=st.integers(min_value=0, max_value=400),
)
def test_minute_bars_of_a_day_aggregate_to_its_daily_bar(seed: int, code: str, back: int) -> None:
    market = _market(seed)
    index = max(CALENDAR.index(ANCHOR) - back, market.history(code).first)
    daily = market.daily_bar(code, index)
    bars = DayBars(seed, code, daily.day, daily)
    assert len(bars.close) == SESSION_BARS
    assert bars.aggregate(SESSION_BARS, daily.base) == daily
    assert bars.open[0] == daily.open
    assert max(bars.high) == daily.high
    assert min(bars.low) == daily.low
    assert sum(bars.volume) == daily.volume
    assert bars.cum_value[-1] == daily.value
    for k in range(SESSION_BARS):
        for price in (bars.open[k], bars.high[k], bars.low[k], bars.close[k]):
            assert is_on_tick(price)
            assert daily.low <= price <= daily.high
        assert bars.low[k] <= min(bars.open[k], bars.close[k])
        assert max(bars.open[k], bars.close[k]) <= bars.high[k]
        # The average price so far stays inside the range traded so far.
        assert bars.run_low[k] * bars.cum_volume[k] <= bars.cum_value[k]
        assert bars.cum_value[k] <= bars.run_high[k] * bars.cum_volume[k]
        if k:
            assert bars.open[k] == bars.close[k - 1]
            assert bars.cum_value[k] >= bars.cum_value[k - 1]


@settings(max_examples=30, deadline=None)
@given(
    code=st.sampled_from(CODES),
    minutes=st.integers(min_value=0, max_value=7 * 60),
)
def test_the_book_straddles_the_price_one_tick_apart(code: str, minutes: int) -> None:
    market = _market(0)
    now = datetime(2026, 5, 12, 9, 0, tzinfo=KST) + timedelta(minutes=minutes)
    quote = market.quote(code, now)
    book = market.book(code, now)
    assert quote.price in (book.asks[0], book.bids[0])
    assert book.asks[0] > book.bids[0]
    assert round_to_tick(book.asks[0] - 1, "down") == book.bids[0]
    assert book.total_ask == sum(book.ask_qty)
    assert all(quote.lower <= p <= quote.upper for p in book.asks + book.bids if p)


def test_chunks_do_not_depend_on_the_order_they_are_computed_in() -> None:
    forward = Market(9, UNIVERSE, CALENDAR, ANCHOR).history("005930")
    backward = Market(9, UNIVERSE, CALENDAR, ANCHOR).history("005930")
    indexes = list(range(forward.first, forward.first + 900, 7))
    ahead = [forward.bar(i) for i in indexes]
    behind = [backward.bar(i) for i in reversed(indexes)][::-1]
    assert ahead == behind


def test_prices_stay_realistic_over_decades() -> None:
    market = _market(0)
    today = CALENDAR.index(ANCHOR)
    for ticker in UNIVERSE:
        close = market.history(ticker.code).bar(today)[3]
        # Within a few stationary spreads of the reference path, which ends at ref_price.
        assert ticker.ref_price / 3 < close < ticker.ref_price * 3


def test_same_seed_same_market_different_seed_different_market() -> None:
    now = datetime(2026, 5, 12, 13, 0, tzinfo=KST)
    one = Market(1, UNIVERSE, Calendar(), ANCHOR)
    same = Market(1, UNIVERSE, Calendar(), ANCHOR)
    other = Market(2, UNIVERSE, Calendar(), ANCHOR)
    prices = [one.price(c, now) for c in CODES]
    assert prices == [same.price(c, now) for c in CODES]
    others = [other.price(c, now) for c in CODES]
    assert sum(a != b for a, b in zip(prices, others, strict=True)) > 30


# -- calendar, clock, helpers -----------------------------------------------------------


def test_calendar_skips_weekends_and_fixed_holidays() -> None:
    days = [d for d in CALENDAR.days if date(2026, 1, 1) <= d <= date(2026, 12, 31)]
    assert all(d.weekday() < 5 for d in days)
    for holiday in ("0101", "0301", "0505", "0606", "0815", "1003", "1009", "1225", "1231"):
        assert date(2026, int(holiday[:2]), int(holiday[2:])) not in days
    assert CALENDAR.index_on_or_after(date(2026, 5, 9)) == CALENDAR.index(date(2026, 5, 11))
    assert CALENDAR.day_at(CALENDAR.index(date(2040, 6, 5))) == date(2040, 6, 5)


@pytest.mark.parametrize(
    ("moment", "bars"),
    [
        ((9, 0, 0), 1),
        ((9, 0, 59), 1),
        ((9, 1, 0), 2),
        ((15, 19, 0), 380),
        ((15, 29, 59), 380),
        ((15, 30, 0), 381),
    ],
)
def test_visible_bars(moment: tuple[int, int, int], bars: int) -> None:
    hour, minute, second = moment
    now = datetime(2026, 5, 12, hour, minute, second, tzinfo=KST)
    assert visible_bars(date(2026, 5, 12), now) == bars
    assert visible_bars(date(2026, 5, 11), now) == SESSION_BARS


def test_mock_clock_moves_only_when_told_if_frozen() -> None:
    start = datetime(2026, 5, 12, 10, 0)
    clock = MockClock(start, frozen=True)
    assert isinstance(clock, Clock)
    assert clock.now() == start.replace(tzinfo=KST)
    assert clock.now().utcoffset() == timedelta(hours=9)
    mono = clock.monotonic()
    clock.advance(90)
    clock.advance(timedelta(minutes=1))
    assert clock.now() == start.replace(tzinfo=KST) + timedelta(seconds=150)
    assert clock.monotonic() - mono >= 150
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
    ticking = MockClock()
    assert abs((ticking.now() - datetime.now(KST)).total_seconds()) < 5
    assert ticking.now() <= ticking.now()


def test_sliding_window() -> None:
    window = SlidingWindow(3)
    assert [window.acquire("a", t) for t in (0.0, 0.1, 0.2, 0.3)] == [True, True, True, False]
    assert window.acquire("b", 0.3)
    assert not window.acquire("a", 0.99)
    assert window.acquire("a", 1.01)  # the request at 0.0 has left the window
    slow = SlidingWindow(0.5)
    assert [slow.acquire("a", t) for t in (0.0, 1.0, 2.01)] == [True, False, True]
    unlimited = SlidingWindow(float("inf"))
    assert all(unlimited.acquire("a", 0.0) for _ in range(1000))
    with pytest.raises(ValueError, match="positive"):
        SlidingWindow(0)


def test_number_formatting() -> None:
    assert ratio(-1600, 77300) == "-2.07"  # the §9.3 capture
    assert ratio(0, 77300) == "0.00"
    assert ratio(-1, 1_000_000) == "0.00"
    assert ratio(5, 1000) == "0.50"
    assert scaled(1, 3) == "0.33"
    assert scaled(2, 3) == "0.67"
    assert scaled(7, 0) == "0.00"


def test_isin_check_digits() -> None:
    assert isin("005930") == "KR7005930003"
    assert isin("000660") == "KR7000660001"
    assert isin("035420") == "KR7035420009"


def test_random_seeds_are_strings_not_hash() -> None:
    # The walk for a ticker is random.Random(f"{seed}:{code}:{chunk}"): a string seed is
    # hashed with SHA-512 by random, so it is stable across processes.
    assert random.Random("0:005930:0").random() == random.Random("0:005930:0").random()
    mock = MockKIS(0, clock=MockClock(datetime(2026, 5, 12, 10, 0, tzinfo=KST), frozen=True))
    assert mock.current_price("005930") == _market_at(0, "005930", mock.clock.now())


def _market_at(seed: int, code: str, now: datetime) -> int:
    calendar = Calendar()
    return Market(seed, UNIVERSE, calendar, calendar.session_date(now)).price(code, now)

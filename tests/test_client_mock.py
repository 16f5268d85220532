"""The client against the mock KIS server: the protocol end to end, counted."""

from __future__ import annotations

import asyncio
import stat
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest

from kis_async import (
    KST,
    CircuitOpenError,
    ConfigError,
    KISAPIError,
    KISServerError,
    PriceType,
    market,
)
from kis_async.mock import DEMO_APP_KEY, DEMO_APP_SECRET, FaultPlan, MockClock, MockKIS

from .conftest import MIDDAY, on


async def test_current_price_matches_the_simulation(mock: MockKIS) -> None:
    async with on(mock) as kis:
        price = await kis.get_current_price("005930")
    assert price.stock_code == "005930"
    assert price.current_price == mock.current_price("005930")
    assert market.is_on_tick(price.current_price)
    assert price.tick_size == market.tick_size(price.current_price)
    assert (price.lower_limit, price.upper_limit) == market.price_band(price.base_price)
    assert price.low_price <= price.current_price <= price.high_price
    assert price.change_price == price.current_price - price.base_price
    assert price.volume > 0
    assert price.trading_value > 0


async def test_order_book_is_consistent(mock: MockKIS) -> None:
    async with on(mock) as kis:
        book = await kis.get_order_book("000660")
        price = await kis.get_current_price("000660")
    assert len(book.ask_levels) == len(book.bid_levels) == 10
    assert book.best_bid is not None
    assert book.best_ask is not None
    assert book.best_bid < book.best_ask
    assert price.current_price in (book.best_bid, book.best_ask)
    assert sum(level.volume for level in book.ask_levels) == book.total_ask_volume
    assert sum(level.volume for level in book.bid_levels) == book.total_bid_volume
    for level in book.ask_levels + book.bid_levels:
        assert market.is_on_tick(level.price)
        assert price.lower_limit <= level.price <= price.upper_limit


async def test_daily_chart_pages_past_a_hundred_rows(mock: MockKIS) -> None:
    async with on(mock) as kis:
        candles = await kis.get_chart_data("035420", PriceType.DAILY, count=250)
    assert len(candles) == 250
    assert (
        mock.stats.requests["/uapi/domestic-stock/v1/quotations/inquire-daily-itemchartprice"] == 3
    )
    dates = [c.date for c in candles]
    assert dates == sorted(dates)
    assert len(set(dates)) == 250
    assert dates[-1] == MIDDAY.date()
    assert all(date.weekday(d) < 5 for d in dates)
    for candle in candles:
        assert candle.low_price <= min(candle.open_price, candle.close_price)
        assert candle.high_price >= max(candle.open_price, candle.close_price)


@pytest.mark.parametrize("period", [PriceType.WEEKLY, PriceType.MONTHLY, PriceType.YEARLY])
async def test_longer_periods_page_without_partial_periods(
    mock: MockKIS, period: PriceType
) -> None:
    async with on(mock) as kis:
        candles = await kis.get_chart_data(
            "005930", period, count=120 if period is not PriceType.YEARLY else 20
        )
        daily = await kis.get_chart_data("005930", PriceType.DAILY, count=400)
    keys = [c.date for c in candles]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    if period is PriceType.WEEKLY:
        assert len({d.isocalendar()[:2] for d in keys}) == len(keys)  # one row a week
        last_week = [c for c in daily if c.date.isocalendar()[:2] == keys[-2].isocalendar()[:2]]
        assert candles[-2].volume == sum(c.volume for c in last_week)
        assert candles[-2].high_price == max(c.high_price for c in last_week)
    if period is PriceType.MONTHLY:
        assert len({(d.year, d.month) for d in keys}) == len(keys)


@pytest.mark.parametrize(
    ("period", "size"),
    [(PriceType.MINUTE_1, 1), (PriceType.MINUTE_5, 5), (PriceType.MINUTE_30, 30)],
)
async def test_minute_bars_aggregate_todays_one_minute_bars(
    mock: MockKIS, period: PriceType, size: int
) -> None:
    async with on(mock) as kis:
        bars = await kis.get_chart_data("005930", period, count=6)
        ones = await kis.get_chart_data("005930", PriceType.MINUTE_1, count=120)
        price = await kis.get_current_price("005930")
    assert 1 <= len(bars) <= 6
    assert bars[-1].close_price == price.current_price
    assert all(b.date == MIDDAY.date() for b in bars)
    for bar in bars:
        assert bar.time is not None
        minutes = (bar.time.hour * 60 + bar.time.minute) - 9 * 60
        assert minutes % size == 0
        inside = [
            o
            for o in ones
            if o.time is not None
            and bar.time
            <= o.time
            < (datetime.combine(MIDDAY.date(), bar.time) + timedelta(minutes=size)).time()
        ]
        if len(inside) == size or bar is bars[-1]:
            assert bar.volume == sum(o.volume for o in inside)
            assert bar.high_price == max(o.high_price for o in inside)
            assert bar.trading_value == sum(o.trading_value for o in inside)


async def test_whole_session_of_minute_bars_sums_to_the_day(mock_clock: MockClock) -> None:
    after_close = MockClock(datetime(2026, 11, 20, 16, 0, tzinfo=KST), frozen=True)
    mock = MockKIS(seed=3, clock=after_close, rate_limit=float("inf"))
    async with on(mock) as kis:
        bars = await kis.get_chart_data("005930", PriceType.MINUTE_1, count=400)
        day = (await kis.get_chart_data("005930", PriceType.DAILY, count=1))[0]
    assert len(bars) == 381  # 09:00-15:19 and the closing auction at 15:30
    assert bars[0].time == time(9, 0)
    assert bars[-1].time == time(15, 30)
    assert sum(b.volume for b in bars) == day.volume
    assert sum(b.trading_value for b in bars) == day.trading_value
    assert (bars[0].open_price, bars[-1].close_price) == (day.open_price, day.close_price)
    assert max(b.high_price for b in bars) == day.high_price


async def test_stock_info(mock: MockKIS) -> None:
    async with on(mock) as kis:
        info = await kis.get_stock_info("005930")
        kosdaq = await kis.get_stock_info("247540")
    assert info.stock_code.endswith("005930")
    assert info.market == "KOSPI"
    assert info.listed_shares
    assert info.listed_shares > 0
    assert kosdaq.market == "KOSDAQ"


async def test_unknown_ticker_is_a_kis_error(mock: MockKIS) -> None:
    async with on(mock) as kis:
        with pytest.raises(KISAPIError) as caught:
            await kis.get_current_price("999999")
    assert caught.value.msg_cd == "MCA05918"


async def test_virtual_server_mock_and_real_only_calls(mock_clock: MockClock) -> None:
    mock = MockKIS(seed=3, server="virtual", clock=mock_clock, rate_limit=float("inf"))
    async with on(mock) as kis:
        assert kis.settings.env == "virtual"
        await kis.get_current_price("005930")
        with pytest.raises(ConfigError):
            await kis.get_stock_info("005930")


# -- tokens --------------------------------------------------------------------------


async def test_hundred_cold_concurrent_callers_cause_one_token_request(mock: MockKIS) -> None:
    async with on(mock) as kis:
        prices = await asyncio.gather(*(kis.get_current_price("005930") for _ in range(100)))
        assert kis.token_requests == 1
    assert len(prices) == 100
    assert mock.stats.token_requests == 1
    assert mock.stats.tokens_issued == 1


async def test_token_cache_is_shared_across_clients_and_private(
    mock: MockKIS, tmp_path: Path
) -> None:
    async with on(mock, token_cache_dir=tmp_path) as first:
        await first.get_current_price("005930")
    async with on(mock, token_cache_dir=tmp_path) as second:
        await second.get_current_price("005930")
        assert second.token_requests == 0
    assert mock.stats.token_requests == 1
    # The issuance lock and the one-a-minute stamp lie beside the token file.
    (cache,) = tmp_path.glob("*.json")  # noqa: ASYNC240
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    content = cache.read_text()
    assert DEMO_APP_KEY not in content
    assert DEMO_APP_SECRET not in content


async def test_expired_token_mid_run_is_renewed_once_and_the_call_repeated(
    mock: MockKIS, mock_clock: MockClock
) -> None:
    async with on(mock) as kis:
        await kis.get_current_price("005930")
        mock_clock.advance(61)  # KIS refuses a second token within the minute
        mock.faults.schedule(
            "expire_token", path="/uapi/domestic-stock/v1/quotations/inquire-price"
        )
        price = await kis.get_current_price("005930")
        assert kis.stats.token_rejections == 1
        assert kis.token_requests == 2
    assert price.stock_code == "005930"
    assert mock.stats.rejections["EGW00123"] == 1
    assert mock.stats.tokens_issued == 2


async def test_token_expiring_after_a_day_is_renewed_ahead(
    mock: MockKIS, mock_clock: MockClock
) -> None:
    async with on(mock) as kis:
        await kis.get_current_price("005930")
        mock_clock.advance(timedelta(hours=23, minutes=55))  # inside the renewal margin
        await kis.get_current_price("005930")
        assert kis.token_requests == 2
        assert kis.stats.token_rejections == 0  # renewed before KIS ever refused it
    assert mock.stats.rejections["EGW00123"] == 0


# -- rate limit, faults, circuit -------------------------------------------------------


async def test_fan_out_of_a_hundred_tickers_with_the_limit_enforced_surfaces_no_rate_limit(
    mock_clock: MockClock,
) -> None:
    mock = MockKIS(seed=3, clock=mock_clock, rate_limit=50.0)
    tickers = list(mock.tickers[:100])
    assert len(tickers) == 100
    async with on(mock) as kis:
        prices = await kis.get_current_prices(tickers)
        assert kis.stats.rate_limited == 0
        assert kis.stats.retries == 0
    assert list(prices) == tickers
    assert all(prices[t].current_price == mock.current_price(t) for t in tickers)
    assert mock.stats.rate_limited == 0  # the server never had to refuse one


async def test_injected_5xx_and_dropped_connections_are_retried_and_counted(mock: MockKIS) -> None:
    path = "/uapi/domestic-stock/v1/quotations/inquire-price"
    mock.faults.schedule("error_5xx", path=path)
    mock.faults.schedule("gateway_html", path=path)
    mock.faults.schedule("drop", path=path)
    mock.faults.schedule("rate_limit", path=path)
    async with on(
        mock,
        retry_initial_delay=0.001,
        retry_max_delay=0.01,
        rate_limit_cooldown=0.0,
        max_retries=4,
    ) as kis:
        price = await kis.get_current_price("005930")
        assert kis.stats.retries == 4
        assert kis.stats.rate_limited == 1
    assert price.current_price == mock.current_price("005930")
    for kind in ("error_5xx", "gateway_html", "drop", "rate_limit"):
        assert mock.stats.faults[kind] == 1


async def test_seeded_faults_on_a_fan_out_all_recover(mock_clock: MockClock) -> None:
    faults = FaultPlan(seed=11, error_5xx=0.1, drop=0.1, timeout=0.05, gateway_html=0.05)
    mock = MockKIS(seed=3, clock=mock_clock, rate_limit=float("inf"), faults=faults)
    # The seed fixes the sequence of faults, not which request meets which: that follows
    # the event loop's interleaving and the retry jitter. A ticker exhausts k attempts
    # with probability about p**k (p = 0.3 here), so the budget is sized to make that
    # negligible for 107 tickers (107 * 0.3**13 < 2e-5), not to fit one lucky order.
    async with on(
        mock,
        retry_initial_delay=0.001,
        retry_max_delay=0.01,
        max_retries=12,
        circuit_failure_threshold=50,
    ) as kis:
        prices = await kis.get_current_prices(mock.tickers)
        retries = kis.stats.retries
    assert len(prices) == len(mock.tickers)
    assert retries == sum(mock.stats.faults.values()) > 0


async def test_circuit_opens_after_repeated_failures_and_half_opens_after_cool_down(
    mock: MockKIS, mock_clock: MockClock
) -> None:
    async with on(
        mock, max_retries=0, circuit_failure_threshold=3, circuit_reset_timeout=30
    ) as kis:
        await kis.get_current_price("005930")  # token and a first success
        mock.faults.schedule("error_5xx", count=3)
        for _ in range(3):
            with pytest.raises(KISServerError):
                await kis.get_current_price("005930")
        sent = mock.stats.total_requests
        with pytest.raises(CircuitOpenError):
            await kis.get_current_price("005930")
        assert mock.stats.total_requests == sent  # refused locally, nothing sent
        mock_clock.advance(30)
        await kis.get_current_price("005930")  # the trial request succeeds
        await kis.get_current_price("005930")
        assert mock.stats.total_requests == sent + 2


async def test_fan_out_failure_cancels_the_rest_and_raises(mock_clock: MockClock) -> None:
    mock = MockKIS(seed=3, clock=mock_clock, rate_limit=20.0)
    tickers = ["999999", *mock.tickers]
    async with on(mock) as kis:
        with pytest.raises(KISAPIError) as caught:
            await kis.get_current_prices(tickers)
    assert caught.value.msg_cd == "MCA05918"
    sent = mock.stats.requests["/uapi/domestic-stock/v1/quotations/inquire-price"]
    assert sent < len(tickers) // 2  # the others were cancelled while waiting their turn


async def test_fan_out_can_return_exceptions_and_report_progress(mock: MockKIS) -> None:
    seen: list[str] = []
    tickers = ["005930", "999999", "000660"]
    async with on(mock) as kis:
        results = await kis.get_current_prices(
            tickers, return_exceptions=True, on_result=lambda code, _: seen.append(code)
        )
    assert list(results) == tickers
    assert isinstance(results["999999"], KISAPIError)
    assert not isinstance(results["005930"], Exception)
    assert sorted(seen) == sorted(tickers)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 11, 23, 6, 3, tzinfo=KST),  # Monday before the open: Friday's session
        datetime(2026, 11, 22, 10, 0, tzinfo=KST),  # Sunday
        datetime(2026, 11, 20, 18, 0, tzinfo=KST),  # Friday evening
    ],
)
async def test_minute_bars_outside_trading_hours_show_the_last_session(moment: datetime) -> None:
    mock = MockKIS(seed=3, clock=MockClock(moment, frozen=True), rate_limit=float("inf"))
    async with on(mock) as kis:
        bars = await kis.get_chart_data("005930", PriceType.MINUTE_30, count=3)
        price = await kis.get_current_price("005930")
    assert [b.time for b in bars] == [time(14, 30), time(15, 0), time(15, 30)]
    assert all(b.date == date(2026, 11, 20) for b in bars)
    assert bars[-1].close_price == price.current_price


async def test_hashkey_approval_key_and_revoke(mock: MockKIS, mock_clock: MockClock) -> None:
    body = {"CANO": "50000000", "ACNT_PRDT_CD": "01", "PDNO": "005930", "ORD_QTY": "1"}
    async with on(mock) as kis:
        digest = await kis.hashkey(body)
        approval = await kis.get_approval_key()
        await kis.get_current_price("005930")
        await kis.revoke_token()
        mock_clock.advance(61)
        await kis.get_current_price("005930")  # a new token, issued after the revoke
        assert kis.token_requests == 2
    assert len(digest) == 64
    assert int(digest, 16) >= 0
    assert len(approval) == 36
    assert mock.stats.tokens_issued == 2

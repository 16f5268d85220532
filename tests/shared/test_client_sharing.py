"""The cache, the budget and the pool as a client uses them, over the in-process mock."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from kis_async import (
    AsyncKISClient,
    ConfigError,
    KISAPIError,
    KISSettings,
    PriceType,
    QueueTimeoutError,
)
from kis_async.mock import MockKIS
from kis_async.shared import AppKeyPool, MachineBudget, ProcessBudget
from tests.conftest import on

PRICE = "/uapi/domestic-stock/v1/quotations/inquire-price"
INFO = "/uapi/domestic-stock/v1/quotations/search-stock-info"
CHART = "/uapi/domestic-stock/v1/quotations/inquire-daily-itemchartprice"
BALANCE = "/uapi/domestic-stock/v1/trading/inquire-balance"


async def test_fifty_identical_concurrent_quotes_are_one_request(mock: MockKIS) -> None:
    async with on(mock) as kis:
        prices = await asyncio.gather(*(kis.get_current_price("005930") for _ in range(50)))
        assert mock.stats.requests[PRICE] == 1
        assert len({p.current_price for p in prices}) == 1
        await kis.get_current_price("005930")  # today's price: not kept by default
        assert mock.stats.requests[PRICE] == 2


async def test_stock_info_is_kept_24_hours_on_the_mock_clock(mock: MockKIS) -> None:
    async with on(mock) as kis:
        await kis.get_stock_info("005930")
        mock.clock.advance(timedelta(hours=23))
        await kis.get_stock_info("005930")
        assert mock.stats.requests[INFO] == 1
        mock.clock.advance(timedelta(hours=1, seconds=1))
        await kis.get_stock_info("005930")
        assert mock.stats.requests[INFO] == 2


async def test_completed_bars_are_kept_and_todays_are_not(mock: MockKIS) -> None:
    async with on(mock) as kis:
        await kis.get_chart_data("005930", PriceType.DAILY, count=150)  # today + an older page
        first = mock.stats.requests[CHART]
        await kis.get_chart_data("005930", PriceType.DAILY, count=150)
        # The page that includes today is asked again; the completed one comes from the cache.
        assert first >= 2
        assert mock.stats.requests[CHART] == first + 1


async def test_errors_and_account_data_are_never_cached(mock: MockKIS) -> None:
    async with on(mock) as kis:
        for _ in range(2):
            with pytest.raises(KISAPIError):
                await kis.get_stock_info("999999")  # not a listed stock
        assert mock.stats.requests[INFO] == 2
        await asyncio.gather(kis.get_balance(), kis.get_balance())
        await kis.get_balance()
        assert mock.stats.requests[BALANCE] == 3


async def test_ttls_from_settings_keep_todays_prices_when_asked(mock: MockKIS) -> None:
    async with on(mock, cache_ttl_price=5) as kis:
        await kis.get_current_price("005930")
        await kis.get_current_price("005930")
        assert mock.stats.requests[PRICE] == 1
        mock.clock.advance(5)
        await kis.get_current_price("005930")
        assert mock.stats.requests[PRICE] == 2


async def test_the_queue_timeout_fails_a_fan_out_at_once_and_sends_nothing_late() -> None:
    mock = MockKIS(2, server="virtual")  # 1 req/s, as KIS's paper-trading server
    async with AsyncKISClient.for_mock(mock, api_queue_timeout=3) as kis:
        results = await kis.get_current_prices(mock.tickers[:20], return_exceptions=True)
    refused = [r for r in results.values() if isinstance(r, QueueTimeoutError)]
    assert len(refused) >= 15
    assert "KIS_API_QUEUE_TIMEOUT=3 s" in str(refused[0])
    # Only what had a slot within 3 s was sent (plus the token).
    assert mock.stats.requests[PRICE] == 20 - len(refused) <= 5


async def test_the_default_budget_by_env(tmp_path: Path) -> None:
    in_process = AsyncKISClient()  # the in-process mock: nobody else can share its key
    assert isinstance(in_process._gate, ProcessBudget)
    virtual = AsyncKISClient(
        KISSettings(
            _env_file=None, env="virtual", app_key="k", app_secret="s", token_cache_dir=tmp_path
        )
    )
    assert isinstance(virtual._gate, MachineBudget)  # every process on this machine
    assert virtual._gate.pacing.limit == 1.0
    await in_process.aclose()
    await virtual.aclose()
    with pytest.raises(ConfigError, match="KIS_RATE_BUDGET"):
        AsyncKISClient.for_mock(MockKIS(), rate_budget="everywhere")


async def test_a_pool_spreads_a_fan_out_over_three_keys() -> None:
    mock = MockKIS(6, rate_limit=40)  # per app key
    keys = [(f"PSPOOLKEY{i:027d}", f"secret-{i}") for i in range(3)]
    accounts = [mock.add_app(key, secret).account_no for key, secret in keys]
    clients = [
        AsyncKISClient.for_mock(mock, app_key=key, app_secret=secret, account_no=account)
        for (key, secret), account in zip(keys, accounts, strict=True)
    ]
    tickers = mock.tickers[:60]
    async with AppKeyPool(clients) as pool:
        prices = await pool.get_current_prices(tickers)
        assert list(prices) == list(tickers)
        # Each key did a share of the work, each within its own limit.
        shares = [kis.stats.requests - kis.token_requests for kis in clients]
        assert sum(shares) == 60
        assert shares == [20, 20, 20]
        assert mock.stats.rate_limited == 0
        # Orders go through the account's own key, never the pool's choice.
        assert pool.for_account(accounts[1]) is clients[1]
        with pytest.raises(ConfigError):
            pool.for_account("99999999-01")
    with pytest.raises(ConfigError, match="different app key"):
        AppKeyPool([clients[0], clients[0]])


async def test_two_hosts_share_one_approval_key_over_redis(
    mock: MockKIS, redis_url: str, prefix: str
) -> None:
    hosts = [on(mock, token_store=redis_url, redis_prefix=prefix) for _ in range(2)]
    keys = await asyncio.gather(*(kis.get_approval_key() for kis in hosts for _ in range(3)))
    assert len(set(keys)) == 1
    assert mock.stats.requests["/oauth2/Approval"] == 1
    for kis in hosts:
        await kis.aclose()

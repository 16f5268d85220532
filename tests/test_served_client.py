"""The client over real TCP against the mock served by uvicorn on 127.0.0.1."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from kis_async import KST, AsyncKISClient, KISSettings, PriceType
from kis_async.mock import MockClock, MockKIS

from .mock.test_served import _serving


async def test_client_speaks_to_a_served_mock_and_reuses_its_cached_token(tmp_path: Path) -> None:
    mock = MockKIS(5, clock=MockClock(datetime(2026, 11, 20, 11, 0, tzinfo=KST), frozen=True))
    async with _serving(mock) as base_url:
        settings = KISSettings(
            _env_file=None,
            env="mock",
            base_url=base_url,
            token_cache_dir=tmp_path,
            retry_initial_delay=0.01,
            retry_max_delay=0.05,
        )
        async with AsyncKISClient(settings) as kis:
            assert kis.mock is None  # not the in-process mock: a real socket
            price = await kis.get_current_price("005930")
            bars = await kis.get_chart_data("005930", PriceType.DAILY, count=120)
            mock.faults.schedule("drop", path="/uapi/domestic-stock/v1/quotations/inquire-price")
            again = await kis.get_current_price("005930")  # the dropped connection is retried
            assert kis.stats.retries == 1
        async with AsyncKISClient(settings) as second:
            await second.get_order_book("005930")
            assert second.token_requests == 0  # the first run's cached token
    assert price.current_price == again.current_price == mock.current_price("005930")
    assert len(bars) == 120
    assert mock.stats.tokens_issued == 1
    assert mock.stats.faults["drop"] == 1

"""The mock's timing faults as the client meets them: a slow answer trips its timeout."""

from __future__ import annotations

import pytest

from kis_async import AsyncKISClient, KISTransportError
from kis_async.mock import MockClock, MockKIS

from .mock.kit import MIDDAY, PRICE


async def test_a_slow_answer_trips_the_clients_timeout_and_the_next_call_recovers() -> None:
    mock = MockKIS(7, clock=MockClock(MIDDAY, frozen=True), rate_limit=float("inf"))
    mock.faults.slow_seconds = 0.3
    mock.faults.schedule("slow", path=PRICE)
    async with AsyncKISClient.for_mock(mock, timeout=0.05, max_retries=0) as kis:
        # A 0.3 s answer against a 0.05 s timeout, as a real server's would.
        with pytest.raises(KISTransportError, match=r"(?i)time"):
            await kis.get_current_price("005930")
        await mock.drain()
        price = await kis.get_current_price("005930")
    assert price.current_price == mock.current_price("005930")
    assert mock.stats.faults == {"slow": 1}
    assert mock.stats.requests[PRICE] == 2

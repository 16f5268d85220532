"""Adaptive pacing against a server whose real limit (12 req/s) is below the configured
one (18): two clients sharing one Redis budget learn it together."""

from __future__ import annotations

import asyncio

from kis_async import AsyncKISClient
from kis_async.mock import MockClock, MockKIS
from tests.conftest import MIDDAY


async def test_the_shared_rate_settles_near_the_real_limit(redis_url: str, prefix: str) -> None:
    mock = MockKIS(4, clock=MockClock(MIDDAY, frozen=True), rate_limit=12)
    tickers = mock.tickers[:60]
    clients = [
        AsyncKISClient.for_mock(
            mock,
            rate_limit=18,
            rate_budget=redis_url,
            token_store=redis_url,  # one token for both
            redis_prefix=prefix,
            max_retries=6,
            retry_initial_delay=0.05,
            retry_max_delay=0.2,
        )
        for _ in range(2)
    ]
    results = await asyncio.gather(
        *(kis.get_current_prices(tickers[i::2]) for i, kis in enumerate(clients))
    )
    budgets = [kis._gate.stats for kis in clients]
    for kis in clients:
        await kis.aclose()
    assert sum(len(prices) for prices in results) == 60  # every quote, despite the refusals
    refused = mock.stats.rate_limited
    print(f"EGW00201 answers: {refused}; shared rate at the end: {budgets[0].rate:.2f} req/s")
    # Each refusal lowers the rate for both clients (once per burst); it then creeps up
    # again and meets the real limit, so refusals come in rare, short bursts.
    assert 1 <= refused <= 16
    assert sum(b.rate_limited for b in budgets) == refused
    # Both saw the shared count and the lowered rate (the last one to ask sees all).
    assert max(b.shared_rate_limited for b in budgets) == refused
    assert min(b.decreases for b in budgets) >= 1
    assert all(8.0 <= b.rate <= 13.5 for b in budgets)

"""Edges of the stream: the cap under concurrent subscribes, a notice right behind its ack,
secrets in a notice's repr."""

from __future__ import annotations

import asyncio

from kis_async import AsyncKISClient, SubscriptionLimitError
from kis_async.mock import MockKIS


async def test_concurrent_subscribes_cannot_pass_the_cap_together(mock: MockKIS) -> None:
    codes = list(mock.tickers[:60])
    async with AsyncKISClient.for_mock(mock) as kis, kis.stream() as stream:
        results = await asyncio.gather(
            stream.subscribe_trades(codes[:30]),
            stream.subscribe_trades(codes[30:60]),
            return_exceptions=True,
        )
        refused = [r for r in results if isinstance(r, BaseException)]
        assert len(refused) == 1
        assert isinstance(refused[0], SubscriptionLimitError)
        assert refused[0].msg_cd == ""  # refused here, not by the server
        # Nothing beyond the cap reached the server.
        assert mock.stream.stats.acks["OPSP0008"] == 0
        assert sum(mock.stream.stats.acks.values()) == 30
        assert len(stream.subscriptions) == 30

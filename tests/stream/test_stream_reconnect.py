"""Reconnects: dropped sockets, a held app key, accept-then-close servers, slow consumers."""

from __future__ import annotations

import asyncio
import time

import pytest

from kis_async import (
    AppKeyInUseError,
    AsyncKISClient,
    KISStream,
    OrderBookUpdate,
    StreamConnectionError,
    StreamEvent,
    TradeTick,
)
from kis_async.mock import MockKIS

from .conftest import SAFETY, take, until

TICKERS = ["005930", "000660", "035420"]


async def _drain(stream: KISStream) -> None:
    async with asyncio.timeout(SAFETY):
        async for _ in stream:
            pass


def _trade_key(record: str) -> tuple[str, str, int, int]:
    fields = record.split("^")
    return fields[0], fields[1], int(fields[2]), int(fields[13])


async def test_five_drops_restore_every_subscription_and_lose_no_tick_sent(mock: MockKIS) -> None:
    received: list[StreamEvent] = []
    async with (
        AsyncKISClient.for_mock(mock) as kis,
        kis.stream(backoff_initial=0.01, backoff_max=0.05) as stream,
    ):
        await stream.subscribe_trades(TICKERS)
        await stream.subscribe_order_book(["005930"])

        async def consume() -> None:
            async for event in stream:
                received.append(event)

        consumer = asyncio.create_task(consume())
        per_minute = len(TICKERS) * mock.stream.trades_per_bar + 1  # and one book
        for drop in range(6):
            mock.clock.advance(60)
            sent = per_minute * (drop + 1)
            await until(lambda: len(mock.stream.sent_records()) == sent)  # noqa: B023
            await until(lambda: len(received) == sent)  # noqa: B023
            if drop < 5:
                mock.stream.drop()
                await until(lambda: stream.stats.reconnects == drop + 1 and stream.connected)  # noqa: B023
        consumer.cancel()
    assert mock.stream.stats.sessions == 6
    assert stream.stats.reconnects == 5
    sessions = {f.session for f in mock.stream.sent}
    assert sessions == {1, 2, 3, 4, 5, 6}  # every session carried data
    for session in sessions:
        kinds = {(f.tr_id, f.tr_key) for f in mock.stream.sent if f.session == session}
        assert kinds == {*(("H0STCNT0", t) for t in TICKERS), ("H0STASP0", "005930")}
    sent_trades = [_trade_key(r) for r in mock.stream.sent_records("H0STCNT0")]
    got_trades = [
        (t.ticker, f"{t.time:%H%M%S}", t.price, t.accumulated_volume)
        for t in received
        if isinstance(t, TradeTick)
    ]
    assert got_trades == sent_trades
    assert len(sent_trades) == 6 * 3 * mock.stream.trades_per_bar
    books = [b for b in received if isinstance(b, OrderBookUpdate)]
    assert len(books) == len(mock.stream.sent_records("H0STASP0")) == 6


async def test_app_key_in_use_backs_off_and_gives_up_with_a_typed_error(mock: MockKIS) -> None:
    attempts = 5
    async with (
        AsyncKISClient.for_mock(mock) as kis,
        kis.stream(
            backoff_initial=0.02,
            in_use_backoff=0.1,
            max_reconnect_attempts=attempts,
            random_seed=1,
        ) as stream,
    ):
        await stream.subscribe_trades(["005930"])
        mock.stream.occupy(mock.DEMO_APP_KEY)  # another machine takes the app key
        started = time.monotonic()
        mock.stream.drop()
        with pytest.raises(AppKeyInUseError) as raised:
            await _drain(stream)
        elapsed = time.monotonic() - started
    assert raised.value.attempts == attempts + 1
    assert mock.stream.stats.refused_in_use == attempts
    assert stream.stats.connection_attempts == 1 + attempts
    # Never a tight loop: each refused try waits at least half of in_use_backoff.
    assert elapsed >= attempts * 0.1 / 2


async def test_accept_then_close_does_not_reset_the_backoff(mock: MockKIS) -> None:
    attempts = 5
    async with (
        AsyncKISClient.for_mock(mock) as kis,
        kis.stream(backoff_initial=0.04, max_reconnect_attempts=attempts, random_seed=2) as stream,
    ):
        await stream.subscribe_trades(["005930"])
        mock.stream.close_next_connections(100)
        started = time.monotonic()
        mock.stream.drop()
        with pytest.raises(StreamConnectionError) as raised:
            await _drain(stream)
        elapsed = time.monotonic() - started
    assert not isinstance(raised.value, AppKeyInUseError)
    assert mock.stream.stats.closed_on_connect == attempts
    assert stream.stats.connection_attempts == 1 + attempts
    # Had each handshake reset the back-off, every wait would be <= 0.04 s (0.2 s in
    # all); doubling from 0.04 s, the half-delays alone sum to 0.02 * (1+2+4+8+16).
    assert elapsed >= 0.02 * 31


async def test_a_sleeping_consumer_stalls_neither_the_reader_nor_another_consumer(
    mock: MockKIS,
) -> None:
    async with AsyncKISClient.for_mock(mock) as kis, kis.stream(queue_size=50) as stream:
        await stream.subscribe_trades(["005930"])
        slow = stream.trades("005930", queue_size=10)
        fast = stream.trades("005930", queue_size=100_000)
        slow_seen: list[TradeTick] = []

        async def sleepy() -> None:
            async for tick in slow:
                slow_seen.append(tick)
                await asyncio.sleep(0.05)

        sleeper = asyncio.create_task(sleepy())
        frames = 200
        mock.stream.burst(frames)
        total = frames * mock.stream.trades_per_bar
        got = await take(fast, total)
        sleeper.cancel()
    assert len(got) == total
    assert fast.dropped == 0
    assert stream.stats.events["TradeTick"] == total
    assert slow.dropped > 0
    assert len(slow_seen) + slow.dropped + 10 >= total - 1  # what it saw, lost, or still holds
    assert stream.stats.dropped_by_subscriber[slow._subscriber.name] == slow.dropped
    # The stream's own queue, never iterated, keeps its newest 50: not a consumer's loss.
    assert stream.stats.dropped_unread == total - 50
    assert stream.stats.dropped == slow.dropped


async def test_without_reconnect_a_lost_connection_ends_the_stream(mock: MockKIS) -> None:
    async with AsyncKISClient.for_mock(mock) as kis, kis.stream(reconnect=False) as stream:
        await stream.subscribe_trades(["005930"])
        mock.stream.drop()
        with pytest.raises(StreamConnectionError, match="does not reconnect"):
            await _drain(stream)
    assert stream.stats.connection_attempts == 1
    assert mock.stream.stats.sessions == 1

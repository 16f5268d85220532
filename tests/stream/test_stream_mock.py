"""The stream client against the mock's in-memory WebSocket feed."""

from __future__ import annotations

import asyncio
import logging

import pytest

from kis_async import (
    AlreadySubscribedError,
    AppKeyInUseError,
    AsyncKISClient,
    ConfigError,
    FillNotice,
    InvalidTrIdError,
    NoticeKind,
    SubscriptionLimitError,
    SubscriptionTimeoutError,
    TradeTick,
)
from kis_async.mock import DEMO_HTS_ID, MockClock, MockKIS
from tests.conftest import MIDDAY

from .conftest import take, until

TICKERS = ["005930", "000660", "035420"]


def _client(mock: MockKIS, **settings: object) -> AsyncKISClient:
    return AsyncKISClient.for_mock(mock, **settings)


async def test_rest_price_and_book_agree_with_the_last_streamed_tick_and_book(
    mock: MockKIS,
) -> None:
    async with _client(mock) as kis, kis.stream() as stream:
        await stream.subscribe_trades(["005930"])
        await stream.subscribe_order_book(["005930"])
        ticks = stream.trades("005930")
        books = stream.order_books("005930")
        mock.clock.advance(60)  # one minute bar prints: trades_per_bar ticks, one book
        got = await take(ticks, mock.stream.trades_per_bar)
        (book,) = await take(books, 1)
        price = await kis.get_current_price("005930")
        rest_book = await kis.get_order_book("005930")
    last = got[-1]
    assert last.price == price.current_price
    assert last.accumulated_volume == price.volume
    assert [t.traded_at for t in got] == sorted(t.traded_at for t in got)
    assert last.traded_at <= mock.clock.now()
    assert book.asks == tuple(level.price for level in rest_book.ask_levels)
    assert book.bids == tuple(level.price for level in rest_book.bid_levels)
    assert book.ask_quantities == tuple(level.volume for level in rest_book.ask_levels)
    assert book.total_bid_quantity == rest_book.total_bid_volume


async def test_bunched_ticks_arrive_as_multi_record_frames_and_yield_every_event(
    mock: MockKIS,
) -> None:
    async with _client(mock) as kis, kis.stream() as stream:
        await stream.subscribe_trades(TICKERS)
        mock.clock.advance(5 * 60)  # five bars at once
        per_ticker = 5 * mock.stream.trades_per_bar
        events = await take(stream, 3 * per_ticker)
    assert all(isinstance(e, TradeTick) for e in events)
    sent = [f for f in mock.stream.sent if f.tr_id == "H0STCNT0"]
    assert len(sent) == 3
    assert {len(f.records) for f in sent} == {per_ticker}
    assert stream.stats.frames >= 3  # acks come as frames too
    assert stream.stats.events["TradeTick"] == 3 * per_ticker
    by_ticker = {code: [e for e in events if e.ticker == code] for code in TICKERS}
    assert all(len(v) == per_ticker for v in by_ticker.values())


async def test_per_ticker_views_see_only_their_ticker(mock: MockKIS) -> None:
    async with _client(mock) as kis, kis.stream() as stream:
        await stream.subscribe_trades(TICKERS)
        hynix = stream.trades("000660")
        mock.clock.advance(120)
        got = await take(hynix, 2 * mock.stream.trades_per_bar)
    assert {t.ticker for t in got} == {"000660"}


async def test_the_cap_of_40_is_enforced_before_anything_is_sent(mock: MockKIS) -> None:
    codes = list(mock.tickers[:41])
    async with _client(mock) as kis, kis.stream() as stream:
        await stream.subscribe_trades(codes[:40])
        with pytest.raises(SubscriptionLimitError, match="at most 40"):
            await stream.subscribe_trades(codes[40:])
        assert sum(mock.stream.stats.acks.values()) == 40
        assert len(stream.subscriptions) == 40


async def test_server_refusals_raise_typed_errors(mock: MockKIS) -> None:
    codes = list(mock.tickers[:41])
    async with _client(mock) as kis, kis.stream(max_subscriptions=100) as stream:
        await stream.subscribe_trades(codes[:40])
        with pytest.raises(SubscriptionLimitError) as cap:
            await stream.subscribe_trades(codes[40:])
        assert cap.value.msg_cd == "OPSP0008"
        with pytest.raises(AlreadySubscribedError) as again:
            await stream.subscribe_trades(codes[:1])
        assert again.value.msg_cd == "OPSP0002"
        # Another session of the same app key is refused: one session per app key.
        async with kis.stream() as second:
            with pytest.raises(AppKeyInUseError) as in_use:
                await second.subscribe_order_book(["005930"])
        assert in_use.value.msg_cd == "OPSP8996"
    virtual = MockKIS(seed=3, server="virtual", clock=MockClock(MIDDAY, frozen=True))
    async with _client(virtual, rate_limit=1000.0) as kis, kis.stream() as stream:
        with pytest.raises(InvalidTrIdError) as invalid:
            await stream.subscribe_trades(["005930"], market="NXT")  # no virtual branch
        assert invalid.value.msg_cd == "OPSP8991"
        # Fill notices of the virtual server have their own tr_id.
        assert (await stream.subscribe_fills()).tr_id == "H0STCNI9"


async def test_unsubscribe_stops_the_ticks(mock: MockKIS) -> None:
    async with _client(mock) as kis, kis.stream() as stream:
        subs = await stream.subscribe_trades(["005930", "000660"])
        await stream.unsubscribe(subs[0])
        assert [s[2] for s in mock.stream.subscriptions()] == ["000660"]
        assert stream.subscriptions == (subs[1],)
        mock.clock.advance(60)
        got = await take(stream, mock.stream.trades_per_bar)
    assert {t.ticker for t in got} == {"000660"}
    assert mock.stream.stats.acks["OPSP0001"] == 1


async def test_fill_notices_need_an_hts_id(mock: MockKIS) -> None:
    async with _client(mock, hts_id=None) as kis, kis.stream() as stream:
        with pytest.raises(ConfigError, match="KIS_HTS_ID"):
            await stream.subscribe_fills()
    assert mock.stream.stats.acks.total() == 0


async def test_an_order_over_rest_produces_decrypted_acceptance_and_fill_notices(
    mock: MockKIS,
) -> None:
    async with _client(mock) as kis, kis.stream() as stream:
        await stream.subscribe_fills()
        notices = stream.fills()
        book = await kis.get_order_book("005930")
        bid = book.bid_levels[2].price  # below the market: it rests, then fills later
        order = await kis.buy("005930", 3, bid)
        (accepted,) = await take(notices, 1)
        mock.clock.advance(6 * 3600)  # the rest of the session
        await until(lambda: sum(o.filled for o in mock.orders) > 0 or stream.stats.frames > 50)
        fills: list[FillNotice] = []
        while sum(f.quantity for f in fills) < sum(o.filled for o in mock.orders):
            fills.extend(await take(notices, 1))
    assert accepted.kind is NoticeKind.ACCEPTED
    assert (accepted.order_no, accepted.quantity, accepted.price) == (order.order_id, 3, bid)
    assert accepted.customer_id == DEMO_HTS_ID
    (mock_order,) = mock.orders
    assert [(f.quantity, f.price) for f in fills] == [
        (f.quantity, f.price) for f in mock_order.fills
    ]
    assert all(f.kind is NoticeKind.FILL and f.order_no == order.order_id for f in fills)
    assert all(f.order_quantity == 3 for f in fills)
    # Every notice went out encrypted, with the key of its session's ack.
    assert {f.encrypted for f in mock.stream.sent if f.tr_id == "H0STCNI0"} == {True}


async def test_pingpong_is_answered_with_a_pong_frame(mock: MockKIS) -> None:
    mock.stream.ping_interval = 30.0
    async with _client(mock) as kis, kis.stream() as stream:
        await stream.subscribe_trades(["005930"])
        mock.clock.advance(31)
        await until(lambda: mock.stream.stats.pongs >= 1)
        assert stream.stats.pings == mock.stream.stats.pings >= 1


async def test_a_stalled_connection_is_called_dead_and_replaced(mock: MockKIS) -> None:
    async with _client(mock) as kis, kis.stream(idle_timeout=0.3, backoff_initial=0.01) as stream:
        await stream.subscribe_trades(["005930"])
        mock.stream.stall()
        await until(lambda: stream.stats.reconnects == 1 and stream.connected)
        assert stream.stats.dead_connections == 1
        assert [s[1:] for s in mock.stream.subscriptions()] == [("H0STCNT0", "005930")]
        mock.clock.advance(60)
        got = await take(stream, mock.stream.trades_per_bar)
    assert {t.ticker for t in got} == {"005930"}


async def test_garbage_frames_are_counted_and_skipped(
    mock: MockKIS, caplog: pytest.LogCaptureFixture
) -> None:
    async with _client(mock) as kis, kis.stream() as stream:
        await stream.subscribe_trades(["005930"])
        await stream.subscribe_fills()
        with caplog.at_level(logging.WARNING, logger="kis_async.stream"):
            mock.stream.send_garbage(4)
            mock.clock.advance(60)
            got = await take(stream, mock.stream.trades_per_bar)
    assert stream.stats.bad_frames == 4
    assert len(got) == mock.stream.trades_per_bar
    assert stream.stats.reconnects == 0


async def test_cancelling_the_consumer_closes_the_socket(mock: MockKIS) -> None:
    started = asyncio.Event()

    async def consume() -> None:
        async with _client(mock) as kis, kis.stream() as stream:
            await stream.subscribe_trades(["005930"])
            started.set()
            async for _ in stream:
                pass

    task = asyncio.create_task(consume())
    await started.wait()
    assert mock.stream.open_sessions == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await until(lambda: mock.stream.open_sessions == 0)
    assert mock.stream.subscriptions() == []


async def test_the_approval_key_is_issued_once_and_never_shown(mock: MockKIS) -> None:
    async with _client(mock) as kis:
        for _ in range(2):
            async with kis.stream() as stream:
                await stream.subscribe_trades(["005930"])
                key = stream._approval
                assert key is not None
                assert key not in repr(stream)
        fills = None
        async with kis.stream() as stream:
            fills = await stream.subscribe_fills()
    assert mock.stats.requests["/oauth2/Approval"] == 1
    assert DEMO_HTS_ID not in repr(fills)


async def test_env_mock_streams_in_process_without_settings() -> None:
    async with AsyncKISClient() as kis, kis.stream() as stream:
        await stream.subscribe_fills()  # the embedded mock's demo HTS ID
        await stream.subscribe_trades(["005930"])
        assert kis.mock is not None
        assert kis.mock.stream.open_sessions == 1


def test_urls_follow_the_settings() -> None:
    mock = MockKIS(seed=1)
    key, secret = mock.DEMO_APP_KEY, mock.DEMO_APP_SECRET
    cases = {
        "ws://ops.koreainvestment.com:21000/tryitout": {"env": "real"},
        "ws://ops.koreainvestment.com:31000/tryitout": {"env": "virtual"},
        "ws://127.0.0.1:8000/tryitout": {"env": "mock", "base_url": "http://127.0.0.1:8000"},
        "ws://elsewhere:1/x": {"env": "virtual", "ws_url": "ws://elsewhere:1/x"},
    }
    for url, values in cases.items():
        kis = AsyncKISClient.for_mock(mock, app_key=key, app_secret=secret, **values)
        assert kis.stream().url == url


async def test_integrated_books_carry_the_mid_prices(mock: MockKIS) -> None:
    async with _client(mock) as kis, kis.stream() as stream:
        (sub,) = await stream.subscribe_order_book(["005930"], market="UN")
        assert sub.tr_id == "H0UNASP0"
        mock.clock.advance(60)
        (book,) = await take(stream.order_books("005930"), 1)
    assert book.tr_id == "H0UNASP0"
    assert book.krx_mid_price == (book.asks[0] + book.bids[0]) // 2


async def test_an_unanswered_subscribe_times_out_with_a_typed_error(mock: MockKIS) -> None:
    async with _client(mock) as kis, kis.stream(ack_timeout=0.2) as stream:
        mock.stream.stall()
        with pytest.raises(SubscriptionTimeoutError):
            await stream.subscribe_trades(["005930"])
        assert stream.subscriptions == ()


async def test_revise_and_cancel_over_rest_produce_their_notices(mock: MockKIS) -> None:
    async with _client(mock) as kis, kis.stream() as stream:
        await stream.subscribe_fills()
        notices = stream.fills()
        book = await kis.get_order_book("005930")
        low = book.bid_levels[9].price  # far below the market: it rests
        order = await kis.buy("005930", 5, low)
        revised = await kis.revise_order(order, price=book.bid_levels[8].price)
        cancelled = await kis.cancel_order(revised)
        got = await take(notices, 3)
    assert [n.kind for n in got] == [NoticeKind.ACCEPTED, NoticeKind.REVISED, NoticeKind.CANCELLED]
    assert [n.order_no for n in got] == [order.order_id, revised.order_id, cancelled.order_id]
    assert got[1].original_order_no == order.order_id
    assert got[2].original_order_no == revised.order_id
    assert (got[1].quantity, got[1].price) == (5, book.bid_levels[8].price)

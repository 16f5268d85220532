"""Faults: each kind does what it says, is counted, and scheduled ones hit exactly N requests."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from kis_async.mock import FAULT_KINDS, FaultPlan, MockClock, MockKIS

from .kit import (
    BOOK,
    KIS,
    ORDER,
    PRICE,
    TOKEN,
    TR_BOOK,
    TR_PRICE,
    accepted,
    price_params,
    token_body,
)


def _server(clock: MockClock, **options: object) -> MockKIS:
    return MockKIS(clock=clock, rate_limit=float("inf"), **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "error", "processed"),
    [
        ("refuse", httpx.ConnectError, False),
        ("drop", httpx.RemoteProtocolError, False),
        ("timeout", httpx.ReadTimeout, False),
        ("drop_after", httpx.RemoteProtocolError, True),
        ("timeout_after", httpx.ReadTimeout, True),
    ],
)
async def test_transport_faults_raise_httpx_errors(
    kis: KIS, mock: MockKIS, kind: str, error: type[Exception], processed: bool
) -> None:
    mock.faults.schedule(kind, path=TOKEN)  # type: ignore[arg-type]
    with pytest.raises(error):
        await kis.client.post(TOKEN, json=token_body())
    assert mock.stats.faults == {kind: 1}
    assert mock.stats.requests[TOKEN] == 1
    # Whether the server acted on it shows in its counters: a processed token request
    # issued a token, so the next one inside the minute is throttled.
    assert mock.stats.token_requests == int(processed)
    assert mock.stats.tokens_issued == int(processed)
    again = await kis.client.post(TOKEN, json=token_body())
    assert again.status_code == (403 if processed else 200)


async def test_refused_requests_never_reach_the_app(kis: KIS, mock: MockKIS) -> None:
    await kis.token()
    mock.faults.schedule("refuse", path=PRICE)
    with pytest.raises(httpx.ConnectError):
        await kis.get(PRICE, TR_PRICE, price_params())
    assert mock.stats.faults["refuse"] == 1
    assert not mock.stats.rejections


async def test_error_5xx_is_503_with_an_empty_body(kis: KIS, mock: MockKIS) -> None:
    mock.faults.schedule("error_5xx", path=PRICE)
    response = await kis.get(PRICE, TR_PRICE, price_params())
    assert response.status_code == 503
    assert response.content == b""
    assert mock.stats.faults == {"error_5xx": 1}


async def test_gateway_html_is_502_with_an_html_page(kis: KIS, mock: MockKIS) -> None:
    mock.faults.schedule("gateway_html", path=PRICE)
    response = await kis.get(PRICE, TR_PRICE, price_params())
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert b"<html>" in response.content
    assert mock.stats.faults == {"gateway_html": 1}


async def test_rate_limit_fault_answers_egw00201(kis: KIS, mock: MockKIS) -> None:
    mock.faults.schedule("rate_limit", path=PRICE)
    response = await kis.get(PRICE, TR_PRICE, price_params())
    assert response.status_code == 500
    assert response.json() == {
        "rt_cd": "1",
        "msg_cd": "EGW00201",
        "msg1": "초당 거래건수를 초과하였습니다.",
    }
    assert mock.stats.rate_limited == 1
    assert mock.stats.faults == {"rate_limit": 1}
    assert mock.stats.rejections == {"EGW00201": 1}


async def test_expire_token_fault_expires_the_presented_token(kis: KIS, mock: MockKIS) -> None:
    assert (await kis.get(PRICE, TR_PRICE, price_params())).status_code == 200
    mock.faults.schedule("expire_token", path=PRICE)
    response = await kis.get(PRICE, TR_PRICE, price_params())
    assert response.status_code == 500
    assert response.json()["msg_cd"] == "EGW00123"
    after = await kis.get(PRICE, TR_PRICE, price_params())
    assert after.json()["msg_cd"] == "EGW00123", "the token stays expired"
    assert mock.stats.faults == {"expire_token": 1}


async def test_slow_adds_slow_seconds_and_latency_applies_to_all(clock: MockClock) -> None:
    mock = _server(clock, latency=0.02, faults=FaultPlan(slow_seconds=0.1))
    mock.faults.schedule("slow", path=TOKEN)
    async with httpx.AsyncClient(transport=mock.transport, base_url="http://m") as client:
        started = time.perf_counter()
        slow = await client.post(TOKEN, json=token_body())
        slow_elapsed = time.perf_counter() - started
        started = time.perf_counter()
        normal = await client.post(TOKEN, json=token_body())
        normal_elapsed = time.perf_counter() - started
    assert slow.status_code == 200
    assert normal.status_code == 403  # processed normally: throttled
    assert slow_elapsed >= 0.12
    assert normal_elapsed >= 0.02
    assert normal_elapsed < slow_elapsed - 0.05
    assert mock.stats.faults == {"slow": 1}


async def test_scheduled_faults_hit_exactly_the_next_n_matching_requests(
    kis: KIS, mock: MockKIS
) -> None:
    await kis.token()
    mock.faults.schedule("error_5xx", count=3, path=PRICE, method="get")
    statuses = []
    for _ in range(4):
        book = await kis.get(BOOK, TR_BOOK, price_params())
        assert book.status_code == 200, "other paths are not matched"
        statuses.append((await kis.get(PRICE, TR_PRICE, price_params())).status_code)
    assert statuses == [503, 503, 503, 200]
    assert mock.stats.faults == {"error_5xx": 3}
    assert mock.faults.pending == []


async def test_scheduled_faults_are_first_in_first_out(kis: KIS, mock: MockKIS) -> None:
    await kis.token()
    mock.faults.schedule("gateway_html")
    mock.faults.schedule("error_5xx", count=2)
    assert [p.kind for p in mock.faults.pending] == ["gateway_html", "error_5xx"]
    statuses = [(await kis.get(PRICE, TR_PRICE, price_params())).status_code for _ in range(4)]
    assert statuses == [502, 503, 503, 200]


async def test_random_faults_follow_the_plan_seed(clock: MockClock) -> None:
    async def run(seed: int) -> list[int]:
        mock = _server(clock, faults=FaultPlan(seed, error_5xx=0.3, gateway_html=0.2))
        async with httpx.AsyncClient(transport=mock.transport, base_url="http://m") as client:
            kis = KIS(client, mock)
            mock.faults.only = lambda method, path: path == PRICE  # tokens always work
            statuses = [
                (await kis.get(PRICE, TR_PRICE, price_params())).status_code for _ in range(200)
            ]
        assert mock.stats.faults["error_5xx"] == statuses.count(503)
        assert mock.stats.faults["gateway_html"] == statuses.count(502)
        return statuses

    first, again, other = await run(1), await run(1), await run(2)
    assert first == again
    assert first != other
    assert 35 <= first.count(503) <= 85
    assert 20 <= first.count(502) <= 60
    assert first.count(200) + first.count(502) + first.count(503) == 200


async def test_only_limits_random_faults(clock: MockClock) -> None:
    plan = FaultPlan(error_5xx=1.0, only=lambda method, path: method == "GET")
    mock = _server(clock, faults=plan)
    async with httpx.AsyncClient(transport=mock.transport, base_url="http://m") as client:
        kis = KIS(client, mock)
        await kis.token()  # a POST: no random fault
        assert (await kis.get(PRICE, TR_PRICE, price_params())).status_code == 503
    assert mock.stats.faults == {"error_5xx": 1}


def test_fault_plan_validates_its_input() -> None:
    assert set(FAULT_KINDS) == {
        "refuse",
        "drop",
        "timeout",
        "drop_after",
        "timeout_after",
        "error_5xx",
        "gateway_html",
        "rate_limit",
        "expire_token",
        "slow",
        "bad_gateway_after",
        "gateway_timeout_after",
    }
    with pytest.raises(ValueError, match=r"within 0\.\.1"):
        FaultPlan(drop=1.5)
    with pytest.raises(ValueError, match="at most 1"):
        FaultPlan(drop=0.6, refuse=0.6)
    with pytest.raises(ValueError, match="unknown fault kind"):
        FaultPlan().schedule("explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 1"):
        FaultPlan().schedule("drop", count=0)
    with pytest.raises(ValueError, match="history_lag"):
        FaultPlan(history_lag=-1)
    plan = FaultPlan(3, drop=0.25)
    assert repr(plan) == "FaultPlan(seed=3, drop=0.25)"
    plan.schedule("drop", 2)
    plan.clear()
    assert plan.pending == []


# -- faults the client's order and timeout paths need -----------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "title"),
    [("bad_gateway_after", 502, b"502 Bad Gateway"), ("gateway_timeout_after", 504, b"504")],
)
async def test_an_order_is_recorded_then_answered_by_the_gateway(
    kis: KIS, mock: MockKIS, kind: str, status: int, title: bytes
) -> None:
    mock.faults.schedule(kind, path=ORDER)  # type: ignore[arg-type]
    price = mock.market.book("035720", mock.clock.now()).bids[3]
    response = await kis.order("buy", "035720", 3, price)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert title in response.content
    assert [(o.ticker, o.quantity) for o in mock.orders] == [("035720", 3)]
    assert [row["odno"] for row in await kis.history()] == [mock.orders[0].order_id]
    assert mock.stats.faults == {kind: 1}


async def test_the_history_shows_new_orders_only_after_the_lag(
    kis: KIS, mock: MockKIS, clock: MockClock
) -> None:
    mock.faults.history_lag = 3.0
    price = mock.market.book("035720", clock.now()).bids[3]
    accepted(await kis.order("buy", "035720", 2, price))
    assert await kis.history() == []
    clock.advance(2.5)
    assert await kis.history() == []
    accepted(await kis.order("buy", "035720", 1, price))
    clock.advance(0.5)
    assert [row["ord_qty"] for row in await kis.history()] == ["2"]
    clock.advance(3)
    assert [row["ord_qty"] for row in await kis.history()] == ["1", "2"]
    assert len(mock.orders) == 2  # the exchange held both all along


async def test_a_cancelled_caller_does_not_cancel_the_servers_work(kis: KIS, mock: MockKIS) -> None:
    mock.latency = 0.2  # the order is processed 0.1 s after it arrives
    await kis.token()
    price = mock.market.book("035720", mock.clock.now()).bids[3]
    caller = asyncio.create_task(kis.order("buy", "035720", 4, price))
    for _ in range(100):  # until the request has reached the server
        if mock.stats.requests[ORDER]:
            break
        await asyncio.sleep(0.005)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert mock.orders == []  # still on its way
    await mock.drain()
    assert [(o.ticker, o.quantity) for o in mock.orders] == [("035720", 4)]


async def test_slow_trips_the_callers_read_timeout_while_the_order_is_recorded(
    mock: MockKIS,
) -> None:
    mock.faults.slow_seconds = 0.25
    mock.faults.schedule("slow", path=ORDER)
    timeout = httpx.Timeout(5.0, read=0.05)
    async with httpx.AsyncClient(
        transport=mock.transport, base_url="http://m", timeout=timeout
    ) as client:
        kis = KIS(client, mock)
        await kis.token()
        price = mock.market.book("035720", mock.clock.now()).bids[3]
        with pytest.raises(httpx.ReadTimeout, match=r"read timeout of 0\.05 s"):
            await kis.order("buy", "035720", 2, price)
        assert len(mock.orders) == 1  # processed before the answer was due
        await mock.drain()
        # The next request, not slow, is answered within the same timeout.
        accepted(await kis.order("buy", "035720", 1, price))
    assert mock.stats.faults == {"slow": 1}


async def test_latency_jitter_is_seeded_and_within_its_bounds(
    clock: MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_sleep = asyncio.sleep
    slept: list[float] = []

    async def recording_sleep(seconds: float) -> None:
        slept.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", recording_sleep)

    async def delays(seed: int) -> list[float]:
        slept.clear()
        mock = MockKIS(seed, clock=clock, latency=0.02, latency_jitter=0.005)
        async with httpx.AsyncClient(transport=mock.transport, base_url="http://m") as client:
            for _ in range(6):
                await client.post(TOKEN, json=token_body())
        return list(slept)

    first = await delays(3)
    assert len(first) == 12  # half before the work, half after, per request
    assert all(0.0075 <= d <= 0.0125 for d in first)
    assert len({round(d, 9) for d in first[::2]}) > 1, "the jitter varies"
    assert await delays(3) == first
    assert await delays(4) != first

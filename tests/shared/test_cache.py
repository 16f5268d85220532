"""The response cache: TTLs on the mock clock, single flight, errors never kept, the
policy by data kind, and the Redis backend shared by two caches."""

from __future__ import annotations

import asyncio
import math
from datetime import date

import pytest

from kis_async import KISAPIError
from kis_async._endpoints import INQUIRE_BALANCE, INQUIRE_DAILY_CCLD, ORDER_CASH_BUY
from kis_async.mock import MockClock
from kis_async.shared import CachedAnswer, CachePolicy, MemoryCache, RedisCache, ResponseCache
from tests.conftest import MIDDAY

TODAY = date(2026, 11, 20)
PARAMS = {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"}


class Server:
    """Counts sends; answers after a moment so that callers overlap."""

    def __init__(self) -> None:
        self.sent = 0
        self.fail = False

    async def send(self) -> CachedAnswer:
        self.sent += 1
        await asyncio.sleep(0.01)
        if self.fail:
            raise KISAPIError("no such stock", msg_cd="APBK0919", rt_cd="1", status_code=200)
        return CachedAnswer(200, {"rt_cd": "0", "n": self.sent}, "FHKST01010100", "D")


async def test_stock_info_expires_after_its_ttl_on_the_mock_clock() -> None:
    clock = MockClock(MIDDAY, frozen=True)
    cache = ResponseCache(MemoryCache(clock))
    server = Server()
    params = {"PRDT_TYPE_CD": "300", "PDNO": "005930"}
    for _ in range(3):
        await cache.fetch("stock_info", "CTPF1002R", params, server.send, today=TODAY)
    assert server.sent == 1
    clock.advance(86_399)
    await cache.fetch("stock_info", "CTPF1002R", params, server.send, today=TODAY)
    assert server.sent == 1
    clock.advance(2)
    answer = await cache.fetch("stock_info", "CTPF1002R", params, server.send, today=TODAY)
    assert server.sent == 2
    assert answer.body["n"] == 2
    assert (cache.stats.hits, cache.stats.misses, cache.stats.stored) == (3, 2, 2)


async def test_fifty_identical_queries_share_one_request_even_uncached() -> None:
    cache = ResponseCache(MemoryCache(MockClock(MIDDAY, frozen=True)))  # prices: not kept
    server = Server()
    answers = await asyncio.gather(
        *(
            cache.fetch("price", "FHKST01010100", PARAMS, server.send, today=TODAY)
            for _ in range(50)
        )
    )
    assert server.sent == 1
    assert {a.body["n"] for a in answers} == {1}
    assert cache.stats.shared == 49
    await cache.fetch("price", "FHKST01010100", PARAMS, server.send, today=TODAY)
    assert server.sent == 2  # today's price is never kept by default
    other = {**PARAMS, "FID_INPUT_ISCD": "000660"}
    await cache.fetch("price", "FHKST01010100", other, server.send, today=TODAY)
    assert server.sent == 3


async def test_errors_are_shared_by_the_flight_but_never_kept() -> None:
    cache = ResponseCache(MemoryCache(MockClock(MIDDAY, frozen=True)))
    server = Server()
    server.fail = True
    params = {"PRDT_TYPE_CD": "300", "PDNO": "999999"}
    results = await asyncio.gather(
        *(
            cache.fetch("stock_info", "CTPF1002R", params, server.send, today=TODAY)
            for _ in range(5)
        ),
        return_exceptions=True,
    )
    assert all(isinstance(r, KISAPIError) for r in results)
    assert server.sent == 1
    server.fail = False
    await cache.fetch("stock_info", "CTPF1002R", params, server.send, today=TODAY)
    assert server.sent == 2
    assert cache.stats.stored == 1


def test_the_policy_by_kind() -> None:
    policy = CachePolicy()
    past = {"FID_INPUT_DATE_1": "20260101", "FID_INPUT_DATE_2": "20261119"}
    with_today = {"FID_INPUT_DATE_1": "20260101", "FID_INPUT_DATE_2": "20261120"}
    assert policy.ttl("chart", past, TODAY) == math.inf  # completed bars: until evicted
    assert policy.ttl("chart", with_today, TODAY) is None
    assert policy.ttl("chart", {"FID_INPUT_HOUR_1": "110000"}, TODAY) is None  # minute bars
    assert policy.ttl("price", PARAMS, TODAY) is None
    assert policy.ttl("orderbook", PARAMS, TODAY) is None
    assert policy.ttl("stock_info", {}, TODAY) == 86_400
    asked = CachePolicy(price=2.0, orderbook=1.0, chart=60.0)
    assert asked.ttl("price", PARAMS, TODAY) == 2.0
    assert asked.ttl("chart", with_today, TODAY) == 60.0
    # Account data and orders declare no kind: nothing to cache them by.
    assert INQUIRE_BALANCE.cache is None
    assert INQUIRE_DAILY_CCLD.cache is None
    assert ORDER_CASH_BUY.cache is None


def test_keys_hold_the_query_never_a_token() -> None:
    cache = ResponseCache(MemoryCache(MockClock(MIDDAY)), namespace="https://server")
    key = cache.key("FHKST01010100", {"b": "2", "a": "1"})
    assert key == cache.key("FHKST01010100", {"a": "1", "b": "2"})
    assert "FHKST01010100" in key
    assert "server" not in key  # the namespace is hashed


async def test_redis_backend_is_shared_by_two_caches(redis_url: str, prefix: str) -> None:
    clock = MockClock(MIDDAY, frozen=True)
    host_a = ResponseCache(RedisCache(redis_url, prefix=prefix), namespace="srv")
    host_b = ResponseCache(RedisCache(redis_url, prefix=prefix), namespace="srv")
    server = Server()
    params = {"PRDT_TYPE_CD": "300", "PDNO": "005930"}
    first = await host_a.fetch("stock_info", "CTPF1002R", params, server.send, today=TODAY)
    second = await host_b.fetch("stock_info", "CTPF1002R", params, server.send, today=TODAY)
    assert server.sent == 1
    assert first == second
    assert isinstance(clock, MockClock)
    for cache in (host_a, host_b):
        backend = cache.backend
        assert isinstance(backend, RedisCache)
        await backend.aclose()


@pytest.mark.parametrize("kind", ["price", "orderbook"])
async def test_asked_for_ttls_expire_on_the_mock_clock(kind: str) -> None:
    clock = MockClock(MIDDAY, frozen=True)
    cache = ResponseCache(MemoryCache(clock), CachePolicy(price=5.0, orderbook=5.0))
    server = Server()
    await cache.fetch(kind, "T", PARAMS, server.send, today=TODAY)  # type: ignore[arg-type]
    await cache.fetch(kind, "T", PARAMS, server.send, today=TODAY)  # type: ignore[arg-type]
    clock.advance(5)
    await cache.fetch(kind, "T", PARAMS, server.send, today=TODAY)  # type: ignore[arg-type]
    assert server.sent == 2


async def test_an_unreachable_redis_cache_only_misses(caplog: pytest.LogCaptureFixture) -> None:
    from .conftest import free_port

    cache = ResponseCache(RedisCache(f"redis://127.0.0.1:{free_port()}/0"))
    server = Server()
    params = {"PRDT_TYPE_CD": "300", "PDNO": "005930"}
    for _ in range(2):
        answer = await cache.fetch("stock_info", "CTPF1002R", params, server.send, today=TODAY)
    assert server.sent == 2  # nothing kept, nothing lost
    assert answer.body["n"] == 2
    assert len([r for r in caplog.records if "unreachable" in r.getMessage()]) == 1

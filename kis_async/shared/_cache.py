"""A response cache for market data, with single flight.

What may be cached is declared on the endpoint rows (``Endpoint.cache``: ``"price"``,
``"orderbook"``, ``"chart"``, ``"stock_info"``); rows without it (orders, balance,
order history, every account query) are never cached. How long is a
:class:`CachePolicy`:

- stock info: 24 h (``KIS_CACHE_TTL_STOCK_INFO``);
- daily, weekly, monthly and yearly bars of a range that ends before today: until
  evicted (past sessions do not change);
- anything of today (prices, order book, minute bars, a chart range that includes
  today): never, unless ``KIS_CACHE_TTL_PRICE``, ``KIS_CACHE_TTL_ORDERBOOK`` or
  ``KIS_CACHE_TTL_CHART`` give seconds.

Entries are keyed by the server, tr_id and parameters, never by the token or the app
key: the answer is the same for everyone. Concurrent identical queries share one
request whether the answer may be cached or not. Error answers are never cached: an
error is raised to every caller sharing the flight and nothing is stored.
TTLs run on the client's clock (the mock's movable clock in tests).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import urlencode

from kis_async._clock import Clock
from kis_async._endpoints import CacheKind
from kis_async._redact import get_logger

from ._redis import connect, redis_errors, require_redis, safe_url

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "CacheBackend",
    "CacheKind",
    "CachePolicy",
    "CacheStats",
    "CachedAnswer",
    "MemoryCache",
    "RedisCache",
    "ResponseCache",
]

logger = get_logger("kis_async.shared")

#: Seconds the Redis backend keeps an "until evicted" entry (Redis needs some bound).
_REDIS_FOREVER = 30 * 24 * 3600


@dataclass(frozen=True)
class CachePolicy:
    """Seconds each kind of answer is kept; None: never cached. ``math.inf``: until evicted."""

    price: float | None = None
    orderbook: float | None = None
    #: Charts that include today, and minute charts.
    chart: float | None = None
    stock_info: float | None = 86_400.0
    #: Period charts of a range that ends before today.
    completed_bars: float | None = math.inf

    def ttl(self, kind: CacheKind, params: Mapping[str, str], today: date) -> float | None:
        """How long this answer may be kept, in seconds (None: not at all)."""
        if kind == "chart":
            end = params.get("FID_INPUT_DATE_2", "")
            if len(end) == 8 and end.isdigit() and end < today.strftime("%Y%m%d"):
                return self.completed_bars
            return self.chart
        ttl: float | None = getattr(self, kind)
        return ttl


@dataclass(frozen=True)
class CachedAnswer:
    """What is kept of a successful answer: enough to rebuild it."""

    status_code: int
    body: dict[str, Any] = field(repr=False)
    tr_id: str
    tr_cont: str = ""

    def to_json(self) -> str:
        """The answer as one JSON text (status, body, tr_id, tr_cont), for a shared backend."""
        return json.dumps([self.status_code, self.body, self.tr_id, self.tr_cont])

    @classmethod
    def from_json(cls, raw: str | bytes) -> CachedAnswer:
        """An answer from :meth:`to_json`'s text."""
        status, body, tr_id, tr_cont = json.loads(raw)
        return cls(int(status), body, str(tr_id), str(tr_cont))


@runtime_checkable
class CacheBackend(Protocol):
    """Where cached answers live."""

    async def get(self, key: str) -> CachedAnswer | None:
        """The answer stored under ``key``, or None when absent or expired."""
        ...

    async def set(self, key: str, answer: CachedAnswer, ttl: float) -> None:
        """Keep ``answer`` for ``ttl`` seconds (``math.inf``: until evicted)."""
        ...


class MemoryCache:
    """In this process, at most ``max_entries`` answers (least recently used go first).

    Expiry is measured on ``clock``'s monotonic seconds.
    """

    def __init__(self, clock: Clock, *, max_entries: int = 10_000) -> None:
        self._clock = clock
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[float, CachedAnswer]] = OrderedDict()

    async def get(self, key: str) -> CachedAnswer | None:
        """The answer stored under ``key``, or None when absent or expired (on the clock given)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, answer = entry
        if self._clock.monotonic() >= expires:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return answer

    async def set(self, key: str, answer: CachedAnswer, ttl: float) -> None:
        """Keep ``answer`` for ``ttl`` seconds; past the size cap the oldest-used goes."""
        self._entries[key] = (self._clock.monotonic() + ttl, answer)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class RedisCache:
    """In Redis at ``url``, shared by every process and host; expiry by Redis.

    While Redis cannot be reached the cache misses (every query is sent) and logs one
    warning; it is a cache, not a source of truth.
    """

    def __init__(self, url: str, *, prefix: str = "kis-async:cache") -> None:
        require_redis()
        self.url = url
        self._prefix = prefix
        self._redis: Redis | None = None
        self._down = False

    def _client(self) -> Redis:
        if self._redis is None:
            self._redis = connect(self.url)
        return self._redis

    async def get(self, key: str) -> CachedAnswer | None:
        """The answer stored under ``key`` in Redis, or None (also when Redis cannot be reached)."""
        try:
            raw = await self._client().get(f"{self._prefix}:{key}")
        except redis_errors() as exc:
            self._unreachable(exc)
            return None
        self._down = False
        if raw is None:
            return None
        try:
            return CachedAnswer.from_json(raw)
        except (ValueError, TypeError):
            return None  # not ours, or from another version: a miss

    async def set(self, key: str, answer: CachedAnswer, ttl: float) -> None:
        """Keep ``answer`` in Redis for ``ttl`` seconds; an unreachable Redis only warns once."""
        ms = _REDIS_FOREVER * 1000 if math.isinf(ttl) else max(1, int(ttl * 1000))
        try:
            await self._client().set(f"{self._prefix}:{key}", answer.to_json(), px=ms)
        except redis_errors() as exc:
            self._unreachable(exc)

    def _unreachable(self, exc: BaseException) -> None:
        if not self._down:
            self._down = True
            logger.warning(
                "the response cache at %s is unreachable (%s): queries are sent uncached",
                safe_url(self.url),
                type(exc).__name__,
            )

    async def aclose(self) -> None:
        """Close the Redis connection this cache opened."""
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None


@dataclass
class CacheStats:
    """What the response cache did: hits, requests sent, shared waits, stores."""

    #: Answers served from the cache.
    hits: int = 0
    #: Requests actually sent for cacheable kinds.
    misses: int = 0
    #: Callers that joined a request already in flight instead of sending their own.
    shared: int = 0
    #: Answers stored.
    stored: int = 0


class ResponseCache:
    """Single flight for every declared kind, and keeping answers the policy allows."""

    def __init__(
        self,
        backend: CacheBackend,
        policy: CachePolicy | None = None,
        *,
        namespace: str = "",
    ) -> None:
        self.backend = backend
        self.policy = policy if policy is not None else CachePolicy()
        self.stats = CacheStats()
        self._namespace = hashlib.sha256(namespace.encode()).hexdigest()[:12]
        self._flights: dict[str, asyncio.Future[CachedAnswer]] = {}

    def key(self, tr_id: str, params: Mapping[str, str], tr_cont: str = "") -> str:
        """The entry name: server, tr_id, page marker and sorted parameters."""
        query = urlencode(sorted(params.items()))
        return f"{self._namespace}:{tr_id}:{tr_cont}:{query}"

    async def fetch(
        self,
        kind: CacheKind,
        tr_id: str,
        params: Mapping[str, str],
        send: Callable[[], Awaitable[CachedAnswer]],
        *,
        today: date,
        tr_cont: str = "",
    ) -> CachedAnswer:
        """The answer to this query: cached, shared with an identical one in flight, or sent."""
        key = self.key(tr_id, params, tr_cont)
        ttl = self.policy.ttl(kind, params, today)
        if ttl is not None and ttl > 0:
            cached = await self.backend.get(key)
            if cached is not None:
                self.stats.hits += 1
                return cached
        flight = self._flights.get(key)
        if flight is not None:
            self.stats.shared += 1
            return await asyncio.shield(flight)
        flight = asyncio.ensure_future(self._send(key, send, ttl))
        # Retrieved here so an error nobody is left to await is not reported as lost.
        flight.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._flights[key] = flight
        # The flight belongs to the cache, not to the caller that started it: a caller
        # cancelled while waiting leaves the others an answer.
        return await asyncio.shield(flight)

    async def _send(
        self, key: str, send: Callable[[], Awaitable[CachedAnswer]], ttl: float | None
    ) -> CachedAnswer:
        try:
            self.stats.misses += 1
            answer = await send()  # an error answer raises: nothing is stored
            if ttl is not None and ttl > 0:
                await self.backend.set(key, answer, ttl)
                self.stats.stored += 1
            return answer
        finally:
            del self._flights[key]

"""A token store in Redis: one token per app key for every process on every host.

Keys, under ``<prefix>:<key>:`` (``key`` is the token cache key: env and a hash of
server and app key, never the key itself):

- ``<kind>``: the token and its times as JSON, kept by Redis for the token's lifetime.
- ``<kind>:lock``: the issue lock, ``SET NX PX`` with a random owner, released only by
  its owner (a compare-and-delete script), expiring by itself if a holder dies.
- ``<kind>:issued``: when a token was last asked for, so KIS's one-a-minute rule holds
  across hosts.

``discard`` is a compare-and-delete script: a late EGW00123 about an old token never
drops a newer one. The token value is stored as the 0600 file cache stores it and
never logged; protect the Redis server as you would that file (ACL, TLS, a private
network).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import anyio

from kis_async._auth import AccessToken
from kis_async._clock import Clock
from kis_async._errors import KISError
from kis_async._redact import get_logger

from ._redis import connect, redis_errors, require_redis, safe_url

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisTokenStore", "SharedStoreError", "shared_approval_key"]

logger = get_logger("kis_async.shared")

_DISCARD = """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local ok, data = pcall(cjson.decode, raw)
if ok and data['access_token'] == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

#: Seconds the issue lock lives if its holder vanishes. Longer than a whole issuance,
#: which may wait out KIS's one-a-minute rule first.
LOCK_TTL = 120.0
#: Seconds Redis keeps a token beyond its stated lifetime, and the "last issued" mark.
_SLACK = 3600
_ISSUED_TTL = 24 * 3600


class SharedStoreError(KISError):
    """The shared store (Redis) could not be reached; says where, never with a password."""


class RedisTokenStore:
    """Tokens in Redis at ``url``, shared by every client using the same ``key``.

    ``kind`` separates what is stored: ``"token"`` for access tokens, ``"approval"``
    for WebSocket approval keys. Implements the token store protocol: ``load``,
    ``save``, ``discard`` (compare-and-discard), ``issue_lock`` (exclusive across every
    host), ``last_issued`` and ``note_issued``.
    """

    def __init__(
        self,
        url: str,
        key: str,
        *,
        kind: str = "token",
        prefix: str = "kis-async:auth",
        lock_ttl: float = LOCK_TTL,
    ) -> None:
        require_redis()
        self.url = url
        base = f"{prefix}:{key}:{kind}"
        self._token_key = base
        self._lock_key = f"{base}:lock"
        self._issued_key = f"{base}:issued"
        self._lock_ttl_ms = int(lock_ttl * 1000)
        self._redis: Redis | None = None
        # One waiter at a time per process polls the shared lock.
        self._local = asyncio.Lock()

    def _client(self) -> Redis:
        if self._redis is None:
            self._redis = connect(self.url)
        return self._redis

    def _unreachable(self, exc: BaseException) -> SharedStoreError:
        return SharedStoreError(
            f"the token store at {safe_url(self.url)} cannot be reached "
            f"({type(exc).__name__}); no token was read or written"
        )

    async def load(self) -> AccessToken | None:
        """The token stored in Redis, or None; raises SharedStoreError when Redis is unreachable."""
        try:
            raw = await self._client().get(self._token_key)
        except redis_errors() as exc:
            raise self._unreachable(exc) from None
        if raw is None:
            return None
        try:
            return AccessToken.from_json(json.loads(raw))
        except (ValueError, KeyError, TypeError):
            logger.warning("ignoring an unreadable token record in %s", safe_url(self.url))
            return None

    async def save(self, token: AccessToken) -> None:
        """Store ``token`` in Redis until it expires (a little longer, for clock slack)."""
        lifetime = (token.expires_at - token.issued_at).total_seconds()
        ttl = max(1, int(lifetime)) + _SLACK
        try:
            await self._client().set(self._token_key, json.dumps(token.to_json()), ex=ttl)
        except redis_errors() as exc:
            raise self._unreachable(exc) from None

    async def discard(self, token: AccessToken) -> None:
        """Forget ``token`` if it is the one stored (a newer one is kept)."""
        try:
            await self._client().eval(_DISCARD, 1, self._token_key, token.value)
        except redis_errors() as exc:
            raise self._unreachable(exc) from None

    async def last_issued(self) -> datetime | None:
        """When any host sharing this store last had a token issued, or None."""
        try:
            raw = await self._client().get(self._issued_key)
        except redis_errors() as exc:
            raise self._unreachable(exc) from None
        if raw is None:
            return None
        try:
            return datetime.fromisoformat(raw.decode() if isinstance(raw, bytes) else str(raw))
        except ValueError:
            return None

    async def note_issued(self, when: datetime) -> None:
        """Record that a token was asked for at ``when`` (only moves forward)."""
        try:
            client = self._client()
            previous = await self.last_issued()
            if previous is None or when > previous:
                await client.set(self._issued_key, when.isoformat(), ex=_ISSUED_TTL)
        except redis_errors() as exc:
            raise self._unreachable(exc) from None

    def issue_lock(self) -> AbstractAsyncContextManager[None]:
        """Held around "re-read the store, then issue": exclusive across every host."""
        return self._hold()

    @asynccontextmanager
    async def _hold(self) -> AsyncIterator[None]:
        owner = secrets.token_hex(16)
        client = self._client()
        async with self._local:
            delay = 0.02
            try:
                while not await client.set(self._lock_key, owner, nx=True, px=self._lock_ttl_ms):
                    await anyio.sleep(delay)
                    delay = min(delay * 1.5, 0.25)
            except redis_errors() as exc:
                raise self._unreachable(exc) from None
            try:
                yield
            finally:
                with anyio.CancelScope(shield=True):
                    try:
                        await client.eval(_RELEASE, 1, self._lock_key, owner)
                    except redis_errors():
                        # It expires by itself after lock_ttl.
                        logger.warning("could not release the token issue lock in Redis")

    async def aclose(self) -> None:
        """Close the Redis connection this store opened."""
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    def __repr__(self) -> str:
        return f"RedisTokenStore({safe_url(self.url)!r})"


#: KIS's WebSocket approval keys live 24 h; a shared one is replaced an hour early.
APPROVAL_LIFETIME = timedelta(hours=24)
_APPROVAL_MARGIN = timedelta(hours=1)


async def shared_approval_key(
    store: RedisTokenStore, issue: Callable[[], Awaitable[str]], clock: Clock
) -> str:
    """The approval key in ``store``, or a new one issued once for every host."""
    now = clock.now()
    cached = await store.load()
    if cached is not None and cached.is_fresh(now, _APPROVAL_MARGIN):
        return cached.value
    async with store.issue_lock():
        cached = await store.load()  # another host may have issued it meanwhile
        now = clock.now()
        if cached is not None and cached.is_fresh(now, _APPROVAL_MARGIN):
            return cached.value
        key = await issue()
        await store.save(AccessToken(value=key, expires_at=now + APPROVAL_LIFETIME, issued_at=now))
        return key

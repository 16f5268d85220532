"""Sharing one app key: rate budgets, token stores and a response cache.

- Rate budgets (one interface, :class:`RateBudget`): :class:`ProcessBudget`,
  :class:`MachineBudget` (every process on this machine), :class:`RedisBudget` (every
  process on every host); :func:`make_budget` builds one from ``KIS_RATE_BUDGET``.
- :class:`RedisTokenStore`: one token per app key across hosts.
- :class:`ResponseCache` over :class:`MemoryCache` or :class:`RedisCache`.
- :class:`AppKeyPool`: read-only fan-outs spread over several app keys.

Nothing here imports ``redis`` until a Redis URL is used (``kis-async[redis]``).
"""

from __future__ import annotations

from pathlib import Path

from kis_async._errors import ConfigError

from ._budget import (
    DEFAULT_QUEUE_TIMEOUT,
    BudgetStats,
    MachineBudget,
    ProcessBudget,
    RateBudget,
)
from ._cache import (
    CacheBackend,
    CachedAnswer,
    CacheKind,
    CachePolicy,
    CacheStats,
    MemoryCache,
    RedisCache,
    ResponseCache,
)
from ._pacing import Pacing
from ._pool import AppKeyPool
from ._redis import is_redis_url
from ._redis_budget import RedisBudget
from ._token_store import RedisTokenStore, SharedStoreError

__all__ = [
    "DEFAULT_QUEUE_TIMEOUT",
    "AppKeyPool",
    "BudgetStats",
    "CacheBackend",
    "CacheKind",
    "CachePolicy",
    "CacheStats",
    "CachedAnswer",
    "MachineBudget",
    "MemoryCache",
    "Pacing",
    "ProcessBudget",
    "RateBudget",
    "RedisBudget",
    "RedisCache",
    "RedisTokenStore",
    "ResponseCache",
    "SharedStoreError",
    "make_budget",
]


def make_budget(
    spec: str,
    pacing: Pacing,
    *,
    key: str,
    directory: Path | None,
    queue_timeout: float | None = DEFAULT_QUEUE_TIMEOUT,
    prefix: str = "kis-async:budget",
) -> RateBudget:
    """The budget ``spec`` names: ``"process"``, ``"machine"`` or a Redis URL.

    ``key`` names the shared state (the token cache key: env and a hash of server and
    app key); ``directory`` is where a machine budget keeps its file.
    """
    text = spec.strip()
    if text.lower() == "process":
        return ProcessBudget(pacing, queue_timeout=queue_timeout)
    if text.lower() == "machine":
        if directory is None:
            raise ConfigError(
                "KIS_RATE_BUDGET=machine keeps its state in the token cache dir: set "
                "KIS_TOKEN_CACHE_DIR (it is 'none')"
            )
        return MachineBudget(directory, key, pacing, queue_timeout=queue_timeout)
    if is_redis_url(text):
        return RedisBudget(text, key, pacing, queue_timeout=queue_timeout, prefix=prefix)
    raise ConfigError(
        "KIS_RATE_BUDGET must be 'process', 'machine' or a Redis URL (redis://host:6379/0)"
    )

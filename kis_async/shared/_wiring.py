"""Settings -> the budget, token store and cache a client uses (read by the client)."""

from __future__ import annotations

from pathlib import Path

from kis_async._auth import MemoryTokenStore, TokenStore
from kis_async._clock import Clock
from kis_async._config import KISSettings

from ._budget import RateBudget
from ._cache import CachePolicy, MemoryCache, RedisCache, ResponseCache
from ._pacing import Pacing
from ._token_store import RedisTokenStore

__all__ = [
    "approval_store_for",
    "default_rate_budget",
    "rate_budget_for",
    "response_cache_for",
    "token_store_for",
]


def default_rate_budget(settings: KISSettings, *, in_process: bool) -> str:
    """``KIS_RATE_BUDGET``, or the default: "process" for the in-process mock (nothing
    else can share its key) and without a token cache dir, else "machine"."""
    if settings.rate_budget is not None:
        return settings.rate_budget
    if in_process or settings.token_cache_dir is None:
        return "process"
    return "machine"


def rate_budget_for(settings: KISSettings, *, key: str, in_process: bool) -> RateBudget:
    from . import make_budget

    pacing = Pacing(
        settings.effective_rate_limit,
        headroom=settings.rate_limit_headroom,
        cooldown=settings.rate_limit_cooldown,
    )
    directory: Path | None = settings.token_cache_dir
    return make_budget(
        default_rate_budget(settings, in_process=in_process),
        pacing,
        key=key,
        directory=directory,
        queue_timeout=settings.api_queue_timeout,
        prefix=f"{settings.redis_prefix}:budget",
    )


def token_store_for(settings: KISSettings, *, key: str, kind: str = "token") -> TokenStore | None:
    """The store ``KIS_TOKEN_STORE`` names: a Redis store for a Redis URL, memory for
    "memory"; None for "file" or unset (the client then picks file or memory itself)."""
    spec = settings.token_store
    if spec is None or spec == "file":
        return None
    if spec == "memory":
        return MemoryTokenStore()
    return RedisTokenStore(spec, key, kind=kind, prefix=f"{settings.redis_prefix}:auth")


def approval_store_for(settings: KISSettings, *, key: str) -> RedisTokenStore | None:
    """Where WebSocket approval keys are shared: Redis when the token store is; else None."""
    spec = settings.token_store
    if spec is None or spec in ("file", "memory"):
        return None
    return RedisTokenStore(spec, key, kind="approval", prefix=f"{settings.redis_prefix}:auth")


def response_cache_for(settings: KISSettings, *, clock: Clock, namespace: str) -> ResponseCache:
    """The response cache ``KIS_RESPONSE_CACHE`` and ``KIS_CACHE_TTL_*`` describe.

    With "none" nothing is kept, but identical concurrent queries still share a request.
    """
    keep = settings.response_cache != "none"
    policy = CachePolicy(
        price=settings.cache_ttl_price if keep else None,
        orderbook=settings.cache_ttl_orderbook if keep else None,
        chart=settings.cache_ttl_chart if keep else None,
        stock_info=settings.cache_ttl_stock_info if keep else None,
        completed_bars=float("inf") if keep else None,
    )
    spec = settings.response_cache
    backend: MemoryCache | RedisCache
    if spec in ("memory", "none"):
        backend = MemoryCache(clock)
    else:
        backend = RedisCache(spec, prefix=f"{settings.redis_prefix}:cache")
    return ResponseCache(backend, policy, namespace=namespace)

"""The one place that imports the optional ``redis`` package."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from kis_async._errors import ConfigError

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["connect", "is_redis_url", "redis_errors", "require_redis", "safe_url"]

#: Seconds to open a connection and to wait for an answer. Short: a budget that cannot
#: reach Redis falls back to its local pace rather than stalling requests.
CONNECT_TIMEOUT = 0.5
SOCKET_TIMEOUT = 1.0

_SCHEMES = ("redis://", "rediss://", "unix://")


def is_redis_url(text: str) -> bool:
    return text.strip().lower().startswith(_SCHEMES)


def safe_url(url: str) -> str:
    """``url`` without its password, for logs and reprs.

    The redis package reads a password from the user part (``redis://:pw@host``) and
    from the query (``?password=pw``): both are hidden.
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        netloc = (f"{parts.username}:***@" if parts.username else ":***@") + host
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(name.lower() == "password" for name, _ in pairs):
            hidden = [(n, "***" if n.lower() == "password" else v) for n, v in pairs]
            query = urlencode(hidden, safe="*")
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def require_redis() -> None:
    """ConfigError now, at construction, when the optional redis package is missing."""
    try:
        import redis.asyncio  # noqa: F401
    except ImportError:
        raise ConfigError(
            "sharing over Redis needs the redis package: pip install 'kis-async[redis]'"
        ) from None


def connect(url: str) -> Redis:
    """An asyncio Redis client for ``url`` (nothing is sent until first use)."""
    try:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
    except ImportError:
        raise ConfigError(
            "sharing over Redis needs the redis package: pip install 'kis-async[redis]'"
        ) from None
    return Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=SOCKET_TIMEOUT,
        # Retries are the caller's business (a budget falls back, then tries again).
        retry=Retry(NoBackoff(), 0),
        retry_on_timeout=False,
        health_check_interval=0,
    )


def redis_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean "Redis cannot be reached right now"."""
    from redis.exceptions import ConnectionError, TimeoutError

    return (ConnectionError, TimeoutError, OSError)

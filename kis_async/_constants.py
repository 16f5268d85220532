"""Defaults in one place. Settings override most of them."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

import httpx

__all__ = [
    "DEFAULT_CIRCUIT_FAILURE_THRESHOLD",
    "DEFAULT_CIRCUIT_RESET_TIMEOUT",
    "DEFAULT_CONNECTION_LIMITS",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_QUEUE_TIMEOUT",
    "DEFAULT_RATE_LIMITS",
    "DEFAULT_RATE_LIMIT_COOLDOWN",
    "DEFAULT_RETRY_INITIAL_DELAY",
    "DEFAULT_RETRY_MAX_DELAY",
    "DEFAULT_TIMEOUT",
    "MOCK_BASE_URL",
    "RATE_GATE_HEADROOM",
    "REAL_BASE_URL",
    "TOKEN_MIN_ISSUE_INTERVAL",
    "TOKEN_REFRESH_MARGIN",
    "USER_AGENT",
    "VIRTUAL_BASE_URL",
]

REAL_BASE_URL: Final = "https://openapi.koreainvestment.com:9443"
VIRTUAL_BASE_URL: Final = "https://openapivts.koreainvestment.com:29443"
#: Host name used for the in-process mock server; it is never resolved.
MOCK_BASE_URL: Final = "http://mock-kis.invalid"

#: REST requests per second per app key (KIS notice of 2026-04-20: real 18, virtual 1).
#: The mock emulates the real server.
DEFAULT_RATE_LIMITS: Final = {"real": 18.0, "virtual": 1.0, "mock": 18.0}
#: The client paces itself this fraction below the limit, so that jitter between the
#: gate and the server's clock does not push a burst over a sliding one-second window.
RATE_GATE_HEADROOM: Final = 0.03
#: After an EGW00201 every caller pauses this long (seconds): one window of the limit.
DEFAULT_RATE_LIMIT_COOLDOWN: Final = 1.0

#: Seconds a request may wait for its rate-budget slot before it fails unsent
#: (KIS_API_QUEUE_TIMEOUT).
DEFAULT_QUEUE_TIMEOUT: Final = 30.0

DEFAULT_TIMEOUT: Final = 10.0
DEFAULT_CONNECT_TIMEOUT: Final = 5.0
DEFAULT_CONNECTION_LIMITS: Final = httpx.Limits(max_connections=64, max_keepalive_connections=32)

DEFAULT_MAX_RETRIES: Final = 3
DEFAULT_RETRY_INITIAL_DELAY: Final = 0.5
DEFAULT_RETRY_MAX_DELAY: Final = 8.0

DEFAULT_CIRCUIT_FAILURE_THRESHOLD: Final = 5
DEFAULT_CIRCUIT_RESET_TIMEOUT: Final = 30.0

#: A token is replaced this long before KIS says it expires.
TOKEN_REFRESH_MARGIN: Final = timedelta(minutes=10)
#: KIS issues at most one token per minute per app key (EGW00133 otherwise).
TOKEN_MIN_ISSUE_INTERVAL: Final = 60.0

USER_AGENT: Final = "kis-async/0.1.0"

"""What the request pipeline reports about each HTTP request, to callbacks users register.

No dependency: :class:`RequestEvent` is a plain record, and a hook is any callable
taking one. Adapters (OpenTelemetry in :mod:`kis_async.metrics`, a Prometheus recipe in
the docs) build on it. An event never holds a URL query, a header or a body: account
numbers, keys and tokens travel there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["OUTCOMES", "RequestEvent", "RequestHook", "outcome_of"]

#: Every value of :attr:`RequestEvent.outcome`.
OUTCOMES = (
    "ok",
    "rate_limited",
    "token_expired",
    "auth_error",
    "rejected",
    "api_error",
    "server_error",
    "timeout",
    "transport_error",
    "bad_response",
    "circuit_open",
    "cancelled",
    "error",
)


@dataclass(frozen=True, slots=True)
class RequestEvent:
    """One HTTP request the client sent (or tried to send), as it ended.

    ``endpoint`` is the operation's name (``"inquire-price"``, ``"order-cash"``,
    ``"tokenP"``); ``path`` its path without any query; ``tr_id`` KIS's transaction id
    ("" for OAuth calls); ``status`` the HTTP status (None when no answer came);
    ``attempt`` counts from 1 within one call's retries; ``outcome`` one of
    :data:`OUTCOMES`; ``msg_cd`` KIS's message code of an error answer ("EGW00201");
    ``duration`` the HTTP exchange in seconds; ``gate_wait`` the seconds spent waiting
    for the rate gate before it.
    """

    endpoint: str
    method: str
    path: str
    tr_id: str
    status: int | None
    attempt: int
    outcome: str
    msg_cd: str
    duration: float
    gate_wait: float

    @property
    def ok(self) -> bool:
        """Whether the request succeeded."""
        return self.outcome == "ok"


RequestHook = Callable[[RequestEvent], None]
"""A callback the client calls with each :class:`RequestEvent`, on the event loop.

It must be quick and must not block; an exception it raises is logged and ignored.
"""


def outcome_of(exc: BaseException | None) -> str:
    """The :attr:`RequestEvent.outcome` word for a request that raised ``exc`` (None: ok)."""
    # Imported here: the errors module must stay importable without this one.
    from ._errors import (
        AuthError,
        CircuitOpenError,
        KISAPIError,
        KISResponseError,
        KISServerError,
        KISTimeoutError,
        KISTransportError,
        OrderRejectedError,
        RateLimitError,
        TokenExpiredError,
    )

    if exc is None:
        return "ok"
    kinds: tuple[tuple[type[BaseException], str], ...] = (
        (RateLimitError, "rate_limited"),
        (TokenExpiredError, "token_expired"),
        (AuthError, "auth_error"),
        (OrderRejectedError, "rejected"),
        (KISServerError, "server_error"),
        (KISAPIError, "api_error"),
        (KISTimeoutError, "timeout"),
        (KISTransportError, "transport_error"),
        (KISResponseError, "bad_response"),
        (CircuitOpenError, "circuit_open"),
    )
    for kind, word in kinds:
        if isinstance(exc, kind):
            return word
    if not isinstance(exc, Exception):
        return "cancelled"
    return "error"

"""The one exception hierarchy of kis-async, rooted at :class:`KISError`.

Every message says what happened in words a user can act on and never contains a
secret: app keys, app secrets, tokens and account numbers are never put into an
exception, its message or its ``repr``.
"""

from __future__ import annotations

from typing import Any

from ._codes import describe_code

__all__ = [
    "AuthError",
    "CircuitOpenError",
    "ConfigError",
    "InvalidRequestError",
    "KISAPIError",
    "KISError",
    "KISResponseError",
    "KISServerError",
    "KISTimeoutError",
    "KISTransportError",
    "OrderRejectedError",
    "OrderStateUnknownError",
    "QueueTimeoutError",
    "RateLimitError",
    "TokenExpiredError",
    "TokenIssueThrottledError",
]


class KISError(Exception):
    """Base class of every error raised by kis-async."""


class ConfigError(KISError):
    """Settings are missing or invalid, or an action needs an opt-in that was not given."""


class InvalidRequestError(KISError, ValueError):
    """Bad input, found before anything was sent (ticker, quantity, price, dates...)."""


class KISTransportError(KISError):
    """The request could not be completed at the HTTP level (connect, read, protocol).

    ``request_sent`` tells whether the request may have reached the server. It is
    ``False`` only when that is certain (the connection never opened, or no pooled
    connection was ever handed out); an order may be repeated only then.
    """

    def __init__(self, message: str, *, method: str, path: str, request_sent: bool) -> None:
        super().__init__(message)
        self.method = method
        self.path = path
        self.request_sent = request_sent


class KISTimeoutError(KISTransportError):
    """The request timed out (connect, write, read or waiting for a pooled connection)."""


class CircuitOpenError(KISError):
    """Too many consecutive failures: requests are refused locally until the cool-down ends."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class QueueTimeoutError(KISError):
    """A request would have waited longer than the queue timeout for its rate-budget slot.

    Nothing was sent: a request that cannot have its slot in time fails at once rather
    than going out late. ``wait`` is the estimated wait in seconds, ``timeout`` the
    limit (``KIS_API_QUEUE_TIMEOUT``) and ``rate`` the pace in requests per second.
    """

    def __init__(self, message: str, *, wait: float, timeout: float, rate: float) -> None:
        super().__init__(message)
        self.wait = wait
        self.timeout = timeout
        self.rate = rate


class KISResponseError(KISError):
    """A response arrived but could not be understood (not JSON, or not the expected shape).

    ``path`` names the operation whose answer it was, when known.
    """

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(message)
        self.path = path


class KISAPIError(KISError):
    """KIS answered with an error: ``rt_cd`` other than ``"0"``, or an HTTP error status.

    ``msg1`` is KIS's own message, stripped of the padding KIS adds; the message adds
    an English gloss of ``msg_cd`` when the code is known (:data:`kis_async.KIS_CODES`)
    and ``context``, what the call was about (ticker; order side, quantity, price).
    """

    def __init__(
        self,
        msg1: str,
        *,
        msg_cd: str = "",
        rt_cd: str = "",
        tr_id: str = "",
        status_code: int = 0,
        path: str = "",
        body: Any = None,
        context: str = "",
    ) -> None:
        self.msg1 = msg1.strip()
        self.context = context
        self.msg_cd = msg_cd
        self.rt_cd = rt_cd
        self.tr_id = tr_id
        self.status_code = status_code
        self.path = path
        self.body = body
        where = f" [{tr_id}]" if tr_id else (f" [{path}]" if path else "")
        code = f"{msg_cd}: " if msg_cd else ""
        gloss = describe_code(msg_cd)
        meaning = f" ({gloss})" if gloss else ""
        about = f"; {context}" if context else ""
        super().__init__(
            f"{code}{self.msg1 or 'no message'}{meaning}{about} (HTTP {status_code}){where}"
        )


class KISServerError(KISAPIError):
    """A 5xx answer that is not a known KIS gateway code (a gateway page, an outage)."""


class RateLimitError(KISAPIError):
    """EGW00201: more requests per second than the account's limit."""


class AuthError(KISAPIError):
    """App key or secret rejected, or the token is invalid."""


class TokenExpiredError(AuthError):
    """EGW00123 (or EGW00121): the access token is expired or no longer valid."""


class TokenIssueThrottledError(AuthError):
    """EGW00133: KIS issues at most one access token per minute per app key."""


class OrderRejectedError(KISAPIError):
    """The broker or the exchange refused an order (insufficient cash, bad price...)."""


class OrderStateUnknownError(KISError):
    """An order may or may not have been accepted, and the order history could not tell.

    Do not blindly place the order again: check the order history or the balance first.
    ``details`` holds what is known (ticker, side, quantity, price, the time window
    searched); ``cause`` is the transport error that made the outcome unknown.
    """

    def __init__(self, message: str, *, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.details = details

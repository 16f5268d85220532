"""Errors of the real-time stream, under :class:`kis_async.KISError`.

Messages name tr_ids, tickers and KIS's codes; never an approval key, an app key,
an HTS ID or an account number.
"""

from __future__ import annotations

from kis_async._errors import KISError

__all__ = [
    "AlreadySubscribedError",
    "AppKeyInUseError",
    "InvalidTrIdError",
    "StreamClosedError",
    "StreamConnectionError",
    "StreamError",
    "StreamProtocolError",
    "SubscriptionError",
    "SubscriptionLimitError",
    "SubscriptionTimeoutError",
]


class StreamError(KISError):
    """Base of every error of the real-time stream."""


class StreamProtocolError(StreamError):
    """A frame the client cannot read (malformed, undecryptable, of unknown width)."""


class StreamConnectionError(StreamError):
    """The WebSocket could not be (re)opened, or the supervisor was told to give up.

    ``attempts`` is how many connections were tried in the last run of failures.
    """

    def __init__(self, message: str, *, attempts: int = 0) -> None:
        super().__init__(message)
        self.attempts = attempts


class StreamClosedError(StreamError):
    """The stream was used after it was closed."""


class SubscriptionError(StreamError):
    """KIS refused a subscribe or unsubscribe request (an ``OPSP...`` answer).

    ``msg_cd`` and ``msg1`` are KIS's; ``tr_id``/``tr_key`` the request's (the tr_key
    of a fill-notice request, an HTS ID, is left out).
    """

    def __init__(
        self, message: str, *, msg_cd: str = "", msg1: str = "", tr_id: str = "", tr_key: str = ""
    ) -> None:
        super().__init__(message)
        self.msg_cd = msg_cd
        self.msg1 = msg1
        self.tr_id = tr_id
        self.tr_key = tr_key


class AlreadySubscribedError(SubscriptionError):
    """OPSP0002: this session already subscribed to that tr_id and key."""


class SubscriptionLimitError(SubscriptionError):
    """OPSP0008, or the client's own check: more than 40 registrations in one session."""


class InvalidTrIdError(SubscriptionError):
    """OPSP8991: the server does not know the tr_id."""


class AppKeyInUseError(SubscriptionError, StreamConnectionError):
    """OPSP8996: another session already uses this app key (one session per app key)."""

    def __init__(self, message: str, *, attempts: int = 0, **fields: str) -> None:
        SubscriptionError.__init__(self, message, **fields)
        self.attempts = attempts


class SubscriptionTimeoutError(SubscriptionError):
    """The server did not acknowledge a subscribe or unsubscribe in time."""

"""Real-time KIS data over WebSocket: trade ticks, order books and fill notices.

``async with client.stream() as stream:`` opens one session; ``subscribe_trades``,
``subscribe_order_book`` and ``subscribe_fills`` register; ``async for event in
stream`` yields :class:`TradeTick`, :class:`OrderBookUpdate` and :class:`FillNotice`.
The socket needs the ``stream`` extra (``websockets``, ``cryptography``), imported
only when a connection is opened or a notice decrypted.
"""

from __future__ import annotations

from ._columns import (
    BOOK_COLUMNS,
    BOOK_TR_IDS,
    FILL_COLUMNS,
    FILL_TR_IDS,
    TRADE_COLUMNS,
    TRADE_TR_IDS,
    UNIFIED_BOOK_COLUMNS,
)
from ._errors import (
    AlreadySubscribedError,
    AppKeyInUseError,
    InvalidTrIdError,
    StreamClosedError,
    StreamConnectionError,
    StreamError,
    StreamProtocolError,
    SubscriptionError,
    SubscriptionLimitError,
    SubscriptionTimeoutError,
)
from ._models import FillNotice, NoticeKind, OrderBookUpdate, StreamEvent, TradeTick
from ._session import (
    DEFAULT_WS_URLS,
    MAX_SUBSCRIPTIONS,
    KISStream,
    StreamStats,
    StreamView,
    Subscription,
)
from ._transport import (
    ConnectionEnded,
    WebSocketConnection,
    WebsocketsTransport,
    WebSocketTransport,
)

__all__ = [
    "BOOK_COLUMNS",
    "BOOK_TR_IDS",
    "DEFAULT_WS_URLS",
    "FILL_COLUMNS",
    "FILL_TR_IDS",
    "MAX_SUBSCRIPTIONS",
    "TRADE_COLUMNS",
    "TRADE_TR_IDS",
    "UNIFIED_BOOK_COLUMNS",
    "AlreadySubscribedError",
    "AppKeyInUseError",
    "ConnectionEnded",
    "FillNotice",
    "InvalidTrIdError",
    "KISStream",
    "NoticeKind",
    "OrderBookUpdate",
    "StreamClosedError",
    "StreamConnectionError",
    "StreamError",
    "StreamEvent",
    "StreamProtocolError",
    "StreamStats",
    "StreamView",
    "Subscription",
    "SubscriptionError",
    "SubscriptionLimitError",
    "SubscriptionTimeoutError",
    "TradeTick",
    "WebSocketConnection",
    "WebSocketTransport",
    "WebsocketsTransport",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) and _obj.__module__.startswith(__name__ + "._"):
        _obj.__module__ = __name__
del _name, _obj

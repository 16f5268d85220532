"""kis-async: an asyncio-native SDK for the Korea Investment & Securities Open API.

import kis_async

async with kis_async.AsyncKISClient() as kis:      # no credentials: the mock server
    price = await kis.get_current_price("005930")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import market
from ._auth import AccessToken, FileTokenStore, MemoryTokenStore, TokenStore, token_cache_key
from ._base_client import ClientStats
from ._client import AsyncKISClient
from ._clock import KST, Clock, SystemClock
from ._codes import KIS_CODES, describe_code
from ._config import Env, KISSettings
from ._errors import (
    AuthError,
    CircuitOpenError,
    ConfigError,
    InvalidRequestError,
    KISAPIError,
    KISError,
    KISResponseError,
    KISServerError,
    KISTimeoutError,
    KISTransportError,
    OrderRejectedError,
    OrderStateUnknownError,
    QueueTimeoutError,
    RateLimitError,
    TokenExpiredError,
    TokenIssueThrottledError,
)
from ._events import RequestEvent, RequestHook
from ._models import (
    Candle,
    ChangeSign,
    CurrentPrice,
    KISModel,
    OrderBook,
    OrderBookLevel,
    PriceType,
    StockInfo,
)

if TYPE_CHECKING:
    from . import engine
    from .engine import (
        AmountTooSmallError,
        BlacklistedError,
        EngineConfig,
        EngineRuleError,
        ExitDecision,
        ExitRules,
        Ledger,
        LedgerError,
        MaxPositionsError,
        NoPositionError,
        NoQuoteError,
        PortfolioSummary,
        Position,
        PositionLimitError,
        ReconcileReport,
        SectorExposureError,
        Strategy,
        TradeResult,
        TradingEngine,
    )
from ._trading_models import (
    Balance,
    BalanceSummary,
    BuyableAmount,
    Exchange,
    Holding,
    OrderRecord,
    OrderResult,
    OrderType,
    Side,
)
from .shared import (
    AppKeyPool,
    BudgetStats,
    CachePolicy,
    MachineBudget,
    ProcessBudget,
    RateBudget,
    RedisBudget,
    RedisTokenStore,
    ResponseCache,
    SharedStoreError,
)

if TYPE_CHECKING:
    from .backfill import (
        BackfillProgress,
        BackfillReport,
        ParquetStore,
        SQLiteStore,
        StoredBar,
        read_master,
    )
    from .frames import to_pandas, to_polars, to_records
    from .metrics import RequestRecorder
    from .mock import MockKIS
    from .plot import plot_candles
    from .stream import (
        AlreadySubscribedError,
        AppKeyInUseError,
        FillNotice,
        InvalidTrIdError,
        KISStream,
        NoticeKind,
        OrderBookUpdate,
        StreamClosedError,
        StreamConnectionError,
        StreamError,
        StreamEvent,
        StreamProtocolError,
        StreamStats,
        StreamView,
        Subscription,
        SubscriptionError,
        SubscriptionLimitError,
        SubscriptionTimeoutError,
        TradeTick,
        WebsocketsTransport,
        WebSocketTransport,
    )

__version__ = "0.1.0"

#: The tools' public names, by subpackage, imported on first use (their heavy
#: dependencies, pandas, polars, pyarrow, matplotlib, load only when called).
_TOOL_NAMES = {
    "BackfillProgress": "backfill",
    "BackfillReport": "backfill",
    "ParquetStore": "backfill",
    "SQLiteStore": "backfill",
    "StoredBar": "backfill",
    "read_master": "backfill",
    "to_pandas": "frames",
    "to_polars": "frames",
    "to_records": "frames",
    "plot_candles": "plot",
    "RequestRecorder": "metrics",
}

#: Public names of kis_async.stream, imported on first use (the stream's socket and
#: decryption need the optional "stream" extra).
_STREAM_NAMES = frozenset(
    {
        "AlreadySubscribedError",
        "AppKeyInUseError",
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
        "WebSocketTransport",
        "WebsocketsTransport",
    }
)

__all__ = [
    "KIS_CODES",
    "KST",
    "AccessToken",
    "AlreadySubscribedError",
    "AmountTooSmallError",
    "AppKeyInUseError",
    "AppKeyPool",
    "AsyncKISClient",
    "AuthError",
    "BackfillProgress",
    "BackfillReport",
    "Balance",
    "BalanceSummary",
    "BlacklistedError",
    "BudgetStats",
    "BuyableAmount",
    "CachePolicy",
    "Candle",
    "ChangeSign",
    "CircuitOpenError",
    "ClientStats",
    "Clock",
    "ConfigError",
    "CurrentPrice",
    "EngineConfig",
    "EngineRuleError",
    "Env",
    "Exchange",
    "ExitDecision",
    "ExitRules",
    "FileTokenStore",
    "FillNotice",
    "Holding",
    "InvalidRequestError",
    "InvalidTrIdError",
    "KISAPIError",
    "KISError",
    "KISModel",
    "KISResponseError",
    "KISServerError",
    "KISSettings",
    "KISStream",
    "KISTimeoutError",
    "KISTransportError",
    "Ledger",
    "LedgerError",
    "MachineBudget",
    "MaxPositionsError",
    "MemoryTokenStore",
    "MockKIS",
    "NoPositionError",
    "NoQuoteError",
    "NoticeKind",
    "OrderBook",
    "OrderBookLevel",
    "OrderBookUpdate",
    "OrderRecord",
    "OrderRejectedError",
    "OrderResult",
    "OrderStateUnknownError",
    "OrderType",
    "ParquetStore",
    "PortfolioSummary",
    "Position",
    "PositionLimitError",
    "PriceType",
    "ProcessBudget",
    "QueueTimeoutError",
    "RateBudget",
    "RateLimitError",
    "ReconcileReport",
    "RedisBudget",
    "RedisTokenStore",
    "RequestEvent",
    "RequestHook",
    "RequestRecorder",
    "ResponseCache",
    "SQLiteStore",
    "SectorExposureError",
    "SharedStoreError",
    "Side",
    "StockInfo",
    "StoredBar",
    "Strategy",
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
    "SystemClock",
    "TokenExpiredError",
    "TokenIssueThrottledError",
    "TokenStore",
    "TradeResult",
    "TradeTick",
    "TradingEngine",
    "WebSocketTransport",
    "WebsocketsTransport",
    "describe_code",
    "engine",
    "market",
    "plot_candles",
    "read_master",
    "to_pandas",
    "to_polars",
    "to_records",
    "token_cache_key",
]

# Users see kis_async.RateLimitError, not a private module path (as httpx does).
for _name in __all__:
    _obj = globals().get(_name)
    if isinstance(_obj, type) and _obj.__module__.startswith("kis_async._"):
        _obj.__module__ = "kis_async"
del _name, _obj


#: Names of the trading engine, imported on first use (it brings SQLite and threads).
_ENGINE_NAMES = frozenset(
    {
        "AmountTooSmallError",
        "BlacklistedError",
        "EngineConfig",
        "EngineRuleError",
        "ExitDecision",
        "ExitRules",
        "Ledger",
        "LedgerError",
        "MaxPositionsError",
        "NoPositionError",
        "NoQuoteError",
        "PortfolioSummary",
        "Position",
        "PositionLimitError",
        "ReconcileReport",
        "SectorExposureError",
        "Strategy",
        "TradeResult",
        "TradingEngine",
    }
)


def __getattr__(name: str) -> object:
    # The mock server, the engine and the stream are imported on first use, so
    # `import kis_async` stays light.
    if name == "MockKIS":
        from .mock import MockKIS

        return MockKIS
    if name in _ENGINE_NAMES or name == "engine":
        import importlib

        module = importlib.import_module(".engine", __name__)
        return module if name == "engine" else getattr(module, name)
    if name in _STREAM_NAMES:
        from . import stream

        return getattr(stream, name)
    if name in _TOOL_NAMES:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_TOOL_NAMES[name]}"), name)
    raise AttributeError(f"module 'kis_async' has no attribute {name!r}")

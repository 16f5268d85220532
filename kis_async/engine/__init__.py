"""The trading engine: buys by amount, sells, exits by one price fan-out, a portfolio,
rules, dry runs, and a crash-safe SQLite ledger reconciled with the broker.

    async with AsyncKISClient() as kis, TradingEngine(kis, Ledger("data/ledger.db")) as engine:
        await engine.buy("005930", 1_000_000)
        await engine.check_exits()
"""

from __future__ import annotations

from ._config import DEFAULT_LEDGER_PATH, EngineConfig, ExitRules, OrderStyle, read_blacklist
from ._engine import Strategy, TradingEngine, shares_for
from ._fills import FillSource, OrderHistoryFills, OrderProgress, StreamFills
from ._ledger import (
    SCHEMA_VERSION,
    Ledger,
    LedgerError,
    LedgerFill,
    LedgerIntent,
    LedgerOrder,
    LedgerPosition,
)
from ._models import (
    AmountTooSmallError,
    BlacklistedError,
    Difference,
    EngineRuleError,
    ExitDecision,
    ExitReason,
    MaxPositionsError,
    NoPositionError,
    NoQuoteError,
    PortfolioSummary,
    Position,
    PositionLimitError,
    ReconcileReport,
    SectorExposureError,
    TradeResult,
)
from ._ticks import TickExits

__all__ = [
    "DEFAULT_LEDGER_PATH",
    "SCHEMA_VERSION",
    "AmountTooSmallError",
    "BlacklistedError",
    "Difference",
    "EngineConfig",
    "EngineRuleError",
    "ExitDecision",
    "ExitReason",
    "ExitRules",
    "FillSource",
    "Ledger",
    "LedgerError",
    "LedgerFill",
    "LedgerIntent",
    "LedgerOrder",
    "LedgerPosition",
    "MaxPositionsError",
    "NoPositionError",
    "NoQuoteError",
    "OrderHistoryFills",
    "OrderProgress",
    "OrderStyle",
    "PortfolioSummary",
    "Position",
    "PositionLimitError",
    "ReconcileReport",
    "SectorExposureError",
    "Strategy",
    "StreamFills",
    "TickExits",
    "TradeResult",
    "TradingEngine",
    "read_blacklist",
    "shares_for",
]

# Users see kis_async.engine.TradingEngine, not the private module it lives in.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) and _obj.__module__.startswith(__name__ + "."):
        _obj.__module__ = __name__
del _name, _obj

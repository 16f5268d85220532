"""What the engine returns: trades, positions, the portfolio, exit decisions, reconcile
reports; and the rule errors it raises before sending anything.

Money is whole KRW (int); prices that are averages and fractions are Decimal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from kis_async._errors import KISError
from kis_async._trading_models import Side

if TYPE_CHECKING:
    import pandas

__all__ = [
    "AmountTooSmallError",
    "BlacklistedError",
    "Difference",
    "EngineRuleError",
    "ExitDecision",
    "ExitReason",
    "MaxPositionsError",
    "NoPositionError",
    "NoQuoteError",
    "PortfolioSummary",
    "Position",
    "PositionLimitError",
    "ReconcileReport",
    "SectorExposureError",
    "TradeResult",
]

ExitReason = Literal["stop_loss", "take_profit", "trailing_stop"]


class EngineRuleError(KISError):
    """An order the engine's rules refuse; nothing was sent."""


class BlacklistedError(EngineRuleError):
    """The ticker is on the blacklist."""


class MaxPositionsError(EngineRuleError):
    """A new position would exceed ``max_positions``."""


class PositionLimitError(EngineRuleError):
    """The position would cost more than ``max_position_krw``."""


class SectorExposureError(EngineRuleError):
    """The sector would exceed ``max_sector_exposure`` of equity."""


class AmountTooSmallError(EngineRuleError):
    """The amount does not buy one share at the price, fees included."""


class NoPositionError(EngineRuleError):
    """A sell of a ticker the ledger holds no shares of."""


class NoQuoteError(EngineRuleError):
    """The order book has no one to trade with on that side (no ask to buy, no bid to sell)."""


@dataclass(frozen=True)
class TradeResult:
    """What one engine order did: what the broker filled (not what was asked).

    ``requested`` and ``filled`` are shares; ``average_price`` is KRW per share filled
    (None when nothing filled); ``amount`` is price times quantity filled, KRW;
    ``commission`` and ``tax`` are KRW. ``status``: ``filled`` (all), ``partial`` (the
    rest was cancelled after the fill timeout), ``unfilled``. ``simulated`` marks a
    dry run, which sends nothing; then ``order_id`` is None.
    """

    ticker: str
    side: Side
    requested: int
    filled: int
    average_price: Decimal | None
    amount: int
    commission: int
    tax: int
    order_id: str | None
    intent_id: int
    limit_price: int | None
    status: Literal["filled", "partial", "unfilled"]
    reason: str = ""
    simulated: bool = False
    #: KRW realised by a sell: proceeds after fees and tax, less the cost of the shares.
    realised_pnl: int = 0

    @property
    def cash_flow(self) -> int:
        """KRW into (+) or out of (-) the account."""
        if self.side is Side.BUY:
            return -(self.amount + self.commission)
        return self.amount - self.commission - self.tax


@dataclass(frozen=True)
class Position:
    """One open position, valued at ``last_price`` (KRW).

    ``avg_cost`` is KRW per share including buy commissions; ``cost_basis`` the KRW
    the shares held cost. ``unrealised_pnl`` is market value less cost basis (before
    the fees and tax a sale would take); ``unrealised_pct`` is that in percent.
    ``stop_price``, ``target_price`` and ``trailing_price`` are the prices (KRW,
    exact) at or beyond which the exit rules sell; None when the rule is off.
    """

    ticker: str
    quantity: int
    avg_cost: Decimal
    cost_basis: int
    last_price: int
    market_value: int
    unrealised_pnl: int
    unrealised_pct: Decimal
    sector: str | None
    region: str
    entered_at: datetime
    high_price: int
    stop_price: Decimal | None
    target_price: Decimal | None
    trailing_price: Decimal | None


@dataclass(frozen=True)
class ExitDecision:
    """A position an exit rule fired on, and what selling it did.

    ``price`` is the quote (KRW) that crossed ``threshold``; ``result`` is the sell, or
    None when the position had already been sold (``skipped``) or the sell failed
    (``error`` says why).
    """

    ticker: str
    reason: ExitReason
    price: int
    threshold: Decimal
    quantity: int
    result: TradeResult | None = None
    skipped: bool = False
    error: str | None = None


@dataclass(frozen=True)
class PortfolioSummary:
    """The account as the ledger knows it, valued at the latest prices. KRW unless noted.

    ``equity`` is cash plus market value; ``invested`` the cost basis of open
    positions; ``fees_paid`` and ``taxes_paid`` everything paid so far;
    ``win_rate`` the share of sells with a positive realised P&L (None before any);
    ``sector_exposure`` market value per sector as a fraction of equity.
    """

    as_of: datetime
    cash: int
    invested: int
    market_value: int
    equity: int
    realised_pnl: int
    unrealised_pnl: int
    fees_paid: int
    taxes_paid: int
    sells: int
    wins: int
    win_rate: Decimal | None
    sector_exposure: dict[str, Decimal]
    positions: tuple[Position, ...]
    simulated: bool = False

    @property
    def total_pnl(self) -> int:
        """Realised plus unrealised P&L, KRW."""
        return self.realised_pnl + self.unrealised_pnl

    def to_pandas(self) -> pandas.DataFrame:
        """The positions as a DataFrame, one row a ticker (needs the ``pandas`` extra).

        The totals are in ``DataFrame.attrs`` (``cash``, ``equity``, ...).
        """
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "PortfolioSummary.to_pandas() needs pandas: pip install 'kis-async[pandas]'"
            ) from exc
        columns = [
            "ticker",
            "quantity",
            "avg_cost",
            "cost_basis",
            "last_price",
            "market_value",
            "unrealised_pnl",
            "unrealised_pct",
            "sector",
            "entered_at",
            "stop_price",
            "target_price",
            "trailing_price",
        ]
        rows = [{name: getattr(p, name) for name in columns} for p in self.positions]
        frame = pd.DataFrame(rows, columns=columns).set_index("ticker")
        frame.attrs.update(self.totals())
        return frame

    def totals(self) -> dict[str, Any]:
        """The summary's figures (no positions) as a plain dict."""
        return {
            "as_of": self.as_of,
            "cash": self.cash,
            "invested": self.invested,
            "market_value": self.market_value,
            "equity": self.equity,
            "realised_pnl": self.realised_pnl,
            "unrealised_pnl": self.unrealised_pnl,
            "fees_paid": self.fees_paid,
            "taxes_paid": self.taxes_paid,
            "win_rate": self.win_rate,
            "simulated": self.simulated,
        }

    def __rich__(self) -> Any:
        """A rich renderable: positions table with the totals as its caption."""
        from rich.table import Table

        title = "Portfolio (simulated)" if self.simulated else "Portfolio"
        table = Table(title=f"{title} at {self.as_of:%Y-%m-%d %H:%M:%S} KST")
        for name in ("Ticker", "Qty", "Avg cost", "Last", "Value", "P&L", "P&L %", "Sector"):
            table.add_column(name, justify="left" if name in ("Ticker", "Sector") else "right")
        for p in self.positions:
            style = "green" if p.unrealised_pnl > 0 else "red" if p.unrealised_pnl < 0 else ""
            table.add_row(
                p.ticker,
                f"{p.quantity:,}",
                f"{p.avg_cost:,.2f}",
                f"{p.last_price:,}",
                f"{p.market_value:,}",
                f"[{style}]{p.unrealised_pnl:+,}[/]" if style else f"{p.unrealised_pnl:+,}",
                f"{p.unrealised_pct:+.2f}",
                p.sector or "-",
            )
        win = "-" if self.win_rate is None else f"{self.win_rate * 100:.0f}%"
        table.caption = (
            f"cash {self.cash:,}  equity {self.equity:,}  realised {self.realised_pnl:+,}  "
            f"unrealised {self.unrealised_pnl:+,}  fees {self.fees_paid:,}  "
            f"taxes {self.taxes_paid:,}  win rate {win} KRW"
        )
        return table


@dataclass(frozen=True)
class Difference:
    """One way the ledger and the broker disagreed, and what reconcile did about it.

    ``kind``: ``position`` (shares), ``cash`` (KRW) or ``order`` (an intent or order
    the ledger had wrong). ``ledger`` and ``broker`` are the values before repair.
    """

    kind: Literal["position", "cash", "order"]
    ticker: str | None
    ledger: int | str | None
    broker: int | str | None
    action: str


@dataclass
class ReconcileReport:
    """What ``reconcile()`` found and did. No order is ever placed by it.

    ``recovered``: intents whose order was found in the order history (broker order
    ids); ``not_sent``: intents the broker never received; ``pending``: intents still
    unresolved (their window is open, or the match was ambiguous); ``fills_applied``:
    fills the ledger had missed; ``cancelled``: orders a crash had left resting whose
    unfilled rest was cancelled; ``differences``: every repair to the broker's view.
    """

    at: datetime
    recovered: list[str] = field(default_factory=list)
    not_sent: list[int] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)
    fills_applied: int = 0
    cancelled: list[str] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    simulated: bool = False

    @property
    def in_agreement(self) -> bool:
        """Whether the ledger already agreed with the broker (no repair was needed)."""
        return not self.differences

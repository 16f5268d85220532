"""EngineConfig: exit rules, limits, blacklist, order style and fill waiting.

Loadable from ``KIS_ENGINE_*`` variables (and ``.env``), e.g.
``KIS_ENGINE_STOP_LOSS=-0.03``, ``KIS_ENGINE_BLACKLIST='["005930"]'``,
``KIS_ENGINE_FILL_TIMEOUT=5``.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kis_async._errors import ConfigError
from kis_async._validation import check_ticker
from kis_async.market import DEFAULT_FEES, FeeSchedule

__all__ = ["DEFAULT_LEDGER_PATH", "EngineConfig", "ExitRules", "OrderStyle", "read_blacklist"]

#: Where the ledger lives unless told otherwise (relative to the working directory).
DEFAULT_LEDGER_PATH = Path("data") / "ledger.db"

OrderStyle = Literal["limit", "market"]


class ExitRules(BaseModel):
    """Exit thresholds as fractions: of the average cost (stop, target) or of the high.

    ``stop_loss=-0.03`` sells once the price is 3% below the average cost (fees
    included), ``take_profit=0.08`` once it is 8% above, ``trailing_stop=0.05`` once it
    is 5% below the highest price seen since entry. None switches a rule off.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    trailing_stop: Decimal | None = None

    @field_validator("stop_loss")
    @classmethod
    def _negative(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and not Decimal(-1) < value < 0:
            raise ValueError(f"stop_loss is a fraction below 0, such as -0.03; got {value}")
        return value

    @field_validator("take_profit")
    @classmethod
    def _positive(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and value <= 0:
            raise ValueError(f"take_profit is a fraction above 0, such as 0.08; got {value}")
        return value

    @field_validator("trailing_stop")
    @classmethod
    def _fraction(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and not 0 < value < 1:
            raise ValueError(f"trailing_stop is a fraction in (0, 1), such as 0.05; got {value}")
        return value


class EngineConfig(BaseSettings):
    """How the trading engine decides, sizes and places orders.

    Money in KRW (int), fractions as Decimal, times in seconds.
    """

    model_config = SettingsConfigDict(
        env_prefix="KIS_ENGINE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        arbitrary_types_allowed=True,
        validate_default=True,
        # KIS_ENGINE_TRAILING_STOP= (empty) switches a rule or limit off.
        env_parse_none_str="",
    )

    #: Sell once the price is this fraction below the average cost (None: no stop).
    stop_loss: Decimal | None = Decimal("-0.03")
    #: Sell once the price is this fraction above the average cost (None: no target).
    take_profit: Decimal | None = Decimal("0.08")
    #: Sell once the price falls this fraction below the highest price since entry.
    trailing_stop: Decimal | None = None
    #: Exit rules by ticker, overriding the three above (a position's own rules, given
    #: to ``buy``, override these in turn).
    overrides: dict[str, ExitRules] = Field(default_factory=dict)
    #: The most KRW (cost including fees) one position may hold.
    max_position_krw: int | None = Field(default=None, gt=0)
    #: The most positions open at once.
    max_positions: int | None = Field(default=None, gt=0)
    #: The most one sector may hold, as a fraction of equity (cash plus positions at cost).
    max_sector_exposure: Decimal | None = Field(default=None, gt=0, le=1)
    #: Tickers the engine refuses to buy.
    blacklist: frozenset[str] = frozenset()
    #: A file of blacklisted tickers (one a line, '#' comments), read at start and by
    #: ``TradingEngine.reload_blacklist()``; its tickers add to ``blacklist``.
    blacklist_file: Path | None = None
    #: Commission and transaction tax.
    fees: FeeSchedule = DEFAULT_FEES
    #: ``limit``: at the touch (best ask to buy, best bid to sell), ``ticks_through``
    #: ticks beyond it; ``market``: market orders.
    order_style: OrderStyle = "limit"
    ticks_through: int = Field(default=0, ge=0, le=20)
    #: Seconds to wait for a limit order to fill; then the unfilled rest is cancelled
    #: and what filled is kept. 0: look once, then cancel the rest.
    fill_timeout: float = Field(default=10.0, ge=0)
    #: Seconds between looks at the order history while waiting for fills.
    fill_poll_interval: float = Field(default=0.5, gt=0)
    #: The ledger file when none is given to the engine.
    ledger_path: Path = DEFAULT_LEDGER_PATH

    @field_validator("blacklist", mode="before")
    @classmethod
    def _tickers(cls, value: Any) -> Any:
        if value is None:
            return frozenset()
        if isinstance(value, str):
            value = [part for part in value.replace(",", " ").split() if part]
        if isinstance(value, list | tuple | set | frozenset):
            return frozenset(check_ticker(item) for item in value)
        return value

    @field_validator("overrides", mode="after")
    @classmethod
    def _override_keys(cls, value: dict[str, ExitRules]) -> dict[str, ExitRules]:
        return {check_ticker(key): rules for key, rules in value.items()}

    @field_validator("fees", mode="before")
    @classmethod
    def _fees(cls, value: Any) -> Any:
        if not isinstance(value, FeeSchedule):
            raise ValueError("fees must be a kis_async.market.FeeSchedule")
        return value

    @model_validator(mode="after")
    def _rules_valid(self) -> EngineConfig:
        # The defaults pass the same checks as a position's own rules.
        ExitRules(
            stop_loss=self.stop_loss,
            take_profit=self.take_profit,
            trailing_stop=self.trailing_stop,
        )
        return self

    def rules_for(self, ticker: str, own: ExitRules | None = None) -> ExitRules:
        """The exit rules in force for ``ticker``: its own, else the override, else defaults.

        Each rule falls back separately, so a position may override only its stop.
        """
        layers = [layer for layer in (own, self.overrides.get(ticker)) if layer is not None]

        def pick(name: str) -> Decimal | None:
            for layer in layers:
                if name in layer.model_fields_set:
                    value: Decimal | None = getattr(layer, name)
                    return value
            default: Decimal | None = getattr(self, name)
            return default

        return ExitRules(
            stop_loss=pick("stop_loss"),
            take_profit=pick("take_profit"),
            trailing_stop=pick("trailing_stop"),
        )


def read_blacklist(path: Path) -> frozenset[str]:
    """The tickers listed in ``path``: one a line, blank lines and '#' comments skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the blacklist file {path}: {exc.strerror}") from exc
    tickers: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        try:
            tickers.add(check_ticker(entry))
        except ValueError as exc:
            raise ConfigError(f"{path}:{number}: {exc}") from exc
    return frozenset(tickers)

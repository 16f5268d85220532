"""KRX market rules as pure functions: tick sizes, daily price bands, fees and taxes.

Nothing here does I/O. All prices and amounts are whole KRW (``int``); rates are
``Decimal``. The rules follow the KRX tick table effective 2023-01-25 (one table for
KOSPI, KOSDAQ and KONEX stocks) and the ±30% daily limit in force since 2015-06-15.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from fractions import Fraction
from typing import Literal

__all__ = [
    "DAILY_LIMIT_RATE",
    "DEFAULT_FEES",
    "KIS_ONLINE_COMMISSION_RATE",
    "TICK_TABLE",
    "FeeSchedule",
    "Market",
    "RoundDirection",
    "buy_cost",
    "is_on_tick",
    "max_quantity",
    "price_band",
    "round_to_tick",
    "sell_proceeds",
    "tick_size",
]

Market = Literal["KOSPI", "KOSDAQ", "KONEX"]
RoundDirection = Literal["down", "up", "nearest"]
Price = int | Decimal | Fraction

#: (lower bound inclusive, tick) pairs, highest band first. KRX, effective 2023-01-25.
TICK_TABLE: tuple[tuple[int, int], ...] = (
    (500_000, 1_000),
    (200_000, 500),
    (50_000, 100),
    (20_000, 50),
    (5_000, 10),
    (2_000, 5),
    (0, 1),
)

#: The daily price limit: ±30% of the base price (normally the previous close).
DAILY_LIMIT_RATE = Fraction(3, 10)

#: KIS online (BanKIS / non-face-to-face) commission for KOSPI/KOSDAQ/KONEX stocks,
#: exchange and depository fees included: 0.0140527%.
KIS_ONLINE_COMMISSION_RATE = Decimal("0.000140527")


def tick_size(price: Price) -> int:
    """The tick (KRW) that applies to a stock trading at ``price`` KRW."""
    if price <= 0:
        raise ValueError(f"price must be positive, got {price}")
    for lower, tick in TICK_TABLE:
        if price >= lower:
            return tick
    raise AssertionError("unreachable: the last band starts at 0")


def is_on_tick(price: Price) -> bool:
    """Whether ``price`` is a valid KRX order price: a positive whole multiple of its tick."""
    if price <= 0 or price != int(price):
        return False
    return int(price) % tick_size(price) == 0


def round_to_tick(price: Price, direction: RoundDirection = "nearest") -> int:
    """Round ``price`` onto the tick grid: ``"down"``, ``"up"`` or ``"nearest"`` (ties up).

    Every band boundary is a multiple of the next band's tick, so rounding with the
    tick of the unrounded price always lands on a valid price.
    """
    if price <= 0:
        raise ValueError(f"price must be positive, got {price}")
    exact = Fraction(price)
    tick = tick_size(exact)
    down = math.floor(exact / tick) * tick
    if down < 1:  # below the first tick: the smallest valid price
        down = tick
    up = math.ceil(exact / tick) * tick
    if direction == "down":
        return down
    if direction == "up":
        return up
    if direction == "nearest":
        return up if (exact - down) >= (up - exact) else down
    raise ValueError(f"direction must be 'down', 'up' or 'nearest', got {direction!r}")


def price_band(base_price: int) -> tuple[int, int]:
    """The daily ``(lower_limit, upper_limit)`` in KRW for a stock whose base price is given.

    ±30% of the base price, each limit rounded inward onto the tick grid (the upper
    limit down, the lower limit up), so neither lies beyond 30%.
    """
    if base_price <= 0:
        raise ValueError(f"base price must be positive, got {base_price}")
    upper = round_to_tick(base_price * (1 + DAILY_LIMIT_RATE), "down")
    lower = round_to_tick(base_price * (1 - DAILY_LIMIT_RATE), "up")
    return lower, upper


def _default_tax_rates() -> dict[int, dict[str, Decimal]]:
    # Securities transaction tax including the rural special tax, charged on sells.
    main = {2023: "0.0020", 2024: "0.0018", 2025: "0.0015", 2026: "0.0020"}
    return {
        year: {"KOSPI": Decimal(rate), "KOSDAQ": Decimal(rate), "KONEX": Decimal("0.0010")}
        for year, rate in main.items()
    }


@dataclass(frozen=True)
class FeeSchedule:
    """Commission and securities transaction tax.

    ``commission_rate`` applies to both sides; ``tax_rates[year][market]`` applies to
    sells, by the trade date's year. Years after the last listed one use the last
    listed rates; years before the first use the first.
    """

    commission_rate: Decimal = KIS_ONLINE_COMMISSION_RATE
    tax_rates: dict[int, dict[str, Decimal]] = field(default_factory=_default_tax_rates)

    def commission(self, amount: int) -> int:
        """Commission on a trade of ``amount`` KRW, truncated to whole KRW."""
        return _floor_krw(Decimal(amount) * self.commission_rate)

    def tax_rate(self, trade_date: date, market: Market = "KOSPI") -> Decimal:
        """The sell-side transaction tax rate for a trade on ``trade_date``."""
        years = sorted(self.tax_rates)
        year = min(max(trade_date.year, years[0]), years[-1])
        return self.tax_rates[year][market]

    def tax(self, amount: int, trade_date: date, market: Market = "KOSPI") -> int:
        """Transaction tax on a sell of ``amount`` KRW, truncated to whole KRW."""
        return _floor_krw(Decimal(amount) * self.tax_rate(trade_date, market))


DEFAULT_FEES = FeeSchedule()


def _floor_krw(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def _check_trade(price: int, quantity: int) -> None:
    if price <= 0:
        raise ValueError(f"price must be positive, got {price}")
    if quantity < 0:
        raise ValueError(f"quantity must not be negative, got {quantity}")


def buy_cost(price: int, quantity: int, fees: FeeSchedule = DEFAULT_FEES) -> int:
    """Cash a buy of ``quantity`` shares at ``price`` KRW takes: amount plus commission.

    The commission is truncated to whole KRW; there is no tax on buys.
    """
    _check_trade(price, quantity)
    amount = price * quantity
    return amount + fees.commission(amount)


def sell_proceeds(
    price: int,
    quantity: int,
    trade_date: date,
    fees: FeeSchedule = DEFAULT_FEES,
    market: Market = "KOSPI",
) -> int:
    """Cash a sell brings in: amount less commission and transaction tax.

    Commission and tax are each truncated to whole KRW, so neither is ever overstated
    by a fraction of a won.
    """
    _check_trade(price, quantity)
    amount = price * quantity
    return amount - fees.commission(amount) - fees.tax(amount, trade_date, market)


def max_quantity(amount_krw: int, price: int, fees: FeeSchedule = DEFAULT_FEES) -> int:
    """The most shares ``amount_krw`` buys at ``price`` KRW, commission included."""
    if amount_krw < 0:
        raise ValueError(f"amount must not be negative, got {amount_krw}")
    _check_trade(price, 0)
    quantity = int(Decimal(amount_krw) / (Decimal(price) * (1 + fees.commission_rate)))
    # The estimate can be one off either way because the commission is truncated.
    while quantity > 0 and buy_cost(price, quantity, fees) > amount_krw:
        quantity -= 1
    while buy_cost(price, quantity + 1, fees) <= amount_krw:
        quantity += 1
    return quantity

"""KRX market rules as pure functions: tick sizes, daily price bands, fees and taxes.

Nothing here does I/O. All prices and amounts are whole KRW (``int``); rates are
``Decimal``. The rules follow the KRX tick table effective 2023-01-25 (one table for
KOSPI, KOSDAQ and KONEX stocks; ETFs and ETNs kept their own, finer table) and the
±30% daily limit in force since 2015-06-15.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_FLOOR, Decimal
from fractions import Fraction
from typing import Literal

from ._clock import KST

__all__ = [
    "DAILY_LIMIT_RATE",
    "DEFAULT_FEES",
    "ETF_TICK_TABLE",
    "KIS_ONLINE_COMMISSION_RATE",
    "TICK_TABLE",
    "FeeSchedule",
    "InstrumentKind",
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
#: What trades: a stock (the stock tick table) or an exchange-traded fund or note.
InstrumentKind = Literal["stock", "etf"]
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

#: ETFs and ETNs: 5 KRW from 2,000 KRW up, 1 KRW below. The 2023 reform left them
#: at 5 KRW while stocks moved to the table above.
ETF_TICK_TABLE: tuple[tuple[int, int], ...] = (
    (2_000, 5),
    (0, 1),
)

_TABLES: dict[str, tuple[tuple[int, int], ...]] = {"stock": TICK_TABLE, "etf": ETF_TICK_TABLE}

#: The daily price limit: ±30% of the base price (normally the previous close).
DAILY_LIMIT_RATE = Fraction(3, 10)

#: KIS online (BanKIS / non-face-to-face) commission for KOSPI/KOSDAQ/KONEX stocks,
#: exchange and depository fees included: 0.0140527%.
KIS_ONLINE_COMMISSION_RATE = Decimal("0.000140527")


def tick_size(price: Price, kind: InstrumentKind = "stock") -> int:
    """The tick (KRW) that applies to a stock (or, ``kind="etf"``, an ETF/ETN) at ``price``."""
    if price <= 0:
        raise ValueError(f"price must be positive, got {price}")
    try:
        table = _TABLES[kind]
    except KeyError:
        raise ValueError(f"kind must be 'stock' or 'etf', got {kind!r}") from None
    for lower, tick in table:
        if price >= lower:
            return tick
    raise AssertionError("unreachable: the last band starts at 0")


def is_on_tick(price: Price, kind: InstrumentKind = "stock") -> bool:
    """Whether ``price`` is a valid KRX order price: a positive whole multiple of its tick."""
    if price <= 0 or price != int(price):
        return False
    return int(price) % tick_size(price, kind) == 0


def round_to_tick(
    price: Price, direction: RoundDirection = "nearest", kind: InstrumentKind = "stock"
) -> int:
    """Round ``price`` onto the tick grid: ``"down"``, ``"up"`` or ``"nearest"`` (ties up).

    Every band boundary is a multiple of the next band's tick, so rounding with the
    tick of the unrounded price always lands on a valid price.
    """
    if price <= 0:
        raise ValueError(f"price must be positive, got {price}")
    exact = Fraction(price)
    tick = tick_size(exact, kind)
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


def price_band(base_price: int, kind: InstrumentKind = "stock") -> tuple[int, int]:
    """The daily ``(lower_limit, upper_limit)`` in KRW for a stock whose base price is given.

    ±30% of the base price, each limit rounded inward onto the tick grid (the upper
    limit down, the lower limit up), so neither lies beyond 30%.
    """
    if base_price <= 0:
        raise ValueError(f"base price must be positive, got {base_price}")
    upper = round_to_tick(base_price * (1 + DAILY_LIMIT_RATE), "down", kind)
    lower = round_to_tick(base_price * (1 - DAILY_LIMIT_RATE), "up", kind)
    return lower, upper


def _default_tax_rates() -> Mapping[date | int, Mapping[str, Decimal]]:
    # Securities transaction tax including the rural special tax, charged on sells. The
    # tax falls due at settlement (T+2 business days), so a new year's rate applies
    # from the first trade that settles in that year: 2025's from trades of 2024-12-27
    # and 2026's from 2025-12-29 (both published); 2023's and 2024's boundaries are
    # derived the same way from KRX's year-end closings.
    main = {
        date(2022, 12, 28): "0.0020",
        date(2023, 12, 27): "0.0018",
        date(2024, 12, 27): "0.0015",
        date(2025, 12, 29): "0.0020",
    }
    return {
        start: {"KOSPI": Decimal(rate), "KOSDAQ": Decimal(rate), "KONEX": Decimal("0.0010")}
        for start, rate in main.items()
    }


@dataclass(frozen=True)
class FeeSchedule:
    """Commission and securities transaction tax.

    ``commission_rate`` applies to both sides; ``tax_rates[effective_from][market]``
    applies to sells traded on or after ``effective_from`` (a trade date) until the next
    listed date. A key may also be a year (``2027``), meaning trades from January 1 of
    that year. Trades before the first listed date use the first rates.
    """

    commission_rate: Decimal = KIS_ONLINE_COMMISSION_RATE
    tax_rates: Mapping[date | int, Mapping[str, Decimal]] = field(
        default_factory=_default_tax_rates
    )

    def commission(self, amount: int) -> int:
        """Commission on a trade of ``amount`` KRW, truncated to whole KRW."""
        return _floor_krw(Decimal(amount) * self.commission_rate)

    def tax_rate(self, trade_date: date, market: Market = "KOSPI") -> Decimal:
        """The sell-side transaction tax rate for a trade on ``trade_date``."""
        if isinstance(trade_date, datetime):
            # An aware time is a moment: its trade date is Korea's (an 08:30 KST trade
            # is still the day before in UTC). A naive one is taken as Korea time.
            aware = trade_date.tzinfo is not None
            trade_date = (trade_date.astimezone(KST) if aware else trade_date).date()
        starts = sorted(
            ((key if isinstance(key, date) else date(key, 1, 1)), key) for key in self.tax_rates
        )
        if not starts:
            raise ValueError("the fee schedule lists no tax rates")
        chosen = starts[0][1]
        for start, key in starts:
            if start <= trade_date:
                chosen = key
        return self.tax_rates[chosen][market]

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

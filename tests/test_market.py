from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kis_async import market
from kis_async.market import (
    FeeSchedule,
    buy_cost,
    is_on_tick,
    max_quantity,
    price_band,
    round_to_tick,
    sell_proceeds,
    tick_size,
)

prices = st.integers(min_value=1, max_value=5_000_000)


@pytest.mark.parametrize(
    ("price", "tick"),
    [
        (1, 1),
        (1_999, 1),
        (2_000, 5),
        (4_999, 5),
        (5_000, 10),
        (19_999, 10),
        (20_000, 50),
        (49_999, 50),
        (50_000, 100),
        (199_999, 100),
        (200_000, 500),
        (499_999, 500),
        (500_000, 1_000),
        (3_000_000, 1_000),
    ],
)
def test_tick_size_follows_the_2023_krx_table(price: int, tick: int) -> None:
    assert tick_size(price) == tick


def test_tick_size_refuses_non_positive_prices() -> None:
    with pytest.raises(ValueError, match="positive"):
        tick_size(0)


@pytest.mark.parametrize(
    ("price", "down", "up", "nearest"),
    [
        (71_050, 71_000, 71_100, 71_100),
        (71_049, 71_000, 71_100, 71_000),
        (2_003, 2_000, 2_005, 2_005),
        (4_998, 4_995, 5_000, 5_000),
        (49_990, 49_950, 50_000, 50_000),
        (199_950, 199_900, 200_000, 200_000),
        (500_000, 500_000, 500_000, 500_000),
    ],
)
def test_round_to_tick(price: int, down: int, up: int, nearest: int) -> None:
    assert round_to_tick(price, "down") == down
    assert round_to_tick(price, "up") == up
    assert round_to_tick(price, "nearest") == nearest


def test_round_to_tick_rejects_unknown_direction() -> None:
    with pytest.raises(ValueError, match="direction"):
        round_to_tick(1000, "sideways")  # type: ignore[arg-type]


def test_is_on_tick() -> None:
    assert is_on_tick(71_000)
    assert not is_on_tick(71_050)
    assert not is_on_tick(0)
    assert not is_on_tick(Decimal("1000.5"))


def test_price_band_matches_the_kis_document_example() -> None:
    # stck_sdpr 128,500 -> stck_mxpr 167,000 and stck_llam 90,000 in KIS's example
    # (167,050 rounded down, 89,950 rounded up).
    assert price_band(128_500) == (90_000, 167_000)


@given(prices, st.sampled_from(["down", "up", "nearest"]))
def test_every_rounded_price_is_on_the_tick(price: int, direction: str) -> None:
    rounded = round_to_tick(price, direction)  # type: ignore[arg-type]
    assert is_on_tick(rounded)
    assert abs(rounded - price) < tick_size(max(rounded, price)) or rounded == price


@given(prices)
def test_band_limits_are_on_the_tick_and_within_thirty_percent(base: int) -> None:
    lower, upper = price_band(base)
    assert is_on_tick(lower)
    assert is_on_tick(upper)
    assert lower <= base <= upper or base < 2  # a 1-won stock has a degenerate band
    assert upper * 10 <= base * 13
    assert lower * 10 >= base * 7


@given(prices, st.integers(min_value=0, max_value=100_000))
def test_fees_are_never_negative_and_round_trip_loses_money(price: int, qty: int) -> None:
    cost = buy_cost(price, qty)
    proceeds = sell_proceeds(price, qty, date(2026, 11, 20))
    assert cost >= price * qty
    assert 0 <= proceeds <= price * qty
    assert proceeds <= cost


@given(st.integers(min_value=0, max_value=10**10), prices)
def test_max_quantity_never_overspends_and_is_the_most(amount: int, price: int) -> None:
    quantity = max_quantity(amount, price)
    assert buy_cost(price, quantity) <= amount
    assert buy_cost(price, quantity + 1) > amount


def test_commission_is_the_kis_online_rate_truncated_to_whole_won() -> None:
    # 10,000,000 KRW x 0.0140527% = 1,405.27 -> 1,405
    assert buy_cost(100_000, 100) == 10_000_000 + 1_405


@pytest.mark.parametrize(
    ("trade_date", "tax"),
    [(date(2024, 6, 3), 18_000), (date(2025, 6, 2), 15_000), (date(2026, 11, 20), 20_000)],
)
def test_sell_tax_follows_the_year(trade_date: date, tax: int) -> None:
    gross = 10_000_000
    assert sell_proceeds(100_000, 100, trade_date) == gross - 1_405 - tax


def test_fee_schedule_is_configurable_and_clamps_years() -> None:
    free = FeeSchedule(commission_rate=Decimal(0))
    assert buy_cost(10_000, 10, free) == 100_000
    assert free.tax_rate(date(2031, 1, 2)) == Decimal("0.0020")  # last known year
    assert free.tax_rate(date(2019, 1, 2)) == Decimal("0.0020")  # first known year
    assert free.tax(1_000_000, date(2026, 3, 3), "KONEX") == 1_000


def test_money_is_integral() -> None:
    assert isinstance(buy_cost(71_000, 3), int)
    assert isinstance(sell_proceeds(71_000, 3, date(2026, 1, 5)), int)
    assert market.DAILY_LIMIT_RATE.__class__(3, 10) == market.DAILY_LIMIT_RATE

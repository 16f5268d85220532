"""Sizing a buy by amount: never over the amount with fees; one more share would be."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import example, given
from hypothesis import strategies as st

from kis_async.engine import EngineConfig, shares_for
from kis_async.market import TICK_TABLE, FeeSchedule, buy_cost, round_to_tick
from kis_async.mock import MockKIS

from .conftest import EngineFactory, buys

#: Prices at and beside every band boundary of the tick table, on the tick grid.
BOUNDARY_PRICES = sorted(
    {
        price
        for lower, _tick in TICK_TABLE
        for price in (
            round_to_tick(max(lower - 1, 1), "down"),
            max(lower, 1),
            round_to_tick(lower + 1, "up"),
        )
    }
)


def _tick_grid_price(draw_band: int, offset: int) -> int:
    """A valid price inside band ``draw_band`` of the tick table."""
    lower, tick = TICK_TABLE[draw_band]
    upper = TICK_TABLE[draw_band - 1][0] if draw_band else 2_000_000
    steps = max((upper - max(lower, tick)) // tick, 1)
    return max(lower, tick) + (offset % steps) * tick


def _check(amount: int, price: int, fees: FeeSchedule) -> None:
    quantity = shares_for(amount, price, EngineConfig(_env_file=None, fees=fees))
    assert quantity >= 0
    assert buy_cost(price, quantity, fees) <= amount
    assert buy_cost(price, quantity + 1, fees) > amount


def test_boundary_prices_cover_every_band() -> None:
    bands = {next(t for lower, t in TICK_TABLE if p >= lower) for p in BOUNDARY_PRICES}
    assert bands == {tick for _, tick in TICK_TABLE}


@given(
    band=st.integers(0, len(TICK_TABLE) - 1),
    offset=st.integers(0, 10**6),
    amount=st.integers(0, 10**10),
)
def test_sizing_in_every_tick_band(band: int, offset: int, amount: int) -> None:
    _check(amount, _tick_grid_price(band, offset), FeeSchedule())


@given(
    price=st.sampled_from(BOUNDARY_PRICES),
    shares=st.integers(0, 5_000),
    delta=st.integers(-3, 3),
)
@example(price=5_000, shares=200, delta=0)
def test_sizing_at_amounts_around_the_boundaries(price: int, shares: int, delta: int) -> None:
    # Amounts a won or three either side of exactly paying for ``shares`` shares.
    fees = FeeSchedule()
    amount = max(buy_cost(price, shares, fees) + delta, 0)
    _check(amount, price, fees)
    if delta >= 0:
        assert shares_for(amount, price) >= shares
    else:
        assert shares_for(amount, price) < shares or shares == 0


@given(
    rate=st.decimals(min_value=Decimal(0), max_value=Decimal("0.01"), places=7),
    price=st.sampled_from(BOUNDARY_PRICES),
    amount=st.integers(0, 10**9),
)
def test_sizing_with_any_commission_rate(rate: Decimal, price: int, amount: int) -> None:
    _check(amount, price, FeeSchedule(commission_rate=rate))


async def test_the_engine_sizes_its_orders_at_the_limit_price(
    mock: MockKIS, make_engine: EngineFactory
) -> None:
    engine = await make_engine(ticks_through=1)
    requested = []
    for amount in (99_999, 1_000_000, 1_234_567):
        result = await engine.buy("005930", amount)
        assert result.limit_price is not None
        assert result.requested == shares_for(amount, result.limit_price)
        requested.append(result.requested)
    assert [o.quantity for o in buys(mock)] == requested

"""Adversarial checks of the trading engine's rules under concurrency."""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

import anyio

from kis_async.engine import MaxPositionsError, NoPositionError
from kis_async.mock import MockKIS

from .conftest import EngineFactory, buys, sells
from .test_engine import account

A, B = "005930", "000660"


async def test_max_positions_counts_a_buy_in_flight_for_another_ticker(
    mock: MockKIS, make_engine: EngineFactory
) -> None:
    # Two buys of different tickers take different ticker locks: both read the
    # positions before either records a fill, so both used to see room for one more.
    engine = await make_engine(max_positions=1)
    errors: list[BaseException] = []

    async def buy(ticker: str) -> None:
        try:
            await engine.buy(ticker, 1_000_000)
        except MaxPositionsError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as group:
        group.start_soon(buy, A)
        group.start_soon(buy, B)
    assert len(buys(mock)) == 1
    assert len(errors) == 1
    assert len(await engine.ledger.positions()) <= 1


async def test_two_exit_checks_and_a_manual_sell_sell_a_position_once(
    mock: MockKIS, make_engine: EngineFactory
) -> None:
    account(mock).set_holding(A, 10, 10 * mock.current_price(A))
    engine = await make_engine(stop_loss=Decimal("-0.5"))

    async def quietly(call: Any) -> None:
        with contextlib.suppress(NoPositionError):
            await call()

    async with anyio.create_task_group() as group:
        group.start_soon(quietly, engine.check_exits)
        group.start_soon(quietly, engine.check_exits)
        group.start_soon(quietly, lambda: engine.sell(A))
    assert len(sells(mock, A)) == 1
    assert sum(o.quantity for o in sells(mock, A)) == 10
    assert await engine.ledger.positions() == []

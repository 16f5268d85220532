from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from kis_async import AsyncKISClient
from kis_async.engine import EngineConfig, Ledger, TradingEngine
from kis_async.mock import MockKIS
from tests.conftest import on

ORDER_CASH = "/uapi/domestic-stock/v1/trading/order-cash"
RVSECNCL = "/uapi/domestic-stock/v1/trading/order-rvsecncl"
DAILY_CCLD = "/uapi/domestic-stock/v1/trading/inquire-daily-ccld"
PRICE = "/uapi/domestic-stock/v1/quotations/inquire-price"


def engine_config(**overrides: Any) -> EngineConfig:
    """A config for tests: no exit rules unless given, no waiting for fills."""
    values: dict[str, Any] = {
        "stop_loss": None,
        "take_profit": None,
        "fill_timeout": 0,
        "fill_poll_interval": 0.01,
    }
    values.update(overrides)
    return EngineConfig(_env_file=None, **values)


EngineFactory = Callable[..., Awaitable[TradingEngine]]


@pytest.fixture
async def make_engine(mock: MockKIS, tmp_path: Path) -> AsyncIterator[EngineFactory]:
    """Opened engines over ``mock`` (or another mock), closed after the test."""
    opened: list[tuple[TradingEngine, AsyncKISClient]] = []

    async def factory(
        on_mock: MockKIS | None = None,
        *,
        dry_run: bool = False,
        path: Path | None = None,
        client: AsyncKISClient | None = None,
        **config: Any,
    ) -> TradingEngine:
        kis = client if client is not None else on(on_mock or mock, order_settle_seconds=0)
        engine = TradingEngine(
            kis,
            Ledger(path or tmp_path / "ledger.db"),
            config=engine_config(**config),
            dry_run=dry_run,
        )
        opened.append((engine, kis))
        await engine.open()
        return engine

    yield factory
    for engine, kis in opened:
        await engine.aclose()
        await kis.aclose()


def sells(mock: MockKIS, ticker: str | None = None) -> list[Any]:
    """New sell orders the mock accepted."""
    return [
        o
        for o in mock.orders
        if o.side == "sell" and o.kind == "new" and (ticker is None or o.ticker == ticker)
    ]


def buys(mock: MockKIS, ticker: str | None = None) -> list[Any]:
    """New buy orders the mock accepted."""
    return [
        o
        for o in mock.orders
        if o.side == "buy" and o.kind == "new" and (ticker is None or o.ticker == ticker)
    ]

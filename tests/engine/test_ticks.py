"""Exits on trade ticks: run(source="stream") sells on the first tick past a rule."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anyio
import pytest

from kis_async.engine import ExitRules, TradingEngine
from kis_async.mock import DEMO_ACCOUNT_NO, MockKIS

from .conftest import PRICE, EngineFactory, sells

pytest.importorskip("cryptography", reason="the stream extra (in dev) decrypts fill notices")

A = "005930"


def _next_closes(mock: MockKIS, code: str, bars: int) -> list[int]:
    now = mock.clock.now()
    day = mock.market.session(now)
    seen = mock.market.visible(day, now)
    return list(mock.market.session_bars(code, day).close[seen : seen + bars])


def _sent_prices(mock: MockKIS, code: str) -> list[int]:
    """Prices of the trade records the mock sent for ``code``, in order."""
    records = [r.split("^") for r in mock.stream.sent_records("H0STCNT0")]
    return [int(f[2]) for f in records if f[0] == code]


def mock_holds(mock: MockKIS, code: str) -> bool:
    return code in mock.account(DEMO_ACCOUNT_NO).holdings


async def _run_until(engine: TradingEngine, mock: MockKIS, done: Any) -> None:
    """run(source="stream") with a fan-out every 10**4 s; the mock clock moves a minute
    at a time until ``done()``."""

    async def market_moves() -> None:
        while engine._tick_exits is None or not engine._tick_exits.watched:  # noqa: ASYNC110
            await anyio.sleep(0.005)
        for _ in range(120):
            if done():
                break
            mock.clock.advance(60)
            await anyio.sleep(0.03)  # the feed prints the bar, the engine reads it
        await anyio.sleep(0.05)  # the exit records itself
        group.cancel_scope.cancel()

    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            group.start_soon(market_moves)
            group.start_soon(lambda: engine.run(interval=10**4, source="stream"))


async def test_a_stop_loss_fires_once_on_the_first_tick_past_it(
    mock: MockKIS, make_engine: EngineFactory
) -> None:
    engine = await make_engine(fill_timeout=5)
    bought = await engine.buy(A, 1_000_000)
    (held,) = await engine.ledger.positions()
    # A stop halfway between the entry and the lowest close of the next hour.
    low = min(_next_closes(mock, A, 60))
    assert low < held.avg_cost * Decimal("0.995"), "the seeded path falls in the next hour"
    stop = (held.avg_cost + low) / 2
    fraction = stop / held.avg_cost - 1
    rules = ExitRules(stop_loss=fraction)
    engine.config = engine.config.model_copy(update={"stop_loss": rules.stop_loss})
    prices_before = mock.stats.requests[PRICE]
    await _run_until(engine, mock, lambda: bool(sells(mock, A)) and not mock_holds(mock, A))
    (sell,) = sells(mock, A)
    assert sell.quantity == bought.filled
    (event,) = await engine.ledger.events("tick_exit")
    sent = _sent_prices(mock, A)
    first = next(i for i, p in enumerate(sent) if p <= held.avg_cost * (1 + fraction))
    assert event["detail"]["price"] == sent[first]
    assert event["detail"]["tick"] == first + 1
    assert event["detail"]["reason"] == "stop_loss"
    # The one fan-out of the first round only: the stop came from a tick.
    assert mock.stats.requests[PRICE] - prices_before == 1
    assert await engine.ledger.positions() == []


async def test_a_tick_exit_racing_check_exits_sells_once(
    mock: MockKIS, make_engine: EngineFactory
) -> None:
    engine = await make_engine(fill_timeout=5)
    await engine.buy(A, 1_000_000)
    (held,) = await engine.ledger.positions()
    closes = _next_closes(mock, A, 60)
    # A stop the 30th bar's close is below: the tick and the REST price both cross it.
    bar = next(i for i, c in enumerate(closes) if c < held.avg_cost * Decimal("0.995"))
    engine.config = engine.config.model_copy(
        update={"stop_loss": Decimal(closes[bar] + 1) / held.avg_cost - 1}
    )
    decided: list[Any] = []
    ticks: list[Any] = []
    lock = engine._locks.setdefault(A, anyio.Lock())

    async def check() -> None:
        decided.extend(await engine.check_exits())

    async def race() -> None:
        while engine._tick_exits is None or not engine._tick_exits.watched:  # noqa: ASYNC110
            await anyio.sleep(0.005)
        watcher = engine._tick_exits
        async with anyio.create_task_group() as inner, engine._ticker_lock(A):
            mock.clock.advance(60 * (bar + 1))  # the stop is crossed; the feed prints
            inner.start_soon(check)
            # Both exits decided and wait for the ticker: the tick's and check_exits'.
            while lock.statistics().tasks_waiting < 2:  # noqa: ASYNC110
                await anyio.sleep(0.005)
        # check_exits is done; the other exit got the lock after it and found nothing.
        while lock.locked() or lock.statistics().tasks_waiting:  # noqa: ASYNC110
            await anyio.sleep(0.005)
        await anyio.sleep(0.05)
        ticks.extend(watcher.decisions)
        group.cancel_scope.cancel()

    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            group.start_soon(race)
            group.start_soon(lambda: engine.run(interval=10**4, source="stream"))
    assert len(sells(mock, A)) == 1
    assert not mock_holds(mock, A)
    # Both exits fired; whichever took the lock second found the position sold.
    (decision,) = decided
    sold = [d for d in [decision, *ticks] if not d.skipped]
    assert len(sold) == 1
    assert sold[0].result is not None
    assert sold[0].result.filled == sells(mock, A)[0].quantity
    assert len(await engine.ledger.events("tick_exit")) == len(ticks)
    assert await engine.ledger.positions() == []


async def test_a_trailing_stop_follows_the_high_of_the_ticks(
    mock: MockKIS, make_engine: EngineFactory
) -> None:
    trail = Decimal("0.004")

    def rises_then_falls(code: str) -> bool:
        closes = _next_closes(mock, code, 60)
        peak = max(range(len(closes)), key=closes.__getitem__)
        high = closes[0]
        for close in closes[:peak]:
            high = max(high, close)
            if close <= high * (1 - trail):
                return False  # it would fire before the peak
        return closes[peak] > closes[0] and min(closes[peak:]) < closes[peak] * (1 - trail)

    code = next(t for t in mock.tickers if rises_then_falls(t))
    engine = await make_engine(fill_timeout=5, trailing_stop=trail)
    await engine.buy(code, 5_000_000)
    (held,) = await engine.ledger.positions()
    start = max(held.high_price, mock.current_price(code))  # the first round's fan-out
    await _run_until(engine, mock, lambda: bool(sells(mock, code)) and not mock_holds(mock, code))
    assert len(sells(mock, code)) == 1
    (event,) = await engine.ledger.events("tick_exit")
    high, expected = start, None
    for number, price in enumerate(_sent_prices(mock, code), start=1):
        high = max(high, price)
        if price <= Decimal(high) * (1 - trail):
            expected = (number, price, high)
            break
    assert expected is not None
    number, price, high = expected
    assert high > start  # the mark rose on ticks alone (no fan-out ran meanwhile)
    assert event["detail"]["reason"] == "trailing_stop"
    assert (event["detail"]["tick"], event["detail"]["price"]) == (number, price)
    assert Decimal(event["detail"]["threshold"]) == Decimal(high) * (1 - trail)
    # The high the ticks made was written to the ledger (as check_exits writes it).
    closed = await engine.ledger.position(code)
    assert closed is None or closed.high_price >= high

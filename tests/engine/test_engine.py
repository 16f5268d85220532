"""TradingEngine over the mock: buys, sells, rules, dry runs, exits, reconcile."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from kis_async import ConfigError, OrderStateUnknownError, Side
from kis_async.engine import (
    AmountTooSmallError,
    BlacklistedError,
    EngineConfig,
    EngineRuleError,
    ExitRules,
    Ledger,
    MaxPositionsError,
    NoPositionError,
    OrderHistoryFills,
    PositionLimitError,
    SectorExposureError,
    TradingEngine,
)
from kis_async.market import buy_cost, is_on_tick, tick_size
from kis_async.mock import DEMO_ACCOUNT_NO, MockClock, MockKIS
from kis_async.mock._transport import MockTransport
from tests.conftest import MIDDAY, on

from .conftest import DAILY_CCLD, ORDER_CASH, PRICE, EngineFactory, buys, engine_config, sells

A, B, C = "005930", "000660", "373220"


def account(mock: MockKIS) -> Any:
    return mock.account(DEMO_ACCOUNT_NO)


async def assert_agrees_with_mock(engine: TradingEngine, mock: MockKIS) -> None:
    held = {p.ticker: p.quantity for p in await engine.ledger.positions()}
    broker = {code: p.quantity for code, p in account(mock).holdings.items()}
    assert held == broker
    assert await engine.ledger.cash() == account(mock).cash


# -- buying and selling --------------------------------------------------------------


async def test_buy_by_amount_records_what_the_broker_filled(
    mock: MockKIS, make_engine: EngineFactory
) -> None:
    engine = await make_engine()
    result = await engine.buy(A, 1_000_000, sector="semis", reason="test")
    (order,) = buys(mock, A)
    book = mock.market.book(A, mock.clock.now())
    assert order.price == book.asks[0] == result.limit_price
    # Sized with fees: within the amount, and one more share would not be.
    assert buy_cost(order.price, order.quantity) <= 1_000_000
    assert buy_cost(order.price, order.quantity + 1) > 1_000_000
    assert result.filled == order.filled
    assert result.amount == order.filled_amount
    assert result.commission == sum(f.commission for f in order.fills)
    assert result.average_price == Decimal(order.filled_amount) / order.filled
    (position,) = await engine.positions()
    assert position.quantity == order.filled
    assert position.cost_basis == order.filled_amount + result.commission
    assert position.sector == "semis"
    assert position.entered_at == MIDDAY
    await assert_agrees_with_mock(engine, mock)


async def test_a_partly_filled_order_keeps_its_fills_and_cancels_the_rest(
    mock: MockKIS, make_engine: EngineFactory
) -> None:
    account(mock).set_cash(10_000_000_000)
    engine = await make_engine()
    book = mock.market.book(B, mock.clock.now())
    # More than the best ask offers: the rest rests, then is cancelled at the timeout.
    amount = buy_cost(book.asks[0], book.ask_qty[0] + 5)
    result = await engine.buy(B, amount)
    (order,) = buys(mock, B)
    assert result.status == "partial"
    assert result.filled == order.filled == book.ask_qty[0]
    assert order.cancelled == order.quantity - order.filled
    assert order.resting == 0
    await assert_agrees_with_mock(engine, mock)


async def test_sell_defaults_to_the_whole_position_and_realises_pnl(
    mock: MockKIS, make_engine: EngineFactory
) -> None:
    engine = await make_engine()
    bought = await engine.buy(A, 2_000_000)
    mock.clock.advance(60)
    sold = await engine.sell(A)
    (order,) = sells(mock, A)
    assert sold.filled == order.filled == bought.filled
    assert sold.tax == sum(f.tax for f in order.fills) > 0
    proceeds = sold.amount - sold.commission - sold.tax
    assert sold.realised_pnl == proceeds - (bought.amount + bought.commission)
    assert await engine.positions() == []
    summary = await engine.portfolio()
    assert summary.realised_pnl == sold.realised_pnl
    assert summary.fees_paid == bought.commission + sold.commission
    assert summary.taxes_paid == sold.tax
    assert summary.sells == 1
    await assert_agrees_with_mock(engine, mock)
    with pytest.raises(NoPositionError):
        await engine.sell(A)


async def test_limit_orders_n_ticks_through_the_touch(
    mock: MockKIS, make_engine: EngineFactory
) -> None:
    engine = await make_engine(ticks_through=2)
    await engine.buy(A, 1_000_000)
    ask = mock.market.book(A, mock.clock.now()).asks[0]
    (order,) = buys(mock, A)
    assert order.price == ask + 2 * tick_size(ask)
    await engine.sell(A)
    bid = mock.market.book(A, mock.clock.now()).bids[0]
    (order,) = sells(mock, A)
    assert order.price == bid - 2 * tick_size(bid - 1)


async def test_market_order_style(mock: MockKIS, make_engine: EngineFactory) -> None:
    engine = await make_engine(order_style="market")
    result = await engine.buy(A, 1_000_000)
    (order,) = buys(mock, A)
    assert order.order_type == "market"
    assert result.limit_price is None
    assert result.filled == order.filled > 0


# -- rules -------------------------------------------------------------------------


async def test_rules_refuse_with_typed_errors_and_send_nothing(
    mock: MockKIS, make_engine: EngineFactory, tmp_path: Path
) -> None:
    blacklist = tmp_path / "blacklist.txt"
    blacklist.write_text("# do not trade\n000660\n", encoding="utf-8")
    engine = await make_engine(
        blacklist=[C],
        blacklist_file=blacklist,
        max_positions=1,
        max_position_krw=3_000_000,
        max_sector_exposure=Decimal("0.02"),
    )
    await engine.buy(A, 1_000_000, sector="semis")
    sent = mock.stats.requests[ORDER_CASH]
    cases: list[tuple[type[EngineRuleError], str, int, str | None]] = [
        (BlacklistedError, C, 1_000_000, None),  # from the config
        (BlacklistedError, B, 1_000_000, None),  # from the file
        (MaxPositionsError, "035420", 1_000_000, None),
        (PositionLimitError, A, 2_500_000, None),
        (SectorExposureError, A, 1_500_000, "semis"),
        (AmountTooSmallError, A, 1_000, None),
    ]
    for error, ticker, amount, sector in cases:
        with pytest.raises(error):
            await engine.buy(ticker, amount, sector=sector)
    assert mock.stats.requests[ORDER_CASH] == sent
    assert len(await engine.ledger.intents()) == 1

    blacklist.write_text("", encoding="utf-8")
    assert await engine.reload_blacklist() == {C}


async def test_engine_config_loads_from_kis_engine_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KIS_ENGINE_STOP_LOSS", "-0.05")
    monkeypatch.setenv("KIS_ENGINE_TRAILING_STOP", "0.04")
    monkeypatch.setenv("KIS_ENGINE_BLACKLIST", '["005930", "000660"]')
    monkeypatch.setenv("KIS_ENGINE_FILL_TIMEOUT", "2.5")
    monkeypatch.setenv("KIS_ENGINE_MAX_POSITIONS", "7")
    monkeypatch.setenv("KIS_ENGINE_OVERRIDES", '{"005930": {"stop_loss": "-0.10"}}')
    config = EngineConfig(_env_file=None)
    assert config.stop_loss == Decimal("-0.05")
    assert config.take_profit == Decimal("0.08")
    assert config.blacklist == {"005930", "000660"}
    assert (config.fill_timeout, config.max_positions) == (2.5, 7)
    rules = config.rules_for("005930", ExitRules(take_profit=Decimal("0.2")))
    assert rules == ExitRules(
        stop_loss=Decimal("-0.10"), take_profit=Decimal("0.2"), trailing_stop=Decimal("0.04")
    )
    with pytest.raises(ValueError, match="stop_loss"):
        EngineConfig(_env_file=None, stop_loss=Decimal("0.03"))


# -- dry run -------------------------------------------------------------------------


async def test_a_dry_run_sends_no_order_and_marks_fills_simulated(
    mock: MockKIS, make_engine: EngineFactory
) -> None:
    engine = await make_engine(dry_run=True)
    book = mock.market.book(A, mock.clock.now())
    bought = await engine.buy(A, 1_000_000)
    sold = await engine.sell(A, 3)
    assert mock.stats.requests[ORDER_CASH] == 0
    assert mock.orders == []
    assert bought.simulated
    assert bought.order_id is None
    assert bought.status == "filled"
    assert bought.average_price == book.asks[0]
    assert sold.average_price == book.bids[0]
    assert sold.tax > 0
    fills = await engine.ledger.fills()
    assert len(fills) == 2
    assert all(f.simulated for f in fills)
    assert {i.state for i in await engine.ledger.intents()} == {"simulated"}
    (position,) = await engine.positions()
    assert position.quantity == bought.filled - 3
    summary = await engine.portfolio()
    assert summary.simulated
    assert summary.cash == account(mock).cash + bought.cash_flow + sold.cash_flow


# -- exits ---------------------------------------------------------------------------


def _path(mock: MockKIS, ticker: str, minutes: int) -> list[int]:
    """The mock's last price of ``ticker`` now and after each of the next minutes."""
    start = mock.clock.now()
    return [mock.market.price(ticker, start + timedelta(minutes=k)) for k in range(minutes + 1)]


def _first_new_extreme(path: list[int], *, low: bool) -> int:
    for k in range(3, len(path)):
        before = path[:k]
        if (path[k] < min(before)) if low else (path[k] > max(before)):
            return k
    raise AssertionError("the path has no new extreme")


async def _steps(engine: TradingEngine, mock: MockKIS, minutes: int) -> dict[int, Any]:
    fired: dict[int, Any] = {}
    for k in range(1, minutes + 1):
        mock.clock.advance(60)
        decisions = await engine.check_exits()
        if decisions:
            fired[k] = decisions
    return fired


@pytest.mark.parametrize("rule", ["stop_loss", "take_profit", "trailing_stop"])
async def test_each_exit_fires_once_at_the_first_crossing_price(
    mock: MockKIS, make_engine: EngineFactory, rule: str
) -> None:
    minutes = 90
    path = _path(mock, A, minutes)
    p0 = path[0]
    if rule == "trailing_stop":
        drawdowns = [1 - Decimal(p) / max(path[: k + 1]) for k, p in enumerate(path)]
        k_star = next(k for k in range(3, len(path)) if drawdowns[k] > max(drawdowns[:k]) > 0)
        fraction = (drawdowns[k_star] + max(drawdowns[:k_star])) / 2
    else:
        k_star = _first_new_extreme(path, low=rule == "stop_loss")
        half_tick = Decimal(tick_size(path[k_star])) / 2
        threshold = path[k_star] + (half_tick if rule == "stop_loss" else -half_tick)
        fraction = threshold / Decimal(p0) - 1
    account(mock).set_holding(A, 10, p0)
    engine = await make_engine(**{rule: fraction})
    (position,) = await engine.ledger.positions()
    assert position.cost_basis == 10 * p0  # imported from the balance on open

    fired = await _steps(engine, mock, minutes)

    assert list(fired) == [k_star]
    (decision,) = fired[k_star]
    assert decision.reason == rule
    assert decision.price == path[k_star]
    assert decision.result is not None
    assert decision.result.filled == 10
    assert len(sells(mock, A)) == 1
    assert await engine.ledger.positions() == []


async def test_per_position_rules_override_the_config(
    mock: MockKIS, make_engine: EngineFactory
) -> None:
    engine = await make_engine(stop_loss=Decimal("-0.5"))
    await engine.buy(A, 1_000_000, rules=ExitRules(stop_loss=Decimal("-0.0001")))
    await engine.buy(B, 1_000_000)
    (pa, pb) = sorted(await engine.positions(), key=lambda p: p.ticker != A)
    assert pa.stop_price == pa.avg_cost * Decimal("0.9999")
    assert pb.stop_price == pb.avg_cost * Decimal("0.5")
    decisions = await engine.check_exits()  # the ask paid sits above the last price
    assert [(d.ticker, d.reason) for d in decisions] == [(A, "stop_loss")]


async def test_fifty_positions_are_priced_in_one_fan_out(
    mock_clock: MockClock, tmp_path: Path
) -> None:
    tickers = list(MockKIS(seed=3, clock=mock_clock).tickers[:50])

    async def check(mock: MockKIS, name: str, latency: float) -> int:
        """Runs check_exits over 50 positions; returns the most price requests in flight."""
        in_flight = peak = 0
        app = mock.app

        async def counting(scope: Any, receive: Any, send: Any) -> None:
            nonlocal in_flight, peak
            is_price = scope.get("path") == PRICE
            in_flight += is_price
            peak = max(peak, in_flight)
            try:
                await app(scope, receive, send)
            finally:
                in_flight -= is_price

        mock.transport = MockTransport(counting, mock.admit)  # type: ignore[arg-type]
        for code in tickers:
            account(mock).set_holding(code, 1, mock.current_price(code))
        kis = on(mock)
        # A stop at -90% never fires here: the check only prices.
        config = engine_config(stop_loss=Decimal("-0.9"))
        async with kis, TradingEngine(kis, Ledger(tmp_path / name), config=config) as engine:
            assert len(await engine.ledger.positions()) == 50
            before = mock.stats.requests[PRICE]
            peak = 0
            mock.latency = latency
            assert await engine.check_exits() == []
            assert mock.stats.requests[PRICE] - before == 50
        return peak

    # Unpaced: all fifty are in flight at once (one gather, not fifty rounds).
    # Latency long enough that every request is still in flight when the last one starts.
    free = MockKIS(seed=3, clock=mock_clock, rate_limit=float("inf"))
    assert await check(free, "free.db", latency=0.3) == 50
    # Against a server enforcing its limit, the client's gate keeps every request in.
    limited = MockKIS(seed=3, clock=mock_clock, rate_limit=100)
    await check(limited, "limited.db", latency=0.02)
    assert limited.stats.rate_limited == 0


async def test_a_monitor_and_a_manual_sell_never_sell_twice(
    mock: MockKIS, make_engine: EngineFactory
) -> None:
    account(mock).set_holding(A, 10, 10 * mock.current_price(A))  # deep under water
    engine = await make_engine(stop_loss=Decimal("-0.5"))
    outcomes: list[Any] = []

    async def capture(call: Any) -> None:
        try:
            outcomes.append(await call())
        except NoPositionError as exc:
            outcomes.append(exc)

    async with anyio.create_task_group() as group:
        group.start_soon(capture, engine.check_exits)
        group.start_soon(capture, lambda: engine.sell(A))
        group.start_soon(capture, lambda: engine.buy(B, 1_000_000))  # another ticker at once
    assert len(sells(mock, A)) == 1
    assert len(buys(mock, B)) == 1
    assert any(
        isinstance(o, NoPositionError) or o == [] or getattr(o[0], "skipped", False)
        for o in outcomes
        if isinstance(o, (list, NoPositionError))
    )
    assert [p.ticker for p in await engine.ledger.positions()] == [B]
    await assert_agrees_with_mock(engine, mock)


# -- portfolio -------------------------------------------------------------------------


async def test_portfolio_values_positions_and_renders(
    mock: MockKIS, make_engine: EngineFactory
) -> None:
    engine = await make_engine()
    await engine.buy(A, 1_000_000, sector="semis")
    await engine.buy(B, 2_000_000, sector="chips")
    mock.clock.advance(300)
    summary = await engine.portfolio()
    prices = {A: mock.current_price(A), B: mock.current_price(B)}
    value = sum(prices[p.ticker] * p.quantity for p in summary.positions)
    assert summary.market_value == value
    assert summary.equity == summary.cash + value
    assert summary.unrealised_pnl == value - summary.invested
    assert sum(summary.sector_exposure.values()) == Decimal(value) / summary.equity
    frame = summary.to_pandas()
    assert list(frame.index) == sorted([A, B])
    assert frame.attrs["equity"] == summary.equity
    from rich.console import Console

    console = Console(record=True, width=140)
    console.print(summary)
    text = console.export_text()
    assert A in text
    assert f"{summary.equity:,}" in text


# -- run -----------------------------------------------------------------------------


async def test_run_calls_the_strategy_with_one_fan_out_a_round_and_stops(
    mock: MockKIS, make_engine: EngineFactory
) -> None:
    engine = await make_engine()
    seen: list[set[str]] = []

    class Buyer:
        tickers = (A, B)

        async def on_prices(self, prices: Any, engine: TradingEngine) -> None:
            seen.append(set(prices))
            if not await engine.ledger.positions():
                await engine.buy(A, 1_000_000)
            mock.clock.advance(60)

    before = mock.stats.requests[PRICE]
    await engine.run(interval=0, strategy=Buyer(), steps=3)
    assert seen == [{A, B}] * 3
    assert mock.stats.requests[PRICE] - before == 6  # two tickers, three rounds
    assert len(buys(mock)) == 1


async def test_cancelling_run_leaves_no_order_half_recorded(
    mock: MockKIS, make_engine: EngineFactory
) -> None:
    account(mock).set_cash(10_000_000_000)
    engine = await make_engine(fill_timeout=30, fill_poll_interval=0.01)
    book = mock.market.book(B, mock.clock.now())
    amount = buy_cost(book.asks[0], book.ask_qty[0] + 5)  # part of it rests

    class BuyOnce:
        async def on_prices(self, prices: Any, engine: TradingEngine) -> None:
            await engine.buy(B, amount)

    async with anyio.create_task_group() as group:
        group.start_soon(lambda: engine.run(interval=0.01, strategy=BuyOnce()))
        # Until the order rests and the engine waits for fills (the mock has no event).
        while not buys(mock, B):  # noqa: ASYNC110
            await anyio.sleep(0.005)
        await anyio.sleep(0.03)
        group.cancel_scope.cancel()
    (order,) = buys(mock, B)
    assert order.resting == 0  # the rest was cancelled on the way out
    intents = await engine.ledger.intents()
    assert [i.state for i in intents] == ["sent"]
    (recorded,) = await engine.ledger.orders()
    assert recorded.state == "done"
    assert recorded.filled_quantity == order.filled
    await assert_agrees_with_mock(engine, mock)


# -- reconcile -------------------------------------------------------------------------


async def test_reconcile_finds_an_order_whose_answer_was_lost(
    mock: MockKIS, make_engine: EngineFactory
) -> None:
    client = on(
        mock,
        order_settle_seconds=0,
        retry_initial_delay=0,
        retry_max_delay=0,
        circuit_failure_threshold=100,
    )
    engine = await make_engine(client=client)
    # The answer is lost and the client's own look at the history fails too.
    mock.faults.schedule("timeout_after", path=ORDER_CASH)
    mock.faults.schedule("error_5xx", 4, path=DAILY_CCLD)
    with pytest.raises(OrderStateUnknownError):
        await engine.buy(A, 1_000_000)
    (intent,) = await engine.ledger.intents()
    assert intent.state == "unknown"
    orders_before = len(mock.orders)

    report = await engine.reconcile()

    (order,) = buys(mock, A)
    assert report.recovered == [order.order_id]
    assert report.fills_applied == 1
    assert len(mock.orders) == orders_before  # nothing was sent
    (intent,) = await engine.ledger.intents()
    assert intent.state == "sent"
    assert intent.order_id == order.order_id
    await assert_agrees_with_mock(engine, mock)
    assert (await engine.reconcile()).in_agreement


async def test_reconcile_marks_an_intent_never_sent_once_its_window_closed(
    mock: MockKIS, make_engine: EngineFactory
) -> None:
    engine = await make_engine()
    now = mock.clock.now()
    intent_id = await engine.ledger.add_intent(
        kind="new",
        ticker=A,
        side=Side.BUY,
        quantity=3,
        price=mock.market.book(A, now).asks[0],
        order_type="limit",
        window_start=now - timedelta(seconds=5),
        created_at=now,
    )
    first = await engine.reconcile()
    assert first.pending == [intent_id]
    assert first.not_sent == []
    mock.clock.advance(120)
    second = await engine.reconcile()
    assert second.not_sent == [intent_id]
    assert mock.orders == []
    assert [i.state for i in await engine.ledger.intents()] == ["not_sent"]


async def test_reconcile_repairs_the_ledger_to_the_broker_and_reports_it(
    mock: MockKIS, make_engine: EngineFactory
) -> None:
    engine = await make_engine()
    await engine.buy(A, 1_000_000)
    # Changes behind the engine's back: a deposit and shares moved in.
    account(mock).set_cash(account(mock).cash + 500_000)
    account(mock).set_holding(C, 4, 300_000)
    report = await engine.reconcile()
    kinds = sorted((d.kind, d.ticker) for d in report.differences)
    assert kinds == [("cash", None), ("position", C)]
    await assert_agrees_with_mock(engine, mock)
    assert (await engine.reconcile()).in_agreement


# -- real money ------------------------------------------------------------------------


async def test_real_money_needs_the_confirmation_and_logs_a_masked_banner(
    mock: MockKIS, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    unconfirmed = on(mock, env="real", production_confirmed=False)
    async with unconfirmed:
        with pytest.raises(ConfigError, match="KIS_PRODUCTION_CONFIRMED"):
            await TradingEngine(unconfirmed, Ledger(tmp_path / "a.db")).open()
    assert not (tmp_path / "a.db").exists()
    caplog.set_level(logging.WARNING, logger="kis_async.engine")
    kis = on(mock, env="real", production_confirmed=True)
    async with kis, TradingEngine(kis, Ledger(tmp_path / "b.db"), config=engine_config()):
        pass
    banners = [r.getMessage() for r in caplog.records if "REAL MONEY" in r.getMessage()]
    assert banners == [
        "REAL MONEY: the trading engine trades account ******00-01 on KIS's real server"
    ]
    assert DEMO_ACCOUNT_NO not in caplog.text
    assert DEMO_ACCOUNT_NO.split("-")[0] not in caplog.text


async def test_the_engine_reads_time_from_the_clients_clock(
    mock: MockKIS, make_engine: EngineFactory
) -> None:
    mock.clock.advance(timedelta(hours=2, minutes=7))
    engine = await make_engine()
    await engine.buy(A, 1_000_000)
    expected = MIDDAY + timedelta(hours=2, minutes=7)
    (fill,) = await engine.ledger.fills()
    assert fill.filled_at == expected
    (intent,) = await engine.ledger.intents()
    assert intent.created_at == expected


async def test_portfolio_pnl_matches_hand_computed_values_mid_sequence(
    mock: MockKIS, tmp_path: Path
) -> None:
    """The scripted fills of the ledger test up to sell C, valued at the mock's price."""
    from .test_ledger import _order, _progress

    ledger = Ledger(tmp_path / "ledger.db")
    await ledger.open()
    await ledger.set_cash(10_000_000, at=MIDDAY, reason="test")
    await _order(ledger, "A", Side.BUY, 100, 50_000)
    await _progress(ledger, "A", 30, 1_500_000)
    await _progress(ledger, "A", 100, 5_000_000, done=True)
    await _order(ledger, "B", Side.BUY, 50, 50_100)
    await _progress(ledger, "B", 20, 1_002_000, done=True)
    await _order(ledger, "C", Side.SELL, 60, 51_000)
    await _progress(ledger, "C", 25, 1_275_000)
    await _progress(ledger, "C", 60, 3_060_000, done=True)
    async with on(mock) as kis:
        engine = TradingEngine(kis, ledger, config=engine_config(stop_loss=Decimal("-0.03")))
        summary = await engine.portfolio()
        await engine.aclose()
    price = mock.current_price(A)
    assert summary.cash == 7_050_610
    assert summary.invested == 3_001_420
    assert summary.realised_pnl == 21_679 + 30_351
    assert summary.fees_paid == 210 + 491 + 140 + 179 + 250
    assert summary.taxes_paid == 2_550 + 3_570
    assert summary.unrealised_pnl == 60 * price - 3_001_420
    assert summary.equity == 7_050_610 + 60 * price
    assert summary.win_rate == 1
    (position,) = summary.positions
    assert position.avg_cost == Decimal(3_001_420) / 60
    assert position.stop_price == Decimal(3_001_420) / 60 * Decimal("0.97")
    assert position.unrealised_pct == Decimal(60 * price - 3_001_420) * 100 / 3_001_420
    assert position.sector == "semis"


async def test_a_reconcile_waits_for_a_trade_in_progress(
    mock: MockKIS, make_engine: EngineFactory
) -> None:
    account(mock).set_cash(10_000_000_000)
    engine = await make_engine(fill_timeout=0.3, fill_poll_interval=0.05)
    book = mock.market.book(B, mock.clock.now())
    amount = buy_cost(book.asks[0], book.ask_qty[0] + 5)  # part rests until the timeout
    reports: list[Any] = []

    async def reconcile_soon() -> None:
        # Until the buy is sent and waits for fills (the mock has no event).
        while not buys(mock, B):  # noqa: ASYNC110
            await anyio.sleep(0.005)
        reports.append(await engine.reconcile())

    async with anyio.create_task_group() as group:
        group.start_soon(engine.buy, B, amount)
        group.start_soon(reconcile_soon)
    (report,) = reports
    # Had it run beside the buy, it would have cancelled the buy's rest and "repaired"
    # a position the buy was about to record.
    assert report.in_agreement
    assert report.cancelled == []
    await assert_agrees_with_mock(engine, mock)


async def test_a_cancel_during_the_send_still_records_the_order(
    mock_clock: MockClock, tmp_path: Path
) -> None:
    slow = MockKIS(seed=3, clock=mock_clock, rate_limit=float("inf"), latency=0.1)
    kis = on(slow)
    engine = TradingEngine(kis, Ledger(tmp_path / "l.db"), config=engine_config())
    async with kis, engine:
        posts_before = slow.stats.requests[ORDER_CASH]
        async with anyio.create_task_group() as group:
            group.start_soon(engine.buy, A, 1_000_000)
            # The POST has reached the mock, which answers after its latency: cancel now.
            while slow.stats.requests[ORDER_CASH] == posts_before:  # noqa: ASYNC110
                await anyio.sleep(0.002)
            group.cancel_scope.cancel()
        assert slow.stats.requests[ORDER_CASH] - posts_before == 1
        (order,) = buys(slow, A)
        (intent,) = await engine.ledger.intents()
        assert intent.state == "sent"
        assert intent.order_id == order.order_id
        (recorded,) = await engine.ledger.orders()
        assert recorded.filled_quantity == order.filled
        await assert_agrees_with_mock(engine, slow)


async def test_the_monitor_and_manual_orders_write_the_ledger_together(
    mock: MockKIS, make_engine: EngineFactory
) -> None:
    # Tight rules, so the monitor sells while manual orders come in.
    engine = await make_engine(
        stop_loss=Decimal("-0.002"), take_profit=Decimal("0.002"), trailing_stop=None
    )
    tickers = list(mock.tickers[:6])

    class Clockwork:
        async def on_prices(self, prices: Any, engine: TradingEngine) -> None:
            mock.clock.advance(60)
            await anyio.lowlevel.checkpoint()

    async def manual() -> None:
        for round_ in range(3):
            for ticker in tickers:
                await engine.buy(ticker, 2_000_000 + 10_000 * round_, reason="manual")
                await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as group:
        group.start_soon(lambda: engine.run(interval=0, strategy=Clockwork(), steps=30))
        group.start_soon(manual)
    exits = [t for t in engine.recent if t.reason in ("stop_loss", "take_profit")]
    assert exits  # the monitor did sell while the manual buys ran
    assert len(buys(mock)) == 18
    await assert_agrees_with_mock(engine, mock)
    fills = await engine.ledger.fills()
    assert sum(f.quantity for f in fills if f.side is Side.BUY) == sum(o.filled for o in buys(mock))
    assert (await engine.reconcile()).in_agreement


async def test_a_pending_intent_holds_back_repairs_it_could_explain(
    mock: MockKIS, make_engine: EngineFactory
) -> None:
    engine = await make_engine()
    now = mock.clock.now()
    ask = mock.market.book(A, now).asks[0]
    await engine.ledger.add_intent(
        kind="new",
        ticker=A,
        side=Side.BUY,
        quantity=3,
        price=ask,
        order_type="limit",
        window_start=now - timedelta(seconds=5),
        created_at=now,
    )
    # The account moves behind the ledger while the intent is unresolved.
    account(mock).set_holding(A, 3, ask)
    report = await engine.reconcile()
    assert sorted(d.action for d in report.differences) == ["not repaired: intent pending"]
    assert await engine.ledger.positions() == []
    mock.clock.advance(120)  # the window closes: no such order, the intent was not sent
    report = await engine.reconcile()
    assert report.not_sent
    await assert_agrees_with_mock(engine, mock)


def test_env_example_lists_every_engine_setting() -> None:
    example = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    for name in EngineConfig.model_fields:
        assert f"KIS_ENGINE_{name.upper()}" in example, name


async def test_run_on_the_stream_learns_of_fills_from_notices(
    mock: MockKIS, make_engine: EngineFactory
) -> None:
    pytest.importorskip("cryptography", reason="the stream extra (in dev) decrypts notices")
    account(mock).set_cash(10_000_000_000)
    # A poll interval no test would wait out: only a fill notice can end the wait.
    engine = await make_engine(fill_timeout=10**6, fill_poll_interval=10**4)
    book = mock.market.book(B, mock.clock.now())
    amount = buy_cost(book.asks[0], book.ask_qty[0] + 5)  # the last 5 shares rest
    results: list[Any] = []

    class BuyOnce:
        async def on_prices(self, prices: Any, engine: TradingEngine) -> None:
            results.append(await engine.buy(B, amount))

    async def market_moves() -> None:
        # Until the buy rests (the mock has no event), then minute after minute.
        while not buys(mock, B):  # noqa: ASYNC110
            await anyio.sleep(0.005)
        while buys(mock, B)[0].resting:
            mock.clock.advance(60)
            await anyio.sleep(0.03)  # the feed prints the bar and sends the notices

    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            group.start_soon(market_moves)
            group.start_soon(
                lambda: engine.run(interval=0, strategy=BuyOnce(), steps=1, source="stream")
            )
    (result,) = results
    (order,) = buys(mock, B)
    assert result.status == "filled"
    assert result.filled == order.filled == order.quantity
    assert result.amount == order.filled_amount
    assert isinstance(engine.fill_source, OrderHistoryFills)  # restored after the run
    # Recorded execution by execution, from the notices: the commission is the broker's
    # to the won (one fill per look would truncate the sum once, not each execution).
    fills = [f for f in await engine.ledger.fills(B) if f.order_id == order.order_id]
    assert [(f.quantity, f.amount) for f in fills] == [(x.quantity, x.amount) for x in order.fills]
    assert sum(f.commission for f in fills) == sum(x.commission for x in order.fills)
    await assert_agrees_with_mock(engine, mock)


async def test_ticks_through_stay_on_an_etfs_grid(
    mock: MockKIS, make_engine: EngineFactory
) -> None:
    etf = "069500"
    book = mock.market.book(etf, mock.clock.now())
    engine = await make_engine(ticks_through=2)
    await engine.buy(etf, 1_000_000)
    (order,) = buys(mock, etf)
    # Two of the book's own steps beyond the touch, a valid ETF price either way.
    assert order.price == book.asks[2]
    assert is_on_tick(order.price, "etf")


async def test_a_book_on_the_etf_grid_steps_etf_ticks(mock: MockKIS, tmp_path: Path) -> None:
    from kis_async import OrderBook, OrderBookLevel

    def levels(start: int, step: int) -> tuple[OrderBookLevel, ...]:
        return tuple(OrderBookLevel(price=start + n * step, volume=100) for n in range(10))

    book = OrderBook(
        stock_code="069500",
        ask_levels=levels(35_005, 5),
        bid_levels=levels(35_000, -5),
        total_ask_volume=1000,
        total_bid_volume=1000,
    )
    async with on(mock) as kis:
        engine = TradingEngine(
            kis, Ledger(tmp_path / "l.db"), config=engine_config(ticks_through=3)
        )
        assert engine._limit_price(35_005, Side.BUY, book) == 35_020
        assert engine._limit_price(35_000, Side.SELL, book) == 34_985


async def test_concurrent_buys_of_two_tickers_respect_max_positions(
    mock: MockKIS, make_engine: EngineFactory
) -> None:
    # Each buy holds only its own ticker's lock: both read "no position yet" and both
    # would open one, unless the rule check and the order it admits are one step.
    engine = await make_engine(max_positions=1, fill_timeout=0.05)
    outcomes: list[BaseException | None] = []

    async def buy(ticker: str) -> None:
        try:
            await engine.buy(ticker, 1_000_000)
            outcomes.append(None)
        except MaxPositionsError as exc:
            outcomes.append(exc)

    async with anyio.create_task_group() as group:
        group.start_soon(buy, A)
        group.start_soon(buy, B)
    assert len(buys(mock)) == 1
    assert sum(isinstance(o, MaxPositionsError) for o in outcomes) == 1
    assert len([p for p in await engine.ledger.positions() if p.quantity > 0]) == 1

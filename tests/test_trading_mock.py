"""Trading against the mock exchange: orders, fills, balance, history, lost answers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest

from kis_async import (
    ConfigError,
    InvalidRequestError,
    OrderRejectedError,
    OrderResult,
    OrderStateUnknownError,
    Side,
    market,
)
from kis_async.mock import DEMO_ACCOUNT_NO, FaultPlan, MockClock, MockKIS

from .conftest import MIDDAY, on

ORDER_PATH = "/uapi/domestic-stock/v1/trading/order-cash"


async def test_buy_at_the_best_ask_fills_and_shows_in_history_and_balance(mock: MockKIS) -> None:
    account = mock.account(DEMO_ACCOUNT_NO)
    cash_before = account.cash
    async with on(mock) as kis:
        book = await kis.get_order_book("005930")
        assert book.best_ask is not None
        order = await kis.buy("005930", 5, book.best_ask)
        history = await kis.get_orders(MIDDAY.date(), MIDDAY.date())
        balance = await kis.get_balance()
    record = next(r for r in history if r.order_id == order.order_id)
    assert record.side is Side.BUY
    assert record.filled_quantity == 5
    assert record.average_fill_price == book.best_ask
    assert record.org_no == order.org_no
    holding = balance.holding("005930")
    assert holding is not None
    assert holding.quantity == 5
    assert holding.avg_price == Decimal(book.best_ask)
    assert account.cash == cash_before - market.buy_cost(book.best_ask, 5)
    assert balance.summary.deposit == account.cash


async def test_resting_limit_order_then_cancel(mock: MockKIS) -> None:
    async with on(mock) as kis:
        quote = await kis.get_current_price("000660")
        low = market.round_to_tick(
            quote.lower_limit + (quote.current_price - quote.lower_limit) // 2, "down"
        )
        order = await kis.buy("000660", 3, low)
        resting = await kis.get_orders(MIDDAY.date(), MIDDAY.date(), filled=False)
        assert [r.order_id for r in resting] == [order.order_id]
        assert resting[0].remaining_quantity == 3
        cancel = await kis.cancel_order(order)
        after = await kis.get_orders(MIDDAY.date(), MIDDAY.date())
    assert cancel.original_order_id == order.order_id
    cancel_row = next(r for r in after if r.order_id == cancel.order_id)
    assert cancel_row.cancelled is True
    original = next(r for r in after if r.order_id == order.order_id)
    assert original.remaining_quantity == 0
    assert original.filled_quantity == 0


async def test_revise_moves_a_resting_order(mock: MockKIS) -> None:
    async with on(mock) as kis:
        quote = await kis.get_current_price("035420")
        price = market.round_to_tick(quote.current_price * 9 // 10, "down")
        order = await kis.buy("035420", 2, price)
        new_price = market.round_to_tick(price - 5 * quote.tick_size, "down")
        revised = await kis.revise_order(order, price=new_price)
        rows = await kis.get_orders(MIDDAY.date(), MIDDAY.date(), ticker="035420")
    row = next(r for r in rows if r.order_id == revised.order_id)
    assert row.original_order_id == order.order_id
    assert row.price == new_price
    assert row.cancelled is False


async def test_market_round_trip_costs_commission_and_tax(mock: MockKIS) -> None:
    account = mock.account(DEMO_ACCOUNT_NO)
    start = account.cash
    async with on(mock) as kis:
        await kis.buy("005930", 10)
        sold = await kis.sell("005930", 10)
        rows = await kis.get_orders(MIDDAY.date(), MIDDAY.date(), ticker="005930")
        balance = await kis.get_balance()
    bought = next(r for r in rows if r.side is Side.BUY)
    sell = next(r for r in rows if r.order_id == sold.order_id)
    assert bought.is_market_order
    assert sell.is_market_order
    assert bought.filled_quantity == sell.filled_quantity == 10
    spent = start - account.cash
    gross = bought.filled_amount - sell.filled_amount  # the spread crossed twice
    fees = market.DEFAULT_FEES
    expected = (
        gross
        + fees.commission(bought.filled_amount)
        + fees.commission(sell.filled_amount)
        + fees.tax(sell.filled_amount, MIDDAY.date())
    )
    # Fees are truncated per fill, so several fills may cost a won or so less each.
    assert expected - 40 <= spent <= expected
    assert spent > gross  # commissions and the sell's tax: a round trip is never free
    holding = balance.holding("005930")
    assert holding is None or holding.quantity == 0


async def test_rejections_come_back_as_order_rejected(mock: MockKIS) -> None:
    mock.account(DEMO_ACCOUNT_NO).set_cash(1_000)
    async with on(mock) as kis:
        with pytest.raises(OrderRejectedError) as caught:
            await kis.buy("005930", 100)
        assert caught.value.msg_cd == "APBK0656"
        with pytest.raises(OrderRejectedError) as caught:
            await kis.sell("005930", 1)
    assert caught.value.msg_cd == "APBK0919"


async def test_buyable_amount_follows_cash(mock: MockKIS) -> None:
    mock.account(DEMO_ACCOUNT_NO).set_cash(10_000_000)
    async with on(mock) as kis:
        buyable = await kis.get_buyable("005930", 70_000)
    assert buyable.orderable_cash == 10_000_000
    assert buyable.cash_buy_quantity == market.max_quantity(10_000_000, 70_000)


@pytest.mark.parametrize(("server", "holdings", "pages"), [("real", 55, 2), ("virtual", 45, 3)])
async def test_balance_pages_come_back_whole_and_in_order(
    mock_clock: MockClock, server: str, holdings: int, pages: int
) -> None:
    mock = MockKIS(seed=3, server=server, clock=mock_clock, rate_limit=float("inf"))  # type: ignore[arg-type]
    account = mock.account(DEMO_ACCOUNT_NO)
    codes = list(mock.tickers[:holdings])
    for n, code in enumerate(codes, start=1):
        account.set_holding(code, n, Decimal(mock.current_price(code)))
    async with on(mock) as kis:
        balance = await kis.get_balance()
    assert mock.stats.requests["/uapi/domestic-stock/v1/trading/inquire-balance"] == pages
    assert [h.stock_code for h in balance.holdings] == codes
    assert [h.quantity for h in balance.holdings] == list(range(1, holdings + 1))


async def test_real_env_without_confirmation_sends_nothing(mock: MockKIS) -> None:
    async with on(mock, env="real", production_confirmed=False) as kis:
        with pytest.raises(ConfigError):
            await kis.buy("005930", 1, 70_000)
        with pytest.raises(ConfigError):
            await kis.sell("005930", 1)
    assert mock.stats.total_requests == 0
    assert mock.orders == []


async def test_bad_orders_never_reach_the_exchange(mock: MockKIS) -> None:
    async with on(mock) as kis:
        quote = await kis.get_current_price("005930")
        calls: list[Callable[[], Awaitable[OrderResult]]] = [
            lambda: kis.buy("005930", 0, quote.current_price),
            lambda: kis.buy("005930", 1, quote.current_price + 1),
            lambda: kis.buy("005930", 1, quote.upper_limit + quote.tick_size * 10),
            lambda: kis.buy("XX", 1),
            lambda: kis.buy("005930", 1, exchange="NYSE"),  # type: ignore[arg-type]
        ]
        for call in calls:
            with pytest.raises(InvalidRequestError):
                await call()
    assert mock.orders == []


async def test_two_hundred_orders_with_a_fifth_of_the_answers_lost(mock_clock: MockClock) -> None:
    faults = FaultPlan(
        seed=5,
        drop_after=0.1,
        timeout_after=0.1,
        only=lambda method, path: method == "POST" and path == ORDER_PATH,
    )
    mock = MockKIS(seed=3, clock=mock_clock, rate_limit=float("inf"), faults=faults)
    mock.account(DEMO_ACCOUNT_NO).set_cash(10_000_000_000)
    async with on(mock, order_settle_seconds=0.0) as kis:
        quote = await kis.get_current_price("005930")
        price = market.round_to_tick(quote.lower_limit + quote.tick_size * 5, "up")  # rests
        outcomes: list[OrderResult | OrderStateUnknownError] = []
        for _ in range(200):
            try:
                outcomes.append(await kis.buy("005930", 1, price))
            except OrderStateUnknownError as exc:
                outcomes.append(exc)
    lost = mock.stats.faults["drop_after"] + mock.stats.faults["timeout_after"]
    assert lost > 20  # about a fifth of 200
    assert len(mock.orders) == 200  # no order was ever sent twice
    assert mock.stats.requests[ORDER_PATH] == 200
    returned = [o for o in outcomes if isinstance(o, OrderResult)]
    ids = [o.order_id for o in returned]
    assert len(ids) == len(set(ids))  # every order handed out once
    assert sum(o.recovered for o in returned) + (200 - len(returned)) == lost
    assert {o.order_id for o in mock.orders} >= set(ids)


async def test_concurrent_orders_with_lost_answers_are_never_duplicated(
    mock_clock: MockClock,
) -> None:
    faults = FaultPlan(seed=9, drop_after=0.2, only=lambda method, path: path == ORDER_PATH)
    mock = MockKIS(seed=3, clock=mock_clock, rate_limit=float("inf"), faults=faults)
    mock.account(DEMO_ACCOUNT_NO).set_cash(10_000_000_000)
    async with on(mock, order_settle_seconds=0.0) as kis:
        quote = await kis.get_current_price("000660")
        prices = [quote.lower_limit + quote.tick_size * n for n in range(1, 41)]  # distinct orders
        results = await asyncio.gather(
            *(kis.buy("000660", 1, p) for p in prices), return_exceptions=True
        )
    assert len(mock.orders) == 40
    found = [r for r in results if isinstance(r, OrderResult)]
    assert len({r.order_id for r in found}) == len(found)
    assert all(isinstance(r, (OrderResult, OrderStateUnknownError)) for r in results)
    assert sorted(r.price for r in found if r.price) == sorted(
        p for p, r in zip(prices, results, strict=True) if isinstance(r, OrderResult)
    )

"""The exchange as properties: money is conserved, fees are never negative, runs repeat exactly.

The property tests drive :class:`kis_async.mock._exchange.Exchange` directly (no HTTP), so
hypothesis can try many order sequences quickly; the wire is covered elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kis_async._clock import KST
from kis_async.market import FeeSchedule, buy_cost
from kis_async.mock import DEMO_ACCOUNT_NO, MockClock, MockKIS
from kis_async.mock._wire import Rejection

from .kit import KIS, MIDDAY, accepted, kis_at

CODES = ("035720", "088350", "003280", "247540")  # 50-, 5-, 1- and 100-won ticks
OPEN = datetime(2026, 5, 12, 9, 1, tzinfo=KST)

Step = tuple[
    str, str, int, int, int
]  # side, code, quantity, ticks from the touch (99: market), minutes

steps = st.lists(
    st.tuples(
        st.sampled_from(["buy", "sell"]),
        st.sampled_from(CODES),
        st.integers(min_value=1, max_value=3_000),
        st.one_of(st.just(99), st.integers(min_value=-4, max_value=4)),
        st.integers(min_value=0, max_value=45),
    ),
    min_size=1,
    max_size=25,
)


def _run(seed: int, plan: list[Step], cash: int = 50_000_000) -> MockKIS:
    """Play ``plan`` on a fresh mock (refusals are part of the play)."""
    mock = MockKIS(seed, clock=MockClock(OPEN, frozen=True))
    account = mock.account(DEMO_ACCOUNT_NO)
    account.set_cash(cash)
    for code in CODES:
        account.set_holding(code, 2_000, mock.current_price(code))
    exchange = mock.exchange
    for side, code, quantity, ticks, minutes in plan:
        now = mock.clock.now()
        book = mock.market.book(code, now)
        if ticks == 99:
            order_type, price = "market", 0
        else:
            touch = book.bids if side == "buy" else book.asks
            level = touch[min(abs(ticks), 9)] or touch[0]
            price = level if ticks <= 0 else book.asks[0] if side == "buy" else book.bids[0]
            order_type = "limit"
        with contextlib.suppress(Rejection):
            exchange.place(account, code, side, order_type, quantity, price, "KRX", now)  # type: ignore[arg-type]
        mock.clock.advance(timedelta(minutes=minutes))
    exchange.catch_up(mock.clock.now())
    return mock


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(min_value=0, max_value=3), plan=steps)
def test_bookkeeping_never_creates_money(seed: int, plan: list[Step]) -> None:
    mock = _run(seed, plan)
    account = mock.account(DEMO_ACCOUNT_NO)
    fees = FeeSchedule()
    fills = account.fills
    by_order = [f for order in account.orders for f in order.fills]
    assert sorted(by_order, key=id) == sorted(fills, key=id)
    spent = received = 0
    for fill in fills:
        listing = mock.market.tickers[fill.ticker].market
        assert fill.quantity > 0
        assert fill.commission == fees.commission(fill.amount) >= 0
        assert fill.tax == (fees.tax(fill.amount, fill.day, listing) if fill.side == "sell" else 0)
        assert fill.tax >= 0
        if fill.side == "buy":
            spent += fill.amount + fill.commission
        else:
            received += fill.amount - fill.commission - fill.tax
    # Every won is accounted for, and trading at the prices paid never adds money.
    assert account.cash == 50_000_000 - spent + received
    assert account.cash >= 0
    bought = sum(f.amount for f in fills if f.side == "buy")
    sold = sum(f.amount for f in fills if f.side == "sell")
    assert account.cash + bought - sold <= 50_000_000
    for code in CODES:
        moved = sum(
            f.quantity if f.side == "buy" else -f.quantity for f in fills if f.ticker == code
        )
        held = account.holdings[code].quantity if code in account.holdings else 0
        assert held == 2_000 + moved >= 0
    for order in account.orders:
        assert 0 <= order.remaining <= order.quantity
        assert order.filled + order.cancelled + order.revised + order.remaining == order.quantity
        if order.order_type == "limit":
            # Never worse than the limit.
            assert all(
                (f.price <= order.price) if f.side == "buy" else (f.price >= order.price)
                for f in order.fills
            )


@settings(max_examples=15, deadline=None)
@given(plan=steps)
def test_the_same_seed_clock_and_orders_give_the_same_fills(plan: list[Step]) -> None:
    def trace(mock: MockKIS) -> list[Any]:
        return [
            (o.order_id, o.kind, o.remaining, [(f.price, f.quantity, f.at) for f in o.fills])
            for o in mock.orders
        ]

    one, two = _run(5, plan), _run(5, plan)
    assert trace(one) == trace(two)
    assert one.account(DEMO_ACCOUNT_NO).cash == two.account(DEMO_ACCOUNT_NO).cash


def test_resting_fills_depend_on_the_seed() -> None:
    plan: list[Step] = [("buy", "035720", 3_000, -1, 0)] * 3 + [("buy", "035720", 1, -1, 300)]
    fills = {
        seed: [(f.price, f.quantity, f.at) for f in _run(seed, plan).account(DEMO_ACCOUNT_NO).fills]
        for seed in (1, 2)
    }
    assert fills[1]
    assert fills[1] != fills[2]


@settings(max_examples=60, deadline=None)
@given(
    price=st.integers(min_value=1, max_value=2_000_000),
    quantity=st.integers(min_value=0, max_value=100_000),
)
def test_a_buy_reserves_exactly_what_the_fill_costs_at_most(price: int, quantity: int) -> None:
    # The reservation of a whole order covers any split of it into fills.
    whole = buy_cost(price, quantity)
    for part in {0, min(1, quantity), quantity // 3, quantity // 2, quantity}:
        assert buy_cost(price, part) + buy_cost(price, quantity - part) <= whole


async def test_same_seed_same_clock_same_requests_same_answers() -> None:
    async def play() -> list[Any]:
        async with kis_at(MIDDAY, seed=11) as kis:
            mock = kis.mock
            mock.account(DEMO_ACCOUNT_NO).set_cash(10**11)
            book = mock.market.book("035720", mock.clock.now())
            outputs = [
                await kis.placed("buy", "035720", 40_000, book.bids[1]),
                await kis.placed("buy", "035720", 500),
                await kis.placed(
                    "buy", "005930", 7, mock.market.book("005930", mock.clock.now()).asks[1]
                ),
            ]
            mock.clock.advance(timedelta(minutes=90))
            history = await kis.history()
            return [outputs, history, mock.account(DEMO_ACCOUNT_NO).cash]

    first, second = await play(), await play()
    assert first == second
    assert int(first[1][-1]["tot_ccld_qty"]) > 0  # the resting buy filled over the bars


async def test_concurrent_orders_never_overspend(kis: KIS, mock: MockKIS) -> None:
    await kis.token()
    price = mock.market.book("035720", mock.clock.now()).bids[2]
    mock.account(DEMO_ACCOUNT_NO).set_cash(buy_cost(price, 10) * 7 + 5)
    responses = await asyncio.gather(*(kis.order("buy", "035720", 10, price) for _ in range(20)))
    codes = sorted(r.json()["msg_cd"] for r in responses)
    assert codes == ["APBK0013"] * 7 + ["APBK0656"] * 13
    numbers = [r.json()["output"]["ODNO"] for r in responses if r.json()["rt_cd"] == "0"]
    assert len(set(numbers)) == 7
    account = mock.account(DEMO_ACCOUNT_NO)
    assert account.orderable_cash() == 5


async def test_concurrent_sells_never_oversell(kis: KIS, mock: MockKIS) -> None:
    await kis.token()
    account = mock.account(DEMO_ACCOUNT_NO)
    account.set_holding("035720", 25, 40_000)
    responses = await asyncio.gather(*(kis.order("sell", "035720", 10) for _ in range(5)))
    assert sorted(r.json()["msg_cd"] for r in responses) == ["APBK0013"] * 2 + ["APBK0919"] * 3
    assert account.holdings["035720"].quantity == 5


# -- the client's contract: what kis_async's own client sends and parses -----------------


async def test_the_client_trades_and_reads_its_balance_on_the_mock() -> None:
    from kis_async import AsyncKISClient

    mock = MockKIS(7, clock=MockClock(MIDDAY, frozen=True), rate_limit=float("inf"))
    account = mock.account(DEMO_ACCOUNT_NO)
    for n, code in enumerate(mock.tickers[:55]):
        account.set_holding(code, n + 1, 10_000)
    async with AsyncKISClient.for_mock(mock) as kis:
        balance = await kis.get_balance()
        assert len(balance.holdings) == 55
        assert balance.summary.deposit == account.cash
        order = await kis.buy("035720", 3)
        [record] = await kis.get_orders(date(2026, 5, 12), date(2026, 5, 12))
        assert (record.order_id, record.filled_quantity, record.is_market_order) == (
            order.order_id,
            3,
            True,
        )
        buyable = await kis.get_buyable("005930", 70_000)
        assert buyable.orderable_cash == account.orderable_cash()


@pytest.mark.parametrize("kind", ["drop_after", "timeout_after"])
async def test_the_client_finds_an_order_whose_answer_was_lost(kind: str) -> None:
    from kis_async import AsyncKISClient

    mock = MockKIS(7, clock=MockClock(MIDDAY, frozen=True), rate_limit=float("inf"))
    price = mock.market.book("035720", MIDDAY).bids[2]
    async with AsyncKISClient.for_mock(mock, order_settle_seconds=0) as kis:
        await kis.get_current_price("035720")
        mock.faults.schedule(kind, path="/uapi/domestic-stock/v1/trading/order-cash")  # type: ignore[arg-type]
        order = await kis.buy("035720", 2, price)
        assert order.recovered
        mock.faults.schedule(kind, path="/uapi/domestic-stock/v1/trading/order-rvsecncl")  # type: ignore[arg-type]
        cancel = await kis.cancel_order(order)
        assert cancel.recovered
    assert [o.kind for o in mock.orders] == ["new", "cancel"]
    assert [o.order_id for o in mock.orders] == [order.order_id, cancel.order_id]


async def test_a_served_order_round_trip_over_http() -> None:
    # The same handlers answer over a socket; this guards the body decoding there.
    mock = MockKIS(7, clock=MockClock(MIDDAY, frozen=True), rate_limit=float("inf"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=mock.app), base_url="http://m"
    ) as client:
        kis = KIS(client, mock)
        accepted(await kis.order("buy", "035720", 1))
    assert len(mock.orders) == 1

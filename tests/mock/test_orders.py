"""Orders against the simulated book: every path, with cash, holdings and fees exact.

Expected numbers come from the same sources the exchange uses (the market's book and
minute bars, kis_async.market's fee functions), never from constants copied from a run.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from kis_async._clock import KST
from kis_async.market import FeeSchedule, buy_cost, sell_proceeds
from kis_async.mock import (
    DEFAULT_CASH,
    DEMO_ACCOUNT_NO,
    MockAccount,
    MockKIS,
    MockOrder,
    MockPosition,
)
from kis_async.mock._calendar import MINUTE_STAMPS, visible_bars
from kis_async.mock._market import Book

from .kit import KIS, accepted, refused

KAKAO = "035720"  # KOSPI, 50-won ticks, a thin book: levels of a few thousand shares
ECOPRO_BM = "247540"  # KOSDAQ
HYNIX = "000660"
BIG = 10**12  # cash for orders that sweep whole levels


def _book(mock: MockKIS, code: str = KAKAO) -> Book:
    return mock.market.book(code, mock.clock.now())


def _account(mock: MockKIS) -> MockAccount:
    return mock.account(DEMO_ACCOUNT_NO)


def _order(mock: MockKIS, odno: str) -> MockOrder:
    return next(o for o in mock.orders if o.order_id == odno)


def _avg(*fills: tuple[int, int]) -> Decimal:
    paid = sum(p * q for p, q in fills)
    held = sum(q for _, q in fills)
    return (Decimal(paid) / held).quantize(Decimal("0.0001"), ROUND_HALF_UP)


def _at(mock: MockKIS, index: int) -> datetime:
    stamp = MINUTE_STAMPS[index]
    return datetime.combine(
        mock.market.session(mock.clock.now()),
        datetime.min.time().replace(hour=stamp // 10_000, minute=stamp // 100 % 100),
        KST,
    )


async def test_a_limit_buy_below_the_ask_rests_and_reserves_its_cost(
    kis: KIS, mock: MockKIS
) -> None:
    price = _book(mock).bids[1]
    output = await kis.placed("buy", KAKAO, 10, price)
    assert set(output) == {"KRX_FWDG_ORD_ORGNO", "ODNO", "ORD_TMD"}
    assert output["ORD_TMD"] == "112345"
    assert len(output["ODNO"]) == 10
    assert output["ODNO"].isdigit()
    assert len(output["KRX_FWDG_ORD_ORGNO"]) == 5
    account = _account(mock)
    assert account.cash == DEFAULT_CASH
    assert account.holdings == {}
    [order] = mock.orders
    assert (order.order_id, order.resting, order.filled, order.price) == (
        output["ODNO"],
        10,
        0,
        price,
    )
    assert account.orderable_cash() == DEFAULT_CASH - buy_cost(price, 10)


async def test_order_numbers_increase_and_the_branch_is_fixed_per_account(
    kis: KIS, mock: MockKIS
) -> None:
    price = _book(mock).bids[3]
    outputs = [await kis.placed("buy", KAKAO, 1, price) for _ in range(5)]
    numbers = [int(o["ODNO"]) for o in outputs]
    assert numbers == list(range(numbers[0], numbers[0] + 5))
    assert {o["KRX_FWDG_ORD_ORGNO"] for o in outputs} == {_account(mock).org_no}
    other = mock.add_app("PSOTHERAPP" + "0" * 26, "S" * 180)
    assert other.account_no == "50000001-01"
    assert len(other.org_no) == 5
    assert other.org_no.isdigit()


async def test_a_crossing_limit_buy_fills_at_the_best_asks_and_the_rest_rests(
    kis: KIS, mock: MockKIS
) -> None:
    _account(mock).set_cash(BIG)
    book = _book(mock)
    (a0, a1), (q0, q1) = book.asks[:2], book.ask_qty[:2]
    output = await kis.placed("buy", KAKAO, q0 + q1 + 50, a1)
    order = _order(mock, output["ODNO"])
    assert [(f.price, f.quantity) for f in order.fills] == [(a0, q0), (a1, q1)]
    assert all(f.at == mock.clock.now() for f in order.fills)
    assert order.resting == 50
    account = _account(mock)
    assert account.cash == BIG - buy_cost(a0, q0) - buy_cost(a1, q1)
    assert account.holdings[KAKAO].quantity == q0 + q1
    assert account.holdings[KAKAO].avg_price == _avg((a0, q0), (a1, q1))
    assert account.orderable_cash() == account.cash - buy_cost(a1, 50)


async def test_a_limit_above_the_ask_fills_at_the_ask_not_at_its_limit(
    kis: KIS, mock: MockKIS
) -> None:
    book = _book(mock)
    output = await kis.placed("buy", KAKAO, 5, book.asks[2])
    order = _order(mock, output["ODNO"])
    assert [(f.price, f.quantity) for f in order.fills] == [(book.asks[0], 5)]
    assert _account(mock).cash == DEFAULT_CASH - buy_cost(book.asks[0], 5)
    assert order.resting == 0


async def test_a_market_buy_walks_the_asks_best_first(kis: KIS, mock: MockKIS) -> None:
    _account(mock).set_cash(BIG)
    book = _book(mock)
    q0, q1 = book.ask_qty[:2]
    output = await kis.placed("buy", KAKAO, q0 + q1 + 7)
    order = _order(mock, output["ODNO"])
    expected = [(book.asks[0], q0), (book.asks[1], q1), (book.asks[2], 7)]
    assert [(f.price, f.quantity) for f in order.fills] == expected
    assert (order.order_type, order.price, order.resting, order.closed) == (
        "market",
        0,
        0,
        True,
    )
    assert _account(mock).cash == BIG - sum(buy_cost(p, q) for p, q in expected)
    assert _account(mock).holdings[KAKAO].avg_price == _avg(*expected)


async def test_a_market_buy_beyond_ten_levels_fills_the_rest_at_the_last_level(
    kis: KIS, mock: MockKIS
) -> None:
    _account(mock).set_cash(BIG)
    book = _book(mock)
    output = await kis.placed("buy", KAKAO, book.total_ask + 9)
    fills = [(f.price, f.quantity) for f in _order(mock, output["ODNO"]).fills]
    levels = [(p, q) for p, q in zip(book.asks, book.ask_qty, strict=True) if p]
    assert fills == [*levels, (levels[-1][0], 9)]


async def test_sells_walk_the_bids_and_pay_commission_and_tax_by_trade_date(
    kis: KIS, mock: MockKIS
) -> None:
    account = _account(mock)
    account.set_holding(KAKAO, 50_000, 38_000)
    book = _book(mock)
    (b0, b1), q0 = book.bids[:2], book.bid_qty[0]
    day = mock.market.session(mock.clock.now())
    limit = await kis.placed("sell", KAKAO, q0 + 10, b1)
    assert [(f.price, f.quantity) for f in _order(mock, limit["ODNO"]).fills] == [
        (b0, q0),
        (b1, 10),
    ]
    market = await kis.placed("sell", KAKAO, 3)
    market_fills = _order(mock, market["ODNO"]).fills
    # The simulated book is a view of the market: this account's own fills do not
    # deplete it, so the next sell meets the same best bid.
    assert [(f.price, f.quantity) for f in market_fills] == [(b0, 3)]
    fees = FeeSchedule()
    proceeds = sell_proceeds(b0, q0, day) + sell_proceeds(b1, 10, day) + sell_proceeds(b0, 3, day)
    assert account.cash == DEFAULT_CASH + proceeds
    # The average purchase price does not change on sells.
    assert account.holdings[KAKAO] == MockPosition(50_000 - q0 - 13, Decimal("38000.0000"))
    for fill in [*_order(mock, limit["ODNO"]).fills, *market_fills]:
        assert fill.commission == fees.commission(fill.amount)
        assert fill.tax == fees.tax(fill.amount, day, "KOSPI") > 0
    assert day.year == 2026
    assert fees.tax_rate(day) == Decimal("0.0020")


async def test_a_kosdaq_sell_is_taxed_at_the_kosdaq_rate(kis: KIS, mock: MockKIS) -> None:
    account = _account(mock)
    account.set_holding(ECOPRO_BM, 10, 150_000)
    book = _book(mock, ECOPRO_BM)
    await kis.placed("sell", ECOPRO_BM, 2, book.bids[0])
    day = mock.market.session(mock.clock.now())
    assert account.cash == DEFAULT_CASH + sell_proceeds(book.bids[0], 2, day, market="KOSDAQ")


async def test_a_resting_buy_fills_over_several_minute_bars(kis: KIS, mock: MockKIS) -> None:
    account = _account(mock)
    account.set_cash(BIG)
    now = mock.clock.now()
    session = mock.market.session(now)
    first = visible_bars(session, now)
    bars = mock.market.session_bars(KAKAO, session)
    # The highest resting bid that the next ten bars come back to at least twice.
    price = next(
        bid
        for bid in _book(mock).bids
        if sum(bars.low[i] <= bid for i in range(first, first + 10)) >= 2
    )
    output = await kis.placed("buy", KAKAO, 100_000, price)
    order = _order(mock, output["ODNO"])
    assert order.fills == []
    mock.clock.advance(timedelta(minutes=10))
    reached = [i for i in range(first, first + 10) if bars.low[i] <= price]
    assert len(reached) >= 2
    fills = _order(mock, output["ODNO"]).fills
    assert [f.at for f in fills] == [_at(mock, i) for i in reached]
    for fill, i in zip(fills, reached, strict=True):
        # At its price, or at the bar's open when the bar opened through it.
        assert fill.price == min(bars.open[i], price)
        # A seeded 2%-10% share of the bar's volume.
        assert int(bars.volume[i] * 0.02) <= fill.quantity <= int(bars.volume[i] * 0.10)
    filled = sum(f.quantity for f in fills)
    assert order.filled == filled
    assert order.resting == 100_000 - filled
    assert account.cash == BIG - sum(buy_cost(f.price, f.quantity) for f in fills)
    assert account.holdings[KAKAO].quantity == filled
    assert account.orderable_cash() == account.cash - buy_cost(price, 100_000 - filled)
    [row] = await kis.history()
    assert (row["tot_ccld_qty"], row["rmn_qty"], row["tot_ccld_amt"]) == (
        str(filled),
        str(100_000 - filled),
        str(sum(f.amount for f in fills)),
    )


async def test_a_resting_sell_fills_when_a_bar_reaches_its_price(kis: KIS, mock: MockKIS) -> None:
    account = _account(mock)
    account.set_holding(KAKAO, 5_000, 30_000)
    now = mock.clock.now()
    session = mock.market.session(now)
    first = visible_bars(session, now)
    price = _book(mock).asks[0]
    output = await kis.placed("sell", KAKAO, 5_000, price)
    assert _order(mock, output["ODNO"]).fills == []
    # Resting sells hold their shares back.
    assert account.orderable_quantity(KAKAO) == 0
    mock.clock.advance(timedelta(minutes=30))
    bars = mock.market.session_bars(KAKAO, session)
    reached = [i for i in range(first, first + 30) if bars.high[i] >= price]
    fills = _order(mock, output["ODNO"]).fills
    assert fills, "the scenario needs the price to rise to the ask"
    assert [f.at for f in fills] == [_at(mock, i) for i in reached][: len(fills)]
    assert all(f.price == max(bars.open[i], price) for f, i in zip(fills, reached, strict=False))
    proceeds = sum(sell_proceeds(f.price, f.quantity, session) for f in fills)
    assert account.cash == DEFAULT_CASH + proceeds


async def test_resting_orders_stop_at_the_close_and_release_their_reservation(
    kis: KIS, mock: MockKIS
) -> None:
    _account(mock).set_cash(BIG)
    price = _book(mock).bids[5]
    output = await kis.placed("buy", KAKAO, 1_000_000, price)
    mock.clock.advance(timedelta(hours=5))  # 16:23: the closing auction has printed
    order = _order(mock, output["ODNO"])
    assert order.closed
    account = _account(mock)
    assert account.orderable_cash() == account.cash
    refused(await kis.cancel(output), "APBK1664")
    [row] = await kis.history()
    assert (row["rmn_qty"], row["tot_ccld_qty"]) == ("0", str(order.filled))
    assert await kis.history(CCLD_DVSN="02") == []


async def test_off_hours_orders_meet_the_closing_book_then_wait_for_the_next_open(
    kis: KIS, mock: MockKIS
) -> None:
    account = _account(mock)
    account.set_cash(BIG)
    # SK hynix (seed 7) opens the next day below this evening's best bid.
    mock.clock.advance(timedelta(hours=5))  # 16:23, after the close
    book = _book(mock, HYNIX)
    market = await kis.placed("buy", HYNIX, 3)
    assert [(f.price, f.quantity, f.day) for f in _order(mock, market["ODNO"]).fills] == [
        (book.asks[0], 3, date(2026, 5, 12))
    ]
    price = book.bids[0]
    evening = _order(mock, (await kis.placed("buy", HYNIX, 50_000, price))["ODNO"])
    assert (evening.closed, evening.session, evening.resting) == (False, date(2026, 5, 13), 50_000)
    assert account.orderable_cash() == account.cash - buy_cost(price, 50_000)
    mock.clock.advance(timedelta(hours=16, minutes=7))  # 08:30 the next morning
    assert evening.fills == []
    morning = _order(mock, (await kis.placed("buy", HYNIX, 50_000, price))["ODNO"])
    assert morning.session == date(2026, 5, 13)
    mock.clock.advance(timedelta(hours=1))  # 09:30: 31 bars of the new session
    evening, morning = _order(mock, evening.order_id), _order(mock, morning.order_id)
    bars = mock.market.session_bars(HYNIX, date(2026, 5, 13))
    reached = [i for i in range(31) if bars.low[i] <= price]
    assert reached, "the scenario needs the new session to trade at the old bid"
    fills = evening.fills + morning.fills
    assert {f.at for f in fills} == {_at(mock, i) for i in reached}
    assert all(f.day == date(2026, 5, 13) for f in fills)
    for i in reached:
        # Time priority: the evening order is served first on every bar.
        first = next(f for f in evening.fills if f.at == _at(mock, i))
        assert first.price == min(bars.open[i], price)


async def test_revise_moves_the_resting_quantity_to_a_new_price(kis: KIS, mock: MockKIS) -> None:
    book = _book(mock)
    original = await kis.placed("buy", KAKAO, 10, book.bids[3])
    revised = accepted(await kis.revise(original, book.bids[2]))
    assert int(revised["ODNO"]) > int(original["ODNO"])
    assert revised["KRX_FWDG_ORD_ORGNO"] == original["KRX_FWDG_ORD_ORGNO"]
    old, new = _order(mock, original["ODNO"]), _order(mock, revised["ODNO"])
    assert (old.remaining, old.revised) == (0, 10)
    assert (new.kind, new.original_order_id, new.quantity, new.price, new.resting) == (
        "revise",
        original["ODNO"],
        10,
        book.bids[2],
        10,
    )
    account = _account(mock)
    assert account.orderable_cash() == DEFAULT_CASH - buy_cost(book.bids[2], 10)
    rows = {row["odno"]: row for row in await kis.history()}
    assert rows[original["ODNO"]]["rmn_qty"] == "0"
    assert rows[original["ODNO"]]["cnc_cfrm_qty"] == "10"
    row = rows[revised["ODNO"]]
    assert (row["orgn_odno"], row["cncl_yn"], row["ord_qty"], row["ord_unpr"], row["rmn_qty"]) == (
        original["ODNO"],
        "N",
        "10",
        str(book.bids[2]),
        "10",
    )


async def test_a_revise_that_crosses_fills_at_once(kis: KIS, mock: MockKIS) -> None:
    book = _book(mock)
    original = await kis.placed("buy", KAKAO, 10, book.bids[3])
    revised = accepted(await kis.revise(original, book.asks[0]))
    fills = _order(mock, revised["ODNO"]).fills
    assert [(f.price, f.quantity) for f in fills] == [(book.asks[0], 10)]
    assert _account(mock).cash == DEFAULT_CASH - buy_cost(book.asks[0], 10)
    refused(await kis.cancel(revised), "APBK1664")  # nothing left to change


async def test_a_partial_revise_leaves_the_rest_at_the_old_price(kis: KIS, mock: MockKIS) -> None:
    book = _book(mock)
    original = await kis.placed("buy", KAKAO, 10, book.bids[3])
    revised = accepted(await kis.revise(original, book.bids[4], quantity=4))
    old, new = _order(mock, original["ODNO"]), _order(mock, revised["ODNO"])
    assert (old.resting, new.resting, new.price) == (6, 4, book.bids[4])
    reserved = buy_cost(book.bids[3], 6) + buy_cost(book.bids[4], 4)
    assert _account(mock).orderable_cash() == DEFAULT_CASH - reserved
    # A revise of a revise works the same way.
    again = accepted(await kis.revise(revised, book.bids[1]))
    assert _order(mock, again["ODNO"]).original_order_id == revised["ODNO"]


async def test_cancel_takes_the_rest_off_the_book(kis: KIS, mock: MockKIS) -> None:
    book = _book(mock)
    original = await kis.placed("buy", KAKAO, 10, book.bids[3])
    cancel = accepted(await kis.cancel(original))
    old, order = _order(mock, original["ODNO"]), _order(mock, cancel["ODNO"])
    assert (old.remaining, old.cancelled) == (0, 10)
    assert (order.kind, order.quantity, order.original_order_id, order.closed) == (
        "cancel",
        10,
        original["ODNO"],
        True,
    )
    assert _account(mock).orderable_cash() == DEFAULT_CASH
    rows = {row["odno"]: row for row in await kis.history()}
    row = rows[cancel["ODNO"]]
    assert (row["cncl_yn"], row["orgn_odno"], row["ord_qty"], row["cnc_cfrm_qty"]) == (
        "Y",
        original["ODNO"],
        "10",
        "10",
    )
    assert (rows[original["ODNO"]]["rmn_qty"], rows[original["ODNO"]]["cnc_cfrm_qty"]) == (
        "0",
        "10",
    )
    refused(await kis.cancel(original), "APBK1664")


async def test_a_partial_cancel_leaves_the_rest_resting(kis: KIS, mock: MockKIS) -> None:
    book = _book(mock)
    _account(mock).set_holding(KAKAO, 10, 40_000)
    original = await kis.placed("sell", KAKAO, 10, book.asks[5])
    cancel = accepted(await kis.cancel(original, quantity=4))
    old = _order(mock, original["ODNO"])
    assert (old.resting, old.cancelled) == (6, 4)
    assert _order(mock, cancel["ODNO"]).quantity == 4
    assert _account(mock).orderable_quantity(KAKAO) == 4
    refused(await kis.cancel(original, quantity=7), "MOCK0104")  # only 6 rest
    accepted(await kis.cancel(original, quantity=6))
    assert _account(mock).orderable_quantity(KAKAO) == 10

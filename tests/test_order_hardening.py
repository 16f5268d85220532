"""Orders: accepted answers never resent, ids compared one way, one signature, ETF ticks."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from kis_async import (
    InvalidRequestError,
    OrderResult,
    OrderStateUnknownError,
    market,
)
from kis_async._trading_models import OrderRecord
from kis_async.mock import MockKIS

from .conftest import MIDDAY, on
from .fixtures_kis import PRICE_OUTPUT
from .helpers import REAL, ManualClock, envelope, token_body

ORDER_PATH = "/uapi/domestic-stock/v1/trading/order-cash"
RVSECNCL_PATH = "/uapi/domestic-stock/v1/trading/order-rvsecncl"
HISTORY_PATH = "/uapi/domestic-stock/v1/trading/inquire-daily-ccld"
PRICE_PATH = "/uapi/domestic-stock/v1/quotations/inquire-price"
PSBL_PATH = "/uapi/domestic-stock/v1/trading/inquire-psbl-order"
LOWER_ID = {"odno": "0000000202", "ord_tmd": "103005"}
UPPER_ANSWER = {"KRX_FWDG_ORD_ORGNO": "06010", "ODNO": "0000000101", "ORD_TMD": "103001"}


def _history(*rows: dict[str, str]) -> dict[str, Any]:
    return {"output1": list(rows), "output2": {}, "rt_cd": "0", "msg_cd": "KIOK0460", "msg1": ""}


def _row(**fields: str) -> dict[str, str]:
    row = {
        "ord_dt": "20261120",
        "ord_gno_brno": "06010",
        "odno": "0000000101",
        "orgn_odno": "",
        "sll_buy_dvsn_cd": "02",
        "pdno": "005930",
        "ord_qty": "10",
        "ord_unpr": "75800",
        "ord_tmd": "103001",
        "tot_ccld_qty": "0",
        "avg_prvs": "0",
        "tot_ccld_amt": "0",
        "cncl_yn": "N",
        "excg_id_dvsn_cd": "KRX",
    }
    row.update(fields)
    return row


def _router(clock: ManualClock) -> respx.MockRouter:
    router = respx.mock(base_url=REAL, assert_all_called=False)
    router.post("/oauth2/tokenP").mock(
        return_value=httpx.Response(200, json=token_body(clock.now() + timedelta(days=1)))
    )
    router.get(PRICE_PATH).mock(
        return_value=httpx.Response(200, json=envelope(output=PRICE_OUTPUT))
    )
    return router


# -- an accepted answer proves acceptance ------------------------------------------------


@pytest.mark.parametrize("output", [{}, None, "oops", {"odno": ""}])
async def test_an_accepted_order_with_an_unreadable_output_is_never_resent(
    client_factory: Any, clock: ManualClock, output: Any
) -> None:
    with _router(clock) as router:
        orders = router.post(ORDER_PATH).mock(
            return_value=httpx.Response(200, json=envelope(output=output))
        )
        history = router.get(HISTORY_PATH).mock(return_value=httpx.Response(200, json=_history()))
        async with client_factory(order_settle_seconds=0, resend_unconfirmed_orders=True) as kis:
            with pytest.raises(OrderStateUnknownError, match="accepted") as caught:
                await kis.buy("005930", 10, 75_800)
        assert orders.call_count == 1  # before: sent again, two orders
        assert history.call_count >= 1  # the history was asked for its id
    assert caught.value.details["accepted"] is True


async def test_an_accepted_order_with_an_unreadable_output_is_found_in_the_history(
    client_factory: Any, clock: ManualClock
) -> None:
    with _router(clock) as router:
        orders = router.post(ORDER_PATH).mock(
            return_value=httpx.Response(200, json=envelope(output={}))
        )
        router.get(HISTORY_PATH).mock(return_value=httpx.Response(200, json=_history(_row())))
        async with client_factory(order_settle_seconds=0, resend_unconfirmed_orders=True) as kis:
            found = await kis.buy("005930", 10, 75_800)
        assert orders.call_count == 1
    assert found.recovered is True
    assert found.order_id == "0000000101"


# -- order answers read in either case ---------------------------------------------------


def test_order_result_reads_the_lowercase_column_map() -> None:
    today = date(2026, 11, 20)
    fields: dict[str, Any] = {"ticker": "005930", "side": "buy", "quantity": 1, "price": 70_000}
    upper = OrderResult.from_output(
        {"KRX_FWDG_ORD_ORGNO": "06010", "ODNO": "0000000101", "ORD_TMD": "103001"},
        today=today,
        **fields,
    )
    lower = OrderResult.from_output(
        {"krx_fwdg_ord_orgno": "06010", "odno": "0000000101", "ord_tmd": "103001"},
        today=today,
        **fields,
    )
    assert lower == upper
    assert lower.org_no == "06010"
    assert lower.ordered_at.hour == 10


async def test_a_lowercase_cancel_answer_is_not_a_lost_answer(
    client_factory: Any, clock: ManualClock
) -> None:
    original = OrderRecord.model_validate(_row(odno="101"))
    with _router(clock) as router:
        cancels = router.post(RVSECNCL_PATH).mock(
            return_value=httpx.Response(
                200,
                json=envelope(
                    output={
                        "krx_fwdg_ord_orgno": "06010",
                        "odno": "0000000202",
                        "ord_tmd": "103005",
                    }
                ),
            )
        )
        history = router.get(HISTORY_PATH).mock(return_value=httpx.Response(200, json=_history()))
        async with client_factory(order_settle_seconds=0) as kis:
            result = await kis.cancel_order(original, quantity=3)
        assert cancels.call_count == 1
        assert history.call_count == 0  # no lookup: the answer was read
    assert result.order_id == "0000000202"
    assert result.recovered is False


# -- ids compared one way, quantity matched -----------------------------------------------


async def test_a_lost_cancel_is_found_whatever_the_padding_and_never_resent(
    client_factory: Any, clock: ManualClock
) -> None:
    original = OrderRecord.model_validate(_row(odno="101"))  # the history's padding: none
    cancel_row = _row(
        odno="0000000202", orgn_odno="0000000101", ord_qty="3", cncl_yn="Y", ord_tmd="103000"
    )
    with _router(clock) as router:
        cancels = router.post(RVSECNCL_PATH).mock(side_effect=httpx.ReadTimeout("lost"))
        router.get(HISTORY_PATH).mock(
            return_value=httpx.Response(200, json=_history(cancel_row, _row(odno="101")))
        )
        async with client_factory(
            order_settle_seconds=0, resend_unconfirmed_orders=True, max_retries=0
        ) as kis:
            result = await kis.cancel_order(original, quantity=3)
        assert cancels.call_count == 1  # before: not found, resent: 6 shares cancelled
    assert result.recovered is True
    assert result.order_id == "0000000202"


async def test_a_lost_cancel_does_not_claim_a_cancel_of_another_quantity(
    client_factory: Any, clock: ManualClock
) -> None:
    original = OrderRecord.model_validate(_row(odno="101"))
    other = _row(odno="0000000202", orgn_odno="101", ord_qty="2", cncl_yn="Y", ord_tmd="103000")
    with _router(clock) as router:
        router.post(RVSECNCL_PATH).mock(side_effect=httpx.ReadTimeout("lost"))
        router.get(HISTORY_PATH).mock(return_value=httpx.Response(200, json=_history(other)))
        async with client_factory(order_settle_seconds=0, max_retries=0) as kis:
            with pytest.raises(OrderStateUnknownError, match=r"not found|history"):
                await kis.cancel_order(original, quantity=3)


# -- a blank ord_tmd --------------------------------------------------------------------


async def test_a_blank_order_time_does_not_fail_the_history_or_fake_a_recovery(
    client_factory: Any, clock: ManualClock
) -> None:
    with _router(clock) as router:
        orders = router.post(ORDER_PATH).mock(side_effect=httpx.ReadTimeout("lost"))
        router.get(HISTORY_PATH).mock(
            return_value=httpx.Response(200, json=_history(_row(ord_tmd=""), _row(odno="7")))
        )
        async with client_factory(
            order_settle_seconds=0, resend_unconfirmed_orders=True, max_retries=0
        ) as kis:
            records = await kis.get_orders(MIDDAY.date(), MIDDAY.date())
            with pytest.raises(OrderStateUnknownError, match="more than one"):
                await kis.buy("005930", 10, 75_800)
        assert orders.call_count == 1  # a timeless twin makes it ambiguous: never resent
    assert next(r.ordered_time for r in records) is None
    assert len(records) == 2


# -- the lock key and the matching rule ---------------------------------------------------


async def test_a_lost_krx_order_does_not_recover_an_identical_sor_order(mock: MockKIS) -> None:
    # The SOR order is recorded at once and answered late; the identical KRX order never
    # reaches the exchange. The lost KRX answer must not "recover" the SOR order.
    mock.faults.slow_seconds = 0.3
    mock.faults.schedule("slow", path=ORDER_PATH)
    mock.faults.schedule("timeout", path=ORDER_PATH)
    async with on(mock, order_settle_seconds=0, max_retries=0) as kis:
        quote = await kis.get_current_price("005930")
        price = market.round_to_tick(quote.lower_limit + quote.tick_size * 3, "up")
        sor = asyncio.ensure_future(kis.buy("005930", 1, price, exchange="SOR"))
        await asyncio.sleep(0.05)  # the SOR order is in flight
        krx = await asyncio.gather(kis.buy("005930", 1, price), return_exceptions=True)
        sor_result = await sor
    assert len(mock.orders) == 1
    assert sor_result.order_id == mock.orders[0].order_id
    assert isinstance(krx[0], OrderStateUnknownError)


# -- a caller cancelled mid-POST -----------------------------------------------------------


async def test_an_order_cancelled_mid_post_is_not_recovered_by_a_later_twin(
    mock: MockKIS,
) -> None:
    mock.faults.slow_seconds = 0.5
    async with on(mock, order_settle_seconds=0, max_retries=0) as kis:
        quote = await kis.get_current_price("005930")
        price = market.round_to_tick(quote.lower_limit + quote.tick_size * 3, "up")
        mock.faults.schedule("slow", path=ORDER_PATH)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(kis.buy("005930", 1, price), 0.1)
        assert len(mock.orders) == 1  # the cancelled caller's order is at KIS
        mock.faults.schedule("timeout", path=ORDER_PATH)
        with pytest.raises(OrderStateUnknownError, match="more than one"):
            await kis.buy("005930", 1, price)  # lost, and it must not claim the first
    assert len(mock.orders) == 1


# -- get_buyable sends a real price ------------------------------------------------------


async def test_buyable_without_a_price_sends_the_upper_limit(mock: MockKIS) -> None:
    sent: list[httpx.Request] = []
    transport = mock.transport
    original = transport.handle_async_request

    async def spy(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return await original(request)

    transport.handle_async_request = spy  # type: ignore[method-assign]
    async with on(mock) as kis:
        quote = await kis.get_current_price("005930")
        buyable = await kis.get_buyable("005930")
    (psbl,) = [r for r in sent if r.url.path == PSBL_PATH]
    assert psbl.url.params["ORD_UNPR"] == str(quote.upper_limit)  # before: ""
    assert buyable.price == quote.upper_limit


# -- ETF/ETN ticks -----------------------------------------------------------------------


def _etf_quote(price: int, unit: int) -> dict[str, Any]:
    lower, upper = market.price_band(price, "etf")
    return {
        **PRICE_OUTPUT,
        "stck_shrn_iscd": "069500",
        "stck_prpr": str(price),
        "stck_sdpr": str(price),
        "stck_mxpr": str(upper),
        "stck_llam": str(lower),
        "aspr_unit": str(unit),
    }


@pytest.mark.parametrize(("unit", "accepted"), [(5, True), (50, False)])
async def test_etf_limit_prices_follow_the_etf_tick(
    client_factory: Any, clock: ManualClock, unit: int, accepted: bool
) -> None:
    with respx.mock(base_url=REAL, assert_all_called=False) as router:
        router.post("/oauth2/tokenP").mock(
            return_value=httpx.Response(200, json=token_body(clock.now() + timedelta(days=1)))
        )
        router.get(PRICE_PATH).mock(
            return_value=httpx.Response(200, json=envelope(output=_etf_quote(35_000, unit)))
        )
        orders = router.post(ORDER_PATH).mock(
            return_value=httpx.Response(
                200,
                json=envelope(
                    output={
                        "KRX_FWDG_ORD_ORGNO": "06010",
                        "ODNO": "0000000101",
                        "ORD_TMD": "103001",
                    }
                ),
            )
        )
        async with client_factory() as kis:
            if accepted:  # the quote's 5-won tick at 35,000 says ETF
                result = await kis.buy("069500", 1, 35_005)
                assert result.price == 35_005
            else:  # a 50-won tick at 35,000 says stock
                with pytest.raises(InvalidRequestError, match="50-won tick of a stock"):
                    await kis.buy("069500", 1, 35_005)
        assert orders.call_count == (1 if accepted else 0)


async def test_a_price_off_every_grid_is_refused_before_any_request(
    client_factory: Any, clock: ManualClock
) -> None:
    with respx.mock(base_url=REAL, assert_all_called=False) as router:
        token = router.post("/oauth2/tokenP").mock(
            return_value=httpx.Response(200, json=token_body(clock.now() + timedelta(days=1)))
        )
        async with client_factory() as kis:
            with pytest.raises(InvalidRequestError, match="5-won tick of an ETF"):
                await kis.buy("069500", 1, 35_003)
        assert token.call_count == 0


def test_market_knows_the_etf_tick_table() -> None:
    assert market.tick_size(35_000, "etf") == 5
    assert market.tick_size(1_999, "etf") == 1
    assert market.tick_size(600_000, "etf") == 5
    assert market.is_on_tick(35_005, "etf")
    assert not market.is_on_tick(35_005)
    assert market.round_to_tick(35_003, "up", "etf") == 35_005
    assert market.price_band(35_000, "etf") == (24_500, 45_500)
    assert market.price_band(35_005, "etf") == (24_505, 45_505)
    with pytest.raises(ValueError, match="kind"):
        market.tick_size(1_000, "bond")  # type: ignore[arg-type]


# -- transaction tax by effective date ----------------------------------------------------


@pytest.mark.parametrize(
    ("trade_date", "rate"),
    [
        (date(2024, 12, 26), "0.0018"),
        (date(2024, 12, 27), "0.0015"),  # settles 2025-01-02: 2025's rate
        (date(2025, 12, 26), "0.0015"),
        (date(2025, 12, 29), "0.0020"),  # settles 2026-01-02: 2026's rate
        (date(2025, 12, 30), "0.0020"),
        (date(2031, 5, 1), "0.0020"),
        (date(2019, 5, 1), "0.0020"),
    ],
)
def test_the_tax_rate_changes_on_its_effective_trade_date(trade_date: date, rate: str) -> None:
    assert market.DEFAULT_FEES.tax_rate(trade_date) == Decimal(rate)


def test_a_fee_schedule_may_still_be_keyed_by_year() -> None:
    fees = market.FeeSchedule(
        tax_rates={
            2027: {"KOSPI": Decimal("0.0010"), "KOSDAQ": Decimal("0.0010"), "KONEX": Decimal(0)},
            date(2027, 7, 1): {
                "KOSPI": Decimal("0.0005"),
                "KOSDAQ": Decimal("0.0005"),
                "KONEX": Decimal(0),
            },
        }
    )
    assert fees.tax_rate(date(2027, 6, 30)) == Decimal("0.0010")
    assert fees.tax_rate(date(2027, 7, 1)) == Decimal("0.0005")


async def test_the_mock_quotes_and_trades_an_etf_on_the_etf_tick(mock: MockKIS) -> None:
    async with on(mock) as kis:
        quote = await kis.get_current_price("069500")
        assert quote.tick_size == market.tick_size(quote.current_price, "etf")
        # A price on the 5-won grid that the stock table would refuse, inside the band.
        price = market.round_to_tick(quote.lower_limit + 1, "up", "etf")
        while market.is_on_tick(price):
            price += 5
        assert price <= quote.upper_limit
        order = await kis.buy("069500", 1, price)
        stock_quote = await kis.get_current_price("005930")
        with pytest.raises(InvalidRequestError, match="tick of a stock"):
            await kis.buy("005930", 1, stock_quote.current_price + 5)
    assert order.price == price
    assert mock.orders[0].price == price


def test_the_instrument_kind_comes_from_the_ticker_or_the_quote_tick() -> None:
    from kis_async._models import CurrentPrice
    from kis_async._quotations import instrument_kind

    def quote(price: int, unit: int) -> CurrentPrice:
        return CurrentPrice.model_validate(
            {**PRICE_OUTPUT, "stck_prpr": str(price), "aspr_unit": str(unit)}
        )

    assert instrument_kind("Q500001", quote(3_000, 5)) == "etf"  # ETNs start with Q
    assert instrument_kind("069500", quote(35_000, 5)) == "etf"
    assert instrument_kind("005930", quote(35_000, 50)) == "stock"
    assert instrument_kind("005930", quote(3_000, 5)) is None  # both tables say 5 there
    assert instrument_kind("005930", quote(35_000, 7)) is None

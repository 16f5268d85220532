"""Orders and account queries on the wire (respx): bodies, tr_ids, paging, safety."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
import respx

from kis_async import (
    AsyncKISClient,
    ConfigError,
    InvalidRequestError,
    OrderResult,
    OrderStateUnknownError,
    OrderType,
    Side,
)

from .fixtures_kis import PRICE_OUTPUT
from .helpers import ACCOUNT, REAL, VIRTUAL, ManualClock, envelope, token_body

TRADING = "/uapi/domestic-stock/v1/trading"
PRICE = "/uapi/domestic-stock/v1/quotations/inquire-price"
CANO, PRODUCT = ACCOUNT.split("-")


def _accepted(odno: str = "0001569157", tmd: str = "103000") -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "rt_cd": "0",
            "msg_cd": "APBK0013",
            "msg1": "주문 전송 완료 되었습니다.",
            "output": {"KRX_FWDG_ORD_ORGNO": "06010", "ODNO": odno, "ORD_TMD": tmd},
        },
    )


def _setup(router: respx.MockRouter, clock: ManualClock) -> None:
    router.post("/oauth2/tokenP").mock(
        return_value=httpx.Response(200, json=token_body(clock.now() + timedelta(days=1)))
    )
    router.get(PRICE).mock(return_value=httpx.Response(200, json=envelope(output=PRICE_OUTPUT)))


@pytest.mark.parametrize(
    ("env", "base", "side", "tr_id"),
    [
        ("real", REAL, "buy", "TTTC0012U"),
        ("real", REAL, "sell", "TTTC0011U"),
        ("virtual", VIRTUAL, "buy", "VTTC0012U"),
        ("virtual", VIRTUAL, "sell", "VTTC0011U"),
    ],
)
async def test_limit_order_body_and_tr_id(
    client_factory: Callable[..., AsyncKISClient],
    clock: ManualClock,
    env: str,
    base: str,
    side: str,
    tr_id: str,
) -> None:
    with respx.mock(base_url=base) as router:
        _setup(router, clock)
        orders = router.post(f"{TRADING}/order-cash").mock(return_value=_accepted())
        async with client_factory(env=env) as kis:
            place = kis.buy if side == "buy" else kis.sell
            result = await place("005930", 10, 75_800)
        request = orders.calls.last.request
        body = json.loads(request.content)
    assert request.headers["tr_id"] == tr_id
    expected = {
        "CANO": CANO,
        "ACNT_PRDT_CD": PRODUCT,
        "PDNO": "005930",
        "ORD_DVSN": "00",
        "ORD_QTY": "10",
        "ORD_UNPR": "75800",
        "EXCG_ID_DVSN_CD": "KRX",
        "CNDT_PRIC": "",
    }
    if side == "sell":
        expected["SLL_TYPE"] = "01"
    assert body == expected
    assert all(isinstance(v, str) for v in body.values())
    assert all(k == k.upper() for k in body)
    assert result.order_id == "0001569157"
    assert result.org_no == "06010"
    assert result.ordered_at.isoformat() == "2026-11-20T10:30:00+09:00"
    assert (result.ticker, result.side, result.quantity, result.price) == (
        "005930",
        Side(side),
        10,
        75_800,
    )
    assert result.recovered is False


async def test_market_order_sends_ord_dvsn_01_and_price_0(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    with respx.mock(base_url=REAL, assert_all_called=False) as router:
        _setup(router, clock)
        orders = router.post(f"{TRADING}/order-cash").mock(return_value=_accepted())
        async with client_factory() as kis:
            result = await kis.buy("005930", 3)
        body = json.loads(orders.calls.last.request.content)
        assert not router.routes[1].called  # a market order needs no band check
    assert (body["ORD_DVSN"], body["ORD_UNPR"], body["ORD_QTY"]) == ("01", "0", "3")
    assert result.order_type is OrderType.MARKET
    assert result.price is None


async def test_revise_and_cancel_bodies(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    with respx.mock(base_url=REAL, assert_all_called=False) as router:
        _setup(router, clock)
        router.post(f"{TRADING}/order-cash").mock(return_value=_accepted("0000000100"))
        rvse = router.post(f"{TRADING}/order-rvsecncl").mock(
            side_effect=[_accepted("0000000101"), _accepted("0000000102")]
        )
        async with client_factory() as kis:
            order = await kis.buy("005930", 10, 75_000)
            revised = await kis.revise_order(order, price=75_100)
            cancelled = await kis.cancel_order(revised, quantity=4)
        revise_body, cancel_body = (json.loads(c.request.content) for c in rvse.calls)
        assert {c.request.headers["tr_id"] for c in rvse.calls} == {"TTTC0013U"}
    assert revise_body == {
        "CANO": CANO,
        "ACNT_PRDT_CD": PRODUCT,
        "KRX_FWDG_ORD_ORGNO": "06010",
        "ORGN_ODNO": "0000000100",
        "ORD_DVSN": "00",
        "RVSE_CNCL_DVSN_CD": "01",
        "ORD_QTY": "0",
        "ORD_UNPR": "75100",
        "QTY_ALL_ORD_YN": "Y",
        "CNDT_PRIC": "",
        "EXCG_ID_DVSN_CD": "KRX",
    }
    assert cancel_body["RVSE_CNCL_DVSN_CD"] == "02"
    assert cancel_body["ORGN_ODNO"] == "0000000101"
    assert (cancel_body["ORD_QTY"], cancel_body["QTY_ALL_ORD_YN"]) == ("4", "N")
    assert revised.original_order_id == "0000000100"
    assert cancelled.original_order_id == "0000000101"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda kis: kis.buy("005930", 0, 75_800), "quantity"),
        (lambda kis: kis.buy("005930", -3, 75_800), "quantity"),
        (lambda kis: kis.sell("005930", 2.5, 75_800), "quantity"),
        (lambda kis: kis.buy("005930", 1, 75_850), "tick"),
        (lambda kis: kis.buy("005930", 1, 100_500), "band"),
        (lambda kis: kis.sell("005930", 1, 54_100), "band"),
        (lambda kis: kis.buy("59300", 1, 75_800), "ticker"),
        (lambda kis: kis.buy("005930", 1, 75_800, exchange="NYSE"), "exchange"),
        (lambda kis: kis.buy("005930", 1, exchange="NXT"), "market orders"),
        (lambda kis: kis.buy("005930", 1, 75_800.0), "int"),
    ],
)
async def test_bad_orders_are_refused_and_no_order_is_sent(
    client_factory: Callable[..., AsyncKISClient],
    clock: ManualClock,
    call: Callable[[AsyncKISClient], Any],
    message: str,
) -> None:
    with respx.mock(base_url=REAL, assert_all_called=False) as router:
        _setup(router, clock)
        orders = router.post(f"{TRADING}/order-cash").mock(return_value=_accepted())
        async with client_factory() as kis:
            with pytest.raises(InvalidRequestError, match=message):
                await call(kis)
        assert not orders.called


async def test_virtual_trades_on_krx_only(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    with respx.mock(base_url=VIRTUAL, assert_all_called=False) as router:
        _setup(router, clock)
        orders = router.post(f"{TRADING}/order-cash").mock(return_value=_accepted())
        async with client_factory(env="virtual") as kis:
            with pytest.raises(InvalidRequestError, match="KRX only"):
                await kis.buy("005930", 1, 75_800, exchange="SOR")
        assert not orders.called


async def test_real_money_needs_confirmation_and_nothing_is_sent(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    with respx.mock(base_url=REAL, assert_all_called=False) as router:
        _setup(router, clock)
        async with client_factory(env="real", production_confirmed=False) as kis:
            calls: list[Callable[[], Awaitable[OrderResult]]] = [
                lambda: kis.buy("005930", 1, 75_800),
                lambda: kis.sell("005930", 1),
                lambda: kis.cancel_order(_fake_order()),
                lambda: kis.revise_order(_fake_order(), price=75_900),
            ]
            for call in calls:
                with pytest.raises(ConfigError, match="KIS_PRODUCTION_CONFIRMED"):
                    await call()
        assert router.calls.call_count == 0


def _fake_order() -> OrderResult:
    return OrderResult(
        order_id="0000000001",
        org_no="06010",
        ordered_at="2026-11-20T10:00:00+09:00",
        ticker="005930",
        side=Side.BUY,
        quantity=1,
        price=75_800,
    )


async def test_first_real_order_logs_one_warning(
    client_factory: Callable[..., AsyncKISClient],
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with respx.mock(base_url=REAL, assert_all_called=False) as router:
        _setup(router, clock)
        router.post(f"{TRADING}/order-cash").mock(return_value=_accepted())
        async with client_factory(env="real", production_confirmed=True) as kis:
            with caplog.at_level(logging.WARNING, logger="kis_async"):
                await kis.buy("005930", 1, 75_800)
                await kis.buy("005930", 1, 75_800)
    warnings = [r for r in caplog.records if "REAL MONEY" in r.getMessage()]
    assert len(warnings) == 1


def _holding(n: int) -> dict[str, str]:
    return {
        "pdno": f"{n:06d}",
        "prdt_name": f"종목{n}",
        "hldg_qty": "10",
        "ord_psbl_qty": "10",
        "pchs_avg_pric": "71000.0000",
        "pchs_amt": "710000",
        "prpr": "72000",
        "evlu_amt": "720000",
        "evlu_pfls_amt": "10000",
        "evlu_pfls_rt": "1.41",
        "thdt_buyqty": "0",
        "thdt_sll_qty": "0",
    }


SUMMARY = {
    "dnca_tot_amt": "5000000",
    "nxdy_excc_amt": "5000000",
    "prvs_rcdl_excc_amt": "5000000",
    "tot_evlu_amt": "44600000",
    "nass_amt": "44600000",
    "pchs_amt_smtl_amt": "39050000",
    "evlu_amt_smtl_amt": "39600000",
    "evlu_pfls_smtl_amt": "550000",
}


async def test_balance_reads_every_page_and_echoes_padded_keys(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    holdings = [_holding(n) for n in range(1, 56)]
    fk = f"{CANO}^01^N^N^01^01^N^".ljust(100)
    pages = [holdings[:50], holdings[50:]]

    def answer(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        assert params["INQR_DVSN"] == "01"
        first = request.headers["tr_cont"] == ""
        if not first:
            assert request.headers["tr_cont"] == "N"
            assert params["CTX_AREA_FK100"] == fk  # sent back exactly, spaces included
            assert params["CTX_AREA_NK100"] == "NEXT-KEY".ljust(100)
        rows = pages[0] if first else pages[1]
        return httpx.Response(
            200,
            headers={"tr_cont": "M" if first else "D"},
            json={
                "ctx_area_fk100": fk,
                "ctx_area_nk100": "NEXT-KEY".ljust(100) if first else "".ljust(100),
                "output1": rows,
                "output2": [SUMMARY],
                "rt_cd": "0",
                "msg_cd": "KIOK0510" if not first else "KIOK0500",
                "msg1": "조회가 완료되었습니다",
            },
        )

    with respx.mock(base_url=REAL, assert_all_called=False) as router:
        _setup(router, clock)
        route = router.get(f"{TRADING}/inquire-balance").mock(side_effect=answer)
        async with client_factory() as kis:
            balance = await kis.get_balance()
        assert route.call_count == 2
        assert {c.request.headers["tr_id"] for c in route.calls} == {"TTTC8434R"}
    assert [h.stock_code for h in balance.holdings] == [f"{n:06d}" for n in range(1, 56)]
    assert balance.summary.deposit == 5_000_000
    assert balance.summary.profit_loss_total == 550_000
    assert balance.holding("000007") is not None
    assert str(balance.holdings[0].avg_price) == "71000.0000"


async def test_buyable_amount_query(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    output = {
        "ord_psbl_cash": "741191178",
        "ord_psbl_sbst": "0",
        "ruse_psbl_amt": "0",
        "fund_rpch_chgs": "0",
        "psbl_qty_calc_unpr": "70000",
        "nrcvb_buy_amt": "107177377",
        "nrcvb_buy_qty": "1531",
        "max_buy_amt": "1482382356",
        "max_buy_qty": "21176",
        "cma_evlu_amt": "0",
        "ovrs_re_use_amt_wcrc": "0",
        "ord_psbl_frcr_amt_wcrc": "1468797045293",
    }
    with respx.mock(base_url=VIRTUAL, assert_all_called=False) as router:
        _setup(router, clock)
        route = router.get(f"{TRADING}/inquire-psbl-order").mock(
            return_value=httpx.Response(
                200,
                json={
                    "output": output,
                    "rt_cd": "0",
                    "msg_cd": "KIOK0510",
                    "msg1": "조회가 완료되었습니다  ",
                },
            )
        )
        async with client_factory(env="virtual") as kis:
            buyable = await kis.get_buyable("005930", 70_000)
        request = route.calls.last.request
    assert request.headers["tr_id"] == "VTTC8908R"
    params = dict(request.url.params)
    assert (params["PDNO"], params["ORD_UNPR"], params["ORD_DVSN"]) == ("005930", "70000", "00")
    assert buyable.cash_buy_quantity == 1531
    assert buyable.max_buy_quantity == 21176
    assert buyable.orderable_cash == 741_191_178


def _record(
    odno: str, *, qty: str = "10", price: str = "75800", tmd: str = "103001", **extra: str
) -> dict[str, str]:
    row = {
        "ord_dt": "20261120",
        "ord_gno_brno": "06010",
        "odno": odno,
        "orgn_odno": "",
        "ord_dvsn_name": "지정가",
        "sll_buy_dvsn_cd": "02",
        "sll_buy_dvsn_cd_name": "매수",
        "pdno": "005930",
        "prdt_name": "삼성전자",
        "ord_qty": qty,
        "ord_unpr": price,
        "ord_tmd": tmd,
        "tot_ccld_qty": "0",
        "avg_prvs": "0",
        "cncl_yn": "N",
        "tot_ccld_amt": "0",
        "ord_dvsn_cd": "00",
        "rmn_qty": qty,
        "rjct_qty": "0",
        "cnc_cfrm_qty": "0",
        "excg_id_dvsn_Cd": "KRX",
    }
    row.update(extra)
    return row


def _history(*rows: dict[str, str]) -> httpx.Response:
    return httpx.Response(
        200,
        headers={"tr_cont": "D"},
        json={
            "ctx_area_fk100": "",
            "ctx_area_nk100": "",
            "output1": list(rows),
            "output2": {
                "tot_ord_qty": "0",
                "tot_ccld_qty": "0",
                "tot_ccld_amt": "0",
                "prsm_tlex_smtl": "0",
                "pchs_avg_pric": "0",
            },
            "rt_cd": "0",
            "msg_cd": "KIOK0460",
            "msg1": "조회 되었습니다. (마지막 자료)",
        },
    )


async def test_order_history_params_and_filters(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    with respx.mock(base_url=REAL, assert_all_called=False) as router:
        _setup(router, clock)
        route = router.get(f"{TRADING}/inquire-daily-ccld").mock(
            return_value=_history(_record("0000000001"), _record("0000000002"))
        )
        async with client_factory() as kis:
            records = await kis.get_orders(
                date(2026, 11, 19), date(2026, 11, 20), ticker="005930", side=Side.SELL, filled=True
            )
        params = dict(route.calls.last.request.url.params)
        assert route.calls.last.request.headers["tr_id"] == "TTTC0081R"
    assert [r.order_id for r in records] == ["0000000001", "0000000002"]
    assert params["INQR_STRT_DT"] == "20261119"
    assert params["INQR_END_DT"] == "20261120"
    assert params["SLL_BUY_DVSN_CD"] == "01"
    assert params["CCLD_DVSN"] == "01"
    assert params["PDNO"] == "005930"
    assert {"ORD_GNO_BRNO", "ODNO", "INQR_DVSN", "INQR_DVSN_3", "CTX_AREA_FK100"} <= set(params)


async def test_order_history_refuses_bad_ranges(
    client_factory: Callable[..., AsyncKISClient],
) -> None:
    async with client_factory() as kis:
        with pytest.raises(InvalidRequestError):
            await kis.get_orders(date(2026, 11, 20), date(2026, 11, 19))
        with pytest.raises(InvalidRequestError, match="three months"):
            await kis.get_orders(date(2026, 1, 2), date(2026, 1, 3))


# -- lost answers --------------------------------------------------------------------


async def test_lost_order_is_found_in_the_history_and_not_sent_again(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    with respx.mock(base_url=REAL, assert_all_called=False) as router:
        _setup(router, clock)
        orders = router.post(f"{TRADING}/order-cash").mock(side_effect=httpx.ReadTimeout("lost"))
        history = router.get(f"{TRADING}/inquire-daily-ccld").mock(
            return_value=_history(
                _record("0000000007", qty="5", tmd="102000"),  # earlier, a different order
                _record("0000000008", qty="10", tmd="103000"),
            )
        )
        async with client_factory(order_settle_seconds=0) as kis:
            result = await kis.buy("005930", 10, 75_800)
        assert orders.call_count == 1
        assert history.call_count == 1
    assert result.order_id == "0000000008"
    assert result.recovered is True


async def test_lost_order_not_found_raises_state_unknown(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    with respx.mock(base_url=REAL, assert_all_called=False) as router:
        _setup(router, clock)
        orders = router.post(f"{TRADING}/order-cash").mock(return_value=httpx.Response(503))
        history = router.get(f"{TRADING}/inquire-daily-ccld").mock(return_value=_history())
        async with client_factory(order_settle_seconds=0.01) as kis:
            with pytest.raises(OrderStateUnknownError) as caught:
                await kis.buy("005930", 10, 75_800)
        assert orders.call_count == 1
        assert history.call_count == 3  # polled for the settle time
    details = caught.value.details
    assert (details["ticker"], details["side"], details["quantity"], details["price"]) == (
        "005930",
        "buy",
        10,
        75_800,
    )
    assert "get_orders" in str(caught.value)


async def test_lost_order_is_resent_once_only_when_settings_allow(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    with respx.mock(base_url=REAL, assert_all_called=False) as router:
        _setup(router, clock)
        orders = router.post(f"{TRADING}/order-cash").mock(
            side_effect=[httpx.RemoteProtocolError("dropped"), _accepted("0000000009")]
        )
        router.get(f"{TRADING}/inquire-daily-ccld").mock(return_value=_history())
        async with client_factory(order_settle_seconds=0, resend_unconfirmed_orders=True) as kis:
            result = await kis.buy("005930", 10, 75_800)
        assert orders.call_count == 2
    assert result.order_id == "0000000009"


async def test_an_order_this_client_already_returned_is_never_matched_again(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    with respx.mock(base_url=REAL, assert_all_called=False) as router:
        _setup(router, clock)
        router.post(f"{TRADING}/order-cash").mock(
            side_effect=[_accepted("0000000010", "103000"), httpx.ReadTimeout("lost")]
        )
        router.get(f"{TRADING}/inquire-daily-ccld").mock(
            return_value=_history(_record("0000000010", tmd="103000"))
        )
        async with client_factory(order_settle_seconds=0) as kis:
            first = await kis.buy("005930", 10, 75_800)
            with pytest.raises(OrderStateUnknownError):
                await kis.buy("005930", 10, 75_800)  # same shape; its twin is the first order
    assert first.order_id == "0000000010"

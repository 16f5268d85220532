"""inquire-daily-ccld: every §4.11 field, exact enough to find a lost order, filters, paging."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from kis_async.mock import DEMO_ACCOUNT_NO, MockKIS
from kis_async.mock._paging import CTX_WIDTH

from .kit import CCLD, KIS, MIDDAY, ORDER, RVSECNCL, accepted, kis_at

KAKAO = "035720"
SAMSUNG = "005930"

#: §4.11 output1 (the OTA column map) and output2.
ROW_FIELDS = {
    "ord_dt", "ord_gno_brno", "odno", "orgn_odno", "ord_dvsn_name", "sll_buy_dvsn_cd",
    "sll_buy_dvsn_cd_name", "pdno", "prdt_name", "ord_qty", "ord_unpr", "ord_tmd",
    "tot_ccld_qty", "avg_prvs", "cncl_yn", "tot_ccld_amt", "loan_dt", "ordr_empno",
    "ord_dvsn_cd", "cnc_cfrm_qty", "rmn_qty", "rjct_qty", "ccld_cndt_name", "inqr_ip_addr",
    "cpbc_ordp_ord_rcit_dvsn_cd", "cpbc_ordp_infm_mthd_dvsn_cd", "cpbc_ordp_mtrl_dvsn_cd",
    "infm_tmd", "ctac_tlno", "prdt_type_cd", "excg_dvsn_cd", "ord_orgno", "rsvn_ord_end_dt",
    "excg_id_dvsn_Cd", "stpm_cndt_pric", "stpm_efct_occr_dtmd",
}  # fmt: skip
TOTAL_FIELDS = {"tot_ord_qty", "tot_ccld_qty", "tot_ccld_amt", "prsm_tlex_smtl", "pchs_avg_pric"}


def _bids(mock: MockKIS, code: str = KAKAO) -> tuple[int, ...]:
    return mock.market.book(code, mock.clock.now()).bids


async def test_rows_carry_what_identifies_an_order(kis: KIS, mock: MockKIS) -> None:
    bids = _bids(mock)
    limit = await kis.placed("buy", KAKAO, 7, bids[3])
    mock.clock.advance(2)
    market = await kis.placed("buy", SAMSUNG, 3)
    mock.clock.advance(1)
    revise = accepted(await kis.revise(limit, bids[4], quantity=2))
    mock.clock.advance(1)
    cancel = accepted(await kis.cancel(limit))
    response = await kis.get(CCLD, kis.tr("ccld"), kis.history_params(), tr_cont="")
    assert response.headers["tr_cont"] == "D"
    body = response.json()
    assert (body["rt_cd"], body["msg_cd"]) == ("0", "KIOK0510")
    rows = body["output1"]
    assert [r["odno"] for r in rows] == [
        cancel["ODNO"],
        revise["ODNO"],
        market["ODNO"],
        limit["ODNO"],
    ]
    for row in rows:
        assert set(row) == ROW_FIELDS
        assert all(isinstance(value, str) for value in row.values())
        assert row["ord_dt"] == "20260512"
        assert row["ord_gno_brno"] == row["ord_orgno"] == limit["KRX_FWDG_ORD_ORGNO"]
        assert row["excg_id_dvsn_Cd"] == "KRX"
    by_no = {row["odno"]: row for row in rows}
    row = by_no[limit["ODNO"]]
    assert (row["pdno"], row["sll_buy_dvsn_cd"], row["ord_dvsn_cd"], row["ord_qty"]) == (
        KAKAO,
        "02",
        "00",
        "7",
    )
    assert (row["ord_unpr"], row["ord_tmd"], row["orgn_odno"], row["cncl_yn"]) == (
        str(bids[3]),
        "112345",
        "",
        "N",
    )
    assert (row["rmn_qty"], row["cnc_cfrm_qty"], row["tot_ccld_qty"]) == ("0", "7", "0")
    row = by_no[market["ODNO"]]
    fills = next(o for o in mock.orders if o.order_id == market["ODNO"]).fills
    assert (row["ord_dvsn_cd"], row["ord_unpr"], row["ord_qty"], row["ord_tmd"]) == (
        "01",
        "0",
        "3",
        "112347",
    )
    assert (row["tot_ccld_qty"], row["tot_ccld_amt"], row["rmn_qty"]) == (
        "3",
        str(sum(f.amount for f in fills)),
        "0",
    )
    assert row["avg_prvs"] == str(fills[0].price)
    row = by_no[revise["ODNO"]]
    assert (row["orgn_odno"], row["cncl_yn"], row["ord_qty"], row["ord_unpr"]) == (
        limit["ODNO"],
        "N",
        "2",
        str(bids[4]),
    )
    assert row["ord_tmd"] == "112348"
    row = by_no[cancel["ODNO"]]
    assert (row["orgn_odno"], row["cncl_yn"], row["ord_qty"], row["cnc_cfrm_qty"]) == (
        limit["ODNO"],
        "Y",
        "5",
        "5",
    )
    assert row["ord_tmd"] == "112349"
    totals = body["output2"]
    assert set(totals) == TOTAL_FIELDS
    assert totals["tot_ccld_qty"] == "3"
    assert totals["tot_ord_qty"] == str(7 + 3 + 2 + 5)
    costs = sum(f.commission + f.tax for f in fills)
    assert totals["prsm_tlex_smtl"] == str(costs)


async def test_filters(kis: KIS, mock: MockKIS) -> None:
    account = mock.account(DEMO_ACCOUNT_NO)
    account.set_holding(KAKAO, 100, 40_000)
    bids = _bids(mock)
    resting_buy = await kis.placed("buy", KAKAO, 1, bids[3])
    filled_sell = await kis.placed("sell", KAKAO, 2, bids[0])
    samsung = await kis.placed("buy", SAMSUNG, 1)

    async def numbers(**params: str) -> list[str]:
        return [row["odno"] for row in await kis.history(**params)]

    everything = [samsung["ODNO"], filled_sell["ODNO"], resting_buy["ODNO"]]
    assert await numbers() == everything
    assert await numbers(INQR_DVSN="01") == everything[::-1]
    assert await numbers(SLL_BUY_DVSN_CD="01") == [filled_sell["ODNO"]]
    assert await numbers(SLL_BUY_DVSN_CD="02") == [samsung["ODNO"], resting_buy["ODNO"]]
    assert await numbers(PDNO=KAKAO) == [filled_sell["ODNO"], resting_buy["ODNO"]]
    assert await numbers(CCLD_DVSN="01") == [samsung["ODNO"], filled_sell["ODNO"]]
    assert await numbers(CCLD_DVSN="02") == [resting_buy["ODNO"]]
    assert await numbers(ODNO=resting_buy["ODNO"].lstrip("0")) == [resting_buy["ODNO"]]
    assert await numbers(ORD_GNO_BRNO="00000") == []
    assert await numbers(EXCG_ID_DVSN_CD="NXT") == []
    assert await numbers(EXCG_ID_DVSN_CD="KRX") == everything
    assert await numbers(INQR_STRT_DT="20260511", INQR_END_DT="20260511") == []
    assert await numbers(INQR_STRT_DT="20260501", INQR_END_DT="20260531") == everything
    # An order of tomorrow shows under tomorrow only.
    mock.clock.advance(timedelta(days=1))
    kis.forget_token()  # a day later the token has expired
    tomorrow = await kis.placed("buy", SAMSUNG, 1)
    assert await numbers(INQR_STRT_DT="20260512", INQR_END_DT="20260513") == [
        tomorrow["ODNO"],
        *everything,
    ]
    assert await numbers() == [tomorrow["ODNO"]]


@pytest.mark.parametrize(
    ("server", "count", "sizes"), [("real", 130, [100, 30]), ("virtual", 20, [15, 5])]
)
async def test_history_pages(server: str, count: int, sizes: list[int]) -> None:
    async with kis_at(MIDDAY, server=server) as kis:
        price = _bids(kis.mock)[5]
        numbers = [(await kis.placed("buy", KAKAO, 1, price))["ODNO"] for _ in range(count)]
        pages = await kis.pages(CCLD, kis.tr("ccld"), kis.history_params())
        assert [len(p.json()["output1"]) for p in pages] == sizes
        assert [p.headers["tr_cont"] for p in pages] == ["M"] * (len(sizes) - 1) + ["D"]
        rows = [row["odno"] for p in pages for row in p.json()["output1"]]
        assert rows == numbers[::-1]
        first = pages[0].json()
        assert len(first["ctx_area_fk100"]) == len(first["ctx_area_nk100"]) == CTX_WIDTH
        assert first["ctx_area_fk100"].startswith("50000000^01^20260512^20260512^00^00^^00^")
        assert first["ctx_area_nk100"].rstrip() == rows[sizes[0] - 1]
        # Oldest first pages the other way round.
        pages = await kis.pages(CCLD, kis.tr("ccld"), kis.history_params(INQR_DVSN="01"))
        assert [row["odno"] for p in pages for row in p.json()["output1"]] == numbers


async def test_orders_placed_between_pages_do_not_shift_them(kis: KIS, mock: MockKIS) -> None:
    price = _bids(mock)[5]
    numbers = [(await kis.placed("buy", KAKAO, 1, price))["ODNO"] for _ in range(105)]
    first = (await kis.get(CCLD, kis.tr("ccld"), kis.history_params(), tr_cont="")).json()
    await kis.placed("buy", KAKAO, 1, price)  # newer than everything paged
    params = kis.history_params(
        CTX_AREA_FK100=first["ctx_area_fk100"], CTX_AREA_NK100=first["ctx_area_nk100"]
    )
    second = (await kis.get(CCLD, kis.tr("ccld"), params, tr_cont="N")).json()
    rows = [row["odno"] for row in first["output1"] + second["output1"]]
    assert rows == numbers[::-1]
    wrong = kis.history_params(
        CTX_AREA_FK100=first["ctx_area_fk100"], CTX_AREA_NK100="0000000000".ljust(CTX_WIDTH)
    )
    refused_body = (await kis.get(CCLD, kis.tr("ccld"), wrong, tr_cont="N")).json()
    assert refused_body["msg1"] == "ERROR : INPUT INVALID_CHECK_CTX_AREA_NK100"


@pytest.mark.parametrize(
    ("kind", "error"),
    [("drop_after", httpx.RemoteProtocolError), ("timeout_after", httpx.ReadTimeout)],
)
async def test_a_lost_order_answer_still_records_the_order(
    kis: KIS, mock: MockKIS, kind: str, error: type[Exception]
) -> None:
    await kis.token()
    price = _bids(mock)[3]
    mock.faults.schedule(kind, path=ORDER)  # type: ignore[arg-type]
    with pytest.raises(error):
        await kis.order("buy", KAKAO, 4, price)
    [order] = mock.orders
    assert mock.stats.faults[kind] == 1
    [row] = await kis.history(PDNO=KAKAO, SLL_BUY_DVSN_CD="02")
    assert (row["odno"], row["ord_qty"], row["ord_unpr"], row["ord_tmd"]) == (
        order.order_id,
        "4",
        str(price),
        mock.clock.now().strftime("%H%M%S"),
    )
    # A cancel whose answer is lost shows as a cancel row of that order.
    mock.faults.schedule(kind, path=RVSECNCL)  # type: ignore[arg-type]
    with pytest.raises(error):
        await kis.cancel({"KRX_FWDG_ORD_ORGNO": order.org_no, "ODNO": order.order_id})
    rows = await kis.history()
    assert (rows[0]["orgn_odno"], rows[0]["cncl_yn"]) == (order.order_id, "Y")


async def test_a_market_order_row_has_price_zero_and_type_01(kis: KIS) -> None:
    output = await kis.placed("buy", SAMSUNG, 1)
    [row] = await kis.history()
    assert (row["odno"], row["ord_unpr"], row["ord_dvsn_cd"], row["ord_dvsn_name"]) == (
        output["ODNO"],
        "0",
        "01",
        "시장가",
    )

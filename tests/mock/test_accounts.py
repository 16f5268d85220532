"""inquire-balance and inquire-psbl-order: the account's state, every documented field, paging."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from kis_async.market import buy_cost, max_quantity, round_to_tick, sell_proceeds
from kis_async.mock import DEFAULT_CASH, DEMO_ACCOUNT_NO, MockKIS
from kis_async.mock._paging import CTX_WIDTH

from .kit import BALANCE, KIS, MIDDAY, PSBL, accepted, kis_at

KAKAO = "035720"

#: §4.9 output1 and output2.
HOLDING_FIELDS = {
    "pdno", "prdt_name", "trad_dvsn_name", "bfdy_buy_qty", "bfdy_sll_qty", "thdt_buyqty",
    "thdt_sll_qty", "hldg_qty", "ord_psbl_qty", "pchs_avg_pric", "pchs_amt", "prpr", "evlu_amt",
    "evlu_pfls_amt", "evlu_pfls_rt", "evlu_erng_rt", "loan_dt", "loan_amt", "stln_slng_chgs",
    "expd_dt", "fltt_rt", "bfdy_cprs_icdc", "item_mgna_rt_name", "grta_rt_name", "sbst_pric",
    "stck_loan_unpr",
}  # fmt: skip
TOTAL_FIELDS = {
    "dnca_tot_amt", "nxdy_excc_amt", "prvs_rcdl_excc_amt", "cma_evlu_amt", "bfdy_buy_amt",
    "thdt_buy_amt", "nxdy_auto_rdpt_amt", "bfdy_sll_amt", "thdt_sll_amt", "d2_auto_rdpt_amt",
    "bfdy_tlex_amt", "thdt_tlex_amt", "tot_loan_amt", "scts_evlu_amt", "tot_evlu_amt",
    "nass_amt", "fncg_gld_auto_rdpt_yn", "pchs_amt_smtl_amt", "evlu_amt_smtl_amt",
    "evlu_pfls_smtl_amt", "tot_stln_slng_chgs", "bfdy_tot_asst_evlu_amt", "asst_icdc_amt",
    "asst_icdc_erng_rt",
}  # fmt: skip
#: §4.10
PSBL_FIELDS = {
    "ord_psbl_cash", "ord_psbl_sbst", "ruse_psbl_amt", "fund_rpch_chgs", "psbl_qty_calc_unpr",
    "nrcvb_buy_amt", "nrcvb_buy_qty", "max_buy_amt", "max_buy_qty", "cma_evlu_amt",
    "ovrs_re_use_amt_wcrc", "ord_psbl_frcr_amt_wcrc",
}  # fmt: skip


def _all_strings(value: Any) -> bool:
    if isinstance(value, dict):
        return all(
            isinstance(k, str) and k == k.lower() and _all_strings(v) for k, v in value.items()
        )
    if isinstance(value, list):
        return all(_all_strings(v) for v in value)
    return isinstance(value, str)


async def _balance(kis: KIS) -> dict[str, Any]:
    [page] = await kis.pages(BALANCE, kis.tr("balance"), kis.balance_params())
    body: dict[str, Any] = page.json()
    return body


async def test_an_empty_account_shows_its_cash(kis: KIS) -> None:
    response = await kis.get(BALANCE, kis.tr("balance"), kis.balance_params(), tr_cont="")
    assert response.headers["tr_cont"] == "D"
    body = response.json()
    assert (body["rt_cd"], body["msg_cd"]) == ("0", "KIOK0510")
    assert body["output1"] == []
    [totals] = body["output2"]
    assert set(totals) == TOTAL_FIELDS
    assert totals["dnca_tot_amt"] == totals["tot_evlu_amt"] == str(DEFAULT_CASH)
    assert len(body["ctx_area_fk100"]) == len(body["ctx_area_nk100"]) == CTX_WIDTH
    assert _all_strings(body)


async def test_holdings_are_valued_at_the_current_price(kis: KIS, mock: MockKIS) -> None:
    account = mock.account(DEMO_ACCOUNT_NO)
    account.set_holding("005930", 30, Decimal("70123.45678"))
    account.set_holding(KAKAO, 7, 45_000)
    body = await _balance(kis)
    rows = {row["pdno"]: row for row in body["output1"]}
    assert list(rows) == ["005930", KAKAO]  # in the order acquired
    session = mock.market.session(mock.clock.now())
    for code, quantity, average, paid in [
        ("005930", 30, "70123.4568", 2_103_704),  # 70123.4568 x 30 = 2103704.0040
        (KAKAO, 7, "45000.0000", 315_000),
    ]:
        row = rows[code]
        assert set(row) == HOLDING_FIELDS
        price = mock.current_price(code)
        base = mock.market.limits(code, session)[0]
        assert row["hldg_qty"] == row["ord_psbl_qty"] == str(quantity)
        assert row["pchs_avg_pric"] == average
        assert row["pchs_amt"] == str(paid)
        assert row["prpr"] == str(price)
        assert row["evlu_amt"] == str(price * quantity)
        assert row["evlu_pfls_amt"] == str(price * quantity - paid)
        assert row["bfdy_cprs_icdc"] == str(price - base)
        assert row["sbst_pric"] == str(round_to_tick(base * 7 // 10, "down"))
        assert row["prdt_name"] == mock.market.tickers[code].name_ko
    [totals] = body["output2"]
    value = sum(int(r["evlu_amt"]) for r in rows.values())
    paid = sum(int(r["pchs_amt"]) for r in rows.values())
    assert totals["scts_evlu_amt"] == totals["evlu_amt_smtl_amt"] == str(value)
    assert totals["pchs_amt_smtl_amt"] == str(paid)
    assert totals["evlu_pfls_smtl_amt"] == str(value - paid)
    assert totals["tot_evlu_amt"] == totals["nass_amt"] == str(value + DEFAULT_CASH)


async def test_todays_trades_show_in_the_balance(kis: KIS, mock: MockKIS) -> None:
    account = mock.account(DEMO_ACCOUNT_NO)
    account.set_holding(KAKAO, 10, 40_000)
    book = mock.market.book(KAKAO, mock.clock.now())
    session = mock.market.session(mock.clock.now())
    accepted(await kis.order("sell", KAKAO, 10, book.bids[0]))  # sold out today
    accepted(await kis.order("buy", "005930", 2))
    accepted(
        await kis.order("buy", "000660", 1, mock.market.book("000660", mock.clock.now()).bids[3])
    )
    body = await _balance(kis)
    rows = {row["pdno"]: row for row in body["output1"]}
    assert set(rows) == {"005930", KAKAO}  # a resting buy holds nothing yet
    assert (rows[KAKAO]["hldg_qty"], rows[KAKAO]["thdt_sll_qty"], rows[KAKAO]["evlu_amt"]) == (
        "0",
        "10",
        "0",
    )
    assert (rows["005930"]["thdt_buyqty"], rows["005930"]["hldg_qty"]) == ("2", "2")
    [totals] = body["output2"]
    samsung = mock.account(DEMO_ACCOUNT_NO).orders[1].fills
    bought = sum(f.amount for f in samsung)
    sold = book.bids[0] * 10
    costs = sum(f.commission + f.tax for o in account.orders for f in o.fills)
    assert totals["thdt_buy_amt"] == str(bought)
    assert totals["thdt_sll_amt"] == str(sold)
    assert totals["thdt_tlex_amt"] == str(costs)
    cash = (
        DEFAULT_CASH
        + sell_proceeds(book.bids[0], 10, session)
        - sum(buy_cost(f.price, f.quantity) for f in samsung)
    )
    assert totals["dnca_tot_amt"] == totals["prvs_rcdl_excc_amt"] == str(cash)
    # Yesterday: the Kakao shares at their base price and the cash before today's trades.
    kakao_base = mock.market.limits(KAKAO, session)[0]
    assert totals["bfdy_tot_asst_evlu_amt"] == str(DEFAULT_CASH + 10 * kakao_base)


@pytest.mark.parametrize(
    ("server", "held", "sizes"), [("real", 55, [50, 5]), ("virtual", 45, [20, 20, 5])]
)
async def test_balance_pages_with_padded_keys(server: str, held: int, sizes: list[int]) -> None:
    async with kis_at(MIDDAY, server=server) as kis:
        account = kis.mock.account(DEMO_ACCOUNT_NO)
        codes = list(kis.mock.tickers[:held])
        for n, code in enumerate(codes):
            account.set_holding(code, n + 1, 1_000 + n)
        pages = await kis.pages(BALANCE, kis.tr("balance"), kis.balance_params())
        assert [len(p.json()["output1"]) for p in pages] == sizes
        assert [p.headers["tr_cont"] for p in pages] == ["M"] * (len(sizes) - 1) + ["D"]
        assert [p.json()["msg_cd"] for p in pages] == ["KIOK0500"] * (len(sizes) - 1) + ["KIOK0510"]
        rows = [row for p in pages for row in p.json()["output1"]]
        assert [row["pdno"] for row in rows] == codes  # in the order acquired
        first = pages[0].json()
        cano, product = DEMO_ACCOUNT_NO.split("-")
        assert first["ctx_area_fk100"] == f"{cano}^{product}^N^^01^01^N^N^00^".ljust(CTX_WIDTH)
        assert first["ctx_area_nk100"] == rows[sizes[0] - 1]["pdno"].ljust(CTX_WIDTH)
        assert all(p.json()["output2"] == first["output2"] for p in pages)


async def test_a_continuation_key_that_does_not_match_is_refused(kis: KIS, mock: MockKIS) -> None:
    account = mock.account(DEMO_ACCOUNT_NO)
    for code in mock.tickers[:55]:
        account.set_holding(code, 1, 1_000)
    first = (await kis.get(BALANCE, kis.tr("balance"), kis.balance_params(), tr_cont="")).json()
    fk, nk = first["ctx_area_fk100"], first["ctx_area_nk100"]

    async def follow(**keys: str) -> dict[str, Any]:
        params = kis.balance_params(CTX_AREA_FK100=fk, CTX_AREA_NK100=nk)
        params.update(keys)
        body: dict[str, Any] = (
            await kis.get(BALANCE, kis.tr("balance"), params, tr_cont="N")
        ).json()
        return body

    assert len((await follow())["output1"]) == 5
    for keys, name in [
        ({"CTX_AREA_FK100": fk.rstrip()}, "CTX_AREA_FK100"),  # padding dropped
        ({"CTX_AREA_FK100": fk.replace("^01^", "^02^", 1)}, "CTX_AREA_FK100"),
        ({"CTX_AREA_FK100": ""}, "CTX_AREA_FK100"),
        ({"CTX_AREA_NK100": nk.rstrip()}, "CTX_AREA_NK100"),
        ({"CTX_AREA_NK100": "999999".ljust(CTX_WIDTH)}, "CTX_AREA_NK100"),
        ({"CTX_AREA_NK100": ""}, "CTX_AREA_NK100"),
        # The parameters changed since the first page: the key no longer matches.
        ({"AFHR_FLPR_YN": "Y"}, "CTX_AREA_FK100"),
    ]:
        body = await follow(**keys)
        assert body == {
            "rt_cd": "2",
            "msg_cd": "OPSQ2001",
            "msg1": f"ERROR : INPUT INVALID_CHECK_{name}",
        }, keys


async def test_psbl_order_at_a_limit_price(kis: KIS, mock: MockKIS) -> None:
    price = mock.market.book(KAKAO, mock.clock.now()).bids[3]
    accepted(await kis.order("buy", KAKAO, 100, price))  # resting: reserves
    orderable = DEFAULT_CASH - buy_cost(price, 100)
    body = await kis.ok(PSBL, kis.tr("psbl"), kis.psbl_params("005930", 70_000))
    assert (body["msg_cd"], body["msg1"]) == ("KIOK0510", "조회가 완료되었습니다")
    output = body["output"]
    assert set(output) == PSBL_FIELDS
    quantity = max_quantity(orderable, 70_000)
    assert output["ord_psbl_cash"] == str(orderable)
    assert output["psbl_qty_calc_unpr"] == "70000"
    assert output["nrcvb_buy_qty"] == output["max_buy_qty"] == str(quantity)
    assert output["nrcvb_buy_amt"] == output["max_buy_amt"] == str(buy_cost(70_000, quantity))
    assert buy_cost(70_000, quantity + 1) > orderable
    assert _all_strings(body)


async def test_psbl_order_for_a_market_order_prices_at_the_upper_limit(
    kis: KIS, mock: MockKIS
) -> None:
    _, _, upper = mock.market.limits("005930", mock.market.session(mock.clock.now()))
    output = (await kis.ok(PSBL, kis.tr("psbl"), kis.psbl_params("005930")))["output"]
    assert output["psbl_qty_calc_unpr"] == str(upper)
    assert output["nrcvb_buy_qty"] == str(max_quantity(DEFAULT_CASH, upper))
    # And that many is exactly what a market buy accepts.
    accepted(await kis.order("buy", "005930", int(output["nrcvb_buy_qty"])))


async def test_psbl_order_for_a_poor_account_is_zero(kis: KIS, mock: MockKIS) -> None:
    mock.account(DEMO_ACCOUNT_NO).set_cash(1_000)
    output = (await kis.ok(PSBL, kis.tr("psbl"), kis.psbl_params("005930", 70_000)))["output"]
    assert (output["nrcvb_buy_qty"], output["nrcvb_buy_amt"], output["ord_psbl_cash"]) == (
        "0",
        "0",
        "1000",
    )


def test_account_setters_validate(mock: MockKIS) -> None:
    account = mock.account(DEMO_ACCOUNT_NO)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="cash"):
            account.set_cash(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="quantity"):
        account.set_holding(KAKAO, -1, 1)
    with pytest.raises(KeyError, match="not a ticker"):
        account.set_holding("999999", 1, 1)
    with pytest.raises(ValueError, match="avg_price"):
        account.set_holding(KAKAO, 1, 0)
    account.set_holding(KAKAO, 3, "41000.12345")
    assert account.holdings[KAKAO].avg_price == Decimal("41000.1235")
    account.set_holding(KAKAO, 0, 1)
    assert account.holdings == {}
    assert mock.account("5000000001") is account
    with pytest.raises(KeyError):
        mock.account("12345678-01")
    with pytest.raises(ValueError, match="initial_cash"):
        MockKIS(initial_cash=-5)


async def test_initial_cash_and_extra_apps() -> None:
    async with kis_at(MIDDAY, initial_cash=1_234) as rich:
        assert rich.mock.account(DEMO_ACCOUNT_NO).cash == 1_234
        account = rich.mock.add_app("PSNEWAPP00" + "0" * 26, "W" * 180)
        assert account.cash == 1_234
        again = rich.mock.add_app("PSNEWAPP00" + "0" * 26, "X" * 180, cash=99)
        assert again is account
        assert account.cash == 99
        with pytest.raises(ValueError, match="already owns"):
            rich.mock.add_app("PSNEWAPP00" + "0" * 26, "X" * 180, account_no="70000000-01")


def test_the_universe_spans_markets_and_tick_bands(mock: MockKIS) -> None:
    from kis_async.market import TICK_TABLE, tick_size

    tickers = [mock.market.tickers[code] for code in mock.tickers]
    assert len(tickers) >= 60  # a balance of 55 holdings needs two real pages
    assert len({t.code for t in tickers}) == len(tickers)
    assert all(len(t.code) == 6 and t.code.isdigit() for t in tickers)
    assert {t.market for t in tickers} == {"KOSPI", "KOSDAQ"}
    assert sum(t.market == "KOSDAQ" for t in tickers) >= 15
    assert {tick_size(t.ref_price) for t in tickers} == {tick for _, tick in TICK_TABLE}

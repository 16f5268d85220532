"""Quotation endpoints: every documented field, and answers that agree with each other."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from kis_async._clock import KST
from kis_async.market import is_on_tick, price_band, round_to_tick, tick_size
from kis_async.mock import MockClock, MockKIS
from kis_async.mock._universe import UNIVERSE

from .kit import (
    BOOK,
    DAILY,
    INFO,
    KIS,
    MIDDAY,
    MINUTES,
    TR_BOOK,
    TR_DAILY,
    TR_INFO,
    TR_MINUTES,
    kis_at,
    price_params,
)

#: §4.1, including the three fields the doc example leaves out.
PRICE_FIELDS = {
    "stck_prpr", "prdy_vrss", "prdy_vrss_sign", "prdy_ctrt", "acml_vol", "acml_tr_pbmn",
    "stck_oprc", "stck_hgpr", "stck_lwpr", "stck_mxpr", "stck_llam", "stck_sdpr",
    "wghn_avrg_stck_prc", "aspr_unit", "per", "pbr", "eps", "bps", "hts_avls", "lstn_stcn",
    "w52_hgpr", "w52_lwpr", "hts_frgn_ehrt", "iscd_stat_cls_code", "temp_stop_yn",
    "vi_cls_code", "mrkt_warn_cls_code", "rprs_mrkt_kor_name", "bstp_kor_isnm",
    "stck_shrn_iscd", "new_hgpr_lwpr_cls_code", "apprch_rate", "mang_issu_cls_code",
}  # fmt: skip
#: §9.3, the captured order book: the exact key sets.
BOOK_FIELDS = (
    {"aspr_acpt_hour"}
    | {f"{side}{i}" for side in ("askp", "bidp") for i in range(1, 11)}
    | {f"{side}_rsqn{i}" for side in ("askp", "bidp") for i in range(1, 11)}
    | {f"{side}_rsqn_icdc{i}" for side in ("askp", "bidp") for i in range(1, 11)}
    | {
        "total_askp_rsqn", "total_bidp_rsqn", "total_askp_rsqn_icdc", "total_bidp_rsqn_icdc",
        "ovtm_total_askp_icdc", "ovtm_total_bidp_icdc", "ovtm_total_askp_rsqn",
        "ovtm_total_bidp_rsqn", "ntby_aspr_rsqn", "new_mkop_cls_code",
    }
)  # fmt: skip
EXPECTED_FIELDS = {
    "antc_mkop_cls_code", "stck_prpr", "stck_oprc", "stck_hgpr", "stck_lwpr", "stck_sdpr",
    "antc_cnpr", "antc_cntg_vrss_sign", "antc_cntg_vrss", "antc_cntg_prdy_ctrt", "antc_vol",
    "stck_shrn_iscd", "vi_cls_code",
}  # fmt: skip
#: §4.3
CHART_SUMMARY_FIELDS = {
    "prdy_vrss", "prdy_vrss_sign", "prdy_ctrt", "stck_prdy_clpr", "acml_vol", "acml_tr_pbmn",
    "hts_kor_isnm", "stck_prpr", "stck_shrn_iscd", "prdy_vol", "stck_mxpr", "stck_llam",
    "stck_oprc", "stck_hgpr", "stck_lwpr", "stck_prdy_oprc", "stck_prdy_hgpr", "stck_prdy_lwpr",
    "askp", "bidp", "prdy_vrss_vol", "vol_tnrt", "stck_fcam", "lstn_stcn", "cpfn", "hts_avls",
    "per", "eps", "pbr", "itewhol_loan_rmnd_ratem name",
}  # fmt: skip
DAILY_ROW_FIELDS = {
    "stck_bsop_date", "stck_clpr", "stck_oprc", "stck_hgpr", "stck_lwpr", "acml_vol",
    "acml_tr_pbmn", "flng_cls_code", "prtt_rate", "mod_yn", "prdy_vrss_sign", "prdy_vrss",
    "revl_issu_reas",
}  # fmt: skip
#: §4.5
MINUTE_SUMMARY_FIELDS = {
    "prdy_vrss", "prdy_vrss_sign", "prdy_ctrt", "stck_prdy_clpr", "acml_vol", "acml_tr_pbmn",
    "hts_kor_isnm", "stck_prpr",
}  # fmt: skip
MINUTE_ROW_FIELDS = {
    "stck_bsop_date", "stck_cntg_hour", "stck_prpr", "stck_oprc", "stck_hgpr", "stck_lwpr",
    "cntg_vol", "acml_tr_pbmn",
}  # fmt: skip
#: §4.6
#: Every field of the official samples' column map (chk_search_stock_info.py).
INFO_FIELDS = {
    "pdno", "prdt_type_cd", "prdt_name", "prdt_name120", "prdt_abrv_name", "prdt_eng_name",
    "prdt_eng_name120", "prdt_eng_abrv_name", "mket_id_cd", "scty_grp_id_cd", "excg_dvsn_cd",
    "setl_mmdd", "lstg_stqt", "lstg_cptl_amt", "cpta", "papr", "issu_pric", "kospi200_item_yn",
    "scts_mket_lstg_dt", "scts_mket_lstg_abol_dt", "kosdaq_mket_lstg_dt",
    "kosdaq_mket_lstg_abol_dt", "frbd_mket_lstg_dt", "frbd_mket_lstg_abol_dt", "reits_kind_cd",
    "etf_dvsn_cd", "oilf_fund_yn", "idx_bztp_lcls_cd", "idx_bztp_mcls_cd", "idx_bztp_scls_cd",
    "idx_bztp_lcls_cd_name", "idx_bztp_mcls_cd_name", "idx_bztp_scls_cd_name", "stck_kind_cd",
    "mfnd_opng_dt", "mfnd_end_dt", "dpsi_erlm_cncl_dt", "etf_cu_qty", "std_pdno",
    "dpsi_aptm_erlm_yn", "etf_txtn_type_cd", "etf_type_cd", "lstg_abol_dt", "nwst_odst_dvsn_cd",
    "sbst_pric", "thco_sbst_pric", "thco_sbst_pric_chng_dt", "tr_stop_yn", "admn_item_yn",
    "thdt_clpr", "bfdy_clpr", "clpr_chng_dt", "std_idst_clsf_cd", "std_idst_clsf_cd_name",
    "ocr_no", "crfd_item_yn", "elec_scty_yn", "issu_istt_cd", "etf_chas_erng_rt_dbnb",
    "etf_etn_ivst_heed_item_yn", "stln_int_rt_dvsn_cd", "frnr_psnl_lmt_rt",
    "lstg_rqsr_issu_istt_cd", "lstg_rqsr_item_cd", "trst_istt_issu_istt_cd",
    "cptt_trad_tr_psbl_yn", "nxt_tr_stop_yn",
}  # fmt: skip
#: The official column map of search-info (chk_search_info.py).
PRODUCT_FIELDS = {
    "pdno", "prdt_type_cd", "std_pdno", "shtn_pdno", "prdt_sale_stat_cd", "prdt_risk_grad_cd",
    "prdt_clsf_cd", "sale_strt_dt", "sale_end_dt", "wrap_asst_type_cd", "ivst_prdt_type_cd",
    "frst_erlm_dt",
}  # fmt: skip


def _all_strings(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _all_strings(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_all_strings(v) for v in value)
    return isinstance(value, str)


def _daily_params(start: str, end: str, period: str = "D", code: str = "005930") -> dict[str, str]:
    return {
        **price_params(code),
        "FID_INPUT_DATE_1": start,
        "FID_INPUT_DATE_2": end,
        "FID_PERIOD_DIV_CODE": period,
        "FID_ORG_ADJ_PRC": "0",
    }


def _minute_params(hour: str, code: str = "005930") -> dict[str, str]:
    return {
        "FID_ETC_CLS_CODE": "",
        **price_params(code),
        "FID_INPUT_HOUR_1": hour,
        "FID_PW_DATA_INCU_YN": "N",
    }


def _second_before(stamp: str) -> str:
    moment = datetime.strptime(stamp, "%H%M%S") - timedelta(seconds=1)
    return moment.strftime("%H%M%S")


async def _all_minute_bars(kis: KIS, code: str = "005930") -> list[dict[str, str]]:
    """Every minute bar of the session so far, oldest first, paging back 30 at a time."""
    rows: list[dict[str, str]] = []
    hour = "235959"
    while True:
        page = (await kis.ok(MINUTES, TR_MINUTES, _minute_params(hour, code)))["output2"]
        assert len(page) <= 30
        rows.extend(page)
        if len(page) < 30 or page[-1]["stck_cntg_hour"] == "090000":
            break
        hour = _second_before(page[-1]["stck_cntg_hour"])
    return rows[::-1]


def _at(hour: int, minute: int, day: date | None = None) -> datetime:
    day = day or MIDDAY.date()
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=KST)


# -- inquire-price ---------------------------------------------------------------------


async def test_price_has_every_documented_field_as_a_string(kis: KIS, mock: MockKIS) -> None:
    for code in mock.tickers:
        output = await kis.price(code)
        assert set(output) >= PRICE_FIELDS, PRICE_FIELDS - set(output)
        assert _all_strings(output)
        assert output["stck_shrn_iscd"] == code


async def test_price_fields_agree_with_each_other_and_the_market_rules(
    kis: KIS, mock: MockKIS
) -> None:
    kinds = {ticker.code: ticker.kind for ticker in UNIVERSE}
    for code in mock.tickers:
        out = dict((await kis.price(code)).items())
        price, base = int(out["stck_prpr"]), int(out["stck_sdpr"])
        kind = kinds[code]
        assert is_on_tick(price, kind)
        assert int(out["prdy_vrss"]) == price - base
        assert out["prdy_vrss_sign"] == ("2" if price > base else "5" if price < base else "3")
        assert out["prdy_ctrt"] == f"{(price - base) / base * 100:.2f}".replace("-0.00", "0.00")
        assert (int(out["stck_llam"]), int(out["stck_mxpr"])) == price_band(base, kind)
        low, high = int(out["stck_lwpr"]), int(out["stck_hgpr"])
        assert int(out["stck_llam"]) <= low <= int(out["stck_oprc"]) <= high
        assert low <= price <= high <= int(out["stck_mxpr"])
        assert low <= float(out["wghn_avrg_stck_prc"]) <= high
        assert int(out["aspr_unit"]) == tick_size(price, kind)
        assert int(out["hts_avls"]) == price * int(out["lstn_stcn"]) // 100_000_000
        assert int(out["w52_lwpr"]) <= low
        assert high <= int(out["w52_hgpr"])
        assert price == mock.current_price(code)


async def test_price_is_the_last_minute_bars_close(kis: KIS) -> None:
    output = await kis.price()
    newest = (await kis.ok(MINUTES, TR_MINUTES, _minute_params("112345")))["output2"][0]
    assert newest["stck_cntg_hour"] == "112300"
    assert newest["stck_prpr"] == output["stck_prpr"]


async def test_price_moves_with_the_clock_and_is_stable_within_a_minute(
    kis: KIS, clock: MockClock, mock: MockKIS
) -> None:
    path = []
    for _ in range(30):
        path.append(int((await kis.price("000660"))["stck_prpr"]))
        clock.advance(10)
        path.append(int((await kis.price("000660"))["stck_prpr"]))
        clock.advance(50)
    assert len(set(path)) > 1
    assert mock.current_price("000660") == int((await kis.price("000660"))["stck_prpr"])


# -- the order book ----------------------------------------------------------------------


@pytest.mark.parametrize("moment", [(9, 0), (11, 23), (15, 19), (15, 25), (16, 0)])
async def test_order_book_adds_up_on_the_grid_and_inside_the_band(
    moment: tuple[int, int],
) -> None:
    async with kis_at(_at(*moment)) as kis:
        for code in kis.mock.tickers:
            await _check_book(kis, code)


async def _check_book(kis: KIS, code: str) -> None:
    body = await kis.ok(BOOK, TR_BOOK, price_params(code))
    book, expected = body["output1"], body["output2"]
    assert set(book) == BOOK_FIELDS
    assert set(expected) == EXPECTED_FIELDS
    assert _all_strings(body)
    asks = [int(book[f"askp{i}"]) for i in range(1, 11)]
    bids = [int(book[f"bidp{i}"]) for i in range(1, 11)]
    ask_qty = [int(book[f"askp_rsqn{i}"]) for i in range(1, 11)]
    bid_qty = [int(book[f"bidp_rsqn{i}"]) for i in range(1, 11)]
    assert int(book["total_askp_rsqn"]) == sum(ask_qty)
    assert int(book["total_bidp_rsqn"]) == sum(bid_qty)
    assert int(book["ntby_aspr_rsqn"]) == sum(bid_qty) - sum(ask_qty)
    assert int(book["total_askp_rsqn_icdc"]) == sum(
        int(book[f"askp_rsqn_icdc{i}"]) for i in range(1, 11)
    )
    price, base = int(expected["stck_prpr"]), int(expected["stck_sdpr"])
    lower, upper = price_band(base)
    assert price in (asks[0], bids[0])
    for level, (ask, bid) in enumerate(zip(asks, bids, strict=True)):
        for quote, qty in ((ask, ask_qty[level]), (bid, bid_qty[level])):
            assert (quote == 0) == (qty == 0)
            assert quote == 0 or (is_on_tick(quote) and lower <= quote <= upper)
    live_asks = [a for a in asks if a]
    live_bids = [b for b in bids if b]
    if live_asks and live_bids:
        assert live_asks[0] - live_bids[0] in (tick_size(live_bids[0]), tick_size(price))
    for ask, above in itertools.pairwise(live_asks):
        assert above == ask + tick_size(ask)
    for bid, below in itertools.pairwise(live_bids):
        assert below == round_to_tick(bid - 1, "down")


async def test_order_book_levels_beyond_the_limits_are_zero(mock: MockKIS) -> None:
    now = MIDDAY
    market = mock.market
    price = market.price("005930", now)
    session = market._session("005930", market.session(now))
    # Pin the limits two ticks either side of the price (white box: the sim never gets
    # this close to a limit in a normal day).
    session.upper = price + 2 * tick_size(price)
    session.lower = round_to_tick(round_to_tick(price - 1, "down") - 1, "down")
    book = market.book("005930", now)
    assert sum(1 for p in book.asks if p) in (2, 3)
    assert sum(1 for p in book.bids if p) in (2, 3)
    for prices, qty in ((book.asks, book.ask_qty), (book.bids, book.bid_qty)):
        for p, q in zip(prices, qty, strict=True):
            assert (p == 0) == (q == 0)
            assert p == 0 or session.lower <= p <= session.upper
    session.upper = price
    at_limit = market.book("005930", now)
    assert at_limit.bids[0] == price
    assert at_limit.asks == (0,) * 10


async def test_expected_fill_is_the_closing_auction_print(kis: KIS, clock: MockClock) -> None:
    midday = (await kis.ok(BOOK, TR_BOOK, price_params()))["output2"]
    assert midday["antc_cnpr"] == "0"
    assert midday["antc_vol"] == "0"
    clock.advance(_at(15, 25) - clock.now())
    auction = (await kis.ok(BOOK, TR_BOOK, price_params()))["output2"]
    clock.advance(_at(15, 30) - clock.now())
    closed = (await kis.ok(BOOK, TR_BOOK, price_params()))["output2"]
    assert auction["antc_cnpr"] == closed["antc_cnpr"] == closed["stck_prpr"]
    assert auction["stck_prpr"] != "0"
    last_bar = (await kis.ok(MINUTES, TR_MINUTES, _minute_params("160000")))["output2"][0]
    assert last_bar["stck_cntg_hour"] == "153000"
    assert closed["antc_vol"] == last_bar["cntg_vol"]


# -- daily chart -------------------------------------------------------------------------


async def test_daily_chart_fields_and_at_most_100_rows_newest_first(kis: KIS) -> None:
    body = await kis.ok(DAILY, TR_DAILY, _daily_params("20200101", "20261231"))
    assert _all_strings(body)
    assert set(body["output1"]) == CHART_SUMMARY_FIELDS
    rows = body["output2"]
    assert len(rows) == 100
    assert all(set(row) == DAILY_ROW_FIELDS for row in rows)
    days = [row["stck_bsop_date"] for row in rows]
    assert days == sorted(days, reverse=True)
    assert days[0] == "20260512"


async def test_daily_chart_pages_backward_by_moving_date_2(kis: KIS) -> None:
    rows: list[dict[str, str]] = []
    end = "20260512"
    pages = 0
    while True:
        page = (await kis.ok(DAILY, TR_DAILY, _daily_params("20250101", end)))["output2"]
        pages += 1
        rows.extend(page)
        if len(page) < 100:
            break
        oldest = datetime.strptime(page[-1]["stck_bsop_date"], "%Y%m%d").date()
        end = (oldest - timedelta(days=1)).strftime("%Y%m%d")
    assert pages == 4
    days = [datetime.strptime(r["stck_bsop_date"], "%Y%m%d").date() for r in rows]
    assert days == sorted(set(days), reverse=True), "no gaps, no repeats"
    assert days[-1] == date(2025, 1, 2)
    assert all(d.weekday() < 5 for d in days)
    assert not {(d.month, d.day) for d in days} & {(1, 1), (3, 1), (5, 5), (8, 15), (12, 25)}
    # Each day's change is against the previous row's close.
    for newer, older in itertools.pairwise(rows):
        assert int(newer["prdy_vrss"]) == int(newer["stck_clpr"]) - int(older["stck_clpr"])
        assert newer["stck_oprc"]
        assert int(newer["stck_lwpr"]) <= int(newer["stck_hgpr"])


async def test_todays_daily_row_is_the_session_so_far(kis: KIS) -> None:
    price = await kis.price()
    body = await kis.ok(DAILY, TR_DAILY, _daily_params("20260501", "20260512"))
    today = body["output2"][0]
    assert today["stck_bsop_date"] == "20260512"
    assert today["stck_clpr"] == price["stck_prpr"]
    assert today["stck_oprc"] == price["stck_oprc"]
    assert today["stck_hgpr"] == price["stck_hgpr"]
    assert today["stck_lwpr"] == price["stck_lwpr"]
    assert today["acml_vol"] == price["acml_vol"]
    assert today["acml_tr_pbmn"] == price["acml_tr_pbmn"]
    assert body["output1"]["stck_prpr"] == price["stck_prpr"]
    assert body["output1"]["stck_prdy_clpr"] == price["stck_sdpr"]


@pytest.mark.parametrize("period", ["W", "M", "Y"])
async def test_periods_aggregate_the_daily_bars(kis: KIS, period: str) -> None:
    start, end = "20260105", "20260512"
    daily = (await kis.ok(DAILY, TR_DAILY, _daily_params(start, end)))["output2"][::-1]
    rows = (await kis.ok(DAILY, TR_DAILY, _daily_params(start, end, period)))["output2"][::-1]
    groups: dict[tuple[int, int], list[dict[str, str]]] = {}
    for row in daily:
        day = datetime.strptime(row["stck_bsop_date"], "%Y%m%d").date()
        key = {"W": day.isocalendar()[:2], "M": (day.year, day.month), "Y": (day.year, 0)}[period]
        groups.setdefault((key[0], key[1]), []).append(row)
    assert len(rows) == len(groups)
    before = None
    for row, group in zip(rows, groups.values(), strict=True):
        assert row["stck_bsop_date"] == group[-1]["stck_bsop_date"]
        assert row["stck_oprc"] == group[0]["stck_oprc"]
        assert row["stck_clpr"] == group[-1]["stck_clpr"]
        assert int(row["stck_hgpr"]) == max(int(g["stck_hgpr"]) for g in group)
        assert int(row["stck_lwpr"]) == min(int(g["stck_lwpr"]) for g in group)
        assert int(row["acml_vol"]) == sum(int(g["acml_vol"]) for g in group)
        assert int(row["acml_tr_pbmn"]) == sum(int(g["acml_tr_pbmn"]) for g in group)
        if before is not None:
            assert int(row["prdy_vrss"]) == int(row["stck_clpr"]) - int(before["stck_clpr"])
        before = row


@pytest.mark.parametrize(
    ("start", "end", "code"),
    [
        ("20260509", "20260510", "005930"),  # a weekend
        ("20260512", "20260101", "005930"),  # start after end
        ("19990101", "20211231", "373220"),  # before its listing
        ("20270101", "20271231", "005930"),  # the future
    ],
)
async def test_daily_chart_without_trading_days_is_an_empty_list(
    kis: KIS, start: str, end: str, code: str
) -> None:
    body = await kis.ok(DAILY, TR_DAILY, _daily_params(start, end, code=code))
    assert body["output2"] == []
    assert body["output1"]["stck_shrn_iscd"] == code


async def test_history_stays_put_while_the_clock_moves(kis: KIS, clock: MockClock) -> None:
    before = (await kis.ok(DAILY, TR_DAILY, _daily_params("20260401", "20260511")))["output2"]
    clock.advance(timedelta(days=3))
    kis.forget_token()  # a day has passed: the token has expired
    after = (await kis.ok(DAILY, TR_DAILY, _daily_params("20260401", "20260511")))["output2"]
    assert after == before
    assert (await kis.price())["stck_sdpr"] != before[0]["stck_clpr"]


# -- minute chart ------------------------------------------------------------------------


async def test_minute_chart_fields_30_rows_newest_first(kis: KIS) -> None:
    body = await kis.ok(MINUTES, TR_MINUTES, _minute_params("103000"))
    assert _all_strings(body)
    assert set(body["output1"]) == MINUTE_SUMMARY_FIELDS
    rows = body["output2"]
    assert len(rows) == 30
    assert all(set(row) == MINUTE_ROW_FIELDS for row in rows)
    assert [r["stck_cntg_hour"] for r in rows[:3]] == ["103000", "102900", "102800"]
    assert rows[-1]["stck_cntg_hour"] == "100100"
    assert all(r["stck_bsop_date"] == "20260512" for r in rows)
    early = (await kis.ok(MINUTES, TR_MINUTES, _minute_params("085959")))["output2"]
    assert early == []


async def test_a_future_hour_means_now(kis: KIS) -> None:
    future = await kis.ok(MINUTES, TR_MINUTES, _minute_params("153000"))
    now = await kis.ok(MINUTES, TR_MINUTES, _minute_params("112345"))
    assert future == now


@pytest.mark.parametrize("moment", [(11, 24), (16, 5)], ids=["mid-session", "after-close"])
async def test_minute_bars_aggregate_to_todays_daily_row(
    kis: KIS, clock: MockClock, moment: tuple[int, int]
) -> None:
    clock.advance(_at(*moment) - clock.now())
    bars = await _all_minute_bars(kis)
    price = await kis.price()
    daily = (await kis.ok(DAILY, TR_DAILY, _daily_params("20260512", "20260512")))["output2"]
    (today,) = daily
    assert bars[0]["stck_cntg_hour"] == "090000"
    if moment == (16, 5):
        assert len(bars) == 381
        assert bars[-1]["stck_cntg_hour"] == "153000"
        assert bars[-2]["stck_cntg_hour"] == "151900"
    else:
        assert bars[-1]["stck_cntg_hour"] == "112400"
    assert bars[0]["stck_oprc"] == today["stck_oprc"] == price["stck_oprc"]
    assert bars[-1]["stck_prpr"] == today["stck_clpr"] == price["stck_prpr"]
    assert str(max(int(b["stck_hgpr"]) for b in bars)) == today["stck_hgpr"] == price["stck_hgpr"]
    assert str(min(int(b["stck_lwpr"]) for b in bars)) == today["stck_lwpr"] == price["stck_lwpr"]
    assert str(sum(int(b["cntg_vol"]) for b in bars)) == today["acml_vol"] == price["acml_vol"]
    assert bars[-1]["acml_tr_pbmn"] == today["acml_tr_pbmn"] == price["acml_tr_pbmn"]
    values = [int(b["acml_tr_pbmn"]) for b in bars]
    assert values == sorted(values)
    for bar in bars:
        prices = [int(bar[k]) for k in ("stck_oprc", "stck_hgpr", "stck_lwpr", "stck_prpr")]
        assert all(is_on_tick(p) for p in prices)
        assert int(bar["stck_lwpr"]) <= min(prices)
        assert max(prices) <= int(bar["stck_hgpr"])


async def test_finished_days_minute_bars_match_its_daily_bar_the_next_morning(
    kis: KIS, clock: MockClock
) -> None:
    clock.advance(_at(16, 0) - clock.now())
    evening = await _all_minute_bars(kis)
    clock.advance(_at(8, 30, date(2026, 5, 13)) - clock.now())
    kis.forget_token()
    morning = await _all_minute_bars(kis)
    assert morning == evening, "before 09:00 the last session is still shown"
    row = (await kis.ok(DAILY, TR_DAILY, _daily_params("20260512", "20260513")))["output2"]
    assert [r["stck_bsop_date"] for r in row] == ["20260512"]
    assert row[0]["acml_vol"] == str(sum(int(b["cntg_vol"]) for b in morning))


@pytest.mark.parametrize(
    ("moment", "session"),
    [
        (datetime(2026, 5, 16, 12, 0, tzinfo=KST), "20260515"),  # Saturday
        (datetime(2026, 5, 12, 8, 59, tzinfo=KST), "20260511"),  # before the open
        (datetime(2026, 5, 5, 12, 0, tzinfo=KST), "20260504"),  # Children's Day
        (datetime(2026, 5, 6, 9, 0, tzinfo=KST), "20260506"),  # the open
    ],
)
async def test_the_session_shown(moment: datetime, session: str) -> None:
    async with kis_at(moment) as kis:
        rows = (await kis.ok(MINUTES, TR_MINUTES, _minute_params("235959")))["output2"]
    assert rows[0]["stck_bsop_date"] == session
    expected_last = "090000" if moment.hour == 9 else "153000"
    assert rows[0]["stck_cntg_hour"] == expected_last


# -- stock info ---------------------------------------------------------------------------


async def test_stock_info_fields(kis: KIS, mock: MockKIS, clock: MockClock) -> None:
    body = await kis.ok(INFO, TR_INFO, {"PRDT_TYPE_CD": "300", "PDNO": "005930"})
    info = body["output"]
    assert set(info) == INFO_FIELDS
    assert _all_strings(info)
    assert info["std_pdno"] == "KR7005930003"
    assert info["prdt_name"] == "삼성전자"
    assert info["prdt_eng_name"] == "Samsung Electronics"
    assert info["scts_mket_lstg_dt"] == "19750611"
    assert info["kosdaq_mket_lstg_dt"] == ""
    assert info["thdt_clpr"] == "0", "no close yet mid-session"
    kosdaq = (await kis.ok(INFO, TR_INFO, {"PRDT_TYPE_CD": "300", "PDNO": "247540"}))["output"]
    assert kosdaq["mket_id_cd"] == "KSQ"
    assert kosdaq["kosdaq_mket_lstg_dt"] == "20190305"
    clock.advance(_at(15, 31) - clock.now())
    closed = (await kis.ok(INFO, TR_INFO, {"PRDT_TYPE_CD": "300", "PDNO": "005930"}))["output"]
    assert closed["thdt_clpr"] == str(mock.current_price("005930"))
    bad = await kis.get(INFO, TR_INFO, {"PRDT_TYPE_CD": "301", "PDNO": "005930"})
    assert bad.json()["msg1"] == "ERROR : INPUT INVALID_CHECK_PRDT_TYPE_CD"
    assert info["lstg_cptl_amt"] == str(int(info["lstg_stqt"]) * int(info["papr"]))
    assert info["sbst_pric"] != ""


async def test_product_info_answers_what_other_clients_ask_before_a_quote(kis: KIS) -> None:
    path = "/uapi/domestic-stock/v1/quotations/search-info"
    body = await kis.ok(path, "CTPF1604R", {"PDNO": "000660", "PRDT_TYPE_CD": "300"})
    info = body["output"]
    assert set(info) >= PRODUCT_FIELDS
    assert _all_strings(info)
    assert (info["pdno"], info["shtn_pdno"], info["std_pdno"]) == (
        "000660",
        "000660",
        "KR7000660001",
    )
    assert info["prdt_name"] == "SK하이닉스"
    unknown = await kis.get(path, "CTPF1604R", {"PDNO": "999999", "PRDT_TYPE_CD": "300"})
    assert unknown.json()["msg_cd"] == "MCA05918"
    wrong_tr = await kis.get(path, "CTPF1002R", {"PDNO": "000660", "PRDT_TYPE_CD": "300"})
    assert wrong_tr.json()["msg_cd"] == "OPSQ0002"


# -- the universe ---------------------------------------------------------------------------


async def test_the_universe_spans_every_tick_band(kis: KIS, mock: MockKIS) -> None:
    assert len(mock.tickers) >= 30
    assert len(set(mock.tickers)) == len(mock.tickers)
    ticks = {tick_size(mock.current_price(code)) for code in mock.tickers}
    assert ticks == {1, 5, 10, 50, 100, 500, 1000}
    markets = {(await kis.price(code))["rprs_mrkt_kor_name"] for code in mock.tickers}
    assert {"KOSPI200", "KOSDAQ"} <= markets
    with pytest.raises(KeyError):
        mock.current_price("999999")


# -- determinism -------------------------------------------------------------------------


async def _snapshot(seed: int, moment: datetime) -> list[Any]:
    answers: list[Any] = []
    async with kis_at(moment, seed) as kis:
        for code in ("005930", "036630", "207940", "293490"):
            answers.append(await kis.price(code))
            answers.append(await kis.ok(BOOK, TR_BOOK, price_params(code)))
            answers.append(await kis.ok(DAILY, TR_DAILY, _daily_params("20250101", "20261231")))
            answers.append(await kis.ok(MINUTES, TR_MINUTES, _minute_params("235959", code)))
    return answers


async def test_same_seed_and_clock_give_the_same_answers() -> None:
    assert await _snapshot(11, MIDDAY) == await _snapshot(11, MIDDAY)


async def test_different_seeds_give_different_markets() -> None:
    first, second = await _snapshot(11, MIDDAY), await _snapshot(12, MIDDAY)
    differing = [a != b for a, b in zip(first, second, strict=True)]
    assert all(differing)


def test_prices_are_the_same_in_another_process() -> None:
    script = (
        "from datetime import datetime, timedelta, timezone\n"
        "from kis_async.mock import MockClock, MockKIS\n"
        "kst = timezone(timedelta(hours=9))\n"
        "clock = MockClock(datetime(2026, 5, 12, 11, 0, tzinfo=kst), frozen=True)\n"
        "mock = MockKIS(5, clock=clock)\n"
        "print([mock.current_price(code) for code in mock.tickers])\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run(  # noqa: S603 (our own interpreter, our own script)
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    mock = MockKIS(5, clock=MockClock(datetime(2026, 5, 12, 11, 0, tzinfo=KST), frozen=True))
    assert result.stdout.strip() == str([mock.current_price(code) for code in mock.tickers])

"""Every way an order is refused: the code, the envelope and the HTTP status.

Business rejections are HTTP 200 with rt_cd "1"; input errors HTTP 200 with rt_cd "2"
and OPSQ2001; unknown tr_ids OPSQ0002. A refused order leaves no trace in the state.
"""

from __future__ import annotations

from typing import Any

import pytest

from kis_async.market import buy_cost, price_band, tick_size
from kis_async.mock import DEFAULT_CASH, DEMO_ACCOUNT_NO, MockAccount, MockKIS
from kis_async.mock._exchange import REJECTIONS
from kis_async.mock._market import Book

from .kit import BALANCE, CCLD, KIS, MIDDAY, ORDER, PSBL, RVSECNCL, accepted, kis_at, refused

KAKAO = "035720"
NOT_ON_NXT = "003280"  # Heung-A Shipping: not traded on NXT


def _book(mock: MockKIS, code: str = KAKAO) -> Book:
    return mock.market.book(code, mock.clock.now())


def _account(mock: MockKIS) -> MockAccount:
    return mock.account(DEMO_ACCOUNT_NO)


def _limits(mock: MockKIS, code: str = KAKAO) -> tuple[int, int]:
    base, lower, upper = mock.market.limits(code, mock.market.session(mock.clock.now()))
    assert (lower, upper) == price_band(base)
    return lower, upper


def _invalid(response: Any, name: str) -> None:
    body = refused(response, "OPSQ2001", rt_cd="2")
    assert body["msg1"] == f"ERROR : INPUT INVALID_CHECK_{name}"


def _business(response: Any, msg_cd: str) -> None:
    body = refused(response, msg_cd)
    assert body["msg1"] == REJECTIONS[msg_cd]


# -- cash and holdings ------------------------------------------------------------------


async def test_a_buy_needs_its_whole_cost_in_orderable_cash(kis: KIS, mock: MockKIS) -> None:
    price = _book(mock).bids[2]
    cost = buy_cost(price, 7)
    _account(mock).set_cash(cost - 1)
    _business(await kis.order("buy", KAKAO, 7, price), "APBK0656")
    assert mock.orders == []
    assert mock.stats.rejections["APBK0656"] == 1
    _account(mock).set_cash(cost)
    accepted(await kis.order("buy", KAKAO, 7, price))


async def test_a_market_buy_reserves_at_the_upper_limit(kis: KIS, mock: MockKIS) -> None:
    _, upper = _limits(mock)
    book = _book(mock)
    # Enough at the ask, one won short at the upper limit: refused.
    _account(mock).set_cash(buy_cost(upper, 3) - 1)
    assert buy_cost(book.asks[0], 3) < buy_cost(upper, 3) - 1
    _business(await kis.order("buy", KAKAO, 3), "APBK0656")
    _account(mock).set_cash(buy_cost(upper, 3))
    accepted(await kis.order("buy", KAKAO, 3))
    # It settles at the fill price.
    assert _account(mock).cash == buy_cost(upper, 3) - buy_cost(book.asks[0], 3)


async def test_resting_buys_hold_their_cost_back(kis: KIS, mock: MockKIS) -> None:
    price = _book(mock).bids[2]
    _account(mock).set_cash(buy_cost(price, 10) + buy_cost(price, 5))
    accepted(await kis.order("buy", KAKAO, 10, price))
    _business(await kis.order("buy", KAKAO, 6, price), "APBK0656")
    accepted(await kis.order("buy", KAKAO, 5, price))


async def test_a_sell_needs_the_shares(kis: KIS, mock: MockKIS) -> None:
    price = _book(mock).asks[3]
    _business(await kis.order("sell", KAKAO, 1, price), "APBK0919")
    _account(mock).set_holding(KAKAO, 10, 40_000)
    _business(await kis.order("sell", KAKAO, 11, price), "APBK0919")
    assert mock.stats.rejections["APBK0919"] == 2


async def test_resting_sells_hold_their_shares_back(kis: KIS, mock: MockKIS) -> None:
    _account(mock).set_holding(KAKAO, 10, 40_000)
    price = _book(mock).asks[3]
    accepted(await kis.order("sell", KAKAO, 6, price))
    _business(await kis.order("sell", KAKAO, 5, price), "APBK0919")
    _business(await kis.order("sell", KAKAO, 5), "APBK0919")  # market sells too
    accepted(await kis.order("sell", KAKAO, 4, price))


# -- prices -----------------------------------------------------------------------------


async def test_an_off_tick_price_is_refused(kis: KIS, mock: MockKIS) -> None:
    price = _book(mock).bids[2]
    assert tick_size(price) == 50
    _business(await kis.order("buy", KAKAO, 1, price + 10), "APBK0506")
    _business(await kis.order("sell", KAKAO, 1, price + 25), "APBK0506")


async def test_a_price_beyond_the_daily_band_is_refused(kis: KIS, mock: MockKIS) -> None:
    lower, upper = _limits(mock)
    _business(await kis.order("buy", KAKAO, 1, upper + tick_size(upper)), "MOCK0101")
    _business(await kis.order("buy", KAKAO, 1, lower - tick_size(lower - 1)), "MOCK0101")
    accepted(await kis.order("buy", KAKAO, 1, lower))
    accepted(await kis.order("buy", KAKAO, 1, upper))


# -- venues -----------------------------------------------------------------------------


async def test_nxt_takes_no_market_orders_and_only_its_tickers(kis: KIS, mock: MockKIS) -> None:
    price = _book(mock).bids[2]
    _business(await kis.order("buy", KAKAO, 1, EXCG_ID_DVSN_CD="NXT"), "MOCK0102")
    _business(
        await kis.order(
            "buy", NOT_ON_NXT, 1, _book(mock, NOT_ON_NXT).bids[2], EXCG_ID_DVSN_CD="NXT"
        ),
        "MOCK0102",
    )
    accepted(await kis.order("buy", KAKAO, 1, price, EXCG_ID_DVSN_CD="NXT"))
    accepted(await kis.order("buy", KAKAO, 1, EXCG_ID_DVSN_CD="SOR"))
    accepted(await kis.order("buy", KAKAO, 1, price, EXCG_ID_DVSN_CD=""))  # blank: KRX
    assert [o.exchange for o in mock.orders] == ["NXT", "SOR", "KRX"]
    _invalid(await kis.order("buy", KAKAO, 1, price, EXCG_ID_DVSN_CD="KOSDAQ"), "EXCG_ID_DVSN_CD")


@pytest.mark.parametrize("venue", ["NXT", "SOR"])
async def test_the_virtual_server_trades_on_krx_only(venue: str) -> None:
    async with kis_at(MIDDAY, server="virtual") as kis:
        price = _book(kis.mock).bids[2]
        _business(await kis.order("buy", KAKAO, 1, price, EXCG_ID_DVSN_CD=venue), "MOCK0103")
        output = accepted(await kis.order("buy", KAKAO, 1, price))
        _business(await kis.cancel(output, EXCG_ID_DVSN_CD=venue), "MOCK0103")
        accepted(await kis.cancel(output))


# -- quantities and codes ---------------------------------------------------------------


@pytest.mark.parametrize("quantity", ["0", "-1", "1.5", "abc", "", "1e3", "１"])
async def test_a_quantity_must_be_a_positive_whole_number(
    kis: KIS, mock: MockKIS, quantity: str
) -> None:
    body = kis.order_body(KAKAO, 1, _book(mock).bids[2], ORD_QTY=quantity)
    _business(await kis.post(ORDER, kis.tr("buy"), body), "MOCK0104")


async def test_an_unknown_ticker_is_mca05918(kis: KIS) -> None:
    body = refused(await kis.order("buy", "999999", 1, 1_000), "MCA05918")
    assert body["msg1"] == "종목코드 오류입니다."


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"ORD_DVSN": "03"}, "ORD_DVSN"),  # only limit and market are simulated
        ({"ORD_DVSN": "01"}, "ORD_UNPR"),  # a market order's price is "0"
        ({"ORD_UNPR": "0"}, "ORD_UNPR"),  # a limit order needs a price
        ({"ORD_UNPR": "40,000"}, "ORD_UNPR"),
        ({"SLL_TYPE": "09"}, "SLL_TYPE"),
    ],
)
async def test_invalid_codes_are_opsq2001_naming_the_field(
    kis: KIS, mock: MockKIS, fields: dict[str, str], name: str
) -> None:
    _account(mock).set_holding(KAKAO, 10, 40_000)
    body = kis.order_body(KAKAO, 1, _book(mock).asks[3], sell=True, **fields)
    _invalid(await kis.post(ORDER, kis.tr("sell"), body), name)


# -- the body's shape and the account ---------------------------------------------------


async def test_body_keys_must_be_uppercase(kis: KIS, mock: MockKIS) -> None:
    body = kis.order_body(KAKAO, 1, _book(mock).bids[2])
    lowered = {key.lower(): value for key, value in body.items()}
    _invalid(await kis.post(ORDER, kis.tr("buy"), lowered), "CANO")
    one_lower = {**body, "pdno": body.pop("PDNO")}
    _invalid(await kis.post(ORDER, kis.tr("buy"), one_lower), "PDNO")
    assert mock.orders == []


@pytest.mark.parametrize("key", ["CANO", "PDNO", "ORD_QTY", "ORD_UNPR", "EXCG_ID_DVSN_CD"])
@pytest.mark.parametrize("value", [10, None, 1.5, ["1"]], ids=["int", "null", "float", "list"])
async def test_every_body_value_must_be_a_string(
    kis: KIS, mock: MockKIS, key: str, value: object
) -> None:
    body: dict[str, object] = {**kis.order_body(KAKAO, 1, _book(mock).bids[2]), key: value}
    _invalid(await kis.post(ORDER, kis.tr("buy"), body), key)


@pytest.mark.parametrize("key", ["CANO", "ACNT_PRDT_CD", "PDNO", "ORD_DVSN", "ORD_QTY", "ORD_UNPR"])
async def test_a_missing_key_is_named(kis: KIS, mock: MockKIS, key: str) -> None:
    body = kis.order_body(KAKAO, 1, _book(mock).bids[2])
    del body[key]
    _invalid(await kis.post(ORDER, kis.tr("buy"), body), key)


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]"])
async def test_an_unreadable_body_is_refused(kis: KIS, raw: bytes) -> None:
    response = await kis.client.post(ORDER, content=raw, headers=await kis.headers(kis.tr("buy")))
    _invalid(response, "CANO")


@pytest.mark.parametrize(
    "fields",
    [{"CANO": "50000001"}, {"ACNT_PRDT_CD": "22"}, {"CANO": "5000000"}],
    ids=["other-cano", "other-product", "short"],
)
async def test_the_account_must_be_the_apps_own(
    kis: KIS, mock: MockKIS, fields: dict[str, str]
) -> None:
    body = {**kis.order_body(KAKAO, 1, _book(mock).bids[2]), **fields}
    _invalid(await kis.post(ORDER, kis.tr("buy"), body), "ACNO")
    params = {**kis.balance_params(), **fields}
    _invalid(await kis.get(BALANCE, kis.tr("balance"), params), "ACNO")
    params = {**kis.psbl_params(KAKAO), **fields}
    _invalid(await kis.get(PSBL, kis.tr("psbl"), params), "ACNO")
    params = {**kis.history_params(), **fields}
    _invalid(await kis.get(CCLD, kis.tr("ccld"), params), "ACNO")


async def test_another_apps_account_is_not_this_apps(kis: KIS, mock: MockKIS) -> None:
    other = mock.add_app("PSOTHERAPP" + "1" * 26, "T" * 180, account_no="60000000-01", cash=5)
    assert (other.account_no, other.cash) == ("60000000-01", 5)
    cano, product = other.account_no.split("-")
    body = kis.order_body(KAKAO, 1, _book(mock).bids[2], CANO=cano, ACNT_PRDT_CD=product)
    _invalid(await kis.post(ORDER, kis.tr("buy"), body), "ACNO")
    with pytest.raises(ValueError, match="another app"):
        mock.add_app("PSTHIRDAPP" + "2" * 26, "U" * 180, account_no=DEMO_ACCOUNT_NO)


# -- tr_ids -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "tr_id"),
    [
        (ORDER, "VTTC0012U"),  # virtual's buy on the real server
        (ORDER, "VTTC0802U"),  # virtual's old buy on the real server
        (ORDER, "TTTC0013U"),  # another path's tr_id
        (ORDER, "TTTC0803U"),  # another path's old tr_id
        (RVSECNCL, "TTTC0012U"),
    ],
)
async def test_foreign_tr_ids_are_opsq0002(kis: KIS, mock: MockKIS, path: str, tr_id: str) -> None:
    body = kis.order_body(KAKAO, 1, _book(mock).bids[2])
    body = refused(await kis.post(path, tr_id, body), "OPSQ0002")
    assert body["msg1"] == "없는 서비스 코드 입니다"
    assert mock.orders == []


@pytest.mark.parametrize(
    ("path", "tr_id"),
    [
        (ORDER, "TTTC0802U"),
        (ORDER, "TTTC0801U"),
        (RVSECNCL, "TTTC0803U"),
        (ORDER, "TTTC0012U"),
        (CCLD, "TTTC8001R"),
        (BALANCE, "TTTC8434R"),
    ],
)
async def test_real_tr_ids_old_and_new_are_refused_on_virtual(path: str, tr_id: str) -> None:
    async with kis_at(MIDDAY, server="virtual") as kis:
        if path in (ORDER, RVSECNCL):
            body = kis.order_body(KAKAO, 1, _book(kis.mock).bids[2])
            response = await kis.post(path, tr_id, body)
        else:
            response = await kis.get(path, tr_id, kis.balance_params())
        refused(response, "OPSQ0002")


@pytest.mark.parametrize("server", ["real", "virtual"])
async def test_the_old_order_tr_ids_still_trade(server: str) -> None:
    # The official repository's 2026 backtester still sends the old tr_ids.
    prefix = "T" if server == "real" else "V"
    async with kis_at(MIDDAY, server=server) as kis:
        price = _book(kis.mock).bids[3]
        buy = accepted(await kis.post(ORDER, f"{prefix}TTC0802U", kis.order_body(KAKAO, 4, price)))
        kis.mock.account(kis.mock.DEMO_ACCOUNT_NO).set_holding(KAKAO, 2, price)
        accepted(await kis.post(ORDER, f"{prefix}TTC0801U", kis.order_body(KAKAO, 2, price + 500)))
        body = kis.change_body(buy, "02", 4, 0)
        accepted(await kis.post(RVSECNCL, f"{prefix}TTC0803U", body))
        sides = [(o.side, o.kind) for o in kis.mock.orders]
        assert sides == [("buy", "new"), ("sell", "new"), ("buy", "cancel")]
        old = await kis.pages(CCLD, f"{prefix}TTC8001R", kis.history_params())
        new = await kis.pages(CCLD, kis.tr("ccld"), kis.history_params())
        assert [p.json()["output1"] for p in old] == [p.json()["output1"] for p in new]
        assert len(old[0].json()["output1"]) == 3


# -- revise and cancel ------------------------------------------------------------------


async def test_revise_and_cancel_need_a_resting_order_of_this_account(
    kis: KIS, mock: MockKIS
) -> None:
    book = _book(mock)
    original = accepted(await kis.order("buy", KAKAO, 5, book.bids[3]))
    unknown = {**original, "ODNO": "9999999999"}
    _business(await kis.cancel(unknown), "APBK1664")
    _business(await kis.revise(unknown, book.bids[2]), "APBK1664")
    wrong_branch = {**original, "KRX_FWDG_ORD_ORGNO": "00000"}
    _business(await kis.cancel(wrong_branch), "APBK1664")
    _business(await kis.cancel({**original, "ODNO": "garbage"}), "APBK1664")
    # Another account's order is not found either.
    other = mock.add_app("PSOTHERAPP" + "3" * 26, "V" * 180)
    kis_other = KIS(kis.client, mock)
    kis_other.app_key, kis_other.app_secret = other.app_key, "V" * 180
    kis_other.account_no = other.account_no
    _business(await kis_other.cancel(original), "APBK1664")
    # A market order never rests.
    market = accepted(await kis.order("buy", KAKAO, 1))
    _business(await kis.cancel(market), "APBK1664")
    # Zero-padding of the original order number is optional.
    short = {**original, "ODNO": original["ODNO"].lstrip("0")}
    accepted(await kis.cancel(short, quantity=1))


async def test_revise_checks_the_new_price_and_the_cash(kis: KIS, mock: MockKIS) -> None:
    book = _book(mock)
    _, upper = _limits(mock)
    original = accepted(await kis.order("buy", KAKAO, 5, book.bids[3]))
    _business(await kis.revise(original, book.bids[3] + 10), "APBK0506")
    _business(await kis.revise(original, upper + tick_size(upper)), "MOCK0101")
    _invalid(await kis.revise(original, 0), "ORD_UNPR")
    _invalid(await kis.revise(original, book.bids[2], ORD_DVSN="01"), "ORD_DVSN")
    _account(mock).set_cash(buy_cost(book.bids[3], 5))
    _business(await kis.revise(original, book.bids[2]), "APBK0656")
    accepted(await kis.revise(original, book.bids[4]))  # cheaper: fits
    assert _account(mock).cash == buy_cost(book.bids[3], 5)


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"RVSE_CNCL_DVSN_CD": "03"}, "RVSE_CNCL_DVSN_CD"),
        ({"QTY_ALL_ORD_YN": "X"}, "QTY_ALL_ORD_YN"),
        ({"ORD_UNPR": "x"}, "ORD_UNPR"),
    ],
)
async def test_invalid_change_fields_are_opsq2001(
    kis: KIS, mock: MockKIS, fields: dict[str, str], name: str
) -> None:
    original = accepted(await kis.order("buy", KAKAO, 5, _book(mock).bids[3]))
    body = {**kis.change_body(original, "02"), **fields}
    _invalid(await kis.post(RVSECNCL, kis.tr("rvsecncl"), body), name)


async def test_a_change_quantity_must_be_positive_and_not_above_what_rests(
    kis: KIS, mock: MockKIS
) -> None:
    original = accepted(await kis.order("buy", KAKAO, 5, _book(mock).bids[3]))
    _business(await kis.cancel(original, quantity=0), "MOCK0104")
    _business(await kis.cancel(original, quantity=6), "MOCK0104")
    _business(await kis.revise(original, _book(mock).bids[2], quantity=6), "MOCK0104")
    accepted(await kis.cancel(original, quantity=5))


# -- queries ----------------------------------------------------------------------------


async def test_balance_by_stock_and_by_loan_date_list_the_same_holdings(
    kis: KIS, mock: MockKIS
) -> None:
    _account(mock).set_holding(KAKAO, 3, 40_000)
    by_loan = await kis.get(BALANCE, kis.tr("balance"), kis.balance_params(INQR_DVSN="01"))
    by_stock = await kis.get(BALANCE, kis.tr("balance"), kis.balance_params(INQR_DVSN="02"))
    assert by_stock.json()["rt_cd"] == "0"
    assert by_stock.json()["output1"] == by_loan.json()["output1"]
    assert [row["pdno"] for row in by_stock.json()["output1"]] == [KAKAO]
    invalid = await kis.get(BALANCE, kis.tr("balance"), kis.balance_params(INQR_DVSN="03"))
    _invalid(invalid, "INQR_DVSN")


@pytest.mark.parametrize(
    ("path", "name", "params"),
    [
        (BALANCE, "AFHR_FLPR_YN", {"AFHR_FLPR_YN": "Z"}),
        (BALANCE, "PRCS_DVSN", {"PRCS_DVSN": "02"}),
        (CCLD, "SLL_BUY_DVSN_CD", {"SLL_BUY_DVSN_CD": "03"}),
        (CCLD, "CCLD_DVSN", {"CCLD_DVSN": "9"}),
        (CCLD, "INQR_DVSN", {"INQR_DVSN": "02"}),
        (CCLD, "INQR_STRT_DT", {"INQR_STRT_DT": "2026-05-12"}),
        (CCLD, "INQR_END_DT", {"INQR_END_DT": "20260231"}),
        (PSBL, "ORD_DVSN", {"ORD_DVSN": "03"}),
        (PSBL, "ORD_UNPR", {"ORD_UNPR": "abc"}),
    ],
)
async def test_invalid_query_parameters_are_named(
    kis: KIS, path: str, name: str, params: dict[str, str]
) -> None:
    base = {
        BALANCE: kis.balance_params(),
        CCLD: kis.history_params(),
        PSBL: kis.psbl_params(KAKAO, 40_000),
    }[path]
    tr_id = {BALANCE: "balance", CCLD: "ccld", PSBL: "psbl"}[path]
    _invalid(await kis.get(path, kis.tr(tr_id), {**base, **params}), name)


async def test_psbl_order_for_an_unknown_ticker_is_mca05918(kis: KIS) -> None:
    refused(await kis.get(PSBL, kis.tr("psbl"), kis.psbl_params("999999", 1_000)), "MCA05918")


async def test_refusals_leave_the_state_as_it_was(kis: KIS, mock: MockKIS) -> None:
    price = _book(mock).bids[2]
    await kis.order("buy", KAKAO, 10**9, price)
    await kis.order("sell", KAKAO, 1, price)
    await kis.order("buy", KAKAO, 1, price + 1)
    account = _account(mock)
    assert (account.cash, account.holdings, account.orders, mock.orders) == (
        DEFAULT_CASH,
        {},
        [],
        [],
    )

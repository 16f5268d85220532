"""Frame parsing from the column lists of the facts file (kis-api.md §8.4, §8.5), not the mock."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

import pytest

from kis_async import KST, ChangeSign, Side
from kis_async.mock._stream import encrypt_payload
from kis_async.stream import (
    BOOK_COLUMNS,
    FILL_COLUMNS,
    TRADE_COLUMNS,
    UNIFIED_BOOK_COLUMNS,
    FillNotice,
    NoticeKind,
    OrderBookUpdate,
    StreamProtocolError,
    TradeTick,
)
from kis_async.stream._frames import (
    FILL_SPEC,
    TRADE_SPEC,
    decrypt,
    parse_control,
    parse_data_frame,
    parse_records,
)

# The lists as the facts file writes them (kis-api.md §8.4 and §8.5), typed in here on
# their own so that a slip in the library's tuples cannot hide behind itself.
FACTS_TRADE = """MKSC_SHRN_ISCD, STCK_CNTG_HOUR, STCK_PRPR, PRDY_VRSS_SIGN, PRDY_VRSS, PRDY_CTRT,
WGHN_AVRG_STCK_PRC, STCK_OPRC, STCK_HGPR, STCK_LWPR, ASKP1, BIDP1, CNTG_VOL, ACML_VOL,
ACML_TR_PBMN, SELN_CNTG_CSNU, SHNU_CNTG_CSNU, NTBY_CNTG_CSNU, CTTR, SELN_CNTG_SMTN,
SHNU_CNTG_SMTN, CCLD_DVSN, SHNU_RATE, PRDY_VOL_VRSS_ACML_VOL_RATE, OPRC_HOUR,
OPRC_VRSS_PRPR_SIGN, OPRC_VRSS_PRPR, HGPR_HOUR, HGPR_VRSS_PRPR_SIGN, HGPR_VRSS_PRPR,
LWPR_HOUR, LWPR_VRSS_PRPR_SIGN, LWPR_VRSS_PRPR, BSOP_DATE, NEW_MKOP_CLS_CODE, TRHT_YN,
ASKP_RSQN1, BIDP_RSQN1, TOTAL_ASKP_RSQN, TOTAL_BIDP_RSQN, VOL_TNRT, PRDY_SMNS_HOUR_ACML_VOL,
PRDY_SMNS_HOUR_ACML_VOL_RATE, HOUR_CLS_CODE, MRKT_TRTM_CLS_CODE, VI_STND_PRC"""
FACTS_BOOK_TAIL = """TOTAL_ASKP_RSQN, TOTAL_BIDP_RSQN, OVTM_TOTAL_ASKP_RSQN, OVTM_TOTAL_BIDP_RSQN,
ANTC_CNPR, ANTC_CNQN, ANTC_VOL, ANTC_CNTG_VRSS, ANTC_CNTG_VRSS_SIGN, ANTC_CNTG_PRDY_CTRT,
ACML_VOL, TOTAL_ASKP_RSQN_ICDC, TOTAL_BIDP_RSQN_ICDC, OVTM_TOTAL_ASKP_ICDC,
OVTM_TOTAL_BIDP_ICDC, STCK_DEAL_CLS_CODE"""
FACTS_MID = "KMID_PRC, KMID_TOTAL_RSQN, KMID_CLS_CODE, NMID_PRC, NMID_TOTAL_RSQN, NMID_CLS_CODE"
FACTS_FILL = """CUST_ID, ACNT_NO, ODER_NO, OODER_NO, SELN_BYOV_CLS, RCTF_CLS, ODER_KIND, ODER_COND,
STCK_SHRN_ISCD, CNTG_QTY, CNTG_UNPR, STCK_CNTG_HOUR, RFUS_YN, CNTG_YN, ACPT_YN, BRNC_NO,
ODER_QTY, ACNT_NAME, ORD_COND_PRC, ORD_EXG_GB, POPUP_YN, FILLER, CRDT_CLS, CRDT_LOAN_DATE,
CNTG_ISNM40, ODER_PRC"""


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.replace("\n", " ").split(",")]


def _book_names() -> list[str]:
    levels = [f"{side}{i}" for side in ("ASKP", "BIDP") for i in range(1, 11)]
    sizes = [f"{side}_RSQN{i}" for side in ("ASKP", "BIDP") for i in range(1, 11)]
    return [
        "MKSC_SHRN_ISCD",
        "BSOP_HOUR",
        "HOUR_CLS_CODE",
        *levels,
        *sizes,
        *_names(FACTS_BOOK_TAIL),
    ]


def test_column_lists_are_the_facts_files() -> None:
    assert list(TRADE_COLUMNS) == _names(FACTS_TRADE)
    assert len(TRADE_COLUMNS) == 46
    assert list(BOOK_COLUMNS) == _book_names()
    assert len(BOOK_COLUMNS) == 59
    assert list(UNIFIED_BOOK_COLUMNS) == [*_book_names(), *_names(FACTS_MID)]
    assert len(UNIFIED_BOOK_COLUMNS) == 65
    assert list(FILL_COLUMNS) == _names(FACTS_FILL)
    # The 2026-02-12 correction: OODER_NO 4th, ODER_QTY 17th.
    assert FILL_COLUMNS[3] == "OODER_NO"
    assert FILL_COLUMNS[16] == "ODER_QTY"
    # Each parser walks the columns by name, in the same order.
    assert [column for column, _, _ in TRADE_SPEC] == list(TRADE_COLUMNS)
    assert [column for column, _, _ in FILL_SPEC] == list(FILL_COLUMNS)
    assert {field for _, field, _ in TRADE_SPEC} | {"traded_at", "tr_id", "extra"} == set(
        TradeTick.model_fields
    )


def _trade(ticker: str, hhmmss: str, price: int, volume: int) -> dict[str, str]:
    values = dict.fromkeys(_names(FACTS_TRADE), "0")
    values.update(
        MKSC_SHRN_ISCD=ticker,
        STCK_CNTG_HOUR=hhmmss,
        STCK_PRPR=str(price),
        PRDY_VRSS_SIGN="2",
        PRDY_VRSS="500",
        PRDY_CTRT="0.69",
        WGHN_AVRG_STCK_PRC="73012.45",
        STCK_OPRC="72600",
        STCK_HGPR="73300",
        STCK_LWPR="72500",
        ASKP1=str(price + 100),
        BIDP1=str(price),
        CNTG_VOL=str(volume),
        ACML_VOL="1234567",
        ACML_TR_PBMN="90123456789012",
        CTTR="105.23",
        CCLD_DVSN="1",
        OPRC_HOUR="090000",
        OPRC_VRSS_PRPR_SIGN="2",
        HGPR_HOUR="093015",
        HGPR_VRSS_PRPR_SIGN="5",
        HGPR_VRSS_PRPR="-200",
        LWPR_HOUR="090102",
        LWPR_VRSS_PRPR_SIGN="2",
        BSOP_DATE="20261120",
        NEW_MKOP_CLS_CODE="20",
        TRHT_YN="N",
        VOL_TNRT="0.12",
        VI_STND_PRC="72600",
    )
    return values


def _join(records: list[dict[str, str]], columns: list[str]) -> str:
    return "^".join("^".join(record[c] for c in columns) for record in records)


def test_a_trade_frame_of_three_records_yields_three_ticks() -> None:
    columns = _names(FACTS_TRADE)
    records = [
        _trade("005930", "093015", 73100, 12),
        _trade("005930", "093016", 73200, 5),
        _trade("000660", "093016", 181000, 40),
    ]
    frame = parse_data_frame(f"0|H0STCNT0|003|{_join(records, columns)}")
    assert (frame.encrypted, frame.tr_id, frame.count) == (False, "H0STCNT0", 3)
    ticks = parse_records(frame.tr_id, frame.count, frame.payload)
    assert [type(t) for t in ticks] == [TradeTick] * 3
    first, second, third = ticks
    assert isinstance(first, TradeTick)
    assert isinstance(third, TradeTick)
    assert (first.ticker, first.price, first.volume) == ("005930", 73100, 12)
    assert first.traded_at == datetime(2026, 11, 20, 9, 30, 15, tzinfo=KST)
    assert first.change_sign is ChangeSign.RISE
    assert first.change_rate == Decimal("0.69")
    assert first.weighted_average_price == Decimal("73012.45")
    assert first.accumulated_value == 90123456789012
    assert first.high_vs_price == -200
    assert first.high_time == time(9, 30, 15)
    assert first.business_date == date(2026, 11, 20)
    assert first.halted is False
    assert first.ask1 == 73200
    assert first.strength == Decimal("105.23")
    assert isinstance(second, TradeTick)
    assert second.price == 73200
    assert (third.ticker, third.price, third.volume) == ("000660", 181000, 40)
    # A model built by the fast path is the model pydantic would validate.
    assert TradeTick.model_validate(first.model_dump()) == first


@pytest.mark.parametrize("tr_id", ["H0NXCNT0", "H0UNCNT0"])
def test_nxt_and_integrated_trades_have_the_same_46_columns(tr_id: str) -> None:
    payload = _join([_trade("005930", "100000", 73100, 1)] * 2, _names(FACTS_TRADE))
    ticks = parse_records(tr_id, 2, payload)
    assert [t.tr_id for t in ticks] == [tr_id, tr_id]


def test_a_wider_record_keeps_its_extra_fields_and_the_next_record_stays_aligned() -> None:
    columns = _names(FACTS_TRADE)
    records = [_trade("005930", "093015", 73100, 12), _trade("000660", "093016", 181000, 40)]
    # KIS adds a 47th column: each record is one field wider than the known list.
    payload = "^".join(
        "^".join([*(record[c] for c in columns), f"new{i}"]) for i, record in enumerate(records)
    )
    first, second = parse_records("H0STCNT0", 2, payload)
    assert isinstance(first, TradeTick)
    assert isinstance(second, TradeTick)
    assert first.extra == ("new0",)
    assert second.extra == ("new1",)
    assert (second.ticker, second.price, second.vi_standard_price) == ("000660", 181000, 72600)


def test_a_payload_that_does_not_split_into_its_count_is_an_error() -> None:
    payload = _join([_trade("005930", "093015", 73100, 12)], _names(FACTS_TRADE))
    with pytest.raises(StreamProtocolError):
        parse_records("H0STCNT0", 2, payload)
    with pytest.raises(StreamProtocolError):
        parse_records("H0STCNT0", 1, "^".join(["0"] * 45))  # narrower than 46 columns
    with pytest.raises(StreamProtocolError):
        parse_data_frame("2|H0STCNT0|001|x")


def _book(ticker: str, base: int, mid: bool) -> dict[str, str]:
    names = _book_names() + (_names(FACTS_MID) if mid else [])
    values = dict.fromkeys(names, "0")
    values.update(MKSC_SHRN_ISCD=ticker, BSOP_HOUR="101500", ANTC_CNTG_VRSS_SIGN="3")
    for i in range(1, 11):
        values[f"ASKP{i}"] = str(base + 100 * i)
        values[f"BIDP{i}"] = str(base - 100 * (i - 1))
        values[f"ASKP_RSQN{i}"] = str(1000 + i)
        values[f"BIDP_RSQN{i}"] = str(2000 + i)
    values.update(TOTAL_ASKP_RSQN="10055", TOTAL_BIDP_RSQN="20055", ACML_VOL="777")
    if mid:
        values.update(KMID_PRC=str(base + 50), NMID_PRC=str(base + 50), KMID_CLS_CODE="1")
    return values


def test_a_krx_book_frame_of_two_records_yields_two_books_of_ten_levels() -> None:
    payload = _join([_book("005930", 73000, False), _book("000660", 181000, False)], _book_names())
    first, second = parse_records("H0STASP0", 2, payload)
    assert isinstance(first, OrderBookUpdate)
    assert isinstance(second, OrderBookUpdate)
    assert first.asks == tuple(73000 + 100 * i for i in range(1, 11))
    assert first.bids[0] == 73000
    assert first.bid_quantities[9] == 2010
    assert (first.total_ask_quantity, first.accumulated_volume) == (10055, 777)
    assert first.time == time(10, 15)
    assert first.krx_mid_price is None
    assert second.ticker == "000660"
    assert second.asks[0] == 181100


@pytest.mark.parametrize("tr_id", ["H0NXASP0", "H0UNASP0"])
def test_nxt_and_integrated_books_have_65_columns(tr_id: str) -> None:
    names = [*_book_names(), *_names(FACTS_MID)]
    payload = _join([_book("005930", 73000, True)] * 3, names)
    books = parse_records(tr_id, 3, payload)
    assert len(books) == 3
    book = books[2]
    assert isinstance(book, OrderBookUpdate)
    assert (book.krx_mid_price, book.nxt_mid_price, book.krx_mid_class_code) == (73050, 73050, "1")
    assert book.extra == ()


def _notice(**fields: str) -> dict[str, str]:
    values = dict.fromkeys(_names(FACTS_FILL), "")
    values.update(
        CUST_ID="myhtsid",
        ACNT_NO="5000000001",
        ODER_NO="0001234567",
        SELN_BYOV_CLS="02",
        RCTF_CLS="0",
        ODER_KIND="00",
        ODER_COND="0",
        STCK_SHRN_ISCD="005930",
        CNTG_QTY="7",
        CNTG_UNPR="73100",
        STCK_CNTG_HOUR="101501",
        RFUS_YN="0",
        CNTG_YN="2",
        ACPT_YN="2",
        BRNC_NO="06010",
        ODER_QTY="10",
        ACNT_NAME="홍길동",
        ORD_COND_PRC="0",
        ORD_EXG_GB="1",
        CNTG_ISNM40="삼성전자",
        ODER_PRC="73200",
    )
    values.update(fields)
    return values


def test_fill_notices_decrypt_and_tell_fill_from_order_notices() -> None:
    key, iv = "iuheqrmvfxoceaxeyqgjwesozgizmmgx", "d59d91fcf9fd0044"  # kis-api.md §8.2 ack
    records = [
        _notice(),
        _notice(CNTG_YN="1", CNTG_QTY="10", CNTG_UNPR="73200", ACPT_YN="1"),
        _notice(CNTG_YN="1", RCTF_CLS="1", OODER_NO="0001234567", ODER_NO="0001234568"),
        _notice(CNTG_YN="1", RCTF_CLS="2", OODER_NO="0001234567", ODER_NO="0001234569"),
        _notice(CNTG_YN="1", RFUS_YN="1", SELN_BYOV_CLS="01"),
    ]
    cipher = encrypt_payload(_join(records, _names(FACTS_FILL)), key, iv)
    frame = parse_data_frame(f"1|H0STCNI0|005|{cipher}")
    assert frame.encrypted
    notices = parse_records(frame.tr_id, frame.count, decrypt(frame.payload, key, iv))
    assert all(isinstance(n, FillNotice) for n in notices)
    kinds = [n.kind for n in notices if isinstance(n, FillNotice)]
    assert kinds == [
        NoticeKind.FILL,
        NoticeKind.ACCEPTED,
        NoticeKind.REVISED,
        NoticeKind.CANCELLED,
        NoticeKind.REJECTED,
    ]
    fill = notices[0]
    assert isinstance(fill, FillNotice)
    # The corrected order: quantity 7 filled of an order of 10, not the reverse.
    assert (fill.quantity, fill.price, fill.order_quantity, fill.order_price) == (
        7,
        73100,
        10,
        73200,
    )
    assert fill.side is Side.BUY
    assert fill.order_no == "0001234567"
    assert fill.is_fill
    assert fill.account_no.get_secret_value() == "5000000001"
    assert "5000000001" not in repr(fill)
    assert "홍길동" not in repr(fill)
    revise = notices[2]
    assert isinstance(revise, FillNotice)
    assert revise.original_order_no == "0001234567"
    with pytest.raises(StreamProtocolError):
        decrypt(cipher, "x" * 32, iv)


def test_control_messages_carry_the_key_and_iv_of_the_ack() -> None:
    ack = parse_control(
        '{"header":{"tr_id":"H0STASP0","tr_key":"005930","encrypt":"N"},"body":{"rt_cd":"0",'
        '"msg_cd":"OPSP0000","msg1":"SUBSCRIBE SUCCESS","output":{"iv":"d59d91fcf9fd0044",'
        '"key":"iuheqrmvfxoceaxeyqgjwesozgizmmgx"}}}'
    )
    assert ack.ok
    assert (ack.tr_id, ack.tr_key, ack.msg_cd) == ("H0STASP0", "005930", "OPSP0000")
    assert (ack.key, ack.iv) == ("iuheqrmvfxoceaxeyqgjwesozgizmmgx", "d59d91fcf9fd0044")
    ping = parse_control('{"header":{"tr_id":"PINGPONG","datetime":"20261120101500"}}')
    assert ping.is_pingpong
    assert not ping.ok

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

import pytest
from pydantic import ValidationError

from kis_async import Candle, ChangeSign, CurrentPrice, OrderBook, StockInfo

from .fixtures_kis import ORDER_BOOK_005930, PRICE_OUTPUT


def test_order_book_sample_from_kis_parses_with_best_first() -> None:
    book = OrderBook.from_kis("005930", ORDER_BOOK_005930["output1"], ORDER_BOOK_005930["output2"])
    assert len(book.ask_levels) == 10
    assert len(book.bid_levels) == 10
    assert book.best_ask == 75_800
    assert book.best_bid == 75_700
    assert book.spread == 100
    assert [level.price for level in book.ask_levels] == sorted(
        level.price for level in book.ask_levels
    )
    assert [level.price for level in book.bid_levels] == sorted(
        (level.price for level in book.bid_levels), reverse=True
    )
    assert sum(level.volume for level in book.ask_levels) == book.total_ask_volume == 588_904
    assert sum(level.volume for level in book.bid_levels) == book.total_bid_volume == 1_966_820
    assert book.quoted_at == time(16, 0)
    assert book.expected_price == 75_700
    assert book.stock_code == "005930"


def test_order_book_leaves_out_levels_beyond_the_limit() -> None:
    output1 = dict(ORDER_BOOK_005930["output1"])
    for n in range(4, 11):
        output1[f"askp{n}"] = "0"
        output1[f"askp_rsqn{n}"] = "0"
    book = OrderBook.from_kis("005930", output1, {})
    assert [level.price for level in book.ask_levels] == [75_800, 75_900, 76_000]
    assert book.expected_price is None


def test_current_price_parses_strings_into_exact_types() -> None:
    price = CurrentPrice.model_validate(PRICE_OUTPUT)
    assert price.current_price == 75_700
    assert isinstance(price.current_price, int)
    assert price.change_price == -1_600
    assert price.change_sign is ChangeSign.FALL
    assert price.change_rate == Decimal("-2.07")
    assert price.trading_value == 1_089_387_312_800
    assert price.tick_size == 100
    assert price.upper_limit == 100_400
    assert price.market_cap == 4_519_125 * 100_000_000
    assert price.weighted_average_price == Decimal("75884.72")
    assert price.temporarily_halted is False
    assert price.sector_name == "전기·전자"


def test_current_price_tolerates_blank_and_missing_optional_fields() -> None:
    data = dict(PRICE_OUTPUT, per="", eps="", bstp_kor_isnm="")
    del data["hts_avls"]
    price = CurrentPrice.model_validate(data)
    assert price.per is None
    assert price.market_cap is None
    assert price.sector_name is None


def test_current_price_rejects_a_non_numeric_price() -> None:
    with pytest.raises(ValidationError):
        CurrentPrice.model_validate(dict(PRICE_OUTPUT, stck_prpr="abc"))


def test_models_are_immutable() -> None:
    price = CurrentPrice.model_validate(PRICE_OUTPUT)
    with pytest.raises(ValidationError):
        price.current_price = 1  # type: ignore[misc]


def test_candle_from_field_names_and_strings() -> None:
    candle = Candle(
        date="20240610",
        time="093000",
        open_price="0076100",
        high_price=76600,
        low_price=75600,
        close_price=75700,
        volume=14356027,
        trading_value=0,
    )
    assert candle.date == date(2024, 6, 10)
    assert candle.open_price == 76_100
    assert candle.timestamp.isoformat() == "2024-06-10T09:30:00+09:00"


def test_stock_info_derives_market_and_name() -> None:
    info = StockInfo.from_kis(
        {
            "pdno": "00000A035420",
            "prdt_name": "NAVER보통주",
            "prdt_abrv_name": "NAVER",
            "prdt_eng_name": "NAVER",
            "mket_id_cd": "",
            "scts_mket_lstg_dt": "20081129",
            "kosdaq_mket_lstg_dt": "",
            "lstg_stqt": "158437008",
            "papr": "100",
            "tr_stop_yn": "N",
            "kospi200_item_yn": "Y",
        }
    )
    assert info.market == "KOSPI"
    assert info.stock_name == "NAVER"
    assert info.listed_on == date(2008, 11, 29)
    assert info.listed_shares == 158_437_008
    assert info.kospi200 is True

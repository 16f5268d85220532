"""Typed models over KIS's string-valued JSON.

KIS sends every number as a string (``"71000"``, ``"-2.07"``, sometimes zero-padded or
blank). The field types below parse those: KRW amounts and share counts become ``int``,
rates and averages ``Decimal``, dates ``date``. Models are immutable; they validate
from KIS's lowercase keys (the aliases) and from their own field names.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from ._clock import KST

__all__ = [
    "Candle",
    "ChangeSign",
    "CurrentPrice",
    "KISModel",
    "OrderBook",
    "OrderBookLevel",
    "PriceType",
    "StockInfo",
]


# -- wire value parsers -------------------------------------------------------------


def _text(value: Any) -> Any:
    return value.strip().replace(",", "") if isinstance(value, str) else value


def _to_int(value: Any) -> Any:
    value = _text(value)
    if isinstance(value, str):
        if value in ("", "-"):
            return 0
        try:
            number = Decimal(value)
        except InvalidOperation:
            return value  # let pydantic report it
        if number != number.to_integral_value():
            return value
        return int(number)
    return value


def _to_optional_int(value: Any) -> Any:
    return None if _text(value) in ("", None) else _to_int(value)


def _to_decimal(value: Any) -> Any:
    value = _text(value)
    if value in ("", "-"):
        return Decimal(0)
    return value


def _to_optional_decimal(value: Any) -> Any:
    return None if _text(value) in ("", None) else _to_decimal(value)


def _to_date(value: Any) -> Any:
    value = _text(value)
    if isinstance(value, str) and len(value) == 8 and value.isdigit():
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    return value


def _to_optional_date(value: Any) -> Any:
    value = _text(value)
    return None if value in ("", None, "00000000") else _to_date(value)


def _to_time(value: Any) -> Any:
    value = _text(value)
    if isinstance(value, str) and len(value) == 6 and value.isdigit():
        return time(int(value[:2]), int(value[2:4]), int(value[4:]))
    return value


def _to_optional_time(value: Any) -> Any:
    # KIS leaves some times blank (an order's ord_tmd, for one): no time, not an error.
    return None if _text(value) in ("", None) else _to_time(value)


def _to_optional_text(value: Any) -> Any:
    value = value.strip() if isinstance(value, str) else value
    return value or None


def _yes(value: Any) -> Any:
    return value.strip().upper() == "Y" if isinstance(value, str) else value


Krw = Annotated[int, BeforeValidator(_to_int)]
"""Whole KRW (or a count of shares)."""
OptionalKrw = Annotated[int | None, BeforeValidator(_to_optional_int)]
Rate = Annotated[Decimal, BeforeValidator(_to_decimal)]
"""A percentage or ratio, exactly as KIS sends it (``"-2.07"`` is -2.07%)."""
OptionalRate = Annotated[Decimal | None, BeforeValidator(_to_optional_decimal)]
KISDate = Annotated[date, BeforeValidator(_to_date)]
OptionalKISDate = Annotated[date | None, BeforeValidator(_to_optional_date)]
KISTime = Annotated[time, BeforeValidator(_to_time)]
OptionalKISTime = Annotated[time | None, BeforeValidator(_to_optional_time)]
OptionalText = Annotated[str | None, BeforeValidator(_to_optional_text)]
YesNo = Annotated[bool, BeforeValidator(_yes)]


class KISModel(BaseModel):
    """Base of every model: immutable, built from KIS keys or field names, extras ignored."""

    model_config = ConfigDict(
        frozen=True,
        populate_by_name=True,
        extra="ignore",
        str_strip_whitespace=True,
    )


# -- enums --------------------------------------------------------------------------


class PriceType(StrEnum):
    """Chart period. Daily and longer come from the period chart; minutes from today's bars."""

    DAILY = "D"
    WEEKLY = "W"
    MONTHLY = "M"
    YEARLY = "Y"
    MINUTE_1 = "1m"
    MINUTE_5 = "5m"
    MINUTE_10 = "10m"
    MINUTE_30 = "30m"
    MINUTE_60 = "60m"

    @property
    def is_intraday(self) -> bool:
        """Whether bars are minutes (``MINUTE_1`` to ``MINUTE_60``) rather than days or longer."""
        return self.value.endswith("m")

    @property
    def minutes(self) -> int:
        """Bar length in minutes (intraday types only)."""
        if not self.is_intraday:
            raise ValueError(f"{self.name} is not an intraday period")
        return int(self.value[:-1])


class ChangeSign(StrEnum):
    """KIS's ``prdy_vrss_sign``: the direction of the change from the base price."""

    UPPER_LIMIT = "1"
    RISE = "2"
    FLAT = "3"
    LOWER_LIMIT = "4"
    FALL = "5"


# -- quotations ---------------------------------------------------------------------


class CurrentPrice(KISModel):
    """A stock's current quotation (``inquire-price``). Prices in KRW, rates in percent."""

    stock_code: str = Field(alias="stck_shrn_iscd")
    current_price: Krw = Field(alias="stck_prpr")
    change_price: Krw = Field(alias="prdy_vrss", description="KRW change from the base price")
    change_sign: ChangeSign = Field(alias="prdy_vrss_sign")
    change_rate: Rate = Field(alias="prdy_ctrt", description="percent change")
    open_price: Krw = Field(alias="stck_oprc")
    high_price: Krw = Field(alias="stck_hgpr")
    low_price: Krw = Field(alias="stck_lwpr")
    volume: Krw = Field(alias="acml_vol", description="shares traded today")
    trading_value: Krw = Field(alias="acml_tr_pbmn", description="KRW traded today")
    upper_limit: Krw = Field(alias="stck_mxpr")
    lower_limit: Krw = Field(alias="stck_llam")
    base_price: Krw = Field(alias="stck_sdpr", description="normally the previous close")
    tick_size: Krw = Field(alias="aspr_unit")
    weighted_average_price: OptionalRate = Field(default=None, alias="wghn_avrg_stck_prc")
    per: OptionalRate = Field(default=None, alias="per")
    pbr: OptionalRate = Field(default=None, alias="pbr")
    eps: OptionalRate = Field(default=None, alias="eps")
    bps: OptionalRate = Field(default=None, alias="bps")
    market_cap_100m: OptionalKrw = Field(
        default=None, alias="hts_avls", description="market capitalisation in 100 million KRW"
    )
    listed_shares: OptionalKrw = Field(default=None, alias="lstn_stcn")
    week52_high: OptionalKrw = Field(default=None, alias="w52_hgpr")
    week52_low: OptionalKrw = Field(default=None, alias="w52_lwpr")
    foreign_holding_rate: OptionalRate = Field(default=None, alias="hts_frgn_ehrt")
    status_code: OptionalText = Field(default=None, alias="iscd_stat_cls_code")
    temporarily_halted: YesNo = Field(default=False, alias="temp_stop_yn")
    market_name: OptionalText = Field(default=None, alias="rprs_mrkt_kor_name")
    sector_name: OptionalText = Field(default=None, alias="bstp_kor_isnm")

    @property
    def market_cap(self) -> int | None:
        """Market capitalisation in KRW (KIS reports it in units of 100 million KRW)."""
        return None if self.market_cap_100m is None else self.market_cap_100m * 100_000_000


class OrderBookLevel(KISModel):
    """One price level of the book: a price (KRW) and the shares resting there."""

    price: int
    volume: int


class OrderBook(KISModel):
    """Ten levels each side (``inquire-asking-price-exp-ccn``), best first."""

    stock_code: str
    quoted_at: OptionalKISTime = None
    ask_levels: tuple[OrderBookLevel, ...]
    bid_levels: tuple[OrderBookLevel, ...]
    total_ask_volume: int
    total_bid_volume: int
    expected_price: int | None = None
    expected_volume: int | None = None

    @property
    def best_ask(self) -> int | None:
        """The lowest ask price in KRW, or None when no one offers."""
        return self.ask_levels[0].price if self.ask_levels else None

    @property
    def best_bid(self) -> int | None:
        """The highest bid price in KRW, or None when no one bids."""
        return self.bid_levels[0].price if self.bid_levels else None

    @property
    def spread(self) -> int | None:
        """Best ask minus best bid in KRW, or None when a side is empty."""
        if self.best_ask is None or self.best_bid is None:
            return None
        return self.best_ask - self.best_bid

    @classmethod
    def from_kis(cls, stock_code: str, output1: Mapping[str, Any], output2: Any) -> OrderBook:
        """Build from the two output blocks; levels with no price (beyond a limit) are left out."""

        def levels(side: str) -> tuple[OrderBookLevel, ...]:
            found = []
            for n in range(1, 11):
                price = _to_int(output1.get(f"{side}p{n}", "0"))
                volume = _to_int(output1.get(f"{side}p_rsqn{n}", "0"))
                if isinstance(price, int) and price > 0:
                    found.append(OrderBookLevel(price=price, volume=volume))
            return tuple(found)

        extra = output2 if isinstance(output2, Mapping) else {}
        return cls.model_validate(
            {
                "stock_code": extra.get("stck_shrn_iscd") or stock_code,
                "quoted_at": _to_time(output1.get("aspr_acpt_hour")) or None,
                "ask_levels": levels("ask"),
                "bid_levels": levels("bid"),
                "total_ask_volume": _to_int(output1.get("total_askp_rsqn", "0")),
                "total_bid_volume": _to_int(output1.get("total_bidp_rsqn", "0")),
                "expected_price": _to_optional_int(extra.get("antc_cnpr", "")),
                "expected_volume": _to_optional_int(extra.get("antc_vol", "")),
            }
        )


class Candle(KISModel):
    """One bar of a chart. ``time`` is set for intraday bars (the bar's first minute)."""

    date: KISDate
    time: OptionalKISTime = None
    open_price: Krw
    high_price: Krw
    low_price: Krw
    close_price: Krw
    volume: Krw
    trading_value: Krw

    @property
    def timestamp(self) -> datetime:
        """The bar's start as an aware KST datetime (midnight for daily and longer bars)."""
        return datetime.combine(self.date, self.time or time(0), tzinfo=KST)


_MARKET_IDS = {"STK": "KOSPI", "KSQ": "KOSDAQ", "KNX": "KONEX"}


class StockInfo(KISModel):
    """Reference data about a stock (``search-stock-info``)."""

    stock_code: str = Field(alias="pdno")
    stock_name: str = Field(alias="prdt_abrv_name")
    full_name: OptionalText = Field(default=None, alias="prdt_name")
    english_name: OptionalText = Field(default=None, alias="prdt_eng_name")
    market: str | None = None
    isin: OptionalText = Field(default=None, alias="std_pdno")
    sector: OptionalText = Field(default=None, alias="std_idst_clsf_cd_name")
    listed_shares: OptionalKrw = Field(default=None, alias="lstg_stqt")
    face_value: OptionalKrw = Field(default=None, alias="papr")
    listed_on: OptionalKISDate = None
    kospi200: YesNo = Field(default=False, alias="kospi200_item_yn")
    trading_halted: YesNo = Field(default=False, alias="tr_stop_yn")
    administrative_issue: YesNo = Field(default=False, alias="admn_item_yn")
    nxt_tradable: YesNo = Field(default=False, alias="cptt_trad_tr_psbl_yn")
    previous_close: OptionalKrw = Field(default=None, alias="bfdy_clpr")

    @classmethod
    def from_kis(cls, output: Mapping[str, Any]) -> StockInfo:
        """Build from the ``output`` block, deriving the market from KIS's market id or dates."""
        data = dict(output)
        market = _MARKET_IDS.get(str(output.get("mket_id_cd", "")).strip())
        kospi_listed = _to_optional_date(output.get("scts_mket_lstg_dt", ""))
        kosdaq_listed = _to_optional_date(output.get("kosdaq_mket_lstg_dt", ""))
        if market is None:
            market = "KOSPI" if kospi_listed else ("KOSDAQ" if kosdaq_listed else None)
        data["market"] = market
        data["listed_on"] = kospi_listed or kosdaq_listed
        if not str(data.get("prdt_abrv_name", "")).strip():
            data["prdt_abrv_name"] = data.get("prdt_name", "")
        return cls.model_validate(data)

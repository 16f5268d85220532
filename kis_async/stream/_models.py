"""Typed events of the real-time stream: trade ticks, order-book updates, fill notices.

Every record field is parsed by its column name (``_columns``) into a typed value:
KRW prices and amounts and share counts as ``int``, rates as ``Decimal``, times as
KST ``datetime``/``time``. Models are immutable pydantic models; ``extra`` keeps the
fields of a record wider than the known columns (KIS has added columns before).
"""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from kis_async._models import ChangeSign
from kis_async._trading_models import Side

__all__ = [
    "FillNotice",
    "NoticeKind",
    "OrderBookUpdate",
    "StreamEvent",
    "TradeTick",
]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    #: The tr_id the record came on (H0STCNT0, H0NXCNT0, ...).
    tr_id: str
    #: Fields beyond the known columns, in wire order (empty normally).
    extra: tuple[str, ...] = ()


class TradeTick(_Event):
    """One trade (체결) of H0STCNT0 / H0NXCNT0 / H0UNCNT0: all 46 columns by name.

    Prices and amounts are KRW (``int``), volumes shares, rates percent (``Decimal``),
    ``traded_at`` the trade's KST time on ``business_date``.
    """

    ticker: str = Field(description="MKSC_SHRN_ISCD")
    traded_at: datetime = Field(description="BSOP_DATE + STCK_CNTG_HOUR, KST")
    time: dt.time = Field(description="STCK_CNTG_HOUR")
    price: int = Field(description="STCK_PRPR, KRW")
    change_sign: ChangeSign = Field(description="PRDY_VRSS_SIGN")
    change: int = Field(description="PRDY_VRSS, KRW from the base price")
    change_rate: Decimal = Field(description="PRDY_CTRT, percent")
    weighted_average_price: Decimal = Field(description="WGHN_AVRG_STCK_PRC, KRW")
    open: int = Field(description="STCK_OPRC, KRW")
    high: int = Field(description="STCK_HGPR, KRW")
    low: int = Field(description="STCK_LWPR, KRW")
    ask1: int = Field(description="ASKP1, best ask, KRW")
    bid1: int = Field(description="BIDP1, best bid, KRW")
    volume: int = Field(description="CNTG_VOL, shares in this trade")
    accumulated_volume: int = Field(description="ACML_VOL, shares today")
    accumulated_value: int = Field(description="ACML_TR_PBMN, KRW today")
    sell_trade_count: int = Field(description="SELN_CNTG_CSNU")
    buy_trade_count: int = Field(description="SHNU_CNTG_CSNU")
    net_buy_trade_count: int = Field(description="NTBY_CNTG_CSNU")
    strength: Decimal = Field(description="CTTR, 체결강도 (buy/sell volume, percent)")
    sell_volume_total: int = Field(description="SELN_CNTG_SMTN, shares")
    buy_volume_total: int = Field(description="SHNU_CNTG_SMTN, shares")
    trade_side: str = Field(description="CCLD_DVSN: 1 buy-initiated, 5 sell, 3 pre-open")
    buy_rate: Decimal = Field(description="SHNU_RATE, percent")
    volume_vs_previous_day_rate: Decimal = Field(description="PRDY_VOL_VRSS_ACML_VOL_RATE")
    open_time: dt.time = Field(description="OPRC_HOUR")
    open_vs_price_sign: ChangeSign = Field(description="OPRC_VRSS_PRPR_SIGN")
    open_vs_price: int = Field(description="OPRC_VRSS_PRPR, KRW")
    high_time: dt.time = Field(description="HGPR_HOUR")
    high_vs_price_sign: ChangeSign = Field(description="HGPR_VRSS_PRPR_SIGN")
    high_vs_price: int = Field(description="HGPR_VRSS_PRPR, KRW")
    low_time: dt.time = Field(description="LWPR_HOUR")
    low_vs_price_sign: ChangeSign = Field(description="LWPR_VRSS_PRPR_SIGN")
    low_vs_price: int = Field(description="LWPR_VRSS_PRPR, KRW")
    business_date: date = Field(description="BSOP_DATE")
    market_phase_code: str = Field(description="NEW_MKOP_CLS_CODE")
    halted: bool = Field(description="TRHT_YN")
    ask1_quantity: int = Field(description="ASKP_RSQN1, shares")
    bid1_quantity: int = Field(description="BIDP_RSQN1, shares")
    total_ask_quantity: int = Field(description="TOTAL_ASKP_RSQN, shares")
    total_bid_quantity: int = Field(description="TOTAL_BIDP_RSQN, shares")
    turnover_rate: Decimal = Field(description="VOL_TNRT, percent")
    previous_day_same_time_volume: int = Field(description="PRDY_SMNS_HOUR_ACML_VOL")
    previous_day_same_time_volume_rate: Decimal = Field(
        description="PRDY_SMNS_HOUR_ACML_VOL_RATE, percent"
    )
    hour_class_code: str = Field(description="HOUR_CLS_CODE")
    market_termination_code: str = Field(description="MRKT_TRTM_CLS_CODE")
    vi_standard_price: int = Field(description="VI_STND_PRC, KRW")


class OrderBookUpdate(_Event):
    """One order-book record of H0STASP0 (59 columns) or H0NXASP0 / H0UNASP0 (65).

    ``asks``/``bids`` are the 10 levels best first (KRW, 0 where no level), with their
    quantities in shares; ``expected_*`` is the expected fill of an auction.
    """

    ticker: str
    time: dt.time
    hour_class_code: str
    asks: tuple[int, ...]
    bids: tuple[int, ...]
    ask_quantities: tuple[int, ...]
    bid_quantities: tuple[int, ...]
    total_ask_quantity: int
    total_bid_quantity: int
    overtime_total_ask_quantity: int
    overtime_total_bid_quantity: int
    expected_price: int
    expected_quantity: int
    expected_volume: int
    expected_change: int
    expected_change_sign: ChangeSign
    expected_change_rate: Decimal
    accumulated_volume: int
    total_ask_quantity_change: int
    total_bid_quantity_change: int
    overtime_total_ask_change: int
    overtime_total_bid_change: int
    deal_class_code: str
    #: KRX / NXT mid prices (KRW) and their quantities: H0NXASP0 / H0UNASP0 only.
    krx_mid_price: int | None = None
    krx_mid_total_quantity: int | None = None
    krx_mid_class_code: str | None = None
    nxt_mid_price: int | None = None
    nxt_mid_total_quantity: int | None = None
    nxt_mid_class_code: str | None = None


class NoticeKind(StrEnum):
    """What a fill notice reports."""

    FILL = "fill"
    ACCEPTED = "accepted"
    REVISED = "revised"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


class FillNotice(_Event):
    """One order or fill notice of H0STCNI0 / H0STCNI9 (26 columns), decrypted.

    On a fill (``kind`` FILL) ``quantity``/``price`` are the shares and KRW of the
    execution; on an order notice they carry the order's quantity and price.
    ``customer_id`` (the HTS ID), ``account_no`` and ``account_name`` never show in a repr.
    """

    kind: NoticeKind
    customer_id: str = Field(description="CUST_ID, the HTS ID", repr=False)
    account_no: SecretStr = Field(description="ACNT_NO", repr=False)
    order_no: str = Field(description="ODER_NO")
    original_order_no: str = Field(description="OODER_NO (revise/cancel)")
    side: Side = Field(description="SELN_BYOV_CLS: 01 sell, 02 buy")
    revise_cancel_code: str = Field(description="RCTF_CLS: 0 normal, 1 revise, 2 cancel")
    order_kind: str = Field(description="ODER_KIND, KIS's order-type code")
    order_condition: str = Field(description="ODER_COND: 0 none, 1 IOC, 2 FOK")
    ticker: str = Field(description="STCK_SHRN_ISCD")
    quantity: int = Field(description="CNTG_QTY, shares")
    price: int = Field(description="CNTG_UNPR, KRW")
    time: dt.time = Field(description="STCK_CNTG_HOUR")
    rejected: bool = Field(description="RFUS_YN == 1")
    is_fill: bool = Field(description="CNTG_YN == 2")
    acceptance_code: str = Field(description="ACPT_YN: 1 accepted, 2 confirmed, 3 cancelled")
    branch_no: str = Field(description="BRNC_NO")
    order_quantity: int = Field(description="ODER_QTY, shares")
    account_name: str = Field(description="ACNT_NAME", repr=False)
    order_condition_price: int = Field(description="ORD_COND_PRC, KRW")
    exchange_code: str = Field(description="ORD_EXG_GB: 1 KRX, 2 NXT, 3 SOR-KRX, 4 SOR-NXT")
    popup: str = Field(description="POPUP_YN")
    filler: str = Field(description="FILLER")
    credit_class: str = Field(description="CRDT_CLS")
    credit_loan_date: str = Field(description="CRDT_LOAN_DATE")
    ticker_name: str = Field(description="CNTG_ISNM40")
    order_price: int = Field(description="ODER_PRC, KRW")


StreamEvent = TradeTick | OrderBookUpdate | FillNotice

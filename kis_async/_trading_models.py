"""Typed models of orders, balances and order history."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BeforeValidator, Field

from ._clock import KST
from ._models import (
    KISDate,
    KISModel,
    Krw,
    OptionalKISDate,
    OptionalKISTime,
    OptionalText,
    Rate,
    YesNo,
    _to_time,
)

__all__ = [
    "Balance",
    "BalanceSummary",
    "BuyableAmount",
    "Exchange",
    "Holding",
    "OrderRecord",
    "OrderResult",
    "OrderType",
    "Side",
]

Exchange = Literal["KRX", "NXT", "SOR"]


class Side(StrEnum):
    """Buy or sell. ``code`` is KIS's ``sll_buy_dvsn_cd`` (01 sell, 02 buy)."""

    BUY = "buy"
    SELL = "sell"

    @property
    def code(self) -> str:
        """KIS's ``sll_buy_dvsn_cd``: "02" for a buy, "01" for a sell."""
        return "02" if self is Side.BUY else "01"

    @classmethod
    def from_code(cls, code: str) -> Side:
        """The side KIS's "01" (sell) or "02" (buy) names; KeyError for any other code."""
        return {"01": cls.SELL, "02": cls.BUY}[code.strip()]


class OrderType(StrEnum):
    """The order types this SDK places. ``code`` is KIS's ``ORD_DVSN``."""

    LIMIT = "limit"
    MARKET = "market"

    @property
    def code(self) -> str:
        """KIS's ``ORD_DVSN``: "00" for a limit order, "01" for a market order."""
        return "00" if self is OrderType.LIMIT else "01"


def _side(value: Any) -> Any:
    if isinstance(value, str) and value.strip() in ("01", "02"):
        return Side.from_code(value)
    return value


SideCode = Annotated[Side, BeforeValidator(_side)]


class OrderResult(KISModel):
    """An order KIS accepted (accepted is not filled: see the order history for fills).

    ``recovered`` is True when the answer to the order was lost and the order was
    found afterwards in the order history.
    """

    order_id: str
    org_no: str
    ordered_at: datetime
    ticker: str
    side: Side
    #: Shares; None for a revise or cancel of everything still resting.
    quantity: int | None
    #: Limit price in KRW (a cancel keeps the cancelled order's); None for a market order.
    price: int | None
    order_type: OrderType = OrderType.LIMIT
    #: "new", or "revise"/"cancel" for an order that changed ``original_order_id``.
    kind: Literal["new", "revise", "cancel"] = "new"
    exchange: Exchange = "KRX"
    #: For a revise or cancel order: the order it changed.
    original_order_id: str | None = None
    recovered: bool = False

    @staticmethod
    def _fields(output: Mapping[str, Any]) -> dict[str, str]:
        # KIS documents these keys in upper case for order-cash and in lower case for
        # order-rvsecncl: read them in either.
        return {str(key).upper(): str(value).strip() for key, value in output.items()}

    @classmethod
    def has_order_id(cls, output: Mapping[str, Any]) -> bool:
        """Whether an order answer's ``output`` names the order (ODNO, in either case)."""
        return bool(cls._fields(output).get("ODNO"))

    @classmethod
    def from_output(cls, output: Mapping[str, Any], *, today: date, **order: Any) -> OrderResult:
        """Build from an order answer's ``output``: KRX_FWDG_ORD_ORGNO, ODNO, ORD_TMD.

        The keys are read in either case (``ODNO`` or ``odno``).
        """
        fields = cls._fields(output)
        placed = _to_time(fields.get("ORD_TMD", ""))
        ordered_at = datetime.combine(today, placed if isinstance(placed, time) else time(0), KST)
        return cls.model_validate(
            {
                "order_id": fields.get("ODNO", ""),
                "org_no": fields.get("KRX_FWDG_ORD_ORGNO", ""),
                "ordered_at": ordered_at,
                **order,
            }
        )


class Holding(KISModel):
    """One stock held (``inquire-balance`` output1). Money in KRW, rates in percent."""

    stock_code: str = Field(alias="pdno")
    stock_name: str = Field(alias="prdt_name")
    quantity: Krw = Field(alias="hldg_qty")
    orderable_quantity: Krw = Field(alias="ord_psbl_qty")
    avg_price: Rate = Field(alias="pchs_avg_pric", description="average purchase price, KRW")
    purchase_amount: Krw = Field(alias="pchs_amt")
    current_price: Krw = Field(alias="prpr")
    eval_amount: Krw = Field(alias="evlu_amt")
    profit_loss: Krw = Field(alias="evlu_pfls_amt")
    profit_loss_rate: Rate = Field(alias="evlu_pfls_rt")
    bought_today: Krw = Field(default=0, alias="thdt_buyqty")
    sold_today: Krw = Field(default=0, alias="thdt_sll_qty")


class BalanceSummary(KISModel):
    """Account totals (``inquire-balance`` output2), KRW."""

    deposit: Krw = Field(alias="dnca_tot_amt")
    next_day_deposit: Krw = Field(default=0, alias="nxdy_excc_amt")
    d2_deposit: Krw = Field(default=0, alias="prvs_rcdl_excc_amt")
    total_eval_amount: Krw = Field(alias="tot_evlu_amt")
    net_asset: Krw = Field(alias="nass_amt")
    purchase_total: Krw = Field(alias="pchs_amt_smtl_amt")
    eval_total: Krw = Field(alias="evlu_amt_smtl_amt")
    profit_loss_total: Krw = Field(alias="evlu_pfls_smtl_amt")
    bought_today_amount: Krw = Field(default=0, alias="thdt_buy_amt")
    sold_today_amount: Krw = Field(default=0, alias="thdt_sll_amt")
    fees_today: Krw = Field(default=0, alias="thdt_tlex_amt")


class Balance(KISModel):
    """Every holding (all pages, in KIS's order) and the account totals."""

    holdings: tuple[Holding, ...]
    summary: BalanceSummary

    def holding(self, ticker: str) -> Holding | None:
        """The holding of ``ticker``, or None."""
        return next((h for h in self.holdings if h.stock_code == ticker), None)


class BuyableAmount(KISModel):
    """What the account can buy (``inquire-psbl-order``), KRW and shares."""

    orderable_cash: Krw = Field(alias="ord_psbl_cash")
    #: The price KIS computed the quantities with.
    price: Krw = Field(alias="psbl_qty_calc_unpr")
    #: Without credit (미수 없이): what cash alone buys.
    cash_buy_amount: Krw = Field(alias="nrcvb_buy_amt")
    cash_buy_quantity: Krw = Field(alias="nrcvb_buy_qty")
    #: With credit, the most KIS would accept.
    max_buy_amount: Krw = Field(alias="max_buy_amt")
    max_buy_quantity: Krw = Field(alias="max_buy_qty")


class OrderRecord(KISModel):
    """One order of the daily order history (``inquire-daily-ccld`` output1)."""

    order_date: KISDate = Field(alias="ord_dt")
    order_id: str = Field(alias="odno")
    org_no: str = Field(alias="ord_gno_brno")
    original_order_id: OptionalText = Field(default=None, alias="orgn_odno")
    side: SideCode = Field(alias="sll_buy_dvsn_cd")
    ticker: str = Field(alias="pdno")
    stock_name: OptionalText = Field(default=None, alias="prdt_name")
    order_type_code: OptionalText = Field(default=None, alias="ord_dvsn_cd")
    quantity: Krw = Field(alias="ord_qty")
    price: Krw = Field(alias="ord_unpr", description="limit price; 0 for market orders")
    ordered_time: OptionalKISTime = Field(default=None, alias="ord_tmd")
    filled_quantity: Krw = Field(alias="tot_ccld_qty")
    average_fill_price: Rate = Field(alias="avg_prvs")
    filled_amount: Krw = Field(alias="tot_ccld_amt")
    remaining_quantity: Krw = Field(default=0, alias="rmn_qty")
    cancelled_quantity: Krw = Field(default=0, alias="cnc_cfrm_qty")
    rejected_quantity: Krw = Field(default=0, alias="rjct_qty")
    cancelled: YesNo = Field(default=False, alias="cncl_yn")
    exchange: OptionalText = Field(
        default=None, validation_alias=AliasChoices("excg_id_dvsn_Cd", "excg_id_dvsn_cd")
    )
    loan_date: OptionalKISDate = Field(default=None, alias="loan_dt")

    @property
    def ordered_at(self) -> datetime:
        """When the order was placed, in KST (midnight of ``order_date`` when KIS gave no time)."""
        return datetime.combine(self.order_date, self.ordered_time or time(0), KST)

    @property
    def is_filled(self) -> bool:
        """Whether every share ordered has been filled."""
        return self.quantity > 0 and self.filled_quantity >= self.quantity

    @property
    def is_market_order(self) -> bool:
        """Whether KIS records it as a market order (``ord_dvsn_cd`` "01")."""
        return self.order_type_code == "01"

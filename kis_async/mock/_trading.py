"""The trading endpoints (kis-api.md §4.7-§4.11): orders, balance, buyable amount, history.

Handlers read the wire (UPPERCASE string-valued bodies, query parameters in either
case), ask the :class:`~._exchange.Exchange`, and write the state back in KIS's shapes:
order answers with UPPERCASE ``output`` keys, everything else lowercase, every value a
string. Nothing is canned: every number comes from the accounts and orders.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from typing import Any

from kis_async.market import buy_cost, max_quantity, round_to_tick

from ._accounts import MockAccount
from ._exchange import (
    EXCHANGES,
    QUANTITY,
    VIRTUAL_KRX_ONLY,
    Exchange,
    rejection,
)
from ._orders import MockFill, MockOrder, OrderType, Side
from ._paging import paginate, request_key
from ._routes import Call, Endpoint, Server, tr_ids
from ._wire import Success, gateway, invalid_input, ratio, scaled

__all__ = [
    "BALANCE_PATH",
    "BALANCE_ROWS",
    "DAILY_CCLD_PATH",
    "HISTORY_ROWS",
    "LEGACY_TR_IDS",
    "ORDER_CASH_PATH",
    "ORDER_RVSECNCL_PATH",
    "PSBL_ORDER_PATH",
    "TR_IDS",
    "Trading",
]

_BASE = "/uapi/domestic-stock/v1/trading"
ORDER_CASH_PATH = f"{_BASE}/order-cash"
ORDER_RVSECNCL_PATH = f"{_BASE}/order-rvsecncl"
BALANCE_PATH = f"{_BASE}/inquire-balance"
PSBL_ORDER_PATH = f"{_BASE}/inquire-psbl-order"
DAILY_CCLD_PATH = f"{_BASE}/inquire-daily-ccld"

#: The current tr_ids (kis-api.md §4.7-§4.11), real ``T...`` / virtual ``V...``.
TR_IDS: dict[str, tuple[str, str]] = {
    "buy": ("TTTC0012U", "VTTC0012U"),
    "sell": ("TTTC0011U", "VTTC0011U"),
    "rvsecncl": ("TTTC0013U", "VTTC0013U"),
    "balance": ("TTTC8434R", "VTTC8434R"),
    "psbl_order": ("TTTC8908R", "VTTC8908R"),
    "daily_ccld": ("TTTC0081R", "VTTC0081R"),
}
#: The old tr_ids, still accepted: KIS deprecated them without a cut-off date, and code
#: KIS publishes in 2026 (the official repository's backtester) still sends them. The
#: old history tr_id (TTTC8001R) answers like the current one.
LEGACY_TR_IDS: dict[str, tuple[str, str]] = {
    "buy": ("TTTC0802U", "VTTC0802U"),
    "sell": ("TTTC0801U", "VTTC0801U"),
    "rvsecncl": ("TTTC0803U", "VTTC0803U"),
    "daily_ccld": ("TTTC8001R", "VTTC8001R"),
}
_BUY_TR_IDS = frozenset(TR_IDS["buy"] + LEGACY_TR_IDS["buy"])

#: Rows per page (kis-api.md §4.9, §4.11).
BALANCE_ROWS: dict[Server, int] = {"real": 50, "virtual": 20}
HISTORY_ROWS: dict[Server, int] = {"real": 100, "virtual": 15}

_ACCEPTED = ("APBK0013", "주문 전송 완료 되었습니다.")
_QUERY_DONE = ("KIOK0510", "조회가 완료되었습니다")
_QUERY_MORE = ("KIOK0500", "조회가 계속됩니다..다음버튼을 Click 하십시오.")

_ORDER_TYPES: dict[str, OrderType] = {"00": "limit", "01": "market"}
_ORDER_TYPE_CODES = {"limit": "00", "market": "01"}
_ORDER_TYPE_NAMES = {"limit": "지정가", "market": "시장가"}
_SIDE_CODES = {"sell": "01", "buy": "02"}
_SIDE_NAMES = {"sell": "매도", "buy": "매수"}
_KIND_SUFFIX = {"new": "", "revise": "정정", "cancel": "취소"}
#: SLL_TYPE: 01 ordinary sell, 02 discretionary, 05 borrowed-stock sell (§4.7).
_SELL_TYPES = frozenset({"", "01", "02", "05"})
_YES_NO = frozenset({"Y", "N"})

_ORDER_CASH_KEYS = ("CANO", "ACNT_PRDT_CD", "PDNO", "ORD_DVSN", "ORD_QTY", "ORD_UNPR")
_RVSECNCL_KEYS = (
    "CANO",
    "ACNT_PRDT_CD",
    "KRX_FWDG_ORD_ORGNO",
    "ORGN_ODNO",
    "ORD_DVSN",
    "RVSE_CNCL_DVSN_CD",
    "ORD_QTY",
    "ORD_UNPR",
    "QTY_ALL_ORD_YN",
)


def _both(*keys: str) -> dict[Server, frozenset[str]]:
    """The current and old tr_ids of ``keys``, real and virtual."""
    pairs = [TR_IDS[key] for key in keys] + [LEGACY_TR_IDS[k] for k in keys if k in LEGACY_TR_IDS]
    return tr_ids(real={real for real, _ in pairs}, virtual={virtual for _, virtual in pairs})


def _ymd(day: date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def _digits(text: str) -> int | None:
    """``text`` as a whole number if it is ASCII digits only (blank: None)."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _body(call: Call, required: tuple[str, ...]) -> dict[str, str]:
    """The JSON body: keys UPPERCASE, values strings, ``required`` present (else OPSQ2001)."""
    try:
        raw = json.loads(call.request.body) if call.request.body else {}
    except ValueError:
        raw = None
    if not isinstance(raw, dict):
        raise invalid_input(required[0])  # nothing readable: the first key is missing
    for key, value in raw.items():
        if key != key.upper() or not isinstance(value, str):
            raise invalid_input(key)
    for key in required:
        if key not in raw:
            raise invalid_input(key)
    return raw


def _date_param(call: Call, name: str) -> date:
    text = call.param(name).strip()
    if len(text) != 8 or not text.isascii() or not text.isdigit():
        raise invalid_input(name)
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise invalid_input(name) from None


class _Tally:
    """Fills of one day summed: per code bought/sold shares, and KRW totals."""

    __slots__ = ("bought", "buy_amount", "costs", "sell_amount", "sold")

    def __init__(self, fills: Iterable[MockFill]) -> None:
        self.bought: dict[str, int] = {}
        self.sold: dict[str, int] = {}
        self.buy_amount = self.sell_amount = self.costs = 0
        for fill in fills:
            if fill.side == "buy":
                self.bought[fill.ticker] = self.bought.get(fill.ticker, 0) + fill.quantity
                self.buy_amount += fill.amount
            else:
                self.sold[fill.ticker] = self.sold.get(fill.ticker, 0) + fill.quantity
                self.sell_amount += fill.amount
            self.costs += fill.commission + fill.tax

    @property
    def cash_flow(self) -> int:
        """KRW the day's fills moved into the deposit (negative: out of it)."""
        return self.sell_amount - self.buy_amount - self.costs


class Trading:
    """Handlers of the trading endpoints over one :class:`Exchange`."""

    def __init__(
        self,
        exchange: Exchange,
        *,
        history_lag: Callable[[], float] = lambda: 0.0,
        open_account: Callable[[str, str], MockAccount | None] | None = None,
    ) -> None:
        """``history_lag()`` is the seconds a new order takes to show in the history;
        ``open_account(app_key, account_no)``, if given, opens an account for an app
        that has none yet, under the number its request names (None: refused)."""
        self.exchange = exchange
        self.market = exchange.market
        self._history_lag = history_lag
        self._open_account = open_account

    def endpoints(self) -> list[Endpoint]:
        """The trading endpoints with their tr_ids per server."""
        return [
            Endpoint("POST", ORDER_CASH_PATH, self.order_cash, tr_ids=_both("buy", "sell")),
            Endpoint("POST", ORDER_RVSECNCL_PATH, self.order_rvsecncl, tr_ids=_both("rvsecncl")),
            Endpoint("GET", BALANCE_PATH, self.inquire_balance, tr_ids=_both("balance")),
            Endpoint("GET", PSBL_ORDER_PATH, self.inquire_psbl_order, tr_ids=_both("psbl_order")),
            Endpoint("GET", DAILY_CCLD_PATH, self.inquire_daily_ccld, tr_ids=_both("daily_ccld")),
        ]

    # -- shared ---------------------------------------------------------------------

    def _account(self, call: Call, cano: str, product: str) -> MockAccount:
        account = self.exchange.account_for(call.app_key)
        if account is None and self._open_account is not None:
            account = self._open_account(call.app_key, f"{cano}-{product}")
        if account is None or cano != account.cano or product != account.product:
            raise invalid_input("ACNO")
        return account

    def _query_account(self, call: Call) -> MockAccount:
        return self._account(call, call.param("CANO"), call.param("ACNT_PRDT_CD"))

    def _venue(self, body: dict[str, str]) -> str:
        venue = body.get("EXCG_ID_DVSN_CD") or "KRX"  # KRX when absent (§4.7)
        if venue not in EXCHANGES:
            raise invalid_input("EXCG_ID_DVSN_CD")
        return venue

    @staticmethod
    def _accepted(order: MockOrder) -> Success:
        output = {
            "KRX_FWDG_ORD_ORGNO": order.org_no,
            "ODNO": order.order_id,
            "ORD_TMD": order.ordered_at.strftime("%H%M%S"),
        }
        return Success({"output": output}, msg_cd=_ACCEPTED[0], msg1=_ACCEPTED[1])

    # -- order-cash (§4.7) ------------------------------------------------------------

    def order_cash(self, call: Call) -> Success:
        """A new cash order: buy (TTTC0012U) or sell (TTTC0011U), limit or market."""
        body = _body(call, _ORDER_CASH_KEYS)
        account = self._account(call, body["CANO"], body["ACNT_PRDT_CD"])
        side: Side = "buy" if call.tr_id in _BUY_TR_IDS else "sell"
        order_type = _ORDER_TYPES.get(body["ORD_DVSN"])
        if order_type is None:
            # Only limit and market orders are simulated.
            raise invalid_input("ORD_DVSN")
        venue = self._venue(body)
        if side == "sell" and body.get("SLL_TYPE", "") not in _SELL_TYPES:
            raise invalid_input("SLL_TYPE")
        quantity = _digits(body["ORD_QTY"])
        if not quantity:
            raise rejection(QUANTITY)
        price = _digits(body["ORD_UNPR"])
        if order_type == "market" and body["ORD_UNPR"].strip() == "":
            price = 0
        if price is None or (price == 0) != (order_type == "market"):
            # A limit order needs a price; a market order's is "0".
            raise invalid_input("ORD_UNPR")
        order = self.exchange.place(
            account, body["PDNO"].strip(), side, order_type, quantity, price, venue, call.now
        )
        return self._accepted(order)

    # -- order-rvsecncl (§4.8) --------------------------------------------------------

    def order_rvsecncl(self, call: Call) -> Success:
        """Revise ("01") or cancel ("02") the resting part of an order: a new order of its own."""
        body = _body(call, _RVSECNCL_KEYS)
        account = self._account(call, body["CANO"], body["ACNT_PRDT_CD"])
        action = body["RVSE_CNCL_DVSN_CD"]
        if action not in ("01", "02"):
            raise invalid_input("RVSE_CNCL_DVSN_CD")
        if body["QTY_ALL_ORD_YN"] not in _YES_NO:
            raise invalid_input("QTY_ALL_ORD_YN")
        # A revise makes a limit order; a cancel may name either type.
        if body["ORD_DVSN"] not in (("00",) if action == "01" else ("00", "01")):
            raise invalid_input("ORD_DVSN")
        if self._venue(body) != "KRX" and self.exchange.server == "virtual":
            raise rejection(VIRTUAL_KRX_ONLY)
        quantity: int | None = None
        if body["QTY_ALL_ORD_YN"] == "N":
            quantity = _digits(body["ORD_QTY"])
            if not quantity:
                raise rejection(QUANTITY)
        price = _digits(body["ORD_UNPR"])
        original, org_no = body["ORGN_ODNO"], body["KRX_FWDG_ORD_ORGNO"]
        if action == "01":
            if not price:
                raise invalid_input("ORD_UNPR")
            order = self.exchange.revise(account, original, org_no, quantity, price, call.now)
        else:
            if price is None and body["ORD_UNPR"].strip():
                raise invalid_input("ORD_UNPR")
            order = self.exchange.cancel(account, original, org_no, quantity, call.now)
        return self._accepted(order)

    # -- inquire-balance (§4.9) -------------------------------------------------------

    def inquire_balance(self, call: Call) -> Success:
        """Holdings (``output1``, paged 50 real / 20 virtual) and totals (``output2``)."""
        account = self._query_account(call)
        values = [
            account.cano,
            account.product,
            call.param("AFHR_FLPR_YN", {"N", "Y", "X"}),
            call.param("OFL_YN", required=False),
            # 01 by loan date, 02 by stock (§4.9): both list the same cash holdings.
            call.param("INQR_DVSN", {"01", "02"}),
            call.param("UNPR_DVSN", {"01"}),
            call.param("FUND_STTL_ICLD_YN", _YES_NO),
            call.param("FNCG_AMT_AUTO_RDPT_YN", _YES_NO),
            call.param("PRCS_DVSN", {"00", "01"}),
        ]
        with_yesterday = values[-1] == "00"
        now = call.now
        self.exchange.catch_up(now)
        market = self.market
        session = market.session(now)
        today = _Tally(account.fills_on(session))
        previous_day = market.calendar.day_at(market.calendar.index(session) - 1)
        yesterday = _Tally(account.fills_on(previous_day) if with_yesterday else ())
        positions = account.positions()
        # In the order the account first acquired them; sold out today: still listed,
        # with hldg_qty 0 (§4.9).
        codes = [
            code
            for code, position in positions.items()
            if position.quantity > 0 or code in today.bought or code in today.sold
        ]
        rows: list[dict[str, str]] = []
        purchased = valued = opening_value = 0
        for code in codes:
            position = positions[code]
            ticker = market.tickers[code]
            base = market.limits(code, session)[0]
            price = market.price(code, now)
            quantity = position.quantity
            paid = account.purchase_amount(code)
            value = price * quantity
            purchased += paid
            valued += value
            # Yesterday's holding at yesterday's close (today's base price).
            opening = quantity - today.bought.get(code, 0) + today.sold.get(code, 0)
            opening_value += opening * base
            rows.append(
                {
                    "pdno": code,
                    "prdt_name": ticker.name_ko,
                    "trad_dvsn_name": "현금",
                    "bfdy_buy_qty": str(yesterday.bought.get(code, 0)),
                    "bfdy_sll_qty": str(yesterday.sold.get(code, 0)),
                    "thdt_buyqty": str(today.bought.get(code, 0)),
                    "thdt_sll_qty": str(today.sold.get(code, 0)),
                    "hldg_qty": str(quantity),
                    "ord_psbl_qty": str(account.orderable_quantity(code)),
                    "pchs_avg_pric": f"{position.avg_price:.4f}",
                    "pchs_amt": str(paid),
                    "prpr": str(price),
                    "evlu_amt": str(value),
                    "evlu_pfls_amt": str(value - paid),
                    "evlu_pfls_rt": ratio(value - paid, paid),
                    "evlu_erng_rt": "0",
                    "loan_dt": "",
                    "loan_amt": "0",
                    "stln_slng_chgs": "0",
                    "expd_dt": "",
                    "fltt_rt": ratio(price - base, base),
                    "bfdy_cprs_icdc": str(price - base),
                    "item_mgna_rt_name": "20%" if ticker.kospi200 else "40%",
                    # No credit is offered, so no guarantee rate applies.
                    "grta_rt_name": "",
                    # Collateral value: 70% of the base price, as the quotations show it.
                    "sbst_pric": str(round_to_tick(base * 7 // 10 or 1, "down")),
                    "stck_loan_unpr": "0",
                }
            )
        cash = account.balance()
        total = valued + cash
        opening_total = opening_value + cash - today.cash_flow
        totals = {
            "dnca_tot_amt": str(cash),
            # Cash settles at once in the mock: D+1 and D+2 deposits equal the deposit.
            "nxdy_excc_amt": str(cash),
            "prvs_rcdl_excc_amt": str(cash),
            "cma_evlu_amt": "0",
            "bfdy_buy_amt": str(yesterday.buy_amount),
            "thdt_buy_amt": str(today.buy_amount),
            "nxdy_auto_rdpt_amt": "0",
            "bfdy_sll_amt": str(yesterday.sell_amount),
            "thdt_sll_amt": str(today.sell_amount),
            "d2_auto_rdpt_amt": "0",
            "bfdy_tlex_amt": str(yesterday.costs),
            "thdt_tlex_amt": str(today.costs),
            "tot_loan_amt": "0",
            "scts_evlu_amt": str(valued),
            "tot_evlu_amt": str(total),
            "nass_amt": str(total),
            "fncg_gld_auto_rdpt_yn": "N",
            "pchs_amt_smtl_amt": str(purchased),
            "evlu_amt_smtl_amt": str(valued),
            "evlu_pfls_smtl_amt": str(valued - purchased),
            "tot_stln_slng_chgs": "0",
            "bfdy_tot_asst_evlu_amt": str(opening_total),
            "asst_icdc_amt": str(total - opening_total),
            "asst_icdc_erng_rt": "0",
        }
        page = paginate(
            call,
            rows,
            lambda row: row["pdno"],
            BALANCE_ROWS[call.server],
            request_key(values),
        )
        msg_cd, msg1 = _QUERY_MORE if page.more else _QUERY_DONE
        return Success(
            {**page.keys(), "output1": page.rows, "output2": [totals]},
            msg_cd=msg_cd,
            msg1=msg1,
            tr_cont=page.tr_cont,
        )

    # -- inquire-psbl-order (§4.10) ---------------------------------------------------

    def inquire_psbl_order(self, call: Call) -> Success:
        """What the account can buy of PDNO: orderable cash and quantities (no credit)."""
        account = self._query_account(call)
        now = call.now
        code = call.param("PDNO").strip()
        session = self.market.session(now)
        if not self.market.is_listed(code, session):
            raise gateway("MCA05918")
        order_type = call.param("ORD_DVSN", {"00", "01"})
        call.param("CMA_EVLU_AMT_ICLD_YN", _YES_NO)
        call.param("OVRS_ICLD_YN", _YES_NO)
        if order_type == "00":
            unit = _digits(call.param("ORD_UNPR"))
            if not unit:
                raise invalid_input("ORD_UNPR")
        else:
            # A market order is priced at the upper limit, as KIS reserves it (§4.7).
            unit = self.market.limits(code, session)[2]
        self.exchange.catch_up(now)
        cash = account.orderable_cash()
        fees = account.fees
        quantity = max_quantity(cash, unit, fees)
        amount = buy_cost(unit, quantity, fees)
        return Success(
            {
                "output": {
                    "ord_psbl_cash": str(cash),
                    "ord_psbl_sbst": "0",
                    "ruse_psbl_amt": "0",
                    "fund_rpch_chgs": "0",
                    "psbl_qty_calc_unpr": str(unit),
                    "nrcvb_buy_amt": str(amount),
                    "nrcvb_buy_qty": str(quantity),
                    # No credit in the mock: the most it accepts is what cash buys.
                    "max_buy_amt": str(amount),
                    "max_buy_qty": str(quantity),
                    "cma_evlu_amt": "0",
                    "ovrs_re_use_amt_wcrc": "0",
                    "ord_psbl_frcr_amt_wcrc": "0",
                }
            },
            msg_cd=_QUERY_DONE[0],
            msg1=_QUERY_DONE[1],
        )

    # -- inquire-daily-ccld (§4.11) ---------------------------------------------------

    def inquire_daily_ccld(self, call: Call) -> Success:
        """Orders by order date with their fills: ``output1`` paged 100 real / 15 virtual."""
        account = self._query_account(call)
        start = _date_param(call, "INQR_STRT_DT")
        end = _date_param(call, "INQR_END_DT")
        side = call.param("SLL_BUY_DVSN_CD", {"00", "01", "02"})
        newest_first = call.param("INQR_DVSN", {"00", "01"}) == "00"
        fills = call.param("CCLD_DVSN", {"00", "01", "02"})
        code = call.param("PDNO", required=False).strip()
        branch = call.param("ORD_GNO_BRNO", required=False).strip()
        number = call.param("ODNO", required=False).strip()
        venue = call.param("EXCG_ID_DVSN_CD", {"", "KRX", "NXT", "SOR", "ALL"}, required=False)
        values = [
            account.cano,
            account.product,
            _ymd(start),
            _ymd(end),
            side,
            call.param("INQR_DVSN"),
            code,
            fills,
            branch,
            number,
            call.param("INQR_DVSN_3", required=False),
            call.param("INQR_DVSN_1", required=False),
            venue,
        ]
        self.exchange.catch_up(call.now)
        lag = self._history_lag()
        # Orders younger than the lag are not in the history yet.
        shown_until = call.now - timedelta(seconds=lag)
        orders = [
            order
            for order in account.recorded()
            if (lag <= 0 or order.ordered_at <= shown_until)
            and start <= order.ordered_at.date() <= end
            and (side == "00" or _SIDE_CODES[order.side] == side)
            and (not code or order.ticker == code)
            and (fills != "01" or order.filled > 0)
            and (fills != "02" or order.resting > 0)
            and (not branch or order.org_no == branch)
            and (not number or order.order_id == number.zfill(10))
            and (venue in ("", "ALL") or order.exchange == venue)
        ]
        if newest_first:
            orders.reverse()
        page = paginate(
            call,
            orders,
            lambda order: order.order_id,
            HISTORY_ROWS[call.server],
            request_key(values),
        )
        filled_quantity = sum(o.filled for o in orders)
        filled_amount = sum(o.filled_amount for o in orders)
        totals = {
            "tot_ord_qty": str(sum(o.quantity for o in orders)),
            "tot_ccld_qty": str(filled_quantity),
            "tot_ccld_amt": str(filled_amount),
            "prsm_tlex_smtl": str(sum(f.commission + f.tax for o in orders for f in o.fills)),
            "pchs_avg_pric": scaled(filled_amount, filled_quantity, 4),
        }
        msg_cd, msg1 = _QUERY_MORE if page.more else _QUERY_DONE
        return Success(
            {
                **page.keys(),
                "output1": [self._history_row(order) for order in page.rows],
                "output2": totals,
            },
            msg_cd=msg_cd,
            msg1=msg1,
            tr_cont=page.tr_cont,
        )

    def _history_row(self, order: MockOrder) -> dict[str, Any]:
        ticker = self.market.tickers[order.ticker]
        cancel = order.kind == "cancel"
        filled = order.filled
        amount = order.filled_amount
        placed = order.ordered_at.strftime("%H%M%S")
        return {
            "ord_dt": _ymd(order.ordered_at.date()),
            "ord_gno_brno": order.org_no,
            "odno": order.order_id,
            "orgn_odno": order.original_order_id or "",
            "ord_dvsn_name": _ORDER_TYPE_NAMES[order.order_type],
            "sll_buy_dvsn_cd": _SIDE_CODES[order.side],
            "sll_buy_dvsn_cd_name": _SIDE_NAMES[order.side] + _KIND_SUFFIX[order.kind],
            "pdno": order.ticker,
            "prdt_name": ticker.name_ko,
            "ord_qty": str(order.quantity),
            "ord_unpr": str(order.price),
            "ord_tmd": placed,
            "tot_ccld_qty": str(filled),
            # The average fill price, whole KRW (rounded half up).
            "avg_prvs": scaled(amount, filled, 0) if filled else "0",
            "cncl_yn": "Y" if cancel else "N",
            "tot_ccld_amt": str(amount),
            "loan_dt": "",
            "ordr_empno": "",
            "ord_dvsn_cd": _ORDER_TYPE_CODES[order.order_type],
            # Taken off by cancels and by revises (a KRX revise cancels and re-enters);
            # a cancel order's row confirms its own quantity.
            "cnc_cfrm_qty": str(order.quantity if cancel else order.cancelled + order.revised),
            # What still rests: an order whose session has ended rests nothing.
            "rmn_qty": str(order.resting),
            "rjct_qty": "0",
            "ccld_cndt_name": "없음",
            "inqr_ip_addr": "",
            # Order-slip codes of KIS's back office; no value set is documented.
            "cpbc_ordp_ord_rcit_dvsn_cd": "",
            "cpbc_ordp_infm_mthd_dvsn_cd": "",
            "infm_tmd": order.fills[-1].at.strftime("%H%M%S") if order.fills else placed,
            "ctac_tlno": "",
            "prdt_type_cd": "300",
            "excg_dvsn_cd": "02" if ticker.market == "KOSPI" else "03",
            "cpbc_ordp_mtrl_dvsn_cd": "",
            "ord_orgno": order.org_no,
            "rsvn_ord_end_dt": "",
            "excg_id_dvsn_Cd": order.exchange,
            "stpm_cndt_pric": "0",
            "stpm_efct_occr_dtmd": "",
        }

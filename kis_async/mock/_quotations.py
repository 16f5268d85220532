"""The quotation endpoints (kis-api.md §4.1-§4.6), answered from the simulated market."""

from __future__ import annotations

from datetime import date, datetime

from kis_async.market import round_to_tick, tick_size

from ._calendar import AUCTION_STAMP, MINUTE_STAMPS, SESSION_BARS
from ._history import Bar
from ._market import Book, Extremes, Market, Quote
from ._prices import limit_sign
from ._routes import Call, Endpoint, Server, tr_ids
from ._universe import Ticker
from ._wire import Encoded, Success, gateway, invalid_input, ratio, scaled

__all__ = [
    "DAILY_CHART_PATH",
    "MINUTE_CHART_PATH",
    "ORDER_BOOK_PATH",
    "PRICE_PATH",
    "PRODUCT_INFO_FIELDS",
    "PRODUCT_INFO_PATH",
    "STOCK_INFO_FIELDS",
    "STOCK_INFO_PATH",
    "Quotations",
]

_BASE = "/uapi/domestic-stock/v1/quotations"
PRICE_PATH = f"{_BASE}/inquire-price"
ORDER_BOOK_PATH = f"{_BASE}/inquire-asking-price-exp-ccn"
DAILY_CHART_PATH = f"{_BASE}/inquire-daily-itemchartprice"
MINUTE_CHART_PATH = f"{_BASE}/inquire-time-itemchartprice"
STOCK_INFO_PATH = f"{_BASE}/search-stock-info"
PRODUCT_INFO_PATH = f"{_BASE}/search-info"

#: FID_COND_MRKT_DIV_CODE: J KRX, NX Nextrade, UN both. The simulation has one market.
_MARKET_DIVISIONS = frozenset({"J", "NX", "UN"})
_PERIODS = frozenset({"D", "W", "M", "Y"})
_ADJUSTMENTS = frozenset({"0", "1"})
_YES_NO = frozenset({"Y", "N"})
#: Rows per call (§4.3, §4.5).
DAILY_ROWS = 100
MINUTE_ROWS = 30
_STAMPS = tuple(f"{stamp:06d}" for stamp in MINUTE_STAMPS)
_HUNDRED_MILLION = 100_000_000  # 억원: KIS's unit for market value and capital


def _ymd(day: date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def _sign(change: int) -> str:
    return "2" if change > 0 else "5" if change < 0 else "3"


def _parse_date(call: Call, name: str) -> date:
    text = call.param(name)
    if len(text) != 8 or not text.isdigit():
        raise invalid_input(name)
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise invalid_input(name) from None


def _parse_hour(call: Call, name: str) -> int:
    text = call.param(name)
    if len(text) != 6 or not text.isdigit():
        raise invalid_input(name)
    hour, minute, second = int(text[:2]), int(text[2:4]), int(text[4:])
    if hour > 23 or minute > 59 or second > 59:
        raise invalid_input(name)
    return int(text)


class Quotations:
    """Handlers for the quotation endpoints over one :class:`Market`."""

    def __init__(self, market: Market) -> None:
        self.market = market
        # Prices change once a minute: the inquire-price output for a (ticker, session,
        # printed bars) is computed once and served until the next bar prints.
        self._price_outputs: dict[tuple[str, date, int], Encoded] = {}

    def endpoints(self) -> list[Endpoint]:
        """The quotation endpoints with their tr_ids (real = virtual, except stock info)."""
        return [
            Endpoint("GET", PRICE_PATH, self.inquire_price, tr_ids=_both("FHKST01010100")),
            Endpoint("GET", ORDER_BOOK_PATH, self.order_book, tr_ids=_both("FHKST01010200")),
            Endpoint("GET", DAILY_CHART_PATH, self.daily_chart, tr_ids=_both("FHKST03010100")),
            Endpoint("GET", MINUTE_CHART_PATH, self.minute_chart, tr_ids=_both("FHKST03010200")),
            Endpoint("GET", STOCK_INFO_PATH, self.stock_info, tr_ids=tr_ids(real={"CTPF1002R"})),
            # Like search-stock-info, a C... tr_id the virtual server does not serve (§4.6).
            Endpoint(
                "GET", PRODUCT_INFO_PATH, self.product_info, tr_ids=tr_ids(real={"CTPF1604R"})
            ),
        ]

    # -- shared ---------------------------------------------------------------------

    def _code(self, call: Call, name: str, now: datetime) -> str:
        code = call.param(name)
        if not code:
            raise invalid_input(name)
        if not self.market.is_listed(code, self.market.session(now)):
            raise gateway("MCA05918")
        return code

    def _price_fields(self, quote: Quote) -> dict[str, str]:
        today = quote.today
        change = today.close - today.base
        return {
            "stck_prpr": str(today.close),
            "prdy_vrss": str(change),
            "prdy_vrss_sign": limit_sign(today.close, today.base),
            "prdy_ctrt": ratio(change, today.base),
        }

    # -- inquire-price (§4.1) -------------------------------------------------------

    def inquire_price(self, call: Call) -> Success:
        """Current price: ``output`` with every §4.1 field."""
        call.param("FID_COND_MRKT_DIV_CODE", _MARKET_DIVISIONS)
        now = call.now
        code = self._code(call, "FID_INPUT_ISCD", now)
        market = self.market
        session = market.session(now)
        key = (code, session, market.visible(session, now))
        output = self._price_outputs.get(key)
        if output is None:
            output = Encoded.of(self._price_output(market.quote(code, now)))
            if len(self._price_outputs) > 65_536:
                self._price_outputs.clear()
            self._price_outputs[key] = output
        return Success({"output": output})

    def _price_output(self, quote: Quote) -> dict[str, str]:
        ticker = quote.ticker
        today = quote.today
        previous = quote.previous
        profile = self.market.profile(ticker.code)
        price = today.close
        base = today.base
        change = price - base
        prev_volume = previous.volume if previous else 0
        # Foreign and program net buying lean with the day's move.
        foreign_net = today.volume * change // (base * 5)
        program_net = today.volume * change // (base * 8)
        pivot = _Pivots(previous or today)
        stat_flags = "Y" if ticker.kospi200 else "N"
        rank_market = (
            "KOSPI200" if ticker.kospi200 else "KOSPI" if ticker.market == "KOSPI" else "KOSDAQ"
        )
        if today.high >= quote.w52.high:
            new_extreme = "신고가"
        elif today.low <= quote.w52.low:
            new_extreme = "신저가"
        else:
            new_extreme = ""
        return {
            "iscd_stat_cls_code": "55",
            "marg_rate": "20.00" if ticker.kospi200 else "40.00",
            "rprs_mrkt_kor_name": rank_market,
            "new_hgpr_lwpr_cls_code": new_extreme,
            "bstp_kor_isnm": ticker.sector,
            "temp_stop_yn": "N",
            "oprc_rang_cont_yn": "N",
            "clpr_rang_cont_yn": "N",
            "crdt_able_yn": "Y",
            "grmn_rate_cls_code": "40",
            "elw_pblc_yn": stat_flags,
            "stck_prpr": str(price),
            "prdy_vrss": str(change),
            "prdy_vrss_sign": limit_sign(price, base),
            "prdy_ctrt": ratio(change, base),
            "acml_tr_pbmn": str(today.value),
            "acml_vol": str(today.volume),
            "prdy_vrss_vol_rate": scaled(today.volume * 100, prev_volume),
            "stck_oprc": str(today.open),
            "stck_hgpr": str(today.high),
            "stck_lwpr": str(today.low),
            "stck_mxpr": str(quote.upper),
            "stck_llam": str(quote.lower),
            "stck_sdpr": str(base),
            "wghn_avrg_stck_prc": scaled(today.value, today.volume),
            "hts_frgn_ehrt": f"{profile.foreign_rate:.2f}",
            "frgn_ntby_qty": str(foreign_net),
            "pgtr_ntby_qty": str(program_net),
            "pvt_scnd_dmrs_prc": str(pivot.second_resistance),
            "pvt_frst_dmrs_prc": str(pivot.first_resistance),
            "pvt_pont_val": str(pivot.point),
            "pvt_frst_dmsp_prc": str(pivot.first_support),
            "pvt_scnd_dmsp_prc": str(pivot.second_support),
            "dmrs_val": str(pivot.demark_resistance),
            "dmsp_val": str(pivot.demark_support),
            "cpfn": str(ticker.shares * ticker.face_value // _HUNDRED_MILLION),
            "rstc_wdth_prc": str(quote.upper - base),
            "stck_fcam": str(ticker.face_value),
            "stck_sspr": str(round_to_tick(base * 7 // 10 or 1, "down")),
            "aspr_unit": str(tick_size(price, ticker.kind)),
            "hts_deal_qty_unit_val": "1",
            "lstn_stcn": str(ticker.shares),
            "hts_avls": str(price * ticker.shares // _HUNDRED_MILLION),
            "per": scaled(price, profile.eps),
            "pbr": scaled(price, profile.bps),
            "stac_month": "12",
            "vol_tnrt": scaled(today.volume * 100, ticker.shares),
            "eps": f"{profile.eps}.00",
            "bps": f"{profile.bps}.00",
            **_extremes(quote.d250, price, _D250_KEYS),
            **_extremes(quote.ytd, price, _YEAR_KEYS),
            **_extremes(quote.w52, price, _W52_KEYS),
            "whol_loan_rmnd_rate": f"{profile.loan_rate:.2f}",
            "ssts_yn": "Y",
            "stck_shrn_iscd": ticker.code,
            "fcam_cnnm": "원",
            "cpfn_cnnm": "억",
            "apprch_rate": "0.00",
            "frgn_hldn_qty": str(int(ticker.shares * profile.foreign_rate / 100)),
            "vi_cls_code": "N",
            "ovtm_vi_cls_code": "N",
            "last_ssts_cntg_qty": str(today.volume // 200),
            "invt_caful_yn": "N",
            "mrkt_warn_cls_code": "00",
            "short_over_yn": "N",
            "sltr_yn": "N",
            "mang_issu_cls_code": "N",
        }

    # -- inquire-asking-price-exp-ccn (§4.2) ----------------------------------------

    def order_book(self, call: Call) -> Success:
        """Order book (``output1``) and expected fill (``output2``)."""
        call.param("FID_COND_MRKT_DIV_CODE", _MARKET_DIVISIONS)
        now = call.now
        code = self._code(call, "FID_INPUT_ISCD", now)
        quote = self.market.quote(code, now)
        book = self.market.book(code, now)
        return Success(
            {"output1": _book_output(quote, book, now), "output2": self._expected(quote, now)}
        )

    def _expected(self, quote: Quote, now: datetime) -> dict[str, str]:
        today = quote.today
        bars, _ = self.market.minute_bars(quote.ticker.code, now)
        # The closing auction's print is expected from 15:20 and final from 15:30;
        # during continuous trading there is no expected fill.
        if quote.bars == SESSION_BARS or _in_closing_auction(quote.session, now):
            expected, volume = bars.close[-1], bars.volume[-1]
            change = expected - today.base
            sign = limit_sign(expected, today.base)
            phase = "112"
        else:
            expected = volume = change = 0
            sign, phase = "3", ""
        return {
            "antc_mkop_cls_code": phase,
            "stck_prpr": str(today.close),
            "stck_oprc": str(today.open),
            "stck_hgpr": str(today.high),
            "stck_lwpr": str(today.low),
            "stck_sdpr": str(today.base),
            "antc_cnpr": str(expected),
            "antc_cntg_vrss_sign": sign,
            "antc_cntg_vrss": str(change),
            "antc_cntg_prdy_ctrt": ratio(change, today.base),
            "antc_vol": str(volume),
            "stck_shrn_iscd": quote.ticker.code,
            "vi_cls_code": "N",
        }

    # -- inquire-daily-itemchartprice (§4.3) ----------------------------------------

    def daily_chart(self, call: Call) -> Success:
        """Period bars (D/W/M/Y): ``output1`` a summary, ``output2`` <= 100 rows, newest first."""
        call.param("FID_COND_MRKT_DIV_CODE", _MARKET_DIVISIONS)
        now = call.now
        code = self._code(call, "FID_INPUT_ISCD", now)
        start = _parse_date(call, "FID_INPUT_DATE_1")
        end = _parse_date(call, "FID_INPUT_DATE_2")
        period = call.param("FID_PERIOD_DIV_CODE", _PERIODS)
        # "0" adjusted prices, "1" original: they differ only after MockKIS.adjust_history.
        adjusted = call.param("FID_ORG_ADJ_PRC", _ADJUSTMENTS) == "0"
        market = self.market
        quote = market.quote(code, now)
        book = market.book(code, now)
        if start > end:
            rows = []
        elif period == "D":
            rows = market.daily_bars(code, start, end, now, newest=DAILY_ROWS, adjusted=adjusted)
        else:
            rows = _aggregate(market.daily_bars(code, start, end, now, adjusted=adjusted), period)
        newest = rows[::-1][:DAILY_ROWS]
        return Success(
            {
                "output1": self._chart_summary(quote, book),
                "output2": [_daily_row(bar, period) for bar in newest],
            }
        )

    def _chart_summary(self, quote: Quote, book: Book) -> dict[str, str]:
        ticker = quote.ticker
        today = quote.today
        previous = quote.previous or today
        profile = self.market.profile(ticker.code)
        price = today.close
        return {
            **self._price_fields(quote),
            "stck_prdy_clpr": str(today.base),
            "acml_vol": str(today.volume),
            "acml_tr_pbmn": str(today.value),
            "hts_kor_isnm": ticker.name_ko,
            "stck_shrn_iscd": ticker.code,
            "prdy_vol": str(previous.volume),
            "stck_mxpr": str(quote.upper),
            "stck_llam": str(quote.lower),
            "stck_oprc": str(today.open),
            "stck_hgpr": str(today.high),
            "stck_lwpr": str(today.low),
            "stck_prdy_oprc": str(previous.open),
            "stck_prdy_hgpr": str(previous.high),
            "stck_prdy_lwpr": str(previous.low),
            "askp": str(book.asks[0]),
            "bidp": str(book.bids[0]),
            "prdy_vrss_vol": str(today.volume - previous.volume),
            "vol_tnrt": scaled(today.volume * 100, ticker.shares),
            "stck_fcam": str(ticker.face_value),
            "lstn_stcn": str(ticker.shares),
            "cpfn": str(ticker.shares * ticker.face_value // _HUNDRED_MILLION),
            "hts_avls": str(price * ticker.shares // _HUNDRED_MILLION),
            "per": scaled(price, profile.eps),
            "eps": f"{profile.eps}.00",
            "pbr": scaled(price, profile.bps),
            # The key really has a space in it (kis-api.md §4.3).
            "itewhol_loan_rmnd_ratem name": f"{profile.loan_rate:.2f}",
        }

    # -- inquire-time-itemchartprice (§4.5) -----------------------------------------

    def minute_chart(self, call: Call) -> Success:
        """Today's one-minute bars at or before FID_INPUT_HOUR_1: <= 30 rows, newest first."""
        call.param("FID_ETC_CLS_CODE", required=False)
        call.param("FID_COND_MRKT_DIV_CODE", _MARKET_DIVISIONS)
        now = call.now
        code = self._code(call, "FID_INPUT_ISCD", now)
        hour = _parse_hour(call, "FID_INPUT_HOUR_1")
        call.param("FID_PW_DATA_INCU_YN", _YES_NO)
        market = self.market
        quote = market.quote(code, now)
        bars, count = market.minute_bars(code, now)
        # A time in the future means now: only printed bars exist.
        last = count - 1
        while last >= 0 and MINUTE_STAMPS[last] > hour:
            last -= 1
        session = _ymd(quote.session)
        rows = [
            {
                "stck_bsop_date": session,
                "stck_cntg_hour": _STAMPS[i],
                "stck_prpr": str(bars.close[i]),
                "stck_oprc": str(bars.open[i]),
                "stck_hgpr": str(bars.high[i]),
                "stck_lwpr": str(bars.low[i]),
                "cntg_vol": str(bars.volume[i]),
                "acml_tr_pbmn": str(bars.cum_value[i]),
            }
            for i in range(last, max(last - MINUTE_ROWS, -1), -1)
        ]
        today = quote.today
        summary = {
            **self._price_fields(quote),
            "stck_prdy_clpr": str(today.base),
            "acml_vol": str(today.volume),
            "acml_tr_pbmn": str(today.value),
            "hts_kor_isnm": quote.ticker.name_ko,
        }
        # Keep KIS's documented key order: the price last.
        summary["stck_prpr"] = summary.pop("stck_prpr")
        return Success({"output1": summary, "output2": rows})

    # -- search-stock-info (§4.6) ---------------------------------------------------

    def stock_info(self, call: Call) -> Success:
        """Basic facts of a stock (real server only): ``output`` with the §4.6 fields."""
        call.param("PRDT_TYPE_CD", {"300"})
        now = call.now
        code = self._code(call, "PDNO", now)
        quote = self.market.quote(code, now)
        ticker = quote.ticker
        listed = _ymd(ticker.listed)
        complete = quote.bars == SESSION_BARS
        market = ticker.market
        capital = str(ticker.shares * ticker.face_value)
        # Collateral value: 70% of the base price, as the balance shows it.
        collateral = str(round_to_tick(quote.base * 7 // 10 or 1, "down"))
        known = {
            **_product_names(ticker),
            "mket_id_cd": "STK" if market == "KOSPI" else "KSQ",
            "scty_grp_id_cd": "ST",
            "excg_dvsn_cd": "02" if market == "KOSPI" else "03",
            "setl_mmdd": "1231",
            "lstg_stqt": str(ticker.shares),
            "lstg_cptl_amt": capital,
            "cpta": capital,
            "papr": str(ticker.face_value),
            "kospi200_item_yn": "Y" if ticker.kospi200 else "N",
            "scts_mket_lstg_dt": listed if market == "KOSPI" else "",
            "kosdaq_mket_lstg_dt": listed if market == "KOSDAQ" else "",
            "oilf_fund_yn": "N",
            "std_pdno": ticker.isin,
            "sbst_pric": collateral,
            "thco_sbst_pric": collateral,
            "tr_stop_yn": "N",
            "admn_item_yn": "N",
            # Today's close once the closing auction has printed; until then none.
            "thdt_clpr": str(quote.price) if complete else "0",
            "bfdy_clpr": str(quote.base),
            "std_idst_clsf_cd_name": ticker.sector,
            "crfd_item_yn": "N",
            "elec_scty_yn": "Y",
            "etf_etn_ivst_heed_item_yn": "N",
            "cptt_trad_tr_psbl_yn": "Y" if ticker.nxt else "N",
            "nxt_tr_stop_yn": "N",
        }
        # Every field of the official column map, in its order; what the simulation does
        # not model (fund, REIT and ETF codes, delisting dates, ...) is blank.
        return Success({"output": {name: known.get(name, "") for name in STOCK_INFO_FIELDS}})

    # -- search-info (§4.6) ---------------------------------------------------------

    def product_info(self, call: Call) -> Success:
        """Basic product facts (CTPF1604R), which some clients ask before every quote."""
        call.param("PRDT_TYPE_CD", {"300"})
        now = call.now
        code = self._code(call, "PDNO", now)
        ticker = self.market.tickers[code]
        known = {
            **_product_names(ticker),
            "std_pdno": ticker.isin,
            "shtn_pdno": ticker.code,
            "frst_erlm_dt": _ymd(ticker.listed),
        }
        return Success({"output": {name: known.get(name, "") for name in PRODUCT_INFO_FIELDS}})


def _product_names(ticker: Ticker) -> dict[str, str]:
    """The code and name fields search-stock-info and search-info share."""
    return {
        "pdno": ticker.code,
        "prdt_type_cd": "300",
        "prdt_name": ticker.name_ko,
        "prdt_name120": ticker.name_ko,
        "prdt_abrv_name": ticker.name_ko,
        "prdt_eng_name": ticker.name_en,
        "prdt_eng_name120": ticker.name_en,
        "prdt_eng_abrv_name": ticker.name_en,
    }


#: search-stock-info's ``output`` fields, in the order of the official column map
#: (kis-api.md §4.6).
STOCK_INFO_FIELDS: tuple[str, ...] = (
    "pdno", "prdt_type_cd", "prdt_name", "prdt_name120", "prdt_abrv_name", "prdt_eng_name",
    "prdt_eng_name120", "prdt_eng_abrv_name", "mket_id_cd", "scty_grp_id_cd", "excg_dvsn_cd",
    "setl_mmdd", "lstg_stqt", "lstg_cptl_amt", "cpta", "papr", "issu_pric", "kospi200_item_yn",
    "scts_mket_lstg_dt", "scts_mket_lstg_abol_dt", "kosdaq_mket_lstg_dt",
    "kosdaq_mket_lstg_abol_dt", "frbd_mket_lstg_dt", "frbd_mket_lstg_abol_dt", "reits_kind_cd",
    "etf_dvsn_cd", "oilf_fund_yn", "idx_bztp_lcls_cd", "idx_bztp_mcls_cd", "idx_bztp_scls_cd",
    "idx_bztp_lcls_cd_name", "idx_bztp_mcls_cd_name", "idx_bztp_scls_cd_name", "stck_kind_cd",
    "mfnd_opng_dt", "mfnd_end_dt", "dpsi_erlm_cncl_dt", "etf_cu_qty", "std_pdno",
    "dpsi_aptm_erlm_yn", "etf_txtn_type_cd", "etf_type_cd", "lstg_abol_dt",
    "nwst_odst_dvsn_cd", "sbst_pric", "thco_sbst_pric", "thco_sbst_pric_chng_dt", "tr_stop_yn",
    "admn_item_yn", "thdt_clpr", "bfdy_clpr", "clpr_chng_dt", "std_idst_clsf_cd",
    "std_idst_clsf_cd_name", "ocr_no", "crfd_item_yn", "elec_scty_yn", "issu_istt_cd",
    "etf_chas_erng_rt_dbnb", "etf_etn_ivst_heed_item_yn", "stln_int_rt_dvsn_cd",
    "frnr_psnl_lmt_rt", "lstg_rqsr_issu_istt_cd", "lstg_rqsr_item_cd",
    "trst_istt_issu_istt_cd", "cptt_trad_tr_psbl_yn", "nxt_tr_stop_yn",
)  # fmt: skip

#: search-info's ``output`` fields: the official column map's, then the name fields the
#: facts file expects but does not confirm (kis-api.md §4.6).
PRODUCT_INFO_FIELDS: tuple[str, ...] = (
    "pdno", "prdt_type_cd", "std_pdno", "shtn_pdno", "prdt_sale_stat_cd", "prdt_risk_grad_cd",
    "prdt_clsf_cd", "sale_strt_dt", "sale_end_dt", "wrap_asst_type_cd", "ivst_prdt_type_cd",
    "frst_erlm_dt", "prdt_name", "prdt_name120", "prdt_abrv_name", "prdt_eng_name",
    "prdt_eng_name120", "prdt_eng_abrv_name",
)  # fmt: skip


#: Keys of an extremes block: high, its rate vs the price, its date; then the same for low.
_D250_KEYS = (
    "d250_hgpr",
    "d250_hgpr_vrss_prpr_rate",
    "d250_hgpr_date",
    "d250_lwpr",
    "d250_lwpr_vrss_prpr_rate",
    "d250_lwpr_date",
)
_YEAR_KEYS = (
    "stck_dryy_hgpr",
    "dryy_hgpr_vrss_prpr_rate",
    "dryy_hgpr_date",
    "stck_dryy_lwpr",
    "dryy_lwpr_vrss_prpr_rate",
    "dryy_lwpr_date",
)
_W52_KEYS = (
    "w52_hgpr",
    "w52_hgpr_vrss_prpr_ctrt",
    "w52_hgpr_date",
    "w52_lwpr",
    "w52_lwpr_vrss_prpr_ctrt",
    "w52_lwpr_date",
)


def _extremes(extremes: Extremes, price: int, keys: tuple[str, ...]) -> dict[str, str]:
    high, high_rate, high_date, low, low_rate, low_date = keys
    return {
        high: str(extremes.high),
        high_rate: ratio(price - extremes.high, extremes.high),
        high_date: _ymd(extremes.high_day),
        low: str(extremes.low),
        low_rate: ratio(price - extremes.low, extremes.low),
        low_date: _ymd(extremes.low_day),
    }


class _Pivots:
    """Classic pivot points and DeMark levels from a day's bar (KRW, not on the grid)."""

    __slots__ = (
        "demark_resistance",
        "demark_support",
        "first_resistance",
        "first_support",
        "point",
        "second_resistance",
        "second_support",
    )

    def __init__(self, bar: Bar) -> None:
        high, low, close = bar.high, bar.low, bar.close
        self.point = (high + low + close) // 3
        self.first_resistance = 2 * self.point - low
        self.first_support = 2 * self.point - high
        self.second_resistance = self.point + (high - low)
        self.second_support = self.point - (high - low)
        if close < bar.open:
            x = high + 2 * low + close
        elif close > bar.open:
            x = 2 * high + low + close
        else:
            x = high + low + 2 * close
        self.demark_resistance = x // 2 - low
        self.demark_support = x // 2 - high


def _both(tr_id: str) -> dict[Server, frozenset[str]]:
    return tr_ids(real={tr_id}, virtual={tr_id})


def _in_closing_auction(session: date, now: datetime) -> bool:
    return now.date() == session and (15, 20) <= (now.hour, now.minute) < (15, 30)


def _book_output(quote: Quote, book: Book, now: datetime) -> dict[str, str]:
    live = quote.bars < SESSION_BARS
    output: dict[str, str] = {
        "aspr_acpt_hour": now.strftime("%H%M%S") if live else f"{AUCTION_STAMP:06d}"
    }
    for i in range(10):
        output[f"askp{i + 1}"] = str(book.asks[i])
    for i in range(10):
        output[f"bidp{i + 1}"] = str(book.bids[i])
    for i in range(10):
        output[f"askp_rsqn{i + 1}"] = str(book.ask_qty[i])
    for i in range(10):
        output[f"bidp_rsqn{i + 1}"] = str(book.bid_qty[i])
    for i in range(10):
        output[f"askp_rsqn_icdc{i + 1}"] = str(book.ask_change[i])
    for i in range(10):
        output[f"bidp_rsqn_icdc{i + 1}"] = str(book.bid_change[i])
    total_ask, total_bid = book.total_ask, book.total_bid
    output.update(
        {
            "total_askp_rsqn": str(total_ask),
            "total_bidp_rsqn": str(total_bid),
            "total_askp_rsqn_icdc": str(sum(book.ask_change)),
            "total_bidp_rsqn_icdc": str(sum(book.bid_change)),
            # No after-hours session is simulated.
            "ovtm_total_askp_icdc": "0",
            "ovtm_total_bidp_icdc": "0",
            "ovtm_total_askp_rsqn": "0",
            "ovtm_total_bidp_rsqn": "0",
            "ntby_aspr_rsqn": str(total_bid - total_ask),
            "new_mkop_cls_code": "20" if live else "31",
        }
    )
    return output


def _period_key(day: date, period: str) -> tuple[int, int]:
    if period == "W":
        iso = day.isocalendar()
        return iso[0], iso[1]
    if period == "M":
        return day.year, day.month
    return day.year, 0


def _aggregate(bars: list[Bar], period: str) -> list[Bar]:
    """Daily bars merged per week/month/year, each dated by its last day, oldest first."""
    merged: list[Bar] = []
    group: list[Bar] = []
    key: tuple[int, int] | None = None
    for bar in bars:
        bar_key = _period_key(bar.day, period)
        if bar_key != key and group:
            merged.append(_merge(group))
            group = []
        key = bar_key
        group.append(bar)
    if group:
        merged.append(_merge(group))
    return merged


def _merge(group: list[Bar]) -> Bar:
    first, last = group[0], group[-1]
    return Bar(
        last.day,
        first.open,
        max(b.high for b in group),
        min(b.low for b in group),
        last.close,
        sum(b.volume for b in group),
        sum(b.value for b in group),
        first.base,
    )


def _daily_row(bar: Bar, period: str) -> dict[str, str]:
    change = bar.close - bar.base
    return {
        "stck_bsop_date": _ymd(bar.day),
        "stck_clpr": str(bar.close),
        "stck_oprc": str(bar.open),
        "stck_hgpr": str(bar.high),
        "stck_lwpr": str(bar.low),
        "acml_vol": str(bar.volume),
        "acml_tr_pbmn": str(bar.value),
        "flng_cls_code": "00",
        "prtt_rate": "0.00",
        "mod_yn": "N",
        # Limit signs (1, 4) exist only for a day against its own base price.
        "prdy_vrss_sign": limit_sign(bar.close, bar.base) if period == "D" else _sign(change),
        "prdy_vrss": str(change),
        "revl_issu_reas": "",
    }

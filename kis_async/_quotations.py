"""Quotations: price, order book, charts, stock info, and concurrent fan-out."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import Any, Literal, overload

import anyio

from ._base_client import BaseKISClient
from ._clock import KST
from ._endpoints import (
    INQUIRE_ASKING_PRICE,
    INQUIRE_DAILY_CHART,
    INQUIRE_PRICE,
    INQUIRE_TIME_CHART,
    SEARCH_STOCK_INFO,
    Endpoint,
)
from ._errors import InvalidRequestError, KISResponseError
from ._models import Candle, CurrentPrice, OrderBook, PriceType, StockInfo, _to_int
from ._validation import check_count, check_date, check_ticker, check_tickers
from .market import InstrumentKind, tick_size

__all__ = ["QuotationsMixin"]

MarketCode = Literal["J", "NX", "UN"]
ResultCallback = Callable[[str, "CurrentPrice | Exception"], None]

#: Rows KIS returns per call: period charts 100, today's minute chart 30.
DAILY_CHART_PAGE = 100
MINUTE_CHART_PAGE = 30
#: Calendar days that hold one period, with room for holidays (to bound the query range).
_DAYS_PER_PERIOD = {
    PriceType.DAILY: 2,
    PriceType.WEEKLY: 8,
    PriceType.MONTHLY: 32,
    PriceType.YEARLY: 370,
}
_MAX_PERIOD_ROWS = 10_000
_EARLIEST = date(1956, 3, 3)  # the Korea Stock Exchange's opening day
_MAX_MINUTE_ROWS = 400  # a session has 381 one-minute bars
_SESSION_OPEN = time(9, 0)
_SESSION_CLOSE = time(15, 30)  # the closing auction's print


def _market(market: str) -> str:
    if market not in ("J", "NX", "UN"):
        raise InvalidRequestError(f"market must be 'J' (KRX), 'NX' (NXT) or 'UN', got {market!r}")
    return market


def instrument_kind(code: str, quote: CurrentPrice) -> InstrumentKind | None:
    """Stock or ETF/ETN, from the ticker and the quote's tick (None: cannot tell).

    ETNs are the codes that start with "Q". Otherwise ``aspr_unit`` (the tick at the
    current price) tells the tables apart wherever they differ (5,000 KRW and up).
    """
    if code.startswith("Q"):
        return "etf"
    price, unit = quote.current_price, quote.tick_size
    if price <= 0 or unit <= 0:
        return None
    stock, etf = tick_size(price), tick_size(price, "etf")
    if stock == etf:
        return None
    return "etf" if unit == etf else "stock" if unit == stock else None


def _rows(body: Mapping[str, Any], key: str, endpoint: Endpoint) -> list[Mapping[str, Any]]:
    rows = body.get(key, [])
    if not isinstance(rows, list):
        raise KISResponseError(f"{endpoint.name}: {key} is not a list")
    # KIS pads some lists with blank rows; a row without a date is not a bar.
    return [
        row
        for row in rows
        if isinstance(row, Mapping) and str(row.get("stck_bsop_date", "")).strip()
    ]


class QuotationsMixin(BaseKISClient):
    """Market data calls. Every one passes the client's single request pipeline."""

    @cached_property
    def _instrument_kinds(self) -> dict[str, InstrumentKind]:
        """Stock or ETF/ETN per ticker, learnt from quotes: they have different tick tables."""
        return {}

    async def get_current_price(self, ticker: str, *, market: MarketCode = "J") -> CurrentPrice:
        """The current quotation of ``ticker`` (``inquire-price``): prices in KRW."""
        code = check_ticker(ticker)
        response = await self._request(
            INQUIRE_PRICE,
            params={"FID_COND_MRKT_DIV_CODE": _market(market), "FID_INPUT_ISCD": code},
        )
        price = self._parse(CurrentPrice, response.body.get("output"), INQUIRE_PRICE)
        if market == "J" and price.upper_limit > 0:
            today = self._clock.now().astimezone(KST).date()
            self._price_bands[(code, today)] = (price.lower_limit, price.upper_limit)
        kind = instrument_kind(code, price)
        if kind is not None:
            self._instrument_kinds[code] = kind
        return price

    async def get_order_book(self, ticker: str, *, market: MarketCode = "J") -> OrderBook:
        """Ten ask and ten bid levels, best first, with the totals (KRW, shares)."""
        code = check_ticker(ticker)
        response = await self._request(
            INQUIRE_ASKING_PRICE,
            params={"FID_COND_MRKT_DIV_CODE": _market(market), "FID_INPUT_ISCD": code},
        )
        output1 = response.body.get("output1")
        if not isinstance(output1, Mapping):
            raise KISResponseError(f"{INQUIRE_ASKING_PRICE.name}: output1 is missing")
        return OrderBook.from_kis(code, output1, response.body.get("output2"))

    async def get_stock_info(self, ticker: str) -> StockInfo:
        """Names, market, listing and status of ``ticker`` (``search-stock-info``).

        KIS offers this on the real server only; on the virtual server it raises
        ConfigError before sending anything.
        """
        code = check_ticker(ticker)
        response = await self._request(
            SEARCH_STOCK_INFO, params={"PRDT_TYPE_CD": "300", "PDNO": code}
        )
        output = response.body.get("output")
        if not isinstance(output, Mapping):
            raise KISResponseError(f"{SEARCH_STOCK_INFO.name}: output is missing")
        try:
            return StockInfo.from_kis(output)
        except ValueError as exc:
            raise KISResponseError(f"{SEARCH_STOCK_INFO.name}: unexpected answer") from exc

    async def get_chart_data(
        self,
        ticker: str,
        period: PriceType = PriceType.DAILY,
        count: int = 100,
        *,
        end: date | datetime | time | None = None,
    ) -> list[Candle]:
        """The last ``count`` bars of ``ticker`` up to ``end``, oldest first.

        Daily, weekly, monthly and yearly bars page back through KIS's 100-row calls
        (``end`` is a date; default today). Minute bars cover today's session only, as
        KIS serves them: 5-, 10-, 30- and 60-minute bars are built from the one-minute
        bars, aligned on 09:00 (``end`` is a time of day; default now). Fewer than
        ``count`` bars come back when the history or the session is shorter. An ``end``
        after today means today; one before KRX's first records (1956) is refused.
        """
        code = check_ticker(ticker)
        try:
            period = PriceType(period)
        except ValueError:
            raise InvalidRequestError(f"period must be a PriceType, got {period!r}") from None
        if period.is_intraday:
            check_count(count, maximum=_MAX_MINUTE_ROWS)
            return await self._minute_candles(code, period, count, end)
        check_count(count, maximum=_MAX_PERIOD_ROWS)
        if isinstance(end, time):
            raise InvalidRequestError("end must be a date for daily and longer periods")
        today = self._clock.now().astimezone(KST).date()
        end_date = today if end is None else check_date("end", end)
        if end_date < _EARLIEST:
            raise InvalidRequestError(
                f"end {end_date} is before KRX's first records ({_EARLIEST}): no bars exist"
            )
        # KIS answers a range that lies in the future with no rows; the latest bars up
        # to a future end are today's.
        return await self._period_candles(code, period, count, min(end_date, today))

    async def _period_candles(
        self, code: str, period: PriceType, count: int, end: date
    ) -> list[Candle]:
        cursor = end
        # Far enough back for ``count`` periods, but never before KRX's first records.
        span = min(_DAYS_PER_PERIOD[period] * count + 40, (cursor - _EARLIEST).days)
        start = cursor - timedelta(days=max(span, 0))
        bars: dict[date, Candle] = {}
        while len(bars) < count and cursor >= start:
            response = await self._request(
                INQUIRE_DAILY_CHART,
                params={
                    "FID_COND_MRKT_DIV_CODE": "J",
                    "FID_INPUT_ISCD": code,
                    "FID_INPUT_DATE_1": start.strftime("%Y%m%d"),
                    "FID_INPUT_DATE_2": cursor.strftime("%Y%m%d"),
                    "FID_PERIOD_DIV_CODE": period.value,
                    "FID_ORG_ADJ_PRC": "0",
                },
            )
            page = [
                self._parse(Candle, _period_row(row), INQUIRE_DAILY_CHART)
                for row in _rows(response.body, "output2", INQUIRE_DAILY_CHART)
            ]
            for candle in page:
                bars.setdefault(candle.date, candle)
            if len(page) < DAILY_CHART_PAGE:
                break  # the range holds no more rows
            # KIS pages backward: ask again for everything before the oldest period,
            # ending the range before that period starts so it never comes back cut short.
            cursor = _period_start(min(candle.date for candle in page), period) - timedelta(days=1)
        return [bars[day] for day in sorted(bars)][-count:]

    async def _minute_candles(
        self, code: str, period: PriceType, count: int, end: date | datetime | time | None
    ) -> list[Candle]:
        if isinstance(end, datetime):
            local = end.astimezone(KST) if end.tzinfo else end.replace(tzinfo=KST)
            today = self._clock.now().astimezone(KST).date()
            if local.date() != today:
                raise InvalidRequestError(
                    f"minute bars cover today's session only; end={end.isoformat()} is "
                    f"not today ({today})"
                )
            cursor = local.time()
        elif isinstance(end, time):
            cursor = end
        elif end is None:
            cursor = _latest_session_time(self._clock.now())
        else:
            raise InvalidRequestError("end must be a time of day (or a datetime) for minute bars")
        size = period.minutes
        rows: dict[time, Mapping[str, Any]] = {}
        reached_open = False
        while True:
            response = await self._request(
                INQUIRE_TIME_CHART,
                params={
                    "FID_ETC_CLS_CODE": "",
                    "FID_COND_MRKT_DIV_CODE": "J",
                    "FID_INPUT_ISCD": code,
                    "FID_INPUT_HOUR_1": cursor.strftime("%H%M%S"),
                    "FID_PW_DATA_INCU_YN": "N",
                },
            )
            page = _rows(response.body, "output2", INQUIRE_TIME_CHART)
            fresh = [row for row in page if _bar_time(row) not in rows]
            for row in fresh:
                rows[_bar_time(row)] = row
            oldest = min(rows) if rows else _SESSION_OPEN
            reached_open = len(page) < MINUTE_CHART_PAGE or oldest <= _SESSION_OPEN
            # One bucket more than asked: the oldest may be cut short, and its last bar
            # gives the cumulative value the next bar's trading value is measured from.
            if not fresh or reached_open or len(_buckets(rows, size)) > count:
                break
            cursor = (datetime.combine(date.min, oldest) - timedelta(minutes=1)).time()
        return _aggregate(rows, size, count, complete_from_open=reached_open)


def _latest_session_time(now: datetime) -> time:
    """The time of day to ask minute bars up to: now while the market may be open.

    Outside trading hours KIS shows the last session, so ask for all of it (up to the
    closing auction at 15:30) rather than for bars "before" a time that session never
    reached. Holidays that fall on weekdays are not known here; on those the bars
    come up to the current time of day.
    """
    local = now.astimezone(KST)
    if local.weekday() >= 5 or not _SESSION_OPEN <= local.time() < _SESSION_CLOSE:
        return _SESSION_CLOSE
    return local.time()


def _period_start(day: date, period: PriceType) -> date:
    """The first calendar day of the period (day, week, month, year) holding ``day``."""
    if period is PriceType.WEEKLY:
        return day - timedelta(days=day.weekday())
    if period is PriceType.MONTHLY:
        return day.replace(day=1)
    if period is PriceType.YEARLY:
        return day.replace(month=1, day=1)
    return day


def _period_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "date": row.get("stck_bsop_date"),
        "open_price": row.get("stck_oprc"),
        "high_price": row.get("stck_hgpr"),
        "low_price": row.get("stck_lwpr"),
        "close_price": row.get("stck_clpr"),
        "volume": row.get("acml_vol"),
        "trading_value": row.get("acml_tr_pbmn"),
    }


def _bar_time(row: Mapping[str, Any]) -> time:
    text = str(row.get("stck_cntg_hour", "")).strip()
    if len(text) != 6 or not text.isdigit():
        raise KISResponseError(f"minute bar has a bad stck_cntg_hour {text!r}")
    return time(int(text[:2]), int(text[2:4]), int(text[4:]))


def _bucket(moment: time, size: int) -> time:
    minutes = moment.hour * 60 + moment.minute - (_SESSION_OPEN.hour * 60)
    start = _SESSION_OPEN.hour * 60 + (minutes // size) * size
    return time(start // 60, start % 60)


def _buckets(rows: Mapping[time, Any], size: int) -> set[time]:
    return {_bucket(moment, size) for moment in rows}


def _int(row: Mapping[str, Any], key: str) -> int:
    value = _to_int(row.get(key, ""))  # the models' parser of KIS's string numbers
    if not isinstance(value, int):
        raise KISResponseError(f"minute bar field {key} is not a number: {value!r}")
    return value


def _aggregate(
    rows: Mapping[time, Mapping[str, Any]], size: int, count: int, *, complete_from_open: bool
) -> list[Candle]:
    """Minute rows -> candles of ``size`` minutes, oldest first, the newest ``count``."""
    ordered = sorted(rows)
    groups: dict[time, list[time]] = {}
    for moment in ordered:
        groups.setdefault(_bucket(moment, size), []).append(moment)
    previous_cumulative: int | None = 0 if complete_from_open else None
    candles: list[Candle] = []
    for start, moments in groups.items():
        first, last = rows[moments[0]], rows[moments[-1]]
        cumulative = _int(last, "acml_tr_pbmn")
        if previous_cumulative is not None:
            candles.append(
                Candle(
                    date=first["stck_bsop_date"],
                    time=start,
                    open_price=_int(first, "stck_oprc"),
                    high_price=max(_int(rows[m], "stck_hgpr") for m in moments),
                    low_price=min(_int(rows[m], "stck_lwpr") for m in moments),
                    close_price=_int(last, "stck_prpr"),
                    volume=sum(_int(rows[m], "cntg_vol") for m in moments),
                    trading_value=cumulative - previous_cumulative,
                )
            )
        # Without the session's start, the oldest bucket is incomplete and only
        # serves as the baseline of the cumulative trading value.
        previous_cumulative = cumulative
    return candles[-count:]


class FanOutMixin(QuotationsMixin):
    """Many quotations at once."""

    @overload
    async def get_current_prices(
        self,
        tickers: Iterable[str],
        *,
        return_exceptions: Literal[False] = False,
        on_result: ResultCallback | None = None,
    ) -> dict[str, CurrentPrice]: ...

    @overload
    async def get_current_prices(
        self,
        tickers: Iterable[str],
        *,
        return_exceptions: Literal[True],
        on_result: ResultCallback | None = None,
    ) -> dict[str, CurrentPrice | Exception]: ...

    async def get_current_prices(
        self,
        tickers: Iterable[str],
        *,
        return_exceptions: bool = False,
        on_result: ResultCallback | None = None,
    ) -> dict[str, CurrentPrice] | dict[str, CurrentPrice | Exception]:
        """Current prices of many tickers, fetched concurrently, in the order given.

        Every call passes the client's one rate gate, so the account's limit holds
        however many tickers there are. On the first failure the remaining calls are
        cancelled and that error is raised; with ``return_exceptions=True`` each
        failure stands in the dict in place of its price instead. ``on_result`` is
        called with each ticker and its price (or error) as it arrives, e.g. to drive a
        progress bar.
        """
        codes = check_tickers(tickers)
        if not isinstance(return_exceptions, bool):
            raise InvalidRequestError(
                f"return_exceptions must be True or False, got {return_exceptions!r}"
            )
        if on_result is not None and not callable(on_result):
            raise InvalidRequestError(f"on_result must be a callable or None, got {on_result!r}")
        results: dict[str, CurrentPrice | Exception] = {}
        first_error: list[Exception] = []

        async with anyio.create_task_group() as group:

            async def fetch(code: str) -> None:
                outcome: CurrentPrice | Exception
                try:
                    outcome = await self.get_current_price(code)
                except Exception as exc:
                    outcome = exc
                    if not return_exceptions:
                        fail(exc)
                        return
                results[code] = outcome
                if on_result is not None:
                    try:
                        on_result(code, outcome)
                    except Exception as exc:  # the caller's callback: its error, not a group
                        fail(exc)

            def fail(exc: Exception) -> None:
                if not first_error:
                    first_error.append(exc)
                    group.cancel_scope.cancel()

            for code in codes:
                group.start_soon(fetch, code)

        if first_error:
            raise first_error[0]
        return {code: results[code] for code in codes if code in results}

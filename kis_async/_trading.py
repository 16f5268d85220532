"""Cash orders, revise/cancel, balance, buyable amount and the order history.

Orders are never duplicated. The pipeline repeats an order only when it provably was
not accepted (the connection never opened, or KIS answered EGW00201). After any other
failure of the order itself (a read timeout, a dropped connection, a 5xx, an answer that
cannot be read) the order may or may not sit at KIS, so the client looks it up in today's
order history before doing anything else:

- exactly one unclaimed matching order placed since just before the send (on KIS's
  clock, estimated from its Date headers) -> that order, ``recovered=True``;
- none, after a short settle -> OrderStateUnknownError, or, only if
  ``resend_unconfirmed_orders`` is set and no identical order of this client is in an
  unknown state, the order is sent once more;
- the history cannot be read, or the match is ambiguous (several candidates, or an
  identical order of this client whose state is still unknown) -> OrderStateUnknownError,
  never a resend.

Identical orders from one client are placed one at a time, so a lost answer can never
be matched to a sibling still waiting for its own.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

import anyio

from ._base_client import KISResponse
from ._clock import KST
from ._endpoints import (
    INQUIRE_BALANCE,
    INQUIRE_DAILY_CCLD,
    INQUIRE_PSBL_ORDER,
    ORDER_CASH_BUY,
    ORDER_CASH_SELL,
    ORDER_RVSECNCL,
    Endpoint,
)
from ._errors import (
    ConfigError,
    InvalidRequestError,
    KISError,
    KISResponseError,
    KISServerError,
    KISTransportError,
    OrderStateUnknownError,
)
from ._quotations import QuotationsMixin
from ._redact import get_logger
from ._trading_models import (
    Balance,
    BalanceSummary,
    BuyableAmount,
    Exchange,
    Holding,
    OrderRecord,
    OrderResult,
    OrderType,
    Side,
)
from ._validation import (
    check_date,
    check_filled,
    check_positive_int,
    check_side,
    check_ticker,
)
from .market import InstrumentKind, is_on_tick, round_to_tick, tick_size

__all__ = ["TradingMixin"]

logger = get_logger("kis_async.trading")

_EXCHANGES = ("KRX", "NXT", "SOR")
#: Largest order quantity accepted before sending (a fat-finger guard, shares).
MAX_ORDER_QUANTITY = 10_000_000
#: Order history is served by TTTC0081R for the last three months only.
_HISTORY_DAYS = 92
#: How far before the send (on KIS's clock) a lost order may be stamped: the Date
#: header's one-second resolution and network time, with room to spare.
_CLOCK_TOLERANCE = timedelta(seconds=5)
#: The same, when KIS's clock is not known (no Date header seen yet).
_UNKNOWN_CLOCK_TOLERANCE = timedelta(seconds=60)
#: Orders whose state stayed unknown are remembered this long (they make later
#: look-ups of identical orders ambiguous).
_UNRESOLVED_MEMORY = timedelta(minutes=30)
_MAX_PAGES = 1_000


def _order_key(order_id: str) -> str:
    """Order ids compared without their zero padding (ODNO "0001569157" == "1569157")."""
    return order_id.strip().lstrip("0") or "0"


class _Lookup(enum.Enum):
    NOT_FOUND = "not found"
    FAILED = "the order history could not be read"
    AMBIGUOUS = "the order history shows more than one order that could be it"
    TWIN_UNRESOLVED = (
        "it was not found, but an identical order of this client is in an unknown state "
        "too, so the history may not show either yet"
    )


@dataclass(frozen=True)
class _OrderIntent:
    """What an order request asked for: enough to recognise it in the order history.

    :attr:`signature` (the identical-order lock key, and the key of orders whose state
    stayed unknown) and :meth:`matches` are built from the same fields, read the same
    way: what the order history shows of an order. The exchange is not among them: an
    SOR order may show in the history under the venue it was routed to.
    """

    kind: Literal["new", "revise", "cancel"]
    ticker: str
    side: Side
    quantity: int | None
    price: int | None
    exchange: Exchange
    original_order_id: str | None = None

    @property
    def signature(self) -> tuple[Any, ...]:
        """What makes two orders indistinguishable in the order history."""
        original = _order_key(self.original_order_id) if self.original_order_id else None
        # A cancel names no price of its own: the history shows the cancelled order's.
        price = None if self.kind == "cancel" else self.price
        # A revise/cancel of "all that rests" (quantity None) shows in the history with
        # whatever quantity rested, so it cannot be told from one of some shares: the
        # quantity is left out, and all of them on one order go one at a time and make
        # each other's look-ups ambiguous. A new order always names its quantity.
        quantity = self.quantity if self.kind == "new" else None
        return (self.kind, self.ticker, self.side, quantity, price, original)

    def matches(self, record: OrderRecord) -> bool:
        """Whether ``record`` shows an order with this intent's :attr:`signature`
        (and, when one was given, its quantity)."""
        kind, ticker, side, _, price, original = self.signature
        quantity = self.quantity
        if record.ticker != ticker or record.side is not side:
            return False
        if quantity is not None and record.quantity != quantity:
            return False
        if kind == "new":
            if record.original_order_id:
                return False
            if price is None:
                return record.is_market_order or record.price == 0
            return bool(record.price == price)
        if not record.original_order_id or _order_key(record.original_order_id) != original:
            return False
        if kind == "cancel":
            return record.cancelled
        return not record.cancelled and bool(record.price == price)

    @property
    def order_type(self) -> OrderType:
        return OrderType.MARKET if self.price is None else OrderType.LIMIT

    def result_fields(self) -> dict[str, Any]:
        """The OrderResult fields that restate what was asked."""
        return {
            "kind": self.kind,
            "ticker": self.ticker,
            "side": self.side,
            "quantity": self.quantity,
            "price": self.price,
            "order_type": self.order_type,
            "exchange": self.exchange,
            "original_order_id": self.original_order_id,
        }

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "ticker": self.ticker,
            "side": self.side.value,
            "quantity": self.quantity,
            "price": self.price,
            "exchange": self.exchange,
            "original_order_id": self.original_order_id,
        }


class TradingMixin(QuotationsMixin):
    """Orders and account queries."""

    # -- orders ----------------------------------------------------------------------

    async def buy(
        self, ticker: str, quantity: int, price: int | None = None, *, exchange: Exchange = "KRX"
    ) -> OrderResult:
        """Buy ``quantity`` shares: a limit order at ``price`` KRW, or a market order.

        A limit price must lie on the KRX tick grid and inside today's price band; both
        are checked before the order is sent (the band from a price quote, cached for
        the day). Returns the accepted order; fills show in :meth:`get_orders`.
        """
        return await self._new_order(Side.BUY, ticker, quantity, price, exchange)

    async def sell(
        self, ticker: str, quantity: int, price: int | None = None, *, exchange: Exchange = "KRX"
    ) -> OrderResult:
        """Sell ``quantity`` shares: a limit order at ``price`` KRW, or a market order."""
        return await self._new_order(Side.SELL, ticker, quantity, price, exchange)

    async def revise_order(
        self,
        order: OrderResult | OrderRecord,
        *,
        quantity: int | None = None,
        price: int | None = None,
    ) -> OrderResult:
        """Change a resting order's price (KRW) and/or quantity (shares; None: all that rests)."""
        _check_order(order)
        self._check_trading_allowed()
        if quantity is None and price is None:
            raise InvalidRequestError("revise_order needs a new price, a new quantity, or both")
        if quantity is not None:
            check_positive_int("quantity", quantity, maximum=MAX_ORDER_QUANTITY)
        new_price = price if price is not None else order.price
        if not new_price:
            raise InvalidRequestError("a market order has no price to keep: give price=")
        await self._check_limit_price(order.ticker, new_price)
        exchange = _exchange_of(order)
        intent = _OrderIntent(
            "revise", order.ticker, order.side, quantity, new_price, exchange, order.order_id
        )
        body = self._rvsecncl_body(order, "01", quantity, new_price, exchange)
        return await self._place(ORDER_RVSECNCL, body, intent)

    async def cancel_order(
        self, order: OrderResult | OrderRecord, *, quantity: int | None = None
    ) -> OrderResult:
        """Cancel a resting order: all that rests, or ``quantity`` shares of it."""
        _check_order(order)
        self._check_trading_allowed()
        if quantity is not None:
            check_positive_int("quantity", quantity, maximum=MAX_ORDER_QUANTITY)
        exchange = _exchange_of(order)
        original_price = order.price or None  # 0 in the history means a market order
        intent = _OrderIntent(
            "cancel", order.ticker, order.side, quantity, original_price, exchange, order.order_id
        )
        body = self._rvsecncl_body(order, "02", quantity, 0, exchange)
        return await self._place(ORDER_RVSECNCL, body, intent)

    async def _new_order(
        self, side: Side, ticker: str, quantity: int, price: int | None, exchange: Exchange
    ) -> OrderResult:
        self._check_trading_allowed()
        code = check_ticker(ticker)
        check_positive_int("quantity", quantity, maximum=MAX_ORDER_QUANTITY)
        self._check_exchange(exchange, market_order=price is None)
        if price is not None:
            await self._check_limit_price(code, price)
        order_type = OrderType.MARKET if price is None else OrderType.LIMIT
        cano, product = self._trading_account()
        body = {
            "CANO": cano,
            "ACNT_PRDT_CD": product,
            "PDNO": code,
            "ORD_DVSN": order_type.code,
            "ORD_QTY": str(quantity),
            "ORD_UNPR": str(price) if price is not None else "0",
            "EXCG_ID_DVSN_CD": exchange,
            "CNDT_PRIC": "",
        }
        if side is Side.SELL:
            body["SLL_TYPE"] = "01"  # ordinary sell
        endpoint = ORDER_CASH_BUY if side is Side.BUY else ORDER_CASH_SELL
        intent = _OrderIntent("new", code, side, quantity, price, exchange)
        return await self._place(endpoint, body, intent)

    def _rvsecncl_body(
        self,
        order: OrderResult | OrderRecord,
        action: Literal["01", "02"],
        quantity: int | None,
        price: int,
        exchange: Exchange,
    ) -> dict[str, str]:
        cano, product = self._trading_account()
        return {
            "CANO": cano,
            "ACNT_PRDT_CD": product,
            "KRX_FWDG_ORD_ORGNO": order.org_no,
            "ORGN_ODNO": order.order_id,
            "ORD_DVSN": OrderType.LIMIT.code,
            "RVSE_CNCL_DVSN_CD": action,
            "ORD_QTY": str(quantity) if quantity is not None else "0",
            "ORD_UNPR": str(price),
            "QTY_ALL_ORD_YN": "Y" if quantity is None else "N",
            "CNDT_PRIC": "",
            "EXCG_ID_DVSN_CD": exchange,
        }

    async def _place(
        self, endpoint: Endpoint, body: dict[str, str], intent: _OrderIntent
    ) -> OrderResult:
        self._warn_real_money_once()
        async with self._order_locks.hold(intent.signature):
            result = await self._place_once(endpoint, body, intent)
        logger.info(
            "%s order %s accepted%s: %s %s x%s @ %s",
            intent.kind,
            result.order_id,
            " (found in the history)" if result.recovered else "",
            intent.side.value,
            intent.ticker,
            intent.quantity if intent.quantity is not None else "all",
            intent.price if intent.price is not None else "market",
        )
        return result

    async def _place_once(
        self, endpoint: Endpoint, body: dict[str, str], intent: _OrderIntent
    ) -> OrderResult:
        sent_at, tolerance = self._kis_now()
        # The intent is recorded before the send and forgotten only once its fate is
        # known: a caller cancelled mid-POST (or mid-lookup) leaves it behind, so a later
        # identical order whose answer is lost cannot "recover" this one's order.
        entry = (intent.signature, sent_at)
        self._unresolved.append(entry)
        settled = False
        try:
            accepted = False
            try:
                response = await self._request(endpoint, body=body)
            except KISError as exc:
                if not _may_have_reached_kis(exc, endpoint):
                    settled = True
                    raise  # refused, or provably never sent: the pipeline retried what it could
                lost = exc
            else:
                try:
                    result = self._claim(self._order_result(response, intent, endpoint))
                except KISResponseError as exc:
                    # rt_cd "0": KIS accepted the order; only its answer is unreadable.
                    accepted, lost = True, exc
                else:
                    settled = True
                    return result
            found = await self._find_lost_order(intent, sent_at - tolerance, lost, own=entry)
            if isinstance(found, OrderResult):
                settled = True
                return found
            if found is not _Lookup.NOT_FOUND or accepted:
                # An accepted order is never sent again, whatever the history shows.
                raise self._state_unknown(intent, sent_at, lost, found, accepted=accepted)
            if not self.settings.resend_unconfirmed_orders:
                raise self._state_unknown(intent, sent_at, lost, found)
            logger.warning("order not found in the history; sending it once more as configured")
            try:
                response = await self._request(endpoint, body=body)
                result = self._claim(self._order_result(response, intent, endpoint))
            except KISError as again:
                # Whatever happened to the second try, the first order's state is unknown.
                raise self._state_unknown(intent, sent_at, again, _Lookup.NOT_FOUND) from again
            # The history did not show the first send in time; it may still surface, so
            # the entry stays and keeps later identical look-ups from claiming it.
            return result
        finally:
            if settled:
                self._forget(entry)

    def _forget(self, entry: tuple[tuple[Any, ...], datetime]) -> None:
        for index, known in enumerate(self._unresolved):
            if known is entry:
                del self._unresolved[index]
                return

    def _kis_now(self) -> tuple[datetime, timedelta]:
        """Now on KIS's clock (as best known) and how far to trust it."""
        offset = self.server_clock_offset()
        if offset is None:
            return self._clock.now(), _UNKNOWN_CLOCK_TOLERANCE
        return self._clock.now() + offset, _CLOCK_TOLERANCE

    def _claim(self, result: OrderResult) -> OrderResult:
        self._known_orders.add(_order_key(result.order_id))
        return result

    def _order_result(
        self, response: KISResponse, intent: _OrderIntent, endpoint: Endpoint
    ) -> OrderResult:
        output = response.body.get("output")
        if not isinstance(output, Mapping) or not OrderResult.has_order_id(output):
            # Accepted (rt_cd "0") but unreadable: its fate is settled by the history.
            raise KISResponseError("order answer has no output.ODNO", path=endpoint.path)
        return OrderResult.from_output(
            output, today=self._clock.now().astimezone(KST).date(), **intent.result_fields()
        )

    async def _find_lost_order(
        self,
        intent: _OrderIntent,
        earliest: datetime,
        cause: KISError,
        *,
        own: tuple[tuple[Any, ...], datetime] | None = None,
    ) -> OrderResult | _Lookup:
        """Look for an order whose answer was lost in today's history, for a short while."""
        logger.warning(
            "answer to a %s order for %s was lost (%s); looking it up in the order history",
            intent.kind,
            intent.ticker,
            type(cause).__name__,
        )
        settle = self.settings.order_settle_seconds
        polls = 3 if settle > 0 else 1
        today = earliest.astimezone(KST).date()
        siblings = self._unresolved_siblings(intent, earliest, own)
        for poll in range(polls):
            if poll:
                await anyio.sleep(settle / (polls - 1))
            try:
                records = [
                    record
                    async for record in self.iter_orders(
                        today, today, ticker=intent.ticker, side=intent.side
                    )
                ]
            except KISError as exc:
                logger.warning("order history unavailable: %s", exc)
                return _Lookup.FAILED
            unclaimed = [
                record
                for record in records
                if _order_key(record.order_id) not in self._known_orders and intent.matches(record)
            ]
            if any(record.ordered_time is None for record in unclaimed):
                # A matching order without a time could be this one or an older twin.
                return _Lookup.AMBIGUOUS
            candidates = [record for record in unclaimed if record.ordered_at >= earliest]
            if len(candidates) > 1 or (candidates and siblings):
                return _Lookup.AMBIGUOUS
            if candidates:
                (record,) = candidates
                return self._claim(
                    OrderResult(
                        order_id=record.order_id,
                        org_no=record.org_no,
                        ordered_at=record.ordered_at,
                        recovered=True,
                        **intent.result_fields(),
                    )
                )
        # Not found proves little while an identical order's fate is open too: the
        # history may lag behind both, and a resend would make it two orders (or three).
        return _Lookup.TWIN_UNRESOLVED if siblings else _Lookup.NOT_FOUND

    def _unresolved_siblings(
        self,
        intent: _OrderIntent,
        earliest: datetime,
        own: tuple[tuple[Any, ...], datetime] | None = None,
    ) -> int:
        """Identical orders of this client whose state is unknown and could be in view."""
        horizon = self._clock.now() - _UNRESOLVED_MEMORY
        self._unresolved[:] = [
            entry for entry in self._unresolved if entry is own or entry[1] >= horizon
        ]
        return sum(
            1
            for entry in self._unresolved
            if entry is not own
            and entry[0] == intent.signature
            and entry[1] >= earliest - _CLOCK_TOLERANCE
        )

    def _state_unknown(
        self,
        intent: _OrderIntent,
        sent_at: datetime,
        cause: KISError,
        lookup: _Lookup,
        *,
        accepted: bool = False,
    ) -> OrderStateUnknownError:
        # The intent is already among the unresolved (recorded before the send).
        what = (
            "KIS accepted it (rt_cd 0) but its answer could not be read"
            if accepted
            else f"its answer was lost ({type(cause).__name__})"
        )
        details = intent.describe() | {
            "sent_at": sent_at.isoformat(),
            "searched_until": self._clock.now().isoformat(),
            "lookup": lookup.value,
            "accepted": accepted,
            "cause": cause,
        }
        opening = (
            f"the {intent.kind} order for {intent.ticker} was accepted but not identified"
            if accepted
            else f"the {intent.kind} order for {intent.ticker} may or may not have been accepted"
        )
        return OrderStateUnknownError(
            f"{opening}: {what} and {lookup.value}. "
            "Check get_orders() or the balance before placing it again.",
            details=details,
        )

    # -- checks made before anything is sent ----------------------------------------

    def _check_trading_allowed(self) -> None:
        if self.settings.needs_production_confirmation and not self.settings.production_confirmed:
            raise ConfigError(
                "real-money orders are disabled: set KIS_PRODUCTION_CONFIRMED=YES "
                "(production_confirmed=True) to allow them (KIS_BASE_URL is not the "
                "in-process mock or a loopback address, and real tr_ids would go there)"
                if self.settings.env != "real"
                else "real-money orders are disabled: set KIS_PRODUCTION_CONFIRMED=YES "
                "(production_confirmed=True) to allow them"
            )
        self._trading_account()  # raises ConfigError when no account is configured

    def _trading_account(self) -> tuple[str, str]:
        if self._account is None:
            raise ConfigError("trading needs an account: set KIS_ACCOUNT_NO ('12345678-01')")
        return self._account

    def _warn_real_money_once(self) -> None:
        if self.settings.needs_production_confirmation and not self._warned_real_money:
            self._warned_real_money = True
            logger.warning(
                "REAL MONEY: this client is sending orders to KIS's real server; "
                "every accepted order trades the account's money"
            )

    def _check_exchange(self, exchange: Any, *, market_order: bool) -> None:
        if exchange not in _EXCHANGES:
            raise InvalidRequestError(f"exchange must be one of {_EXCHANGES}, got {exchange!r}")
        if self.settings.is_virtual and exchange != "KRX":
            raise InvalidRequestError("the virtual (paper-trading) server trades on KRX only")
        if market_order and exchange == "NXT":
            raise InvalidRequestError("NXT does not accept market orders: give a limit price")

    async def _check_limit_price(self, ticker: str, price: Any) -> None:
        if isinstance(price, bool) or not isinstance(price, int):
            raise InvalidRequestError(f"price must be whole KRW (int), got {price!r}")
        if price <= 0:
            raise InvalidRequestError(f"price must be positive, got {price}")
        # The ETF/ETN grid is the finer one (every stock price lies on it): a price off
        # it is refused before anything is sent, whatever the instrument.
        _check_tick(ticker, price, "etf")
        lower, upper = await self._price_band(ticker)
        kind = self._instrument_kinds.get(ticker)
        if kind is not None:
            # Known from the quote's tick (aspr_unit); unknown only below 5,000 KRW,
            # where both tables agree, and then the ETF grid above is as far as it goes.
            _check_tick(ticker, price, kind)
        if not lower <= price <= upper:
            raise InvalidRequestError(
                f"price {price:,} KRW is outside {ticker}'s band for today "
                f"({lower:,} to {upper:,} KRW)"
            )

    async def _price_band(self, ticker: str) -> tuple[int, int]:
        """Today's (lower, upper) limit of ``ticker``, KRW, from a quote cached for the day."""
        today = self._clock.now().astimezone(KST).date()
        band = self._price_bands.get((ticker, today))
        if band is None:
            quote = await self.get_current_price(ticker)
            band = (quote.lower_limit, quote.upper_limit)
        return band

    # -- account queries ---------------------------------------------------------------

    async def _pages(
        self, endpoint: Endpoint, params: Mapping[str, str]
    ) -> AsyncIterator[KISResponse]:
        """Every page of a continued query: tr_cont and CTX_AREA_FK100/NK100 echoed back."""
        tr_cont, fk100, nk100 = "", "", ""
        for _ in range(_MAX_PAGES):
            response = await self._request(
                endpoint,
                params={**params, "CTX_AREA_FK100": fk100, "CTX_AREA_NK100": nk100},
                tr_cont=tr_cont,
            )
            yield response
            if not response.has_more:
                return
            # KIS pads these keys to 100 characters; they go back exactly as received.
            keys = (
                str(response.body.get("ctx_area_fk100", "")),
                str(response.body.get("ctx_area_nk100", "")),
            )
            if keys == (fk100, nk100) and tr_cont:
                raise KISResponseError(
                    f"{endpoint.name}: paging did not advance (the same continuation keys "
                    "came back)",
                    path=endpoint.path,
                )
            fk100, nk100 = keys
            tr_cont = "N"
        raise KISResponseError(f"{endpoint.name}: more than {_MAX_PAGES} pages")

    async def get_balance(self) -> Balance:
        """Holdings (every page, in KIS's order) and account totals, KRW."""
        cano, product = self._trading_account()
        params = {
            "CANO": cano,
            "ACNT_PRDT_CD": product,
            "AFHR_FLPR_YN": "N",
            "OFL_YN": "",
            # "02" (by stock) is refused since 2026-02-10 with OPSQ2001 "ERROR : INPUT
            # INVALID_CHECK_INQR_DVSN" (KIS notice of that day, quoted in python-kis PR
            # #82). "01" lists by loan date: a stock held on several loans would give
            # several rows; cash holdings give one row a stock.
            "INQR_DVSN": "01",
            "UNPR_DVSN": "01",
            "FUND_STTL_ICLD_YN": "N",
            "FNCG_AMT_AUTO_RDPT_YN": "N",
            "PRCS_DVSN": "00",
        }
        holdings: list[Holding] = []
        summary: Mapping[str, Any] | None = None
        async for page in self._pages(INQUIRE_BALANCE, params):
            rows = page.body.get("output1") or []
            if not isinstance(rows, list):
                raise KISResponseError("inquire-balance: output1 is not a list")
            holdings.extend(self._parse(Holding, row, INQUIRE_BALANCE) for row in rows)
            totals = page.body.get("output2")
            if isinstance(totals, list) and totals:
                summary = totals[0]
            elif isinstance(totals, Mapping):
                summary = totals
        if summary is None:
            raise KISResponseError("inquire-balance: no output2 totals")
        return Balance(
            holdings=tuple(holdings),
            summary=self._parse(BalanceSummary, summary, INQUIRE_BALANCE),
        )

    async def get_buyable(self, ticker: str, price: int | None = None) -> BuyableAmount:
        """How much cash and how many shares of ``ticker`` the account can buy.

        With ``price`` (KRW) the quantity is at that limit price. Without, it is at
        today's upper price limit, what KIS reserves for a market buy: the limit comes
        from a price quote (cached for the day) and is sent as ``ORD_UNPR``, which KIS
        requires; ``BuyableAmount.price`` says which price was used.
        """
        code = check_ticker(ticker)
        if price is not None:
            check_positive_int("price", price)
        cano, product = self._trading_account()
        unit = price if price is not None else (await self._price_band(code))[1]
        response = await self._request(
            INQUIRE_PSBL_ORDER,
            params={
                "CANO": cano,
                "ACNT_PRDT_CD": product,
                "PDNO": code,
                "ORD_UNPR": str(unit),
                "ORD_DVSN": OrderType.LIMIT.code,
                "CMA_EVLU_AMT_ICLD_YN": "N",
                "OVRS_ICLD_YN": "N",
            },
        )
        return self._parse(BuyableAmount, response.body.get("output"), INQUIRE_PSBL_ORDER)

    async def iter_orders(
        self,
        start: date,
        end: date,
        *,
        ticker: str | None = None,
        side: Side | str | None = None,
        filled: bool | None = None,
    ) -> AsyncIterator[OrderRecord]:
        """Orders placed from ``start`` to ``end`` (KST dates), newest first, page by page.

        ``side``: a :class:`Side` or ``"buy"``/``"sell"`` (any case); None both.
        ``filled``: True only orders with fills, False only orders without, None all.
        Covers the last three months (KIS serves older history through another call).
        """
        start, end = check_date("start", start), check_date("end", end)
        if start > end:
            raise InvalidRequestError(f"start {start} is after end {end}")
        today = self._clock.now().astimezone(KST).date()
        if start < today - timedelta(days=_HISTORY_DAYS):
            raise InvalidRequestError("order history reaches back three months only")
        code = check_ticker(ticker) if ticker is not None else ""
        checked_side = check_side(side)
        side_code = "00" if checked_side is None else checked_side.code
        fill_code = {None: "00", True: "01", False: "02"}[check_filled(filled)]
        cano, product = self._trading_account()
        params = {
            "CANO": cano,
            "ACNT_PRDT_CD": product,
            "INQR_STRT_DT": start.strftime("%Y%m%d"),
            "INQR_END_DT": end.strftime("%Y%m%d"),
            "SLL_BUY_DVSN_CD": side_code,
            "INQR_DVSN": "00",
            "PDNO": code,
            "CCLD_DVSN": fill_code,
            "ORD_GNO_BRNO": "",
            "ODNO": "",
            "INQR_DVSN_3": "00",
            "INQR_DVSN_1": "",
            "EXCG_ID_DVSN_CD": "KRX" if self.settings.is_virtual else "ALL",
        }
        async for page in self._pages(INQUIRE_DAILY_CCLD, params):
            rows = page.body.get("output1") or []
            if not isinstance(rows, list):
                raise KISResponseError("inquire-daily-ccld: output1 is not a list")
            for row in rows:
                if isinstance(row, Mapping) and str(row.get("odno", "")).strip():
                    yield self._parse(OrderRecord, row, INQUIRE_DAILY_CCLD)

    async def get_orders(
        self,
        start: date,
        end: date,
        *,
        ticker: str | None = None,
        side: Side | str | None = None,
        filled: bool | None = None,
    ) -> list[OrderRecord]:
        """:meth:`iter_orders`, collected into a list."""
        return [
            record
            async for record in self.iter_orders(
                start, end, ticker=ticker, side=side, filled=filled
            )
        ]


def _may_have_reached_kis(exc: KISError, endpoint: Endpoint) -> bool:
    """Whether a failure leaves the order's fate open (not a refusal, not a token error)."""
    if isinstance(exc, KISTransportError):
        return exc.request_sent and exc.path == endpoint.path
    if isinstance(exc, KISServerError):
        return exc.path == endpoint.path
    if isinstance(exc, KISResponseError):
        return exc.path in ("", endpoint.path)
    return False


def _check_order(order: Any) -> None:
    if not isinstance(order, OrderResult | OrderRecord):
        raise InvalidRequestError(
            "order must be an OrderResult (from buy/sell) or an OrderRecord (from get_orders), "
            f"got {type(order).__name__}"
        )


def _check_tick(ticker: str, price: int, kind: InstrumentKind) -> None:
    if not is_on_tick(price, kind):
        what = "an ETF/ETN" if kind == "etf" else "a stock"
        raise InvalidRequestError(
            f"price {price:,} KRW for {ticker} is off the {tick_size(price, kind):,}-won tick "
            f"of {what}; the nearest valid prices are {round_to_tick(price, 'down', kind):,} "
            f"and {round_to_tick(price, 'up', kind):,}"
        )


def _exchange_of(order: OrderResult | OrderRecord) -> Exchange:
    exchange = order.exchange if isinstance(order, OrderResult) else (order.exchange or "KRX")
    return exchange if exchange in _EXCHANGES else "KRX"  # type: ignore[return-value]

"""TradingEngine: buy by amount, sell, exits by one price fan-out, portfolio, reconcile.

The engine talks to KIS only through the client's public methods, and records what
the broker filled (cumulative totals from the order history), never what it asked for.
Every order is written to the ledger before it is sent; sending and recording it run
shielded from cancellation, so a cancelled engine never leaves an order half recorded.
"""

from __future__ import annotations

import collections
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import anyio

from kis_async._clock import KST
from kis_async._errors import (
    ConfigError,
    InvalidRequestError,
    KISError,
    OrderRejectedError,
    OrderStateUnknownError,
)
from kis_async._models import CurrentPrice, OrderBook
from kis_async._redact import get_logger
from kis_async._trading_models import OrderRecord, OrderResult, Side
from kis_async._validation import check_positive_int, check_ticker
from kis_async.market import (
    InstrumentKind,
    buy_cost,
    max_quantity,
    round_to_tick,
    tick_size,
)

from ._config import EngineConfig, ExitRules, read_blacklist
from ._fills import FillSource, OrderHistoryFills, OrderProgress, StreamFills, order_key
from ._ledger import UNRESOLVED, Ledger, LedgerIntent, LedgerOrder, LedgerPosition, _rules_json
from ._models import (
    AmountTooSmallError,
    BlacklistedError,
    Difference,
    ExitDecision,
    ExitReason,
    MaxPositionsError,
    NoPositionError,
    NoQuoteError,
    PortfolioSummary,
    Position,
    PositionLimitError,
    ReconcileReport,
    SectorExposureError,
    TradeResult,
)
from ._ticks import TickExits

if TYPE_CHECKING:
    from kis_async._client import AsyncKISClient

__all__ = ["Strategy", "TradingEngine", "shares_for"]

logger = get_logger("kis_async.engine")

#: How far before the send (on KIS's clock) an order may be stamped: the Date header's
#: one-second resolution and network time, with room to spare.
_CLOCK_TOLERANCE = timedelta(seconds=5)
_UNKNOWN_CLOCK_TOLERANCE = timedelta(seconds=60)
#: Trades kept in ``TradingEngine.recent`` for displays.
_RECENT = 50


@runtime_checkable
class Strategy(Protocol):
    """Called by :meth:`TradingEngine.run` with each round of prices.

    ``prices`` holds the quotes of the open positions and of the strategy's
    ``tickers`` attribute (if it has one), fetched in the same fan-out as the exit
    check. It may call ``engine.buy`` and ``engine.sell``.
    """

    async def on_prices(self, prices: Mapping[str, CurrentPrice], engine: TradingEngine) -> None:
        """React to one round of prices."""
        ...


def shares_for(amount_krw: int, price: int, config: EngineConfig | None = None) -> int:
    """The most shares ``amount_krw`` buys at ``price`` KRW with the engine's fees.

    ``quantity * price + commission <= amount_krw``, and one more share would not be.
    """
    fees = (config or EngineConfig()).fees
    return max_quantity(amount_krw, price, fees)


class _TradingGate:
    """Trades run side by side (shared); a reconcile runs alone (exclusive).

    A reconcile that compared the balance while a trade waited for its fills would
    "repair" a position the trade is about to record, and count its shares twice.
    Waiting reconciles hold back new trades, so a busy monitor cannot starve them.
    """

    def __init__(self) -> None:
        self._condition = anyio.Condition()
        self._active = 0
        self._exclusive = False
        self._waiting = 0

    @asynccontextmanager
    async def shared(self) -> AsyncIterator[None]:
        async with self._condition:
            while self._exclusive or self._waiting:
                await self._condition.wait()
            self._active += 1
        try:
            yield
        finally:
            with anyio.CancelScope(shield=True):
                async with self._condition:
                    self._active -= 1
                    self._condition.notify_all()

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        async with self._condition:
            self._waiting += 1
            try:
                while self._exclusive or self._active:
                    await self._condition.wait()
            finally:
                self._waiting -= 1
            self._exclusive = True
        try:
            yield
        finally:
            with anyio.CancelScope(shield=True):
                async with self._condition:
                    self._exclusive = False
                    self._condition.notify_all()


def _mask(account: str) -> str:
    cano, _, product = account.partition("-")
    return f"{'*' * (len(cano) - 2)}{cano[-2:]}-{product}"


def _half_up_div(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


class TradingEngine:
    """An asyncio trading engine over an :class:`~kis_async.AsyncKISClient`.

    ``async with TradingEngine(client, Ledger("data/ledger.db")) as engine:`` opens the
    ledger and reconciles it with the broker (:attr:`last_reconcile`); ``aclose()``
    closes the ledger (the client stays yours). With ``dry_run=True`` no order is sent:
    fills are simulated at the touch and marked simulated in the ledger.
    """

    def __init__(
        self,
        client: AsyncKISClient,
        ledger: Ledger | None = None,
        *,
        config: EngineConfig | None = None,
        dry_run: bool = False,
        fill_source: FillSource | None = None,
    ) -> None:
        self.client = client
        self.config = config if config is not None else EngineConfig()
        self.ledger = ledger if ledger is not None else Ledger(self.config.ledger_path)
        self.dry_run = dry_run
        self.fill_source: FillSource = (
            fill_source if fill_source is not None else OrderHistoryFills(client)
        )
        self.last_reconcile: ReconcileReport | None = None
        #: The latest trades, newest last (for displays).
        self.recent: collections.deque[TradeResult] = collections.deque(maxlen=_RECENT)
        self._file_blacklist: frozenset[str] = frozenset()
        self._locks: dict[str, anyio.Lock] = {}
        self._gate = _TradingGate()
        self._last_quotes: dict[str, CurrentPrice] = {}
        self._admit = anyio.Lock()
        #: Buys past the rule check whose fills are not recorded yet: cost (KRW), sector.
        self._pending: dict[str, tuple[int, str | None]] = {}
        #: Exits on trade ticks while ``run(source="stream")`` runs.
        self._tick_exits: TickExits | None = None

    def __repr__(self) -> str:
        mode = ", dry_run" if self.dry_run else ""
        return f"TradingEngine({self.client!r}, {self.ledger!r}{mode})"

    # -- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> TradingEngine:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def open(self) -> ReconcileReport:
        """Check the real-money rule, open the ledger and reconcile it with the broker."""
        self._check_real_money()
        await self.ledger.open()
        try:
            if self.config.blacklist_file is not None:
                await self.reload_blacklist()
            report = await self.reconcile()
        except BaseException:
            await self.ledger.aclose()
            raise
        return report

    async def aclose(self) -> None:
        """Close the ledger. The client is left open (it is the caller's)."""
        await self.ledger.aclose()

    def _check_real_money(self) -> None:
        settings = self.client.settings
        if settings.env != "real":
            return
        if not settings.production_confirmed:
            raise ConfigError(
                "the trading engine trades real money on env 'real': set "
                "KIS_PRODUCTION_CONFIRMED=YES (production_confirmed=True) to start it"
            )
        account = settings.account_no.get_secret_value() if settings.account_no else "?"
        logger.warning(
            "REAL MONEY: the trading engine trades account %s on KIS's real server%s",
            _mask(account),
            " (dry run: no order will be sent)" if self.dry_run else "",
        )

    # -- time --------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self.client.clock.now().astimezone(KST)

    def _kis_now(self) -> tuple[datetime, timedelta]:
        """Now on KIS's clock (from its Date headers) and how far to trust it."""
        offset = self.client.server_clock_offset()
        if offset is None:
            return self._now(), _UNKNOWN_CLOCK_TOLERANCE
        return self._now() + offset, _CLOCK_TOLERANCE

    # -- rules -----------------------------------------------------------------------

    @property
    def blacklist(self) -> frozenset[str]:
        """Tickers refused: the config's and the blacklist file's."""
        return self.config.blacklist | self._file_blacklist

    async def reload_blacklist(self) -> frozenset[str]:
        """Read ``config.blacklist_file`` again; returns the blacklist now in force."""
        path = self.config.blacklist_file
        if path is None:
            return self.blacklist
        self._file_blacklist = await anyio.to_thread.run_sync(read_blacklist, path)
        return self.blacklist

    async def _check_limits(
        self,
        ticker: str,
        cost: int,
        sector: str | None,
        positions: Sequence[LedgerPosition],
        pending: Sequence[LedgerPosition] = (),
    ) -> None:
        held = {p.ticker: p for p in [*pending, *positions]}
        config = self.config
        if (
            config.max_positions is not None
            and ticker not in held
            and len(held) >= config.max_positions
        ):
            raise MaxPositionsError(
                f"buying {ticker} would open position {len(held) + 1}; "
                f"max_positions is {config.max_positions}"
            )
        if config.max_position_krw is not None:
            existing = held[ticker].cost_basis if ticker in held else 0
            if existing + cost > config.max_position_krw:
                raise PositionLimitError(
                    f"{ticker} would cost {existing + cost:,} KRW in all "
                    f"(held {existing:,} + this buy {cost:,}); max_position_krw is "
                    f"{config.max_position_krw:,}"
                )
        if config.max_sector_exposure is not None and sector is not None:
            cash = await self.ledger.cash() or 0
            # Equity at cost: the rule needs no quotes, and buying does not move it.
            equity = cash + sum(p.cost_basis for p in positions)
            in_sector = (
                sum(p.cost_basis for p in [*positions, *pending] if p.sector == sector) + cost
            )
            if equity <= 0 or Decimal(in_sector) > config.max_sector_exposure * equity:
                share = Decimal(in_sector) / equity if equity > 0 else Decimal(1)
                raise SectorExposureError(
                    f"sector {sector!r} would hold {in_sector:,} KRW, {share:.1%} of equity "
                    f"{equity:,} KRW; max_sector_exposure is {config.max_sector_exposure:.1%}"
                )

    def _limit_price(self, touch: int, side: Side, book: OrderBook) -> int:
        """The touch, or ``ticks_through`` ticks beyond it on the instrument's grid."""
        if not self.config.ticks_through:
            return touch
        # ETFs/ETNs trade on a finer grid than stocks. Book levels sit on the grid, so
        # levels closer than a stock tick mean an ETF; a stock-grid price is valid for
        # an ETF too, so the other way round is never off the grid.
        levels = book.ask_levels if side is Side.BUY else book.bid_levels
        gap = abs(levels[1].price - levels[0].price) if len(levels) > 1 else None
        kind: InstrumentKind = (
            "etf" if gap is not None and 0 < gap < tick_size(levels[0].price) else "stock"
        )
        price = touch
        for _ in range(self.config.ticks_through):
            if side is Side.BUY:
                price += tick_size(price, kind)
            elif price > 1:
                price = round_to_tick(price - 1, "down", kind)
        return price

    @asynccontextmanager
    async def _ticker_lock(self, ticker: str) -> AsyncIterator[None]:
        # Shared with other trades, exclusive of reconcile; then one trade a ticker.
        async with self._gate.shared():
            lock = self._locks.setdefault(ticker, anyio.Lock())
            async with lock:
                yield

    # -- trading -----------------------------------------------------------------------

    async def buy(
        self,
        ticker: str,
        amount_krw: int,
        *,
        sector: str | None = None,
        region: str = "KR",
        reason: str = "",
        rules: ExitRules | None = None,
    ) -> TradeResult:
        """Buy as many shares of ``ticker`` as ``amount_krw`` KRW pays for, fees included.

        Reads the order book, prices a limit order at the best ask (or ``ticks_through``
        ticks above; or a market order), sizes it with ``market.max_quantity``, checks
        the rules (blacklist, max positions, position size, sector exposure: an
        :class:`EngineRuleError` and nothing sent), places it, waits up to
        ``fill_timeout`` seconds for fills, cancels the unfilled rest and returns what
        was bought at what average price. ``rules`` override the exit rules for this
        position.
        """
        code = check_ticker(ticker)
        check_positive_int("amount_krw", amount_krw)
        if code in self.blacklist:
            raise BlacklistedError(f"{code} is blacklisted; nothing was sent")
        async with self._ticker_lock(code):
            book = await self.client.get_order_book(code)
            touch = book.best_ask
            if touch is None:
                raise NoQuoteError(f"no one offers {code} (no ask in the book); nothing was sent")
            price = (
                None
                if self.config.order_style == "market"
                else self._limit_price(touch, Side.BUY, book)
            )
            sizing = price if price is not None else touch
            quantity = max_quantity(amount_krw, sizing, self.config.fees)
            if quantity == 0:
                raise AmountTooSmallError(
                    f"{amount_krw:,} KRW does not buy one share of {code} at {sizing:,} KRW "
                    f"with fees ({buy_cost(sizing, 1, self.config.fees):,} KRW); nothing was sent"
                )
            cost = buy_cost(sizing, quantity, self.config.fees)
            # Buys of other tickers run beside this one: the rules see their positions
            # as held from the check until their fills are in the ledger, and the check
            # and the reservation are one step, so two buys cannot both pass.
            async with self._admit:
                positions = await self.ledger.positions()
                existing = next((p for p in positions if p.ticker == code), None)
                if sector is None and existing is not None:
                    sector = existing.sector
                await self._check_limits(code, cost, sector, positions, self._pending_buys())
                self._pending[code] = (cost, sector)
            try:
                meta: dict[str, Any] = {"sector": sector, "region": region}
                if rules is not None:
                    meta["rules"] = _rules_json_dict(rules)
                return await self._trade(code, Side.BUY, quantity, price, book, reason, meta)
            finally:
                del self._pending[code]

    def _pending_buys(self) -> list[LedgerPosition]:
        """Buys admitted but not yet recorded, as positions at their sized cost."""
        now = self._now()
        return [
            LedgerPosition(
                ticker=ticker,
                quantity=0,
                cost_basis=cost,
                sector=sector,
                region="KR",
                entered_at=now,
                high_price=0,
                rules=None,
            )
            for ticker, (cost, sector) in self._pending.items()
        ]

    async def sell(
        self, ticker: str, quantity: int | None = None, *, reason: str = "manual"
    ) -> TradeResult:
        """Sell ``quantity`` shares of ``ticker`` (default: the whole position).

        A limit order at the best bid (or ``ticks_through`` ticks below; or a market
        order); waits for fills like :meth:`buy`. Raises :class:`NoPositionError` when
        nothing is held. Sells of one ticker never overlap: a second caller waits and
        then sees what the first one left.
        """
        code = check_ticker(ticker)
        if quantity is not None:
            check_positive_int("quantity", quantity)
        async with self._ticker_lock(code):
            return await self._sell_locked(code, quantity, reason)

    async def _sell_locked(self, code: str, quantity: int | None, reason: str) -> TradeResult:
        position = await self.ledger.position(code)
        held = position.quantity if position is not None else 0
        if held == 0:
            raise NoPositionError(f"no open position in {code}; nothing was sent")
        if quantity is not None and quantity > held:
            raise InvalidRequestError(f"cannot sell {quantity:,} shares of {code}: {held:,} held")
        book = await self.client.get_order_book(code)
        touch = book.best_bid
        if touch is None:
            raise NoQuoteError(f"no one bids for {code} (no bid in the book); nothing was sent")
        price = (
            None
            if self.config.order_style == "market"
            else self._limit_price(touch, Side.SELL, book)
        )
        return await self._trade(code, Side.SELL, quantity or held, price, book, reason, {})

    async def _trade(
        self,
        code: str,
        side: Side,
        quantity: int,
        price: int | None,
        book: OrderBook,
        reason: str,
        meta: dict[str, Any],
    ) -> TradeResult:
        order_type: Literal["limit", "market"] = "market" if price is None else "limit"
        # From the intent to the recorded order nothing may be cut short: shielded, and
        # bounded by the client's own timeouts.
        with anyio.CancelScope(shield=True):
            kis_now, tolerance = self._kis_now()
            intent_id = await self.ledger.add_intent(
                kind="new",
                ticker=code,
                side=side,
                quantity=quantity,
                price=price,
                order_type=order_type,
                window_start=kis_now - tolerance,
                created_at=self._now(),
                reason=reason,
                meta=meta,
                simulated=self.dry_run,
            )
            if self.dry_run:
                result = await self._simulate(intent_id, code, side, quantity, price, book, reason)
                self.recent.append(result)
                return result
            placed = await self._send(intent_id, code, side, quantity, price)
            order = await self.ledger.record_order(
                intent_id,
                order_id=placed.order_id,
                org_no=placed.org_no,
                ordered_at=placed.ordered_at,
                at=self._now(),
                window_end=self._kis_now()[0] + tolerance,
                recovered=placed.recovered,
            )
        result = await self._await_fills(order, placed, reason)
        self.recent.append(result)
        return result

    async def _send(
        self, intent_id: int, code: str, side: Side, quantity: int, price: int | None
    ) -> OrderResult:
        try:
            if side is Side.BUY:
                return await self.client.buy(code, quantity, price)
            return await self.client.sell(code, quantity, price)
        except KISError as exc:
            state: Literal["unknown", "rejected"] = (
                "unknown" if isinstance(exc, OrderStateUnknownError) else "rejected"
            )
            await self.ledger.resolve_intent(
                intent_id,
                state,
                at=self._now(),
                window_end=self._kis_now()[0] + _CLOCK_TOLERANCE,
                error=f"{type(exc).__name__}: {exc}",
            )
            raise
        except BaseException:
            # Anything else leaves the order's fate open: reconcile decides.
            await self.ledger.resolve_intent(intent_id, "unknown", at=self._now())
            raise

    async def _simulate(
        self,
        intent_id: int,
        code: str,
        side: Side,
        quantity: int,
        price: int | None,
        book: OrderBook,
        reason: str,
    ) -> TradeResult:
        touch = book.best_ask if side is Side.BUY else book.best_bid
        assert touch is not None, "checked by the caller"
        now = self._now()
        order = await self.ledger.record_order(
            intent_id,
            order_id=f"SIM{intent_id:07d}",
            org_no="",
            ordered_at=now,
            at=now,
            simulated=True,
        )
        await self._apply(
            order,
            OrderProgress(order.order_id, quantity, touch * quantity, 0),
        )
        return await self._result(order, reason, simulated=True)

    async def _progress(self, order: LedgerOrder) -> OrderProgress | None:
        found = await self.fill_source.progress([order])
        return found.get(order.order_id)

    async def _apply(self, order: LedgerOrder, progress: OrderProgress) -> None:
        now = self._now()
        await self.ledger.apply_progress(
            order.order_id,
            filled_quantity=progress.filled_quantity,
            filled_amount=progress.filled_amount,
            at=now,
            trade_date=now.date(),
            fees=self.config.fees,
            done=progress.done,
            executions=progress.executions,
        )
        if self._tick_exits is not None:
            self._tick_exits.touch(order.ticker)

    async def _await_fills(
        self, order: LedgerOrder, placed: OrderResult | OrderRecord, reason: str
    ) -> TradeResult:
        """Poll until filled or ``fill_timeout``; then cancel the rest and keep the fills."""
        clock = self.client.clock
        deadline = clock.monotonic() + self.config.fill_timeout
        progress: OrderProgress | None = None
        try:
            while True:
                progress = await self._progress(order)
                if progress is not None:
                    with anyio.CancelScope(shield=True):
                        await self._apply(order, progress)
                    if progress.done:
                        break
                left = deadline - clock.monotonic()
                if left <= 0:
                    break
                await self.fill_source.wait([order], min(self.config.fill_poll_interval, left))
        finally:
            if progress is None or not progress.done:
                # Cancelled or timed out: take the rest off the book and record what filled,
                # whatever cancels the caller meanwhile.
                with anyio.CancelScope(shield=True):
                    await self._cancel_rest(order, placed if progress is None else progress.record)
        return await self._result(order, reason)

    async def _cancel_rest(
        self, order: LedgerOrder, placed: OrderResult | OrderRecord | None
    ) -> bool:
        """Cancel what rests of ``order``; record the final fills. Whether it cancelled."""
        cancelled = False
        if placed is not None:
            try:
                await self.client.cancel_order(placed)
                cancelled = True
            except OrderRejectedError:
                pass  # nothing rests any more: it filled or expired meanwhile
            except KISError as exc:
                logger.warning("could not cancel the rest of order %s: %s", order.order_id, exc)
        progress = await self._progress(order)
        if progress is not None:
            await self._apply(order, progress)
        return cancelled

    async def _result(
        self, order: LedgerOrder, reason: str, *, simulated: bool = False
    ) -> TradeResult:
        fills = [f for f in await self.ledger.fills(order.ticker) if f.order_id == order.order_id]
        filled = sum(f.quantity for f in fills)
        amount = sum(f.amount for f in fills)
        status: Literal["filled", "partial", "unfilled"] = (
            "filled" if filled >= order.quantity else "partial" if filled else "unfilled"
        )
        return TradeResult(
            ticker=order.ticker,
            side=order.side,
            requested=order.quantity,
            filled=filled,
            average_price=Decimal(amount) / Decimal(filled) if filled else None,
            amount=amount,
            commission=sum(f.commission for f in fills),
            tax=sum(f.tax for f in fills),
            order_id=None if simulated else order.order_id,
            intent_id=order.intent_id,
            limit_price=order.price,
            status=status,
            reason=reason,
            simulated=simulated,
            realised_pnl=sum(f.realised_pnl for f in fills),
        )

    # -- positions, exits, portfolio -----------------------------------------------------

    async def _quotes(self, tickers: Sequence[str]) -> dict[str, CurrentPrice]:
        """One fan-out for all ``tickers``; a ticker whose quote failed is left out."""
        if not tickers:
            return {}
        found = await self.client.get_current_prices(tickers, return_exceptions=True)
        quotes = {t: q for t, q in found.items() if isinstance(q, CurrentPrice)}
        for ticker, outcome in found.items():
            if not isinstance(outcome, CurrentPrice):
                logger.warning("no price for %s this round: %s", ticker, outcome)
        self._last_quotes.update(quotes)
        return quotes

    def _position(self, held: LedgerPosition, price: int) -> Position:
        rules = self.config.rules_for(held.ticker, held.rules)
        avg = held.avg_cost
        value = price * held.quantity
        pnl = value - held.cost_basis
        return Position(
            ticker=held.ticker,
            quantity=held.quantity,
            avg_cost=avg,
            cost_basis=held.cost_basis,
            last_price=price,
            market_value=value,
            unrealised_pnl=pnl,
            unrealised_pct=(Decimal(pnl) * 100 / held.cost_basis)
            if held.cost_basis
            else Decimal(0),
            sector=held.sector,
            region=held.region,
            entered_at=held.entered_at,
            high_price=max(held.high_price, price),
            stop_price=None if rules.stop_loss is None else avg * (1 + rules.stop_loss),
            target_price=None if rules.take_profit is None else avg * (1 + rules.take_profit),
            trailing_price=(
                None
                if rules.trailing_stop is None
                else Decimal(max(held.high_price, price)) * (1 - rules.trailing_stop)
            ),
        )

    async def positions(self) -> list[Position]:
        """Open positions valued at current prices (one fan-out for all of them), KRW."""
        held = await self.ledger.positions()
        await self._quotes([p.ticker for p in held])
        # A ticker whose quote failed this time is valued at its last quote, or at the
        # highest price recorded for it when none was seen yet.
        last = self._last_quotes
        return [
            self._position(p, last[p.ticker].current_price if p.ticker in last else p.high_price)
            for p in held
        ]

    async def portfolio(self) -> PortfolioSummary:
        """Cash, equity, invested, P&L, fees, taxes, win rate and sector exposure (KRW)."""
        positions = await self.positions()
        cash = await self.ledger.cash() or 0
        totals = await self.ledger.totals()
        value = sum(p.market_value for p in positions)
        equity = cash + value
        sectors: dict[str, int] = {}
        for p in positions:
            sectors[p.sector or "unknown"] = sectors.get(p.sector or "unknown", 0) + p.market_value
        return PortfolioSummary(
            as_of=self._now(),
            cash=cash,
            invested=sum(p.cost_basis for p in positions),
            market_value=value,
            equity=equity,
            realised_pnl=totals["realised_pnl"],
            unrealised_pnl=sum(p.unrealised_pnl for p in positions),
            fees_paid=totals["commission"],
            taxes_paid=totals["tax"],
            sells=totals["sells"],
            wins=totals["wins"],
            win_rate=(Decimal(totals["wins"]) / totals["sells"]) if totals["sells"] else None,
            sector_exposure={
                name: Decimal(krw) / equity if equity else Decimal(0)
                for name, krw in sorted(sectors.items())
            },
            positions=tuple(positions),
            simulated=self.dry_run,
        )

    @staticmethod
    def _exit_rule(position: Position) -> tuple[ExitReason, Decimal] | None:
        price = position.last_price
        if position.stop_price is not None and price <= position.stop_price:
            return "stop_loss", position.stop_price
        if position.trailing_price is not None and price <= position.trailing_price:
            return "trailing_stop", position.trailing_price
        if position.target_price is not None and price >= position.target_price:
            return "take_profit", position.target_price
        return None

    async def check_exits(self) -> list[ExitDecision]:
        """Price ALL open positions in one fan-out and sell those past an exit rule.

        Stop-loss, trailing stop and take-profit (see :class:`EngineConfig`); the
        sells run concurrently, each under its ticker's lock, so a position is never
        sold twice even when a manual :meth:`sell` races. Returns one decision per rule
        that fired.
        """
        decisions, _ = await self._check_exits(())
        return decisions

    async def _check_exits(
        self, extra: Sequence[str]
    ) -> tuple[list[ExitDecision], dict[str, CurrentPrice]]:
        held = await self.ledger.positions()
        tickers = list(dict.fromkeys([*(p.ticker for p in held), *extra]))
        quotes = await self._quotes(tickers)
        prices = {p.ticker: quotes[p.ticker].current_price for p in held if p.ticker in quotes}
        if prices:
            await self.ledger.update_high(prices, at=self._now())
        fired: list[tuple[Position, ExitReason, Decimal]] = []
        for p in held:
            if p.ticker in prices:
                position = self._position(p, prices[p.ticker])
                rule = self._exit_rule(position)
                if rule is not None:
                    fired.append((position, *rule))
        decisions: list[ExitDecision] = []
        if fired:
            async with anyio.create_task_group() as group:
                for position, reason, threshold in fired:
                    group.start_soon(self._exit, position, reason, threshold, decisions)
        return decisions, quotes

    async def _exit(
        self,
        position: Position,
        reason: ExitReason,
        threshold: Decimal,
        decisions: list[ExitDecision],
    ) -> None:
        decision = ExitDecision(
            ticker=position.ticker,
            reason=reason,
            price=position.last_price,
            threshold=threshold,
            quantity=position.quantity,
        )
        async with self._ticker_lock(position.ticker):
            current = await self.ledger.position(position.ticker)
            if current is None or current.quantity == 0:
                decisions.append(_replace(decision, skipped=True))
                return
            try:
                result = await self._sell_locked(position.ticker, None, reason)
            except KISError as exc:
                logger.warning("exit sell of %s failed: %s", position.ticker, exc)
                decisions.append(_replace(decision, error=f"{type(exc).__name__}: {exc}"))
                return
        logger.info(
            "%s: %s at %s KRW (threshold %.2f): sold %s of %s",
            position.ticker,
            reason,
            position.last_price,
            threshold,
            result.filled,
            result.requested,
        )
        decisions.append(_replace(decision, result=result, quantity=current.quantity))

    async def run(
        self,
        interval: float = 5.0,
        strategy: Strategy | None = None,
        *,
        steps: int | None = None,
        source: Literal["poll", "stream"] = "poll",
    ) -> None:
        """The monitor loop: every ``interval`` seconds one price fan-out, the exit
        check, then ``strategy.on_prices``. ``steps`` bounds the rounds (None: until
        cancelled). Cancel it (anyio cancel scope, task cancel, Ctrl-C) to stop: an
        order being sent or recorded is finished first, never left half recorded.

        ``source`` is how the engine learns of fills while the loop runs: ``"poll"``
        reads the order history every ``fill_poll_interval`` seconds; ``"stream"``
        also opens the client's real-time stream (the ``stream`` extra) and reads the
        history as soon as a fill notice for the order arrives. It also subscribes the
        trade ticks of every open position (on entry; unsubscribed on exit) and checks
        the exit rules on each tick (:class:`~kis_async.engine.TickExits`), so a stop
        fires on the first trade past it; positions beyond the session's 40
        registrations (fill notices take one) are left to the fan-out, which still
        runs every ``interval`` seconds as a safety net.
        """
        if source not in ("poll", "stream"):
            raise InvalidRequestError(f"source must be 'poll' or 'stream', got {source!r}")
        if source == "stream":
            async with self._streamed_fills():
                await self._monitor(interval, strategy, steps)
        else:
            await self._monitor(interval, strategy, steps)

    async def _monitor(self, interval: float, strategy: Strategy | None, steps: int | None) -> None:
        done = 0
        while steps is None or done < steps:
            if self.config.blacklist_file is not None:
                await self.reload_blacklist()
            extra = list(getattr(strategy, "tickers", ()) or ())
            _, quotes = await self._check_exits(extra)
            if strategy is not None:
                await strategy.on_prices(quotes, self)
            done += 1
            if steps is None or done < steps:
                await anyio.sleep(interval)

    @asynccontextmanager
    async def _streamed_fills(self) -> AsyncIterator[StreamFills]:
        """Fill notices as the fill source while the block runs; the previous one after."""
        async with self.client.stream() as stream, anyio.create_task_group() as group:
            source = StreamFills(self.client, stream)
            await source.start(group)
            previous, self.fill_source = self.fill_source, source
            try:
                self._tick_exits = TickExits(self, stream)
                await self._tick_exits.start(group)
                yield source
            finally:
                self._tick_exits = None
                self.fill_source = previous
                group.cancel_scope.cancel()

    # -- reconcile -------------------------------------------------------------------------

    async def reconcile(self) -> ReconcileReport:
        """Bring the ledger to the broker's state and report every difference.

        For each intent still ``sending`` or ``unknown``: find its order in the order
        history (same ticker, side, quantity and price, placed within the intent's
        KIS-clock window, not claimed by another intent); apply every fill the ledger
        missed; cancel the unfilled rest of orders a crash left resting (what the fill
        timeout would have done); then compare positions and cash with
        ``get_balance()`` and set the ledger to the broker's figures. It never places
        an order. Runs on open; safe to run any time: it waits for trades in progress
        to finish and holds new ones back until it is done.
        """
        async with self._gate.exclusive():
            report = ReconcileReport(at=self._now(), simulated=self.dry_run)
            if await self.ledger.cash() is None:
                await self._opening_balance(report)
            if self.dry_run:
                # Nothing of a dry run reached the broker; a crash mid-simulation
                # leaves an intent that never happened.
                for intent in await self.ledger.intents(UNRESOLVED):
                    await self.ledger.resolve_intent(intent.id, "not_sent", at=self._now())
                    report.not_sent.append(intent.id)
                self.last_reconcile = report
                return report
            await self._resolve_orders(report)
            await self._compare_balance(report)
            for difference in report.differences:
                logger.warning(
                    "reconcile: %s %s: ledger %s, broker %s -> %s",
                    difference.kind,
                    difference.ticker or "",
                    difference.ledger,
                    difference.broker,
                    difference.action,
                )
            self.last_reconcile = report
            return report

    async def _opening_balance(self, report: ReconcileReport) -> None:
        balance = await self.client.get_balance()
        now = self._now()
        await self.ledger.set_cash(balance.summary.d2_deposit, at=now, reason="opening balance")
        for holding in balance.holdings:
            if holding.quantity > 0:
                await self.ledger.set_position(
                    holding.stock_code,
                    holding.quantity,
                    holding.purchase_amount,
                    at=now,
                    reason="opening balance",
                )
        await self.ledger.log("opened", at=now, holdings=len(balance.holdings))

    async def _resolve_orders(self, report: ReconcileReport) -> None:
        unresolved = await self.ledger.intents(UNRESOLVED)
        known = await self.ledger.orders()
        open_orders = [o for o in known if o.state == "open" and not o.simulated]
        if not unresolved and not open_orders:
            return
        today = self._now().date()
        starts = [i.window_start.astimezone(KST).date() for i in unresolved]
        starts += [o.ordered_at.astimezone(KST).date() for o in open_orders]
        start = min([*starts, today])
        history = await self.client.get_orders(start, today)
        claimed = {order_key(o.order_id) for o in known}
        kis_now, _ = self._kis_now()
        settle = timedelta(
            seconds=self.client.settings.timeout + self.client.settings.order_settle_seconds
        )
        for intent in unresolved:
            record = _match(intent, history, claimed)
            if record is not None:
                claimed.add(order_key(record.order_id))
                order = await self.ledger.record_order(
                    intent.id,
                    order_id=record.order_id,
                    org_no=record.org_no,
                    ordered_at=record.ordered_at,
                    at=self._now(),
                    recovered=True,
                )
                open_orders.append(order)
                report.recovered.append(record.order_id)
                report.differences.append(
                    Difference("order", intent.ticker, intent.state, record.order_id, "recovered")
                )
            elif kis_now - intent.window_start > settle:
                await self.ledger.resolve_intent(
                    intent.id, "not_sent", at=self._now(), error="not in the order history"
                )
                report.not_sent.append(intent.id)
            else:
                # Too soon to say it never arrived: decided by a later reconcile.
                if intent.state == "sending":
                    await self.ledger.resolve_intent(intent.id, "unknown", at=self._now())
                report.pending.append(intent.id)
        by_key = {order_key(r.order_id): r for r in history}
        for order in open_orders:
            record = by_key.get(order_key(order.order_id))
            if record is None:
                report.differences.append(
                    Difference("order", order.ticker, order.order_id, None, "not in the history")
                )
                continue
            if record.remaining_quantity > 0 and await self._cancel_rest(order, record):
                report.cancelled.append(order.order_id)
            before = await self.ledger.fills(order.ticker)
            progress = await self._progress(order)
            if progress is not None:
                await self._apply(order, progress)
            after = await self.ledger.fills(order.ticker)
            report.fills_applied += len(after) - len(before)
            if progress is None or progress.done:
                await self.ledger.close_order(order.order_id, at=self._now())

    async def _compare_balance(self, report: ReconcileReport) -> None:
        balance = await self.client.get_balance()
        now = self._now()
        broker = {h.stock_code: h for h in balance.holdings if h.quantity > 0}
        mine = {p.ticker: p for p in await self.ledger.positions()}
        # An intent still unresolved may yet turn out to be an order whose fills a later
        # reconcile applies: repairing its ticker (or the cash) now would count them twice.
        unresolved = await self.ledger.intents(UNRESOLVED)
        held_back = {intent.ticker for intent in unresolved}
        for ticker in sorted(set(broker) | set(mine)):
            held = broker[ticker].quantity if ticker in broker else 0
            ours = mine[ticker].quantity if ticker in mine else 0
            if held == ours:
                continue
            if ticker in held_back:
                report.differences.append(
                    Difference("position", ticker, ours, held, "not repaired: intent pending")
                )
                continue
            if held == 0:
                basis = 0
            elif ours > 0:
                basis = _half_up_div(mine[ticker].cost_basis * held, ours)
            else:
                basis = broker[ticker].purchase_amount
            await self.ledger.set_position(ticker, held, basis, at=now, reason="reconcile")
            report.differences.append(
                Difference("position", ticker, ours, held, "set to the broker's quantity")
            )
        cash = await self.ledger.cash()
        # The D+2 deposit: cash with every trade so far settled (KIS's D+0 deposit
        # lags today's trades by two days).
        deposit = balance.summary.d2_deposit
        if cash != deposit:
            if unresolved:
                action = "not repaired: intent pending"
            else:
                await self.ledger.set_cash(deposit, at=now, reason="reconcile")
                action = "set to the broker's"
            report.differences.append(Difference("cash", None, cash, deposit, action))
        await self.ledger.log(
            "reconciled",
            at=now,
            recovered=report.recovered,
            not_sent=report.not_sent,
            pending=report.pending,
            fills=report.fills_applied,
            differences=len(report.differences),
        )


def _match(
    intent: LedgerIntent, history: Sequence[OrderRecord], claimed: set[str]
) -> OrderRecord | None:
    """The earliest unclaimed order in ``history`` that ``intent`` could have become."""
    candidates = [
        record
        for record in history
        if order_key(record.order_id) not in claimed
        and record.ticker == intent.ticker
        and record.side is intent.side
        and not record.original_order_id
        and record.quantity == intent.quantity
        and (
            record.is_market_order or record.price == 0
            if intent.price is None
            else record.price == intent.price
        )
        and record.ordered_at >= intent.window_start.replace(microsecond=0)
        and (intent.window_end is None or record.ordered_at <= intent.window_end)
    ]
    # Identical orders are interchangeable: the earliest goes to the earliest intent.
    return min(candidates, key=lambda r: (r.ordered_at, r.order_id), default=None)


def _replace(decision: ExitDecision, **changes: Any) -> ExitDecision:
    from dataclasses import replace

    return replace(decision, **changes)


def _rules_json_dict(rules: ExitRules) -> dict[str, str | None]:
    import json

    loaded: dict[str, str | None] = json.loads(_rules_json(rules))
    return loaded

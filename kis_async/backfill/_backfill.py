"""Historical bars for many tickers, through the client's one rate gate, resumably."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from kis_async._clock import KST
from kis_async._errors import InvalidRequestError
from kis_async._models import Candle, PriceType
from kis_async._validation import check_tickers

from ._stores import BarStore, DateRange, SQLiteStore, StoredBar, merge_ranges

if TYPE_CHECKING:
    from kis_async._client import AsyncKISClient

__all__ = ["BackfillProgress", "BackfillReport", "backfill", "last_complete_day"]

logger = logging.getLogger("kis_async.backfill")

#: Bars one chart call returns (KIS's page of the period chart).
PAGE = 100
#: A session's bars are final some minutes after the 15:30 closing auction.
_SESSION_FINAL = time(15, 45)


@dataclass(frozen=True)
class BackfillProgress:
    """Where a backfill stands, passed to ``on_progress`` after each page and ticker."""

    ticker: str
    #: "page" (a page was stored), "done" (the ticker is complete), "failed", "refetch".
    event: str
    tickers_done: int
    tickers_total: int
    bars_written: int
    requests: int
    error: str | None = None


@dataclass
class BackfillReport:
    """What a backfill did. ``requests`` counts HTTP requests (tokens included)."""

    start: date
    end: date
    period: str
    tickers: int = 0
    requests: int = 0
    #: Chart calls made (each one HTTP request unless retried).
    chart_calls: int = 0
    bars_written: int = 0
    #: Tickers already complete, checked by one overlap call each.
    up_to_date: list[str] = field(default_factory=list)
    #: Tickers refetched whole because their stored history had changed.
    refetched: list[str] = field(default_factory=list)
    #: Tickers that failed, with the error in words.
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every ticker completed."""
        return not self.failed


def last_complete_day(now: datetime) -> date:
    """The newest day whose session is over at ``now`` (KST): today after 15:45, else
    yesterday. Weekends and holidays simply have no bar."""
    local = now.astimezone(KST)
    return local.date() if local.time() >= _SESSION_FINAL else local.date() - timedelta(days=1)


def _period_start(day: date, period: PriceType) -> date:
    if period is PriceType.WEEKLY:
        return day - timedelta(days=day.weekday())
    if period is PriceType.MONTHLY:
        return day.replace(day=1)
    if period is PriceType.YEARLY:
        return day.replace(month=1, day=1)
    return day


def _missing(start: date, end: date, covered: list[DateRange]) -> list[DateRange]:
    """Parts of [start, end] outside ``covered``, oldest first."""
    gaps: list[DateRange] = []
    cursor = start
    for lo, hi in merge_ranges(covered):
        if hi < cursor:
            continue
        if lo > end:
            break
        if lo > cursor:
            gaps.append((cursor, lo - timedelta(days=1)))
        cursor = max(cursor, hi + timedelta(days=1))
    if cursor <= end:
        gaps.append((cursor, end))
    return gaps


def _stored(ticker: str, period: PriceType, candle: Candle) -> StoredBar:
    return StoredBar(
        ticker,
        period.value,
        candle.date,
        candle.open_price,
        candle.high_price,
        candle.low_price,
        candle.close_price,
        candle.volume,
        candle.trading_value,
    )


class _Run:
    def __init__(
        self,
        client: AsyncKISClient,
        store: BarStore,
        period: PriceType,
        start: date,
        end: date,
        total: int,
        on_progress: Callable[[BackfillProgress], None] | None,
    ) -> None:
        self.client = client
        self.store = store
        self.period = period
        self.start = start
        self.end = end
        self.on_progress = on_progress
        self.total = total
        self.done = 0
        self.report = BackfillReport(start, end, period.value, tickers=total)
        self._requests_before = client.stats.requests

    def progress(self, ticker: str, event: str, error: str | None = None) -> None:
        self.report.requests = self.client.stats.requests - self._requests_before
        if self.on_progress is not None:
            self.on_progress(
                BackfillProgress(
                    ticker,
                    event,
                    self.done,
                    self.total,
                    self.report.bars_written,
                    self.report.requests,
                    error,
                )
            )

    async def page(self, ticker: str, end: date) -> list[StoredBar]:
        """Up to one page of bars dated ``end`` or earlier, oldest first: one chart call."""
        self.report.chart_calls += 1
        candles = await self.client.get_chart_data(ticker, self.period, PAGE, end=end)
        return [_stored(ticker, self.period, c) for c in candles if c.date <= end]

    def covered_from(self, page: list[StoredBar], lo: date) -> date:
        """The first day a page proves complete: a short page reaches back to ``lo``
        (the history begins inside it); a full page to its oldest bar's period."""
        if len(page) < PAGE:
            return lo
        return max(lo, _period_start(page[0].date, self.period))

    async def write(self, ticker: str, bars: list[StoredBar], covered: DateRange) -> None:
        await self.store.write(ticker, self.period.value, bars, covered)
        self.report.bars_written += len(bars)
        self.progress(ticker, "page")

    async def fill(self, ticker: str, lo: date, hi: date) -> None:
        """Fetch [lo, hi], newest page first, storing each page with the range it covers."""
        cursor = hi
        while cursor >= lo:
            page = await self.page(ticker, cursor)
            first = self.covered_from(page, lo)
            await self.write(ticker, [b for b in page if lo <= b.date <= hi], (first, cursor))
            if first <= lo:
                return
            cursor = first - timedelta(days=1)

    async def ticker(self, ticker: str) -> None:
        period = self.period.value
        missing = _missing(self.start, self.end, await self.store.coverage(ticker, period))
        last = await self.store.last_bar(ticker, period, self.end)
        if not missing:
            self.report.up_to_date.append(ticker)
        if last is not None and last.date >= self.start:
            if not await self.overlap_holds(ticker, last, missing):
                logger.warning(
                    "%s: the stored %s bar of %s changed at the source (a split or a "
                    "dividend adjusted the history); refetching %s whole",
                    ticker,
                    period,
                    last.date.isoformat(),
                    ticker,
                )
                self.report.refetched.append(ticker)
                if ticker in self.report.up_to_date:
                    self.report.up_to_date.remove(ticker)
                self.progress(ticker, "refetch")
                await self.store.reset(ticker, period)
                missing = [(self.start, self.end)]
            else:
                missing = _missing(self.start, self.end, await self.store.coverage(ticker, period))
        for lo, hi in reversed(missing):
            await self.fill(ticker, lo, hi)

    async def overlap_holds(self, ticker: str, last: StoredBar, missing: list[DateRange]) -> bool:
        """Refetch the newest stored bar and compare it.

        When the tail after it is missing, the tail's pages bring the bar along: they
        are held back until the bar is seen unchanged, then stored (so a changed
        history never mixes with the old). Otherwise one call fetches the bar alone.
        """
        tail = missing[-1] if missing and missing[-1][1] == self.end else None
        if tail is None or tail[0] <= last.date:
            page = await self.page(ticker, last.date)
            fresh = next((b for b in page if b.date == last.date), None)
            return fresh is not None and fresh.same_prices(last)
        held: list[tuple[list[StoredBar], DateRange]] = []
        cursor = self.end
        while True:
            page = await self.page(ticker, cursor)
            first = self.covered_from(page, last.date)
            lo, hi = tail[0], cursor
            held.append(([b for b in page if lo <= b.date <= hi], (max(first, lo), hi)))
            if first <= last.date:
                fresh = next((b for b in page if b.date == last.date), None)
                if fresh is None or not fresh.same_prices(last):
                    return False
                break
            cursor = first - timedelta(days=1)
        for bars, covered in held:
            await self.write(ticker, bars, covered)
        return True


async def backfill(
    client: AsyncKISClient,
    tickers: Iterable[str],
    start: date,
    end: date | None = None,
    *,
    period: PriceType | str = PriceType.DAILY,
    store: BarStore | str | Path = "kis-bars.sqlite",
    concurrency: int = 8,
    on_progress: Callable[[BackfillProgress], None] | None = None,
) -> BackfillReport:
    """Store every ticker's bars from ``start`` to ``end`` (KST dates, inclusive).

    All tickers are fetched concurrently (``concurrency`` at a time) and every call
    passes ``client``'s one rate gate, so the account's limit holds. ``end`` defaults
    to, and is capped at, the last finished session (:func:`last_complete_day`), so no
    bar still printing is stored. ``period`` is "D", "W", "M" or "Y".

    ``store`` is a :class:`BarStore` or a path: ``*.parquet`` or a directory gives a
    :class:`ParquetStore`, anything else a :class:`SQLiteStore` file. A path store is
    closed before returning.

    Resumable by construction: each page is stored with the range it completes, in one
    atomic step, so a run killed at any point and started again fetches only what is
    missing. Before filling a ticker that has bars, its newest stored bar is fetched
    again; if it changed (a split or dividend adjusted the history), the ticker is
    refetched whole and the event logged (``kis_async.backfill`` logger, warning) and
    listed in :attr:`BackfillReport.refetched`. A complete rerun sends one such
    overlap check per ticker and nothing else.

    ``on_progress`` is called with a :class:`BackfillProgress` after every page and
    ticker. One ticker's failure does not stop the others: it is listed in
    :attr:`BackfillReport.failed`.
    """
    try:
        kind = PriceType(period)
    except ValueError:
        raise InvalidRequestError(f"period must be D, W, M or Y, got {period!r}") from None
    if kind.is_intraday:
        raise InvalidRequestError("backfill stores daily and longer bars (D, W, M, Y)")
    if not isinstance(start, date) or (end is not None and not isinstance(end, date)):
        raise InvalidRequestError("start and end must be dates")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InvalidRequestError(
            f"concurrency must be a positive whole number, got {concurrency!r}"
        )
    codes = check_tickers(tickers)
    latest = last_complete_day(client.clock.now())
    if kind is not PriceType.DAILY:
        # Only periods that are over: the current week, month or year is still changing.
        latest = _period_start(latest + timedelta(days=1), kind) - timedelta(days=1)
    stop = min(end, latest) if end is not None else latest
    if start > stop:
        raise InvalidRequestError(
            f"start {start} is after the last complete {kind.name.lower()} bar ({stop})"
        )
    owned = not isinstance(store, BarStore)
    bar_store = _open_store(store) if not isinstance(store, BarStore) else store
    run = _Run(client, bar_store, kind, start, stop, len(codes), on_progress)
    limiter = anyio.CapacityLimiter(concurrency)

    async def one(code: str) -> None:
        async with limiter:
            try:
                await run.ticker(code)
            except Exception as exc:
                run.report.failed[code] = f"{type(exc).__name__}: {exc}"
                run.done += 1
                run.progress(code, "failed", run.report.failed[code])
                return
            run.done += 1
            run.progress(code, "done")

    try:
        async with anyio.create_task_group() as group:
            for code in codes:
                group.start_soon(one, code)
    finally:
        if owned:
            await bar_store.aclose()
    run.report.requests = client.stats.requests - run._requests_before
    return run.report


def _open_store(store: str | Path) -> BarStore:
    path = Path(store)
    if path.suffix == ".parquet" or path.is_dir():
        from ._stores import ParquetStore

        return ParquetStore(path)
    return SQLiteStore(path)

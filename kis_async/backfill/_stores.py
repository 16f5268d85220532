"""Where backfilled bars live: SQLite (standard library) or Parquet (pyarrow).

Each store keeps, besides the bars, a manifest of the date ranges known complete per
ticker and period. A page of bars and the range it covers are written in one atomic
step (one SQLite transaction; one Parquet file renamed into place), so a process killed
at any moment leaves a store whose manifest never claims a bar it does not hold.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

import anyio.to_thread

__all__ = ["BarStore", "ParquetStore", "SQLiteStore", "StoredBar", "merge_ranges"]

T = TypeVar("T")
DateRange = tuple[date, date]


@dataclass(frozen=True, slots=True)
class StoredBar:
    """One stored bar: prices in KRW, volume in shares, value in KRW.

    ``period`` is the chart period ("D", "W", "M", "Y"); ``date`` the bar's trading day
    (for weekly and longer bars, the period's last trading day, as KIS dates them).
    """

    ticker: str
    period: str
    date: date
    open: int
    high: int
    low: int
    close: int
    volume: int
    value: int

    def to_record(self) -> dict[str, Any]:
        """The bar as a plain dict (what :func:`kis_async.frames.to_records` uses)."""
        return asdict(self)

    def same_prices(self, other: StoredBar) -> bool:
        """Whether ``other`` is this bar with the same open, high, low, close and volume."""
        return (self.open, self.high, self.low, self.close, self.volume) == (
            other.open,
            other.high,
            other.low,
            other.close,
            other.volume,
        )


def merge_ranges(ranges: Iterable[DateRange]) -> list[DateRange]:
    """Date ranges (inclusive) merged where they overlap or touch, oldest first."""
    merged: list[DateRange] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + timedelta(days=1):
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged


@runtime_checkable
class BarStore(Protocol):
    """What :func:`kis_async.backfill.backfill` needs of a store. Every method is async
    (file I/O runs off the event loop)."""

    async def coverage(self, ticker: str, period: str) -> list[DateRange]:
        """The merged date ranges known complete for ``ticker`` and ``period``."""
        ...

    async def last_bar(self, ticker: str, period: str, on_or_before: date) -> StoredBar | None:
        """The newest stored bar dated ``on_or_before`` or earlier, or None."""
        ...

    async def write(
        self, ticker: str, period: str, bars: Sequence[StoredBar], covered: DateRange
    ) -> None:
        """Store ``bars`` and mark ``covered`` complete, atomically."""
        ...

    async def reset(self, ticker: str, period: str) -> None:
        """Forget every bar and every manifest range of ``ticker`` and ``period``."""
        ...

    async def read(self, ticker: str | None = None, period: str | None = None) -> list[StoredBar]:
        """Stored bars, by ticker then date, each once."""
        ...

    async def aclose(self) -> None:
        """Release the store's files."""
        ...


class _Threaded:
    """Runs blocking store calls in a worker thread, one at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        def locked() -> T:
            with self._lock:
                return function(*args)

        return await anyio.to_thread.run_sync(locked)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS bars (
    ticker TEXT NOT NULL,
    period TEXT NOT NULL,
    date TEXT NOT NULL,
    open INTEGER NOT NULL,
    high INTEGER NOT NULL,
    low INTEGER NOT NULL,
    close INTEGER NOT NULL,
    volume INTEGER NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (ticker, period, date)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS manifest (
    ticker TEXT NOT NULL,
    period TEXT NOT NULL,
    start TEXT NOT NULL,
    end TEXT NOT NULL,
    PRIMARY KEY (ticker, period, start)
) WITHOUT ROWID;
"""


class SQLiteStore(_Threaded, BarStore):
    """Bars and manifest in one SQLite file (the default store; standard library only).

    Table ``bars(ticker, period, date, open, high, low, close, volume, value)`` with
    the key ``(ticker, period, date)``, so a bar is never held twice; dates are ISO
    text (``YYYY-MM-DD``), prices integers. Table ``manifest(ticker, period, start,
    end)`` holds the complete ranges.
    """

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            self._db = db
        return self._db

    def _coverage(self, ticker: str, period: str) -> list[DateRange]:
        rows = self._connection().execute(
            "SELECT start, end FROM manifest WHERE ticker = ? AND period = ?", (ticker, period)
        )
        return merge_ranges((date.fromisoformat(a), date.fromisoformat(b)) for a, b in rows)

    async def coverage(self, ticker: str, period: str) -> list[DateRange]:
        """The merged date ranges the ``manifest`` table marks complete for these bars."""
        return await self._run(self._coverage, ticker, period)

    def _last_bar(self, ticker: str, period: str, on_or_before: date) -> StoredBar | None:
        row = (
            self._connection()
            .execute(
                "SELECT * FROM bars WHERE ticker = ? AND period = ? AND date <= ? "
                "ORDER BY date DESC LIMIT 1",
                (ticker, period, on_or_before.isoformat()),
            )
            .fetchone()
        )
        return None if row is None else _bar(row)

    async def last_bar(self, ticker: str, period: str, on_or_before: date) -> StoredBar | None:
        """The newest bar dated ``on_or_before`` or earlier, or None."""
        return await self._run(self._last_bar, ticker, period, on_or_before)

    def _write(
        self, ticker: str, period: str, bars: Sequence[StoredBar], covered: DateRange
    ) -> None:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                "INSERT OR REPLACE INTO bars VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        b.ticker,
                        b.period,
                        b.date.isoformat(),
                        b.open,
                        b.high,
                        b.low,
                        b.close,
                        b.volume,
                        b.value,
                    )
                    for b in bars
                ],
            )
            ranges = merge_ranges([*self._coverage(ticker, period), covered])
            db.execute("DELETE FROM manifest WHERE ticker = ? AND period = ?", (ticker, period))
            db.executemany(
                "INSERT INTO manifest VALUES (?, ?, ?, ?)",
                [(ticker, period, lo.isoformat(), hi.isoformat()) for lo, hi in ranges],
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    async def write(
        self, ticker: str, period: str, bars: Sequence[StoredBar], covered: DateRange
    ) -> None:
        """Upsert ``bars`` and merge ``covered`` into the manifest in one transaction."""
        await self._run(self._write, ticker, period, bars, covered)

    def _reset(self, ticker: str, period: str) -> None:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        db.execute("DELETE FROM bars WHERE ticker = ? AND period = ?", (ticker, period))
        db.execute("DELETE FROM manifest WHERE ticker = ? AND period = ?", (ticker, period))
        db.execute("COMMIT")

    async def reset(self, ticker: str, period: str) -> None:
        """Delete every bar and manifest range of ``ticker`` and ``period`` in one transaction."""
        await self._run(self._reset, ticker, period)

    def _read(self, ticker: str | None, period: str | None) -> list[StoredBar]:
        query = "SELECT * FROM bars WHERE (? IS NULL OR ticker = ?) AND (? IS NULL OR period = ?)"
        rows = self._connection().execute(
            query + " ORDER BY ticker, period, date", (ticker, ticker, period, period)
        )
        return [_bar(row) for row in rows]

    async def read(self, ticker: str | None = None, period: str | None = None) -> list[StoredBar]:
        """Stored bars by ticker, period and date, each once; a None filter means all."""
        return await self._run(self._read, ticker, period)

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    async def aclose(self) -> None:
        """Close the database connection; a later call opens it again."""
        await self._run(self._close)


def _bar(row: Sequence[Any]) -> StoredBar:
    ticker, period, day, *numbers = row
    o, h, lo, c, v, val = (int(n) for n in numbers)
    return StoredBar(str(ticker), str(period), date.fromisoformat(day), o, h, lo, c, v, val)


class ParquetStore(_Threaded, BarStore):
    """Bars as Parquet files under a directory (``pip install 'kis-async[parquet]'``).

    Layout: ``<root>/period=<P>/ticker=<code>/<start>_<end>.parquet``, one file per
    fetched page, named by the range it completes: the file *is* the manifest entry, and
    it appears atomically (written aside, then renamed). Columns: ``ticker`` (string,
    zero-padded as KIS writes it: "005930"), ``period`` (string), ``date`` (date32),
    ``open high low close volume value`` (int64). :meth:`read` drops the overlap
    between pages; :meth:`compact` rewrites a ticker as one file.
    """

    def __init__(self, root: str | Path) -> None:
        super().__init__()
        self.root = Path(root)
        import pyarrow  # noqa: F401  (fail at construction, not mid-backfill)

    def __repr__(self) -> str:
        return f"ParquetStore({str(self.root)!r})"

    def _dir(self, ticker: str, period: str) -> Path:
        return self.root / f"period={period}" / f"ticker={ticker}"

    @staticmethod
    def _range_of(path: Path) -> DateRange | None:
        try:
            lo, hi = path.stem.split("_")
            return date.fromisoformat(lo), date.fromisoformat(hi)
        except ValueError:
            return None

    def _files(self, ticker: str, period: str) -> list[Path]:
        directory = self._dir(ticker, period)
        if not directory.is_dir():
            return []
        return sorted(p for p in directory.glob("*.parquet") if self._range_of(p) is not None)

    def _coverage(self, ticker: str, period: str) -> list[DateRange]:
        return merge_ranges(r for p in self._files(ticker, period) if (r := self._range_of(p)))

    async def coverage(self, ticker: str, period: str) -> list[DateRange]:
        """The merged date ranges named by the Parquet files of ``ticker`` and ``period``."""
        return await self._run(self._coverage, ticker, period)

    def _bars_of(self, files: Iterable[Path]) -> list[StoredBar]:
        import pyarrow.parquet as pq

        found: dict[tuple[str, str, date], StoredBar] = {}
        for path in files:
            for row in pq.read_table(path).to_pylist():
                bar = StoredBar(**row)
                found[(bar.ticker, bar.period, bar.date)] = bar
        return [found[key] for key in sorted(found)]

    def _last_bar(self, ticker: str, period: str, on_or_before: date) -> StoredBar | None:
        bars = [b for b in self._bars_of(self._files(ticker, period)) if b.date <= on_or_before]
        return bars[-1] if bars else None

    async def last_bar(self, ticker: str, period: str, on_or_before: date) -> StoredBar | None:
        """The newest bar dated ``on_or_before`` or earlier, or None (reads the ticker's files)."""
        return await self._run(self._last_bar, ticker, period, on_or_before)

    def _write(
        self, ticker: str, period: str, bars: Sequence[StoredBar], covered: DateRange
    ) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        directory = self._dir(ticker, period)
        directory.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pylist([b.to_record() for b in bars], schema=_parquet_schema())
        final = directory / f"{covered[0].isoformat()}_{covered[1].isoformat()}.parquet"
        aside = directory / f".{uuid.uuid4().hex}.tmp"
        pq.write_table(table, aside)
        with open(aside, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(aside, final)

    async def write(
        self, ticker: str, period: str, bars: Sequence[StoredBar], covered: DateRange
    ) -> None:
        """Write ``bars`` as one new file named by ``covered``, which appears atomically."""
        await self._run(self._write, ticker, period, bars, covered)

    def _reset(self, ticker: str, period: str) -> None:
        directory = self._dir(ticker, period)
        if directory.exists():
            # Renamed away first, so a kill mid-delete cannot leave half a ticker behind.
            doomed = directory.with_name(f".trash-{uuid.uuid4().hex}")
            os.replace(directory, doomed)
            shutil.rmtree(doomed)

    async def reset(self, ticker: str, period: str) -> None:
        """Remove the directory of ``ticker`` and ``period``: every bar and every range."""
        await self._run(self._reset, ticker, period)

    def _read(self, ticker: str | None, period: str | None) -> list[StoredBar]:
        pattern = f"period={period or '*'}/ticker={ticker or '*'}/*.parquet"
        return self._bars_of(sorted(self.root.glob(pattern)))

    async def read(self, ticker: str | None = None, period: str | None = None) -> list[StoredBar]:
        """Stored bars by ticker, period and date, each once; a None filter means all."""
        return await self._run(self._read, ticker, period)

    def _compact(self, ticker: str, period: str) -> None:
        files = self._files(ticker, period)
        ranges = self._coverage(ticker, period)
        if len(files) <= 1 or len(ranges) != 1:
            return
        bars = self._bars_of(files)
        self._write(ticker, period, bars, ranges[0])
        keep = self._dir(ticker, period) / f"{ranges[0][0]}_{ranges[0][1]}.parquet"
        for path in files:
            if path != keep:
                path.unlink()

    async def compact(self, ticker: str, period: str) -> None:
        """Rewrite ``ticker``'s pages as one file (when they form one range)."""
        await self._run(self._compact, ticker, period)

    async def aclose(self) -> None:
        """Nothing to release: every call opens and closes its own files."""


def _parquet_schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            ("ticker", pa.string()),
            ("period", pa.string()),
            ("date", pa.date32()),
            *((name, pa.int64()) for name in ("open", "high", "low", "close", "volume", "value")),
        ]
    )

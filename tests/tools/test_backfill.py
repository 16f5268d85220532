"""Backfill: complete, resumable, incremental, counted; SQLite and Parquet stores."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import sqlite3
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kis_async import InvalidRequestError, PriceType
from kis_async.backfill import (
    BackfillProgress,
    ParquetStore,
    SQLiteStore,
    StoredBar,
    backfill,
    read_master,
)
from kis_async.mock import MockClock, MockKIS
from tests.conftest import MIDDAY, on
from tests.mock.test_served import _serving

CHART = "/uapi/domestic-stock/v1/quotations/inquire-daily-itemchartprice"
START, END = date(2025, 6, 2), date(2026, 10, 30)  # about 350 sessions: four pages a ticker


def _mock(**options: Any) -> MockKIS:
    # Each run is a new client with its own token: no one-a-minute issuance rule here.
    options.setdefault("token_issue_interval", 0.0)
    return MockKIS(5, clock=MockClock(MIDDAY, frozen=True), rate_limit=float("inf"), **options)


def _rows(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as db:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'bars'").fetchone():
            return []  # killed before the schema was committed
        return db.execute("SELECT * FROM bars ORDER BY ticker, period, date").fetchall()


async def _clean(mock: MockKIS, tickers: list[str], path: Path, end: date = END) -> Any:
    async with on(mock) as kis:
        return await backfill(kis, tickers, START, end, store=path)


async def test_backfill_stores_every_session_once_with_the_fewest_calls(tmp_path: Path) -> None:
    mock = _mock()
    tickers = list(mock.tickers[:3])
    events: list[BackfillProgress] = []
    async with on(mock) as kis:
        expected = {t: await kis.get_chart_data(t, PriceType.DAILY, 400, end=END) for t in tickers}
        mock.stats.reset()
        report = await backfill(
            kis, tickers, START, END, store=tmp_path / "bars.sqlite", on_progress=events.append
        )
    rows = _rows(tmp_path / "bars.sqlite")
    for ticker in tickers:
        want = [
            (
                ticker,
                "D",
                c.date.isoformat(),
                c.open_price,
                c.high_price,
                c.low_price,
                c.close_price,
                c.volume,
                c.trading_value,
            )
            for c in expected[ticker]
            if c.date >= START
        ]
        assert [r for r in rows if r[0] == ticker] == want
    sessions = len([c for c in expected[tickers[0]] if c.date >= START])
    pages = -(-sessions // 100)
    assert report.chart_calls == mock.stats.requests[CHART] == pages * len(tickers)
    assert report.bars_written == len(rows)
    assert report.ok
    assert [e.ticker for e in events if e.event == "done"] != []
    assert events[-1].tickers_done == len(tickers)


async def test_a_complete_rerun_sends_only_one_overlap_check_per_ticker(tmp_path: Path) -> None:
    mock = _mock()
    tickers = list(mock.tickers[:4])
    await _clean(mock, tickers, tmp_path / "bars.sqlite")
    before = _rows(tmp_path / "bars.sqlite")
    mock.stats.reset()
    async with on(mock) as kis:
        report = await backfill(kis, tickers, START, END, store=tmp_path / "bars.sqlite")
    assert mock.stats.requests[CHART] == len(tickers)
    assert report.chart_calls == len(tickers)
    assert sorted(report.up_to_date) == sorted(tickers)
    assert report.bars_written == 0
    assert _rows(tmp_path / "bars.sqlite") == before


class _Died(BaseException):
    """Stands for the process dying mid-run (not an Exception: nothing catches it)."""


class _DyingStore(SQLiteStore):
    def __init__(self, path: Path, writes: int) -> None:
        super().__init__(path)
        self.writes_left = writes

    async def write(self, *args: Any) -> None:
        if self.writes_left == 0:
            raise _Died
        self.writes_left -= 1
        await super().write(*args)


async def test_an_interrupted_run_resumes_fetching_only_the_missing_pages(tmp_path: Path) -> None:
    mock = _mock()
    tickers = list(mock.tickers[:3])
    clean = await _clean(mock, tickers, tmp_path / "clean.sqlite")
    stored = 5  # pages written before the "kill": ticker 1 done (4), ticker 2 one page
    async with on(mock) as kis:
        with pytest.raises(BaseExceptionGroup) as died:
            await backfill(
                kis,
                tickers,
                START,
                END,
                store=_DyingStore(tmp_path / "b.sqlite", stored),
                concurrency=1,
            )
        assert died.group_contains(_Died)
        partial = _rows(tmp_path / "b.sqlite")
        assert 0 < len(partial) < len(_rows(tmp_path / "clean.sqlite"))
        report = await backfill(kis, tickers, START, END, store=tmp_path / "b.sqlite")
    # Missing pages, plus one overlap check for each of the two tickers holding bars.
    assert report.chart_calls == clean.chart_calls - stored + 2
    assert _rows(tmp_path / "b.sqlite") == _rows(tmp_path / "clean.sqlite")


async def test_an_adjusted_history_is_refetched_whole_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mock = _mock()
    tickers = list(mock.tickers[:3])
    first_end, later_end = date(2026, 9, 30), END
    await _clean(mock, tickers, tmp_path / "bars.sqlite", end=first_end)
    split = tickers[1]
    old_close = {r[2]: r[6] for r in _rows(tmp_path / "bars.sqlite") if r[0] == split}
    mock.adjust_history(split, "1/2", effective=date(2026, 10, 12))  # two-for-one
    mock.stats.reset()
    with caplog.at_level(logging.WARNING, logger="kis_async.backfill"):
        async with on(mock) as kis:
            report = await backfill(kis, tickers, START, later_end, store=tmp_path / "bars.sqlite")
    assert report.refetched == [split]
    assert any(split in r.getMessage() and "changed" in r.getMessage() for r in caplog.records)
    await _clean(mock, tickers, tmp_path / "fresh.sqlite", end=later_end)
    assert _rows(tmp_path / "bars.sqlite") == _rows(tmp_path / "fresh.sqlite")
    new_close = {r[2]: r[6] for r in _rows(tmp_path / "bars.sqlite") if r[0] == split}
    assert all(abs(new_close[day] * 2 - old) <= old // 100 for day, old in old_close.items())
    # The two others only fetched their tail, one page each with the overlap inside it.
    assert report.chart_calls == 2 + (1 + 4)


async def test_parquet_store_holds_the_same_rows_with_padded_tickers(tmp_path: Path) -> None:
    mock = _mock()
    tickers = list(mock.tickers[:2])
    await _clean(mock, tickers, tmp_path / "bars.sqlite")
    async with on(mock) as kis:
        with pytest.raises(BaseExceptionGroup):
            await backfill(
                kis, tickers, START, END, store=_DyingParquet(tmp_path / "pq", 3), concurrency=1
            )
        report = await backfill(kis, tickers, START, END, store=ParquetStore(tmp_path / "pq"))
        rerun = await backfill(kis, tickers, START, END, store=ParquetStore(tmp_path / "pq"))
    assert report.ok
    assert rerun.chart_calls == len(tickers)
    stored = await ParquetStore(tmp_path / "pq").read()
    as_rows = [
        (b.ticker, b.period, b.date.isoformat(), b.open, b.high, b.low, b.close, b.volume, b.value)
        for b in stored
    ]
    assert as_rows == _rows(tmp_path / "bars.sqlite")
    table = pq.read_table(next((tmp_path / "pq").rglob("*.parquet")))
    assert table.schema.field("ticker").type == pa.string()
    assert table.schema.field("date").type == pa.date32()
    assert table.schema.field("close").type == pa.int64()
    assert table.column("ticker")[0].as_py() == tickers[0].zfill(6)
    store = ParquetStore(tmp_path / "pq")
    await store.compact(tickers[0], "D")
    assert len(list((tmp_path / "pq").glob(f"period=D/ticker={tickers[0]}/*.parquet"))) == 1
    assert await store.read() == stored


class _DyingParquet(ParquetStore):
    def __init__(self, root: Path, writes: int) -> None:
        super().__init__(root)
        self.writes_left = writes

    async def write(self, *args: Any) -> None:
        if self.writes_left == 0:
            raise _Died
        self.writes_left -= 1
        await super().write(*args)


async def test_bad_requests_fail_before_anything_is_sent(tmp_path: Path) -> None:
    mock = _mock()
    async with on(mock) as kis:
        with pytest.raises(InvalidRequestError, match="daily and longer"):
            await backfill(kis, ["005930"], START, END, period="5m", store=tmp_path / "x.sqlite")
        with pytest.raises(InvalidRequestError, match="after the last complete"):
            await backfill(kis, ["005930"], date(2027, 1, 1), store=tmp_path / "x.sqlite")
        with pytest.raises(InvalidRequestError):
            await backfill(kis, ["12"], START, END, store=tmp_path / "x.sqlite")
    assert mock.stats.total_requests == 0


async def test_one_failing_ticker_does_not_stop_the_others(tmp_path: Path) -> None:
    mock = _mock()
    async with on(mock) as kis:
        report = await backfill(kis, ["005930", "999990"], START, END, store=tmp_path / "x.sqlite")
    assert list(report.failed) == ["999990"]
    assert {r[0] for r in _rows(tmp_path / "x.sqlite")} == {"005930"}


def test_master_files_are_read_by_their_fixed_layout(tmp_path: Path) -> None:
    def line(code: str, isin: str, name: str, group: str, tail: int) -> bytes:
        rest = group + "0" * (tail - len(group))
        return (code.ljust(9) + isin + name + rest).encode("cp949") + b"\n"

    kospi = tmp_path / "kospi_code.mst"
    kospi.write_bytes(
        line("005930", "KR7005930003", "삼성전자", "ST", 228)
        + line("069500", "KR7069500007", "KODEX 200", "EF", 228)
    )
    kosdaq = tmp_path / "kosdaq_code.mst"
    kosdaq.write_bytes(line("247540", "KR7247540008", "에코프로비엠", "ST", 222))
    (stock,) = read_master(kospi)
    assert (stock.ticker, stock.isin, stock.name, stock.market) == (
        "005930",
        "KR7005930003",
        "삼성전자",
        "KOSPI",
    )
    assert [r.ticker for r in read_master(kospi, groups=None)] == ["005930", "069500"]
    (kq,) = read_master(kosdaq)
    assert (kq.ticker, kq.name, kq.market) == ("247540", "에코프로비엠", "KOSDAQ")
    short = tmp_path / "bad.mst"
    short.write_bytes(b"005930\n")
    with pytest.raises(ValueError, match="too short"):
        read_master(short)


async def test_sigkill_at_random_points_then_rerun_equals_a_clean_run(tmp_path: Path) -> None:
    """Ten runs of ``kis backfill`` in a subprocess, each SIGKILLed at a random moment,
    each resumed: every final store equals the clean run's, row for row."""
    mock = _mock(latency=0.02)
    tickers = list(mock.tickers[:4])
    await _clean(mock, tickers, tmp_path / "clean.sqlite")
    clean = _rows(tmp_path / "clean.sqlite")
    rng = random.Random(20261201)
    partial_runs = 0
    async with _serving(mock) as base_url:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("KIS_")},
            "KIS_ENV": "mock",
            "KIS_BASE_URL": base_url,
            "KIS_RATE_LIMIT": "1000",
            "KIS_TOKEN_CACHE_DIR": str(tmp_path / "tokens"),
            "KIS_TOKEN_MIN_ISSUE_INTERVAL": "0",
        }

        async def trial(number: int, delay: float) -> bool:
            store = tmp_path / f"trial{number}.sqlite"
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "kis_async", "backfill", *tickers,
                "--start", START.isoformat(), "--end", END.isoformat(),
                "--store", str(store), "--concurrency", "2", "--json",
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, env=env,
            )  # fmt: skip
            try:
                # Kill somewhere between the store's creation and a little after the end.
                for _ in range(2000):
                    if store.exists() or process.returncode is not None:
                        break
                    await asyncio.sleep(0.005)
                await asyncio.sleep(delay)
            finally:
                if process.returncode is None:
                    process.kill()
                await process.wait()
            partial = store.exists() and 0 < len(_rows(store)) < len(clean)
            async with on(mock) as kis:
                report = await backfill(kis, tickers, START, END, store=store)
            assert report.ok
            assert _rows(store) == clean, f"trial {number}"
            return partial

        delays = [rng.uniform(0.0, 0.3) for _ in range(10)]
        for pair in range(0, 10, 2):  # two at a time: the runs are mostly start-up
            outcomes = await asyncio.gather(
                trial(pair, delays[pair]), trial(pair + 1, delays[pair + 1])
            )
            partial_runs += sum(outcomes)
    assert partial_runs >= 1, "no kill landed in the middle of a run"


async def test_stored_bars_round_trip(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite")
    bar = StoredBar("005930", "D", date(2026, 1, 5), 1, 3, 1, 2, 10, 20)
    await store.write("005930", "D", [bar], (date(2026, 1, 1), date(2026, 1, 5)))
    await store.write("005930", "D", [bar], (date(2026, 1, 6), date(2026, 1, 9)))
    assert await store.coverage("005930", "D") == [(date(2026, 1, 1), date(2026, 1, 9))]
    assert await store.read() == [bar]
    assert await store.last_bar("005930", "D", date(2026, 1, 4)) is None
    await store.reset("005930", "D")
    assert await store.read() == []
    assert await store.coverage("005930", "D") == []
    await store.aclose()

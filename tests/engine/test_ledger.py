"""The SQLite ledger: migrations, durability settings, exact accounting, concurrency."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import anyio
import pytest

from kis_async import KST, Side
from kis_async.engine import SCHEMA_VERSION, Ledger, LedgerError
from kis_async.engine._ledger import MIGRATIONS, migrate
from kis_async.market import DEFAULT_FEES

AT = datetime(2026, 11, 20, 10, 0, tzinfo=KST)
DAY = date(2026, 11, 20)


async def _order(
    ledger: Ledger, order_id: str, side: Side, quantity: int, price: int, ticker: str = "005930"
) -> None:
    intent = await ledger.add_intent(
        kind="new",
        ticker=ticker,
        side=side,
        quantity=quantity,
        price=price,
        order_type="limit",
        window_start=AT,
        created_at=AT,
        meta={"sector": "semis"},
    )
    await ledger.record_order(intent, order_id=order_id, org_no="00950", ordered_at=AT, at=AT)


async def _progress(
    ledger: Ledger, order_id: str, quantity: int, amount: int, *, done: bool = False
) -> None:
    await ledger.apply_progress(
        order_id,
        filled_quantity=quantity,
        filled_amount=amount,
        at=AT,
        trade_date=DAY,
        fees=DEFAULT_FEES,
        done=done,
    )


async def test_an_empty_file_is_migrated_to_the_current_schema(tmp_path: Path) -> None:
    path = tmp_path / "new" / "ledger.db"
    async with Ledger(path) as ledger:
        assert ledger.opened_version == 0
        assert await ledger.schema_version() == SCHEMA_VERSION == 2
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"intents", "orders", "fills", "positions", "account", "events"} <= tables
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


async def test_a_v1_file_is_migrated_forward_keeping_its_data(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, 0, target=1)
    conn.execute(
        "INSERT INTO positions (ticker, quantity, cost_basis, sector, entered_at, updated_at) "
        "VALUES ('005930', 10, 700100, 'semis', ?, ?)",
        (AT.isoformat(), AT.isoformat()),
    )
    conn.execute("INSERT INTO account (key, value) VALUES ('cash', 1234567)")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    conn.close()

    async with Ledger(path) as ledger:
        assert ledger.opened_version == 1
        assert await ledger.schema_version() == 2
        (position,) = await ledger.positions()
        assert (position.quantity, position.cost_basis, position.sector) == (10, 700100, "semis")
        # v2's new column is filled in from the v1 data.
        assert position.high_price == 70010
        assert position.rules is None
        assert await ledger.cash() == 1234567


async def test_a_file_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(LedgerError, match="upgrade"):
        await Ledger(path).open()


async def test_durability_settings_and_an_append_only_event_log(tmp_path: Path) -> None:
    async with Ledger(tmp_path / "ledger.db") as ledger:
        synchronous = await ledger._run(
            lambda: ledger._db().execute("PRAGMA synchronous").fetchone()[0]
        )
        assert synchronous == 2  # FULL
        await ledger.log("note", at=AT, text="hello")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            await ledger._run(lambda: ledger._db().execute("UPDATE events SET kind = 'x'"))
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            await ledger._run(lambda: ledger._db().execute("DELETE FROM events"))
        assert [e["kind"] for e in await ledger.events()] == ["note"]


async def test_ledger_work_runs_on_one_thread_off_the_event_loop(tmp_path: Path) -> None:
    import threading

    async with Ledger(tmp_path / "ledger.db") as ledger:
        names = {await ledger._run(lambda: threading.current_thread().name) for _ in range(20)}
        assert len(names) == 1
        assert names != {threading.current_thread().name}


async def test_scripted_partial_fills_match_hand_computed_pnl_fees_and_taxes(
    tmp_path: Path,
) -> None:
    """Every figure below was worked out by hand (commission 0.0140527%, truncated;
    2026 sell tax 0.20%, truncated; cost removed pro rata, half up)."""
    async with Ledger(tmp_path / "ledger.db") as ledger:
        await ledger.set_cash(10_000_000, at=AT, reason="test")
        # Buy A: 100 @ 50,000 in two parts: 30, then 70 more.
        await _order(ledger, "A", Side.BUY, 100, 50_000)
        await _progress(ledger, "A", 30, 1_500_000)  # commission 210
        await _progress(ledger, "A", 30, 1_500_000)  # the same look again: nothing new
        await _progress(ledger, "A", 100, 5_000_000, done=True)  # 70 more, commission 491
        # Buy B: 50 @ 50,100, 20 filled, the rest cancelled.
        await _order(ledger, "B", Side.BUY, 50, 50_100)
        await _progress(ledger, "B", 20, 1_002_000, done=True)  # commission 140
        (position,) = await ledger.positions()
        assert (position.quantity, position.cost_basis) == (120, 6_002_841)
        assert await ledger.cash() == 3_997_159
        # Sell C: 60 @ 51,000 in two parts: 25, then 35 more.
        await _order(ledger, "C", Side.SELL, 60, 51_000)
        await _progress(ledger, "C", 25, 1_275_000)  # 179 + tax 2,550; cost 1,250,592
        await _progress(ledger, "C", 60, 3_060_000, done=True)  # 250 + 3,570; cost 1,750,829
        (position,) = await ledger.positions()
        assert (position.quantity, position.cost_basis) == (60, 3_001_420)
        assert await ledger.cash() == 7_050_610
        # Sell D: the remaining 60 @ 49,000 at a loss.
        await _order(ledger, "D", Side.SELL, 60, 49_000)
        await _progress(ledger, "D", 60, 2_940_000, done=True)  # 413 + 5,880

        fills = await ledger.fills()
        assert [(f.order_id, f.quantity, f.commission, f.tax, f.realised_pnl) for f in fills] == [
            ("A", 30, 210, 0, 0),
            ("A", 70, 491, 0, 0),
            ("B", 20, 140, 0, 0),
            ("C", 25, 179, 2_550, 21_679),
            ("C", 35, 250, 3_570, 30_351),
            ("D", 60, 413, 5_880, -67_713),
        ]
        assert fills[3].price == Decimal(51_000)
        assert await ledger.positions() == []
        assert await ledger.cash() == 9_984_317
        totals = await ledger.totals()
        assert totals == {
            "realised_pnl": -15_683,
            "commission": 1_683,
            "tax": 12_000,
            "sells": 2,
            "wins": 1,
        }
        # Round trip closed: realised P&L is exactly the change in cash.
        assert 10_000_000 + totals["realised_pnl"] == await ledger.cash()


async def test_concurrent_writers_never_lose_a_fill(tmp_path: Path) -> None:
    async with Ledger(tmp_path / "ledger.db") as ledger:
        await ledger.set_cash(100_000_000, at=AT, reason="test")
        tickers = [f"{n:06d}" for n in range(1, 21)]
        for n, ticker in enumerate(tickers):
            await _order(ledger, f"B{n}", Side.BUY, 10, 10_000, ticker)

        async def fill_in_steps(n: int) -> None:
            for step in range(1, 11):
                await _progress(ledger, f"B{n}", step, step * 10_000)
                await ledger.update_high({tickers[n]: 10_000 + step * 10}, at=AT)

        async with anyio.create_task_group() as group:
            for n in range(len(tickers)):
                group.start_soon(fill_in_steps, n)

        positions = await ledger.positions()
        assert [p.quantity for p in positions] == [10] * 20
        assert all(p.high_price == 10_100 for p in positions)
        assert len(await ledger.fills()) == 200
        commission_each = DEFAULT_FEES.commission(10_000)
        assert await ledger.cash() == 100_000_000 - 20 * 10 * (10_000 + commission_each)


async def test_a_cancelled_caller_still_sees_its_write_completed(tmp_path: Path) -> None:
    async with Ledger(tmp_path / "ledger.db") as ledger:
        with anyio.move_on_after(0):  # already cancelled when the write is awaited
            await ledger.set_cash(5, at=AT, reason="cancelled caller")
        assert await ledger.cash() == 5


async def test_times_are_stored_as_iso_kst(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    async with Ledger(path) as ledger:
        await ledger.log("note", at=AT.astimezone(KST) - timedelta(hours=9))
    conn = sqlite3.connect(path)
    (at,) = conn.execute("SELECT at FROM events").fetchone()
    conn.close()
    assert at == "2026-11-20T01:00:00+09:00"


async def test_executions_that_add_up_are_recorded_one_by_one(tmp_path: Path) -> None:
    async with Ledger(tmp_path / "ledger.db") as ledger:
        await ledger.set_cash(10_000_000, at=AT, reason="test")
        await _order(ledger, "E", Side.BUY, 30, 10_050)
        executions = [(7, 10_000), (13, 10_050), (10, 10_050)]

        async def look(quantity: int, amount: int, seen: list[tuple[int, int]]) -> None:
            await ledger.apply_progress(
                "E",
                filled_quantity=quantity,
                filled_amount=amount,
                at=AT,
                trade_date=DAY,
                fees=DEFAULT_FEES,
                executions=seen,
            )

        await look(20, 7 * 10_000 + 13 * 10_050, executions[:2])
        await look(30, 7 * 10_000 + 23 * 10_050, executions)
        fills = await ledger.fills()
        assert [(f.quantity, f.amount) for f in fills] == [
            (7, 70_000),
            (13, 130_650),
            (10, 100_500),
        ]
        # 9 + 18 + 14 won: each truncated, as the broker charges them (41; one fill
        # of the 301,150 KRW would be charged 42).
        assert [f.commission for f in fills] == [9, 18, 14]

        # Executions that do not add up to the totals (a notice lost): one fill.
        await _order(ledger, "F", Side.BUY, 30, 10_050)
        await ledger.apply_progress(
            "F",
            filled_quantity=30,
            filled_amount=301_150,
            at=AT,
            trade_date=DAY,
            fees=DEFAULT_FEES,
            executions=[(7, 10_000), (13, 10_050)],
        )
        last = (await ledger.fills())[-1]
        assert (last.quantity, last.amount, last.commission) == (30, 301_150, 42)

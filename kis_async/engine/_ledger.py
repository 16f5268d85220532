"""Ledger: the engine's durable record in one SQLite file.

Tables: ``intents`` (every order, written before it is sent), ``orders`` (what the
broker accepted, with its order id and org no and the fills seen so far), ``fills``,
``positions``, ``account`` (cash) and ``events`` (append-only: triggers refuse updates
and deletes). KRW as INTEGER, rates and average prices as TEXT decimals, times as ISO
strings in KST.

Every call runs on one dedicated thread that owns the one connection, so SQLite work
never blocks the event loop and writes never interleave. Each change is one
transaction (WAL, ``synchronous=FULL``): a crash leaves it wholly done or not at all.
A call once submitted is awaited to its end even when the caller is cancelled, so a
cancelled task never leaves a write half known.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TypeVar

import anyio

from kis_async._clock import KST
from kis_async._errors import ConfigError, KISError
from kis_async._trading_models import Side
from kis_async.market import FeeSchedule
from kis_async.market import Market as Listing

from ._config import DEFAULT_LEDGER_PATH, ExitRules

__all__ = [
    "SCHEMA_VERSION",
    "IntentState",
    "Ledger",
    "LedgerError",
    "LedgerFill",
    "LedgerIntent",
    "LedgerOrder",
    "LedgerPosition",
]

T = TypeVar("T")

IntentState = Literal[
    "sending",  # written, being sent: the broker may or may not have it
    "sent",  # accepted: an order row holds the broker's id
    "unknown",  # the answer was lost and the client could not tell; reconcile decides
    "rejected",  # refused before or by the broker: no order exists
    "not_sent",  # reconcile found no such order at the broker
    "simulated",  # a dry run: nothing was sent
]
UNRESOLVED: tuple[IntentState, ...] = ("sending", "unknown")


class LedgerError(KISError):
    """The ledger file cannot be used (written by a newer version, or not a ledger)."""


def _iso(moment: datetime) -> str:
    return moment.astimezone(KST).isoformat()


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(KST)


def _half_up_div(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


# -- schema -------------------------------------------------------------------------

_V1 = """
CREATE TABLE intents (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at   TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('new', 'cancel')),
    ticker       TEXT    NOT NULL,
    side         TEXT    NOT NULL CHECK (side IN ('buy', 'sell')),
    quantity     INTEGER NOT NULL CHECK (quantity > 0),
    price        INTEGER,
    order_type   TEXT    NOT NULL CHECK (order_type IN ('limit', 'market')),
    window_start TEXT    NOT NULL,
    window_end   TEXT,
    state        TEXT    NOT NULL,
    order_id     TEXT,
    reason       TEXT    NOT NULL DEFAULT '',
    meta         TEXT    NOT NULL DEFAULT '{}',
    simulated    INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    updated_at   TEXT    NOT NULL
);
CREATE TABLE orders (
    order_id        TEXT    PRIMARY KEY,
    org_no          TEXT    NOT NULL,
    intent_id       INTEGER NOT NULL REFERENCES intents(id),
    ticker          TEXT    NOT NULL,
    side            TEXT    NOT NULL,
    quantity        INTEGER NOT NULL,
    price           INTEGER,
    ordered_at      TEXT    NOT NULL,
    filled_quantity INTEGER NOT NULL DEFAULT 0,
    filled_amount   INTEGER NOT NULL DEFAULT 0,
    state           TEXT    NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'done')),
    simulated       INTEGER NOT NULL DEFAULT 0,
    updated_at      TEXT    NOT NULL
);
CREATE TABLE fills (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id     TEXT    NOT NULL,
    intent_id    INTEGER NOT NULL,
    ticker       TEXT    NOT NULL,
    side         TEXT    NOT NULL,
    quantity     INTEGER NOT NULL,
    amount       INTEGER NOT NULL,
    price        TEXT    NOT NULL,
    commission   INTEGER NOT NULL,
    tax          INTEGER NOT NULL,
    realised_pnl INTEGER NOT NULL DEFAULT 0,
    filled_at    TEXT    NOT NULL,
    simulated    INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE positions (
    ticker     TEXT    PRIMARY KEY,
    quantity   INTEGER NOT NULL,
    cost_basis INTEGER NOT NULL,
    sector     TEXT,
    region     TEXT    NOT NULL DEFAULT 'KR',
    entered_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL
);
CREATE TABLE account (
    key   TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE events (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     TEXT NOT NULL,
    kind   TEXT NOT NULL,
    ticker TEXT,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
"""

# v2: trailing stops and per-position exit rules.
_V2 = """
ALTER TABLE positions ADD COLUMN high_price INTEGER NOT NULL DEFAULT 0;
ALTER TABLE positions ADD COLUMN rules TEXT NOT NULL DEFAULT '{}';
UPDATE positions SET high_price = cost_basis / quantity WHERE quantity > 0;
CREATE INDEX fills_by_order ON fills(order_id);
CREATE INDEX intents_by_state ON intents(state);
"""

#: Forward migrations: MIGRATIONS[n] takes a file from user_version n to n + 1.
MIGRATIONS: tuple[str, ...] = (_V1, _V2)
SCHEMA_VERSION = len(MIGRATIONS)


# -- rows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerIntent:
    """An order as written before it was sent."""

    id: int
    created_at: datetime
    kind: Literal["new", "cancel"]
    ticker: str
    side: Side
    quantity: int
    price: int | None
    order_type: Literal["limit", "market"]
    window_start: datetime
    window_end: datetime | None
    state: IntentState
    order_id: str | None
    reason: str
    meta: dict[str, Any]
    simulated: bool


@dataclass(frozen=True)
class LedgerOrder:
    """An order the broker accepted, and the fills seen so far (shares, KRW)."""

    order_id: str
    org_no: str
    intent_id: int
    ticker: str
    side: Side
    quantity: int
    price: int | None
    ordered_at: datetime
    filled_quantity: int
    filled_amount: int
    state: Literal["open", "done"]
    simulated: bool


@dataclass(frozen=True)
class LedgerFill:
    """One fill the ledger recorded: the part of an order seen filled since the last look.

    ``price`` is ``amount / quantity`` (KRW, exact); ``commission``, ``tax`` and
    ``realised_pnl`` are KRW.
    """

    id: int
    order_id: str
    intent_id: int
    ticker: str
    side: Side
    quantity: int
    amount: int
    price: Decimal
    commission: int
    tax: int
    realised_pnl: int
    filled_at: datetime
    simulated: bool


@dataclass(frozen=True)
class LedgerPosition:
    """A position as the ledger holds it: shares and what they cost (KRW, fees in)."""

    ticker: str
    quantity: int
    cost_basis: int
    sector: str | None
    region: str
    entered_at: datetime
    high_price: int
    rules: ExitRules | None

    @property
    def avg_cost(self) -> Decimal:
        """KRW per share, buy commissions included."""
        if not self.quantity:
            return Decimal(0)
        return Decimal(self.cost_basis) / Decimal(self.quantity)


def _intent(row: sqlite3.Row) -> LedgerIntent:
    return LedgerIntent(
        id=row["id"],
        created_at=_parse(row["created_at"]),
        kind=row["kind"],
        ticker=row["ticker"],
        side=Side(row["side"]),
        quantity=row["quantity"],
        price=row["price"],
        order_type=row["order_type"],
        window_start=_parse(row["window_start"]),
        window_end=_parse(row["window_end"]) if row["window_end"] else None,
        state=row["state"],
        order_id=row["order_id"],
        reason=row["reason"],
        meta=json.loads(row["meta"]),
        simulated=bool(row["simulated"]),
    )


def _order(row: sqlite3.Row) -> LedgerOrder:
    return LedgerOrder(
        order_id=row["order_id"],
        org_no=row["org_no"],
        intent_id=row["intent_id"],
        ticker=row["ticker"],
        side=Side(row["side"]),
        quantity=row["quantity"],
        price=row["price"],
        ordered_at=_parse(row["ordered_at"]),
        filled_quantity=row["filled_quantity"],
        filled_amount=row["filled_amount"],
        state=row["state"],
        simulated=bool(row["simulated"]),
    )


def _fill(row: sqlite3.Row) -> LedgerFill:
    return LedgerFill(
        id=row["id"],
        order_id=row["order_id"],
        intent_id=row["intent_id"],
        ticker=row["ticker"],
        side=Side(row["side"]),
        quantity=row["quantity"],
        amount=row["amount"],
        price=Decimal(row["price"]),
        commission=row["commission"],
        tax=row["tax"],
        realised_pnl=row["realised_pnl"],
        filled_at=_parse(row["filled_at"]),
        simulated=bool(row["simulated"]),
    )


def _position(row: sqlite3.Row) -> LedgerPosition:
    rules = json.loads(row["rules"])
    return LedgerPosition(
        ticker=row["ticker"],
        quantity=row["quantity"],
        cost_basis=row["cost_basis"],
        sector=row["sector"],
        region=row["region"],
        entered_at=_parse(row["entered_at"]),
        high_price=row["high_price"],
        rules=ExitRules.model_validate(rules) if rules else None,
    )


def _rules_json(rules: ExitRules | None) -> str:
    if rules is None:
        return "{}"
    return json.dumps(
        {
            name: None if value is None else str(value)
            for name, value in rules.model_dump(include=rules.model_fields_set).items()
        }
    )


# -- the ledger ---------------------------------------------------------------------


class Ledger:
    """The engine's SQLite ledger at ``path`` (default ``./data/ledger.db``).

    ``await ledger.open()`` (or ``async with``) creates or migrates the file;
    ``await ledger.aclose()`` closes it. All methods are coroutines that run on the
    ledger's one thread.
    """

    def __init__(self, path: str | Path = DEFAULT_LEDGER_PATH) -> None:
        self.path = Path(path)
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._thread: threading.Thread | None = None
        #: The schema version the file had before open() migrated it.
        self.opened_version: int | None = None

    def __repr__(self) -> str:
        return f"Ledger({str(self.path)!r})"

    # -- lifecycle -------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """Whether :meth:`open` has run and :meth:`aclose` has not since."""
        return self._executor is not None

    async def open(self) -> Ledger:
        """Create the file (and its folder) or migrate it forward; safe to call twice."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kis-ledger")
            try:
                await self._run(self._open_sync)
            except BaseException:
                await self.aclose()
                raise
        return self

    async def aclose(self) -> None:
        """Close the connection and stop the ledger's thread."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        future = executor.submit(self._close_sync)
        with anyio.CancelScope(shield=True):
            await asyncio.wrap_future(future)
        executor.shutdown(wait=False)

    async def __aenter__(self) -> Ledger:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            raise LedgerError("the ledger is not open: await ledger.open() first")
        future = self._executor.submit(fn, *args)
        # Submitted work always completes; awaiting it shielded means a cancelled caller
        # still learns (and its caller sees) the state the ledger is in.
        with anyio.CancelScope(shield=True):
            result = await asyncio.wrap_future(future)
        return result  # noqa: RET504 - mypy: a cancel scope may swallow an exception

    def _open_sync(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise LedgerError(f"{self.path}: SQLite refused WAL mode ({mode})")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=5000")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            self.opened_version = version
            if version > SCHEMA_VERSION:
                raise LedgerError(
                    f"{self.path} has ledger schema v{version}; this version of kis-async "
                    f"knows up to v{SCHEMA_VERSION}: upgrade kis-async"
                )
            migrate(conn, version)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise LedgerError(f"{self.path} is not a usable ledger: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self._thread = threading.current_thread()

    def _close_sync(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self._db()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise LedgerError("the ledger is closed")
        assert threading.current_thread() is self._thread, "ledger used off its thread"
        return self._conn

    # -- reads -----------------------------------------------------------------------

    async def schema_version(self) -> int:
        """The file's ``PRAGMA user_version``."""
        return await self._run(lambda: int(self._db().execute("PRAGMA user_version").fetchone()[0]))

    async def cash(self) -> int | None:
        """KRW cash as the ledger holds it; None before the opening balance was set."""
        return await self._run(self._cash_sync)

    def _cash_sync(self) -> int | None:
        row = self._db().execute("SELECT value FROM account WHERE key = 'cash'").fetchone()
        return None if row is None else int(row[0])

    async def positions(self) -> list[LedgerPosition]:
        """Open positions (shares > 0), by ticker."""

        def read() -> list[LedgerPosition]:
            rows = (
                self._db()
                .execute("SELECT * FROM positions WHERE quantity > 0 ORDER BY ticker")
                .fetchall()
            )
            return [_position(row) for row in rows]

        return await self._run(read)

    async def position(self, ticker: str) -> LedgerPosition | None:
        """The open position in ``ticker``, or None."""

        def read() -> LedgerPosition | None:
            row = (
                self._db()
                .execute("SELECT * FROM positions WHERE ticker = ? AND quantity > 0", (ticker,))
                .fetchone()
            )
            return None if row is None else _position(row)

        return await self._run(read)

    async def intents(self, states: Sequence[str] | None = None) -> list[LedgerIntent]:
        """Intents (all, or those in ``states``) in the order they were written."""

        def read() -> list[LedgerIntent]:
            if states is None:
                rows = self._db().execute("SELECT * FROM intents ORDER BY id").fetchall()
            else:
                marks = ",".join("?" * len(states))
                rows = (
                    self._db()
                    .execute(
                        f"SELECT * FROM intents WHERE state IN ({marks}) ORDER BY id",  # noqa: S608
                        tuple(states),
                    )
                    .fetchall()
                )
            return [_intent(row) for row in rows]

        return await self._run(read)

    async def orders(self, *, open_only: bool = False) -> list[LedgerOrder]:
        """Orders the broker accepted (or, in a dry run, simulated), oldest first."""

        def read() -> list[LedgerOrder]:
            sql = "SELECT * FROM orders"
            if open_only:
                sql += " WHERE state = 'open'"
            rows = self._db().execute(sql + " ORDER BY intent_id").fetchall()
            return [_order(row) for row in rows]

        return await self._run(read)

    async def fills(self, ticker: str | None = None) -> list[LedgerFill]:
        """Every fill recorded (of ``ticker``, if given), oldest first."""

        def read() -> list[LedgerFill]:
            if ticker is None:
                rows = self._db().execute("SELECT * FROM fills ORDER BY id").fetchall()
            else:
                rows = (
                    self._db()
                    .execute("SELECT * FROM fills WHERE ticker = ? ORDER BY id", (ticker,))
                    .fetchall()
                )
            return [_fill(row) for row in rows]

        return await self._run(read)

    async def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The event log (of ``kind``, if given), oldest first."""

        def read() -> list[dict[str, Any]]:
            sql, args = "SELECT * FROM events", ()
            if kind is not None:
                sql, args = sql + " WHERE kind = ?", (kind,)  # type: ignore[assignment]
            rows = self._db().execute(sql + " ORDER BY id", args).fetchall()
            return [
                {
                    "id": r["id"],
                    "at": _parse(r["at"]),
                    "kind": r["kind"],
                    "ticker": r["ticker"],
                    "detail": json.loads(r["detail"]),
                }
                for r in rows
            ]

        return await self._run(read)

    async def totals(self) -> dict[str, int]:
        """Sums over all fills: realised P&L, commission, tax (KRW); sells and wins."""

        def read() -> dict[str, int]:
            db = self._db()
            row = db.execute(
                "SELECT COALESCE(SUM(realised_pnl), 0), COALESCE(SUM(commission), 0), "
                "COALESCE(SUM(tax), 0) FROM fills"
            ).fetchone()
            sells = db.execute(
                "SELECT SUM(realised_pnl) FROM fills WHERE side = 'sell' GROUP BY order_id"
            ).fetchall()
            return {
                "realised_pnl": int(row[0]),
                "commission": int(row[1]),
                "tax": int(row[2]),
                "sells": len(sells),
                "wins": sum(1 for (pnl,) in sells if pnl > 0),
            }

        return await self._run(read)

    # -- writes ----------------------------------------------------------------------

    async def add_intent(
        self,
        *,
        kind: Literal["new", "cancel"],
        ticker: str,
        side: Side,
        quantity: int,
        price: int | None,
        order_type: Literal["limit", "market"],
        window_start: datetime,
        created_at: datetime,
        reason: str = "",
        meta: dict[str, Any] | None = None,
        simulated: bool = False,
    ) -> int:
        """Write an order before it is sent (state ``sending``); returns its id."""

        def write() -> int:
            with self._tx() as db:
                cursor = db.execute(
                    "INSERT INTO intents (created_at, kind, ticker, side, quantity, price, "
                    "order_type, window_start, state, reason, meta, simulated, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'sending', ?, ?, ?, ?)",
                    (
                        _iso(created_at),
                        kind,
                        ticker,
                        side.value,
                        quantity,
                        price,
                        order_type,
                        _iso(window_start),
                        reason,
                        json.dumps(meta or {}),
                        int(simulated),
                        _iso(created_at),
                    ),
                )
                intent_id = int(cursor.lastrowid or 0)
                self._event(
                    db,
                    created_at,
                    "intent",
                    ticker,
                    {"intent": intent_id, "side": side.value, "qty": quantity, "price": price},
                )
                return intent_id

        return await self._run(write)

    async def resolve_intent(
        self,
        intent_id: int,
        state: IntentState,
        *,
        at: datetime,
        window_end: datetime | None = None,
        error: str | None = None,
    ) -> None:
        """Settle an intent that has no order (rejected, unknown, not sent)."""

        def write() -> None:
            with self._tx() as db:
                db.execute(
                    "UPDATE intents SET state = ?, error = ?, updated_at = ?, "
                    "window_end = COALESCE(?, window_end) WHERE id = ?",
                    (state, error, _iso(at), _iso(window_end) if window_end else None, intent_id),
                )
                self._event(db, at, state, None, {"intent": intent_id, "error": error})

        await self._run(write)

    async def record_order(
        self,
        intent_id: int,
        *,
        order_id: str,
        org_no: str,
        ordered_at: datetime,
        at: datetime,
        window_end: datetime | None = None,
        recovered: bool = False,
        simulated: bool = False,
    ) -> LedgerOrder:
        """The broker accepted intent ``intent_id`` as ``order_id``: state ``sent``."""

        def write() -> LedgerOrder:
            with self._tx() as db:
                intent = db.execute("SELECT * FROM intents WHERE id = ?", (intent_id,)).fetchone()
                if intent is None:
                    raise LedgerError(f"no intent {intent_id}")
                db.execute(
                    "UPDATE intents SET state = ?, order_id = ?, updated_at = ?, "
                    "window_end = COALESCE(?, window_end) WHERE id = ?",
                    (
                        "simulated" if simulated else "sent",
                        order_id,
                        _iso(at),
                        _iso(window_end) if window_end else None,
                        intent_id,
                    ),
                )
                # A reconcile running beside the trade may have recorded it already.
                db.execute(
                    "INSERT INTO orders (order_id, org_no, intent_id, ticker, side, quantity, "
                    "price, ordered_at, simulated, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
                    "?, ?) ON CONFLICT(order_id) DO NOTHING",
                    (
                        order_id,
                        org_no,
                        intent_id,
                        intent["ticker"],
                        intent["side"],
                        intent["quantity"],
                        intent["price"],
                        _iso(ordered_at),
                        int(simulated),
                        _iso(at),
                    ),
                )
                self._event(
                    db,
                    at,
                    "recovered" if recovered else "order",
                    intent["ticker"],
                    {"intent": intent_id, "order": order_id},
                )
                row = db.execute("SELECT * FROM orders WHERE order_id = ?", (order_id,)).fetchone()
                return _order(row)

        return await self._run(write)

    async def apply_progress(
        self,
        order_id: str,
        *,
        filled_quantity: int,
        filled_amount: int,
        at: datetime,
        trade_date: date,
        fees: FeeSchedule,
        listing: Listing = "KOSPI",
        done: bool = False,
        executions: Sequence[tuple[int, int]] = (),
    ) -> LedgerFill | None:
        """Record what ``order_id`` has filled in all (shares, KRW): the new part as a fill.

        Totals, not increments, so applying the same progress twice records it once:
        a restart may replay any look at the order history safely. Cash, the position
        and the fill move in one transaction. ``done`` closes the order.

        ``executions`` are the order's executions as ``(shares, price)``, oldest first,
        when known (from fill notices). When they add up to the totals, the new part is
        recorded execution by execution, so commission is truncated per execution as
        the broker does; otherwise it is one fill at the average price.
        """

        def write() -> LedgerFill | None:
            with self._tx() as db:
                return self._apply(
                    db,
                    order_id,
                    filled_quantity,
                    filled_amount,
                    at,
                    trade_date,
                    fees,
                    listing,
                    done,
                    executions,
                )

        return await self._run(write)

    def _apply(
        self,
        db: sqlite3.Connection,
        order_id: str,
        filled_quantity: int,
        filled_amount: int,
        at: datetime,
        trade_date: date,
        fees: FeeSchedule,
        listing: Listing,
        done: bool,
        executions: Sequence[tuple[int, int]] = (),
    ) -> LedgerFill | None:
        order = db.execute("SELECT * FROM orders WHERE order_id = ?", (order_id,)).fetchone()
        if order is None:
            raise LedgerError(f"no order {order_id} in the ledger")
        quantity = filled_quantity - order["filled_quantity"]
        amount = filled_amount - order["filled_amount"]
        if done:
            db.execute(
                "UPDATE orders SET state = 'done', updated_at = ? WHERE order_id = ?",
                (_iso(at), order_id),
            )
        if quantity <= 0:
            if quantity < 0:
                self._event(
                    db,
                    at,
                    "fill_regressed",
                    order["ticker"],
                    {
                        "order": order_id,
                        "ledger": order["filled_quantity"],
                        "broker": filled_quantity,
                    },
                )
            return None
        intent = db.execute(
            "SELECT meta FROM intents WHERE id = ?", (order["intent_id"],)
        ).fetchone()
        meta = json.loads(intent["meta"]) if intent is not None else {}
        parts = _executions_beyond(
            executions,
            (order["filled_quantity"], order["filled_amount"]),
            (filled_quantity, filled_amount),
        ) or [(quantity, amount)]
        fill: LedgerFill | None = None
        for part_quantity, part_amount in parts:
            fill = self._book(
                db, order, meta, part_quantity, part_amount, at, trade_date, fees, listing
            )
        db.execute(
            "UPDATE orders SET filled_quantity = ?, filled_amount = ?, updated_at = ? "
            "WHERE order_id = ?",
            (filled_quantity, filled_amount, _iso(at), order_id),
        )
        return fill

    def _book(
        self,
        db: sqlite3.Connection,
        order: sqlite3.Row,
        meta: dict[str, Any],
        quantity: int,
        amount: int,
        at: datetime,
        trade_date: date,
        fees: FeeSchedule,
        listing: Listing,
    ) -> LedgerFill:
        """One fill of ``quantity`` shares for ``amount`` KRW: fees, position, cash, row."""
        order_id, ticker, side = order["order_id"], order["ticker"], Side(order["side"])
        commission = fees.commission(amount)
        tax = 0
        realised = 0
        cash = self._cash_in(db)
        position = db.execute("SELECT * FROM positions WHERE ticker = ?", (ticker,)).fetchone()
        price = Decimal(amount) / Decimal(quantity)
        if side is Side.BUY:
            cost = amount + commission
            cash -= cost
            if position is None or position["quantity"] <= 0:
                db.execute("DELETE FROM positions WHERE ticker = ?", (ticker,))
                db.execute(
                    "INSERT INTO positions (ticker, quantity, cost_basis, sector, region, "
                    "entered_at, updated_at, high_price, rules) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        ticker,
                        quantity,
                        cost,
                        meta.get("sector"),
                        meta.get("region", "KR"),
                        _iso(at),
                        _iso(at),
                        amount // quantity,
                        json.dumps(meta.get("rules") or {}),
                    ),
                )
            else:
                db.execute(
                    "UPDATE positions SET quantity = quantity + ?, cost_basis = cost_basis + ?, "
                    "high_price = MAX(high_price, ?), updated_at = ? WHERE ticker = ?",
                    (quantity, cost, amount // quantity, _iso(at), ticker),
                )
        else:
            tax = fees.tax(amount, trade_date, listing)
            proceeds = amount - commission - tax
            cash += proceeds
            held = position["quantity"] if position is not None else 0
            basis = position["cost_basis"] if position is not None else 0
            if quantity >= held:
                removed = basis
                if quantity > held:
                    self._event(
                        db,
                        at,
                        "oversold",
                        ticker,
                        {"order": order_id, "held": held, "sold": quantity},
                    )
            else:
                # Pro rata, half up; the last share takes what is left, so the cost
                # basis of a position sold in parts sums to what it cost.
                removed = _half_up_div(basis * quantity, held)
            realised = proceeds - removed
            if position is not None:
                db.execute(
                    "UPDATE positions SET quantity = ?, cost_basis = ?, updated_at = ? "
                    "WHERE ticker = ?",
                    (max(held - quantity, 0), basis - removed, _iso(at), ticker),
                )
        self._set_cash(db, cash)
        cursor = db.execute(
            "INSERT INTO fills (order_id, intent_id, ticker, side, quantity, amount, price, "
            "commission, tax, realised_pnl, filled_at, simulated) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                order_id,
                order["intent_id"],
                ticker,
                side.value,
                quantity,
                amount,
                str(price),
                commission,
                tax,
                realised,
                _iso(at),
                order["simulated"],
            ),
        )
        self._event(
            db,
            at,
            "fill",
            ticker,
            {
                "order": order_id,
                "side": side.value,
                "qty": quantity,
                "amount": amount,
                "commission": commission,
                "tax": tax,
                "realised": realised,
                "simulated": bool(order["simulated"]),
            },
        )
        row = db.execute("SELECT * FROM fills WHERE id = ?", (cursor.lastrowid,)).fetchone()
        return _fill(row)

    async def update_high(self, prices: dict[str, int], *, at: datetime) -> None:
        """Raise each position's highest price seen (for trailing stops) to ``prices``."""

        def write() -> None:
            with self._tx() as db:
                db.executemany(
                    "UPDATE positions SET high_price = ?, updated_at = ? "
                    "WHERE ticker = ? AND quantity > 0 AND high_price < ?",
                    [(price, _iso(at), ticker, price) for ticker, price in prices.items()],
                )

        await self._run(write)

    async def set_cash(self, krw: int, *, at: datetime, reason: str) -> None:
        """Set the cash to ``krw`` KRW (the opening balance, or a repair), with an event."""

        def write() -> None:
            with self._tx() as db:
                before = self._cash_in(db, default=None)
                self._set_cash(db, krw)
                self._event(db, at, "cash_set", None, {"from": before, "to": krw, "why": reason})

        await self._run(write)

    async def set_position(
        self,
        ticker: str,
        quantity: int,
        cost_basis: int,
        *,
        at: datetime,
        reason: str,
        sector: str | None = None,
    ) -> None:
        """Set a position to ``quantity`` shares costing ``cost_basis`` KRW (a repair)."""

        def write() -> None:
            with self._tx() as db:
                row = db.execute("SELECT * FROM positions WHERE ticker = ?", (ticker,)).fetchone()
                if row is None:
                    db.execute(
                        "INSERT INTO positions (ticker, quantity, cost_basis, sector, region, "
                        "entered_at, updated_at, high_price) VALUES (?, ?, ?, ?, 'KR', ?, ?, ?)",
                        (
                            ticker,
                            quantity,
                            cost_basis,
                            sector,
                            _iso(at),
                            _iso(at),
                            cost_basis // quantity if quantity else 0,
                        ),
                    )
                else:
                    db.execute(
                        "UPDATE positions SET quantity = ?, cost_basis = ?, updated_at = ?, "
                        "entered_at = CASE WHEN quantity > 0 THEN entered_at ELSE ? END, "
                        "high_price = CASE WHEN quantity > 0 THEN high_price ELSE ? END "
                        "WHERE ticker = ?",
                        (
                            quantity,
                            cost_basis,
                            _iso(at),
                            _iso(at),
                            cost_basis // quantity if quantity else 0,
                            ticker,
                        ),
                    )
                before = (row["quantity"], row["cost_basis"]) if row is not None else (0, 0)
                self._event(
                    db,
                    at,
                    "position_set",
                    ticker,
                    {"from": list(before), "to": [quantity, cost_basis], "why": reason},
                )

        await self._run(write)

    async def close_order(self, order_id: str, *, at: datetime) -> None:
        """Mark an order done: nothing of it rests any more."""

        def write() -> None:
            with self._tx() as db:
                db.execute(
                    "UPDATE orders SET state = 'done', updated_at = ? WHERE order_id = ?",
                    (_iso(at), order_id),
                )

        await self._run(write)

    async def log(
        self, kind: str, *, at: datetime, ticker: str | None = None, **detail: Any
    ) -> None:
        """Append an event to the log."""

        def write() -> None:
            with self._tx() as db:
                self._event(db, at, kind, ticker, detail)

        await self._run(write)

    # -- helpers (ledger thread) -------------------------------------------------------

    @staticmethod
    def _cash_in(db: sqlite3.Connection, default: int | None = 0) -> Any:
        row = db.execute("SELECT value FROM account WHERE key = 'cash'").fetchone()
        return default if row is None else int(row[0])

    @staticmethod
    def _set_cash(db: sqlite3.Connection, krw: int) -> None:
        db.execute(
            "INSERT INTO account (key, value) VALUES ('cash', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (krw,),
        )

    @staticmethod
    def _event(
        db: sqlite3.Connection,
        at: datetime,
        kind: str,
        ticker: str | None,
        detail: dict[str, Any],
    ) -> None:
        db.execute(
            "INSERT INTO events (at, kind, ticker, detail) VALUES (?, ?, ?, ?)",
            (_iso(at), kind, ticker, json.dumps(detail, default=str)),
        )


def _executions_beyond(
    executions: Sequence[tuple[int, int]],
    recorded: tuple[int, int],
    total: tuple[int, int],
) -> list[tuple[int, int]] | None:
    """The executions after the ``recorded`` (shares, KRW), as (shares, KRW) parts.

    None unless the executions add up to ``total`` exactly and the recorded part ends on
    an execution's boundary: a missed or extra notice falls back on the totals.
    """
    if not executions:
        return None
    shares = krw = 0
    parts: list[tuple[int, int]] = []
    for quantity, price in executions:
        if quantity <= 0:
            return None
        if shares >= recorded[0]:
            parts.append((quantity, quantity * price))
        elif shares + quantity > recorded[0]:
            return None
        shares += quantity
        krw += quantity * price
        if shares == recorded[0] and krw != recorded[1]:
            return None
    if (shares, krw) != total or not parts:
        return None
    return parts


def migrate(conn: sqlite3.Connection, version: int, target: int = SCHEMA_VERSION) -> None:
    """Run the forward migrations from ``version`` up to ``target``, one transaction each."""
    for step in range(version, target):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(MIGRATIONS[step]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {step + 1}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (triggers keep their BEGIN ... END)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        raise ConfigError("a ledger migration ends in an incomplete statement")
    return statements

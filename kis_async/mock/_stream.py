"""The mock's real-time feed: KIS's WebSocket protocol over the simulated market.

Served on the same ASGI app as REST (``/tryitout`` and the bare path), in process
through ``MockKIS().ws_transport`` and on 127.0.0.1 by uvicorn. It speaks the real
formats (kis-api.md §8): JSON subscribe messages and acks with key/iv,
``0|tr_id|NNN|...`` frames with several records when ticks bunch, AES-encrypted
``1|...`` fill notices, PINGPONG, one session per app key (OPSP8996) and the
subscription cap (OPSP0008).

Ticks come from the same seeded minute bars and clock as REST: when the clock passes
a bar's stamp, the bar prints as ``trades_per_bar`` trades whose last one is the
bar's close, the price REST shows from that instant; the book record of a bar is the
book REST shows during it. Records are built here on their own, never from the
client's column lists or models.

Mock choices (not from KIS): an unknown approval key is refused with ``rt_cd "9"``
and ``MOCK0201``; a fill-notice subscription with another HTS ID is acknowledged but
carries nothing; a malformed request gets ``OPSP0007``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import string
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from kis_async._clock import KST

from ._asgi import Receive, Scope, Send
from ._calendar import MINUTE_STAMPS, OPEN, SESSION_BARS, visible_bars
from ._exchange import Exchange
from ._market import Market
from ._oauth import OAuth
from ._orders import MockFill, MockOrder
from ._prices import limit_sign, snap
from ._routes import Server
from ._wire import ratio, scaled

__all__ = [
    "DEMO_HTS_ID",
    "STREAM_TR_IDS",
    "MockStream",
    "MockStreamStats",
    "SentFrame",
    "encrypt_payload",
]

#: The HTS ID of the demo app's account (fill notices are keyed by it).
DEMO_HTS_ID = "mockdemo"

_TRADES = {"H0STCNT0", "H0NXCNT0", "H0UNCNT0"}
_BOOKS = {"H0STASP0", "H0NXASP0", "H0UNASP0"}
_FILLS = {"real": "H0STCNI0", "virtual": "H0STCNI9"}
#: tr_ids each emulated server serves; NXT and integrated feeds have no virtual branch.
STREAM_TR_IDS: dict[Server, frozenset[str]] = {
    "real": frozenset({*_TRADES, *_BOOKS, _FILLS["real"]}),
    "virtual": frozenset({"H0STCNT0", "H0STASP0", _FILLS["virtual"]}),
}
_MAX_RECORDS = 999  # the count field has three digits


def encrypt_payload(text: str, key: str, iv: str) -> str:
    """``text`` as KIS encrypts a notice: AES-256-CBC, PKCS7, base64 (kis-api.md §8.3)."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    padder = padding.PKCS7(128).padder()
    padded = padder.update(text.encode("utf-8")) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key.encode()), modes.CBC(iv.encode())).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode("ascii")


@dataclass(frozen=True, slots=True)
class SentFrame:
    """One data frame the feed sent: its session, tr_id, key, plain records and send time.

    ``at`` is ``time.perf_counter()`` just before the send; ``records`` are the
    ``^``-joined records before any encryption.
    """

    session: int
    tr_id: str
    tr_key: str
    records: tuple[str, ...]
    at: float
    encrypted: bool = False


@dataclass
class MockStreamStats:
    """What the feed saw and sent.

    ``connections`` every WebSocket handshake; ``sessions`` the accepted ones;
    ``closed_on_connect`` those closed at once by the fault; ``refused_in_use``
    OPSP8996 answers; ``acks`` control answers by msg_cd; ``frames``/``records`` data
    sent by tr_id; ``pings`` PINGPONGs sent; ``pongs`` pong frames and ``pong_texts``
    PINGPONG texts echoed back; ``drops``, ``stalls``, ``garbage``, ``bursts`` faults.
    """

    connections: int = 0
    sessions: int = 0
    closed_on_connect: int = 0
    refused_in_use: int = 0
    acks: Counter[str] = field(default_factory=Counter)
    frames: Counter[str] = field(default_factory=Counter)
    records: Counter[str] = field(default_factory=Counter)
    pings: int = 0
    pongs: int = 0
    pong_texts: int = 0
    drops: int = 0
    stalls: int = 0
    garbage: int = 0
    bursts: int = 0


@dataclass(slots=True)
class _Sub:
    tr_id: str
    tr_key: str
    session_day: date | None = None
    next_bar: int = 0


class _Tape:
    """A (ticker, session) day as trades: prefix sums the trade records need, per bar."""

    __slots__ = (
        "bars",
        "base",
        "buy_count",
        "buy_volume",
        "day",
        "high_at",
        "low_at",
        "previous_cum",
        "previous_volume",
        "sell_count",
        "sell_volume",
        "shares",
        "sides",
    )

    def __init__(self, market: Market, code: str, day: date, per_bar: int) -> None:
        self.day = day
        self.bars = bars = market.session_bars(code, day)
        self.base = market.limits(code, day)[0]
        self.shares = market.tickers[code].shares
        index = market.calendar.index(day)
        try:
            previous = market.session_bars(code, market.calendar.day_at(index - 1))
            self.previous_cum = previous.cum_volume
        except (KeyError, IndexError, ValueError):
            self.previous_cum = [0] * SESSION_BARS
        self.previous_volume = self.previous_cum[-1]
        # A bar that closed at or above its open is buyer-initiated ("1"), else "5".
        self.sides = ["1" if c >= o else "5" for o, c in zip(bars.open, bars.close, strict=True)]
        self.buy_volume, self.sell_volume, self.buy_count, self.sell_count = [], [], [], []
        self.high_at, self.low_at = [], []
        bv = sv = bc = sc = 0
        high_at = low_at = 0
        for i, side in enumerate(self.sides):
            if side == "1":
                bv += bars.volume[i]
                bc += per_bar
            else:
                sv += bars.volume[i]
                sc += per_bar
            if bars.run_high[i] > (bars.run_high[i - 1] if i else 0):
                high_at = i
            if i == 0 or bars.run_low[i] < bars.run_low[i - 1]:
                low_at = i
            self.buy_volume.append(bv)
            self.sell_volume.append(sv)
            self.buy_count.append(bc)
            self.sell_count.append(sc)
            self.high_at.append(high_at)
            self.low_at.append(low_at)


def _hhmmss(moment: datetime) -> str:
    return f"{moment.hour:02d}{moment.minute:02d}{moment.second:02d}"


def _stamp(day: date, index: int) -> datetime:
    stamp = MINUTE_STAMPS[index]
    return datetime(day.year, day.month, day.day, stamp // 10_000, stamp // 100 % 100, tzinfo=KST)


def _sign(change: int) -> str:
    return "2" if change > 0 else "5" if change < 0 else "3"


class _Session:
    """One accepted WebSocket: its app key, subscriptions, keys and outgoing queue."""

    def __init__(self, number: int, seed: int) -> None:
        self.number = number
        self.app_key: str | None = None
        self.subs: dict[tuple[str, str], _Sub] = {}
        self.keys: dict[str, tuple[str, str]] = {}
        self.outbox: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.resumed = asyncio.Event()
        self.resumed.set()
        self.last_ping = 0.0
        self._rng = random.Random(f"{seed}:ws:{number}")

    def key_for(self, tr_id: str) -> tuple[str, str]:
        keys = self.keys.get(tr_id)
        if keys is None:
            letters = string.ascii_lowercase
            key = "".join(self._rng.choice(letters) for _ in range(32))
            iv = "".join(self._rng.choice("0123456789abcdef") for _ in range(16))
            keys = self.keys[tr_id] = (key, iv)
        return keys

    @property
    def stalled(self) -> bool:
        return not self.resumed.is_set()

    def push(self, text: str, sent: SentFrame | None = None) -> None:
        self.outbox.put_nowait(("text", (text, sent)))


class MockStream:
    """The real-time feed of one :class:`MockKIS` (its ``stream`` attribute).

    ``ping_interval`` is seconds of the mock clock between PINGPONGs; ``pump_interval``
    real seconds between looks at the clock for new bars; ``trades_per_bar`` how many
    trades a minute bar prints as; ``max_subscriptions`` the per-session cap.
    Faults: :meth:`drop`, :meth:`close_next_connections`, :meth:`stall` /
    :meth:`resume`, :meth:`send_garbage`, :meth:`burst`, :meth:`occupy`. ``sent``
    records every data frame sent (the last ``sent_log`` of them).
    """

    def __init__(
        self,
        *,
        seed: int,
        server: Server,
        market: Market,
        exchange: Exchange,
        oauth: OAuth,
        ping_interval: float = 10.0,
        pump_interval: float = 0.02,
        trades_per_bar: int = 4,
        max_subscriptions: int = 40,
        sent_log: int = 200_000,
    ) -> None:
        if trades_per_bar < 1:
            raise ValueError("trades_per_bar must be at least 1")
        self.seed = seed
        self.server = server
        self.market = market
        self.exchange = exchange
        self.clock = exchange.clock
        self.oauth = oauth
        self.ping_interval = ping_interval
        self.pump_interval = pump_interval
        self.trades_per_bar = trades_per_bar
        self.max_subscriptions = max_subscriptions
        self.stats = MockStreamStats()
        self.sent: deque[SentFrame] = deque(maxlen=sent_log)
        #: HTS ID of each app's account (fill notices); unknown apps get "mock" + account.
        self.hts_ids: dict[str, str] = {}
        self._sessions: dict[int, _Session] = {}
        self._holders: dict[str, int] = {}
        self._occupied: set[str] = set()
        self._close_next = 0
        self._tapes: dict[tuple[str, date], _Tape] = {}
        exchange.listeners.append(self._on_exchange)

    # -- introspection --------------------------------------------------------------

    @property
    def open_sessions(self) -> int:
        """Sessions connected now."""
        return len(self._sessions)

    def subscriptions(self) -> list[tuple[int, str, str]]:
        """``(session, tr_id, tr_key)`` of every live registration."""
        return [(s.number, *key) for s in self._sessions.values() for key in s.subs]

    def hts_id(self, app_key: str) -> str:
        """The HTS ID fill notices of ``app_key``'s account are keyed by."""
        known = self.hts_ids.get(app_key)
        if known is not None:
            return known
        account = self.exchange.account_for(app_key)
        return f"mock{account.account_no[:8]}" if account is not None else ""

    def sent_records(self, tr_id: str | None = None) -> list[str]:
        """Every plain record sent (of ``tr_id``), in order, across sessions."""
        return [r for f in self.sent if tr_id is None or f.tr_id == tr_id for r in f.records]

    # -- faults ---------------------------------------------------------------------

    def drop(self) -> int:
        """Drop every open session now (after what is already queued); returns how many."""
        for session in self._sessions.values():
            session.outbox.put_nowait(("drop", None))
            session.resumed.set()
        self.stats.drops += len(self._sessions)
        return len(self._sessions)

    def close_next_connections(self, count: int) -> None:
        """Accept the next ``count`` handshakes and close each at once."""
        self._close_next += count

    def stall(self) -> None:
        """Open sessions stop sending anything (PINGPONG included) until :meth:`resume`."""
        for session in self._sessions.values():
            session.resumed.clear()
        self.stats.stalls += 1

    def resume(self) -> None:
        """Stalled sessions send again."""
        for session in self._sessions.values():
            session.resumed.set()

    def send_garbage(self, count: int = 4) -> None:
        """Send ``count`` unreadable frames on every session."""
        samples = (
            "0|H0STCNT0|001|005930^garbage",
            "not a frame",
            "{broken json",
            "1|H0STCNI0|001|!!",
        )
        for session in self._sessions.values():
            for i in range(count):
                session.push(samples[i % len(samples)])
        self.stats.garbage += count * len(self._sessions)

    def burst(self, frames: int) -> None:
        """Send ``frames`` frames at once on every session with a trade subscription.

        Each repeats the records of its ticker's last printed bar: a flood of real
        records, as when a busy ticker bunches, for slow-consumer tests and benchmarks.
        """
        now = self.clock.now()
        for session in list(self._sessions.values()):
            subs = [s for s in session.subs.values() if s.tr_id in _TRADES]
            if not subs:
                continue
            sub = subs[0]
            day = self.market.session(now)
            index = max(0, _printed(day, now) - 1)
            records = self._trade_records(sub.tr_key, day, index)
            for _ in range(frames):
                self._push_data(session, sub.tr_id, sub.tr_key, records)
            self.stats.bursts += 1

    def occupy(self, app_key: str) -> None:
        """Hold ``app_key`` as if a session elsewhere used it (its sessions get OPSP8996)."""
        self._occupied.add(app_key)

    def release(self, app_key: str) -> None:
        """Undo :meth:`occupy`."""
        self._occupied.discard(app_key)

    # -- ASGI -----------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        path = scope.get("path", "/")
        self.stats.connections += 1
        if path not in ("", "/", "/tryitout") and not path.startswith("/tryitout/"):
            await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "websocket.accept"})
        if self._close_next > 0:
            self._close_next -= 1
            self.stats.closed_on_connect += 1
            await send({"type": "websocket.close", "code": 1000})
            return
        self.stats.sessions += 1
        session = _Session(self.stats.sessions, self.seed)
        session.last_ping = self.clock.monotonic()
        self._sessions[session.number] = session
        tasks = [
            asyncio.ensure_future(self._receive(session, receive)),
            asyncio.ensure_future(self._send(session, send)),
            asyncio.ensure_future(self._pump(session)),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._sessions.pop(session.number, None)
            if session.app_key is not None and self._holders.get(session.app_key) == session.number:
                del self._holders[session.app_key]

    async def _receive(self, session: _Session, receive: Receive) -> None:
        while True:
            message = await receive()
            kind = message["type"]
            if kind == "websocket.disconnect":
                return
            if kind == "websocket.pong":
                self.stats.pongs += 1
            elif kind == "websocket.receive":
                text = message.get("text")
                if text is None:
                    text = bytes(message.get("bytes") or b"").decode("utf-8", "replace")
                self._on_request(session, text)

    async def _send(self, session: _Session, send: Send) -> None:
        while True:
            kind, item = await session.outbox.get()
            if not session.resumed.is_set():
                await session.resumed.wait()
            if kind == "drop":
                # 1011: the server ends the session abnormally, as a lost socket looks.
                await send({"type": "websocket.close", "code": 1011})
                return
            if kind == "close":
                await send({"type": "websocket.close", "code": 1000})
                return
            text, sent = item
            if sent is not None:
                sent = SentFrame(
                    sent.session,
                    sent.tr_id,
                    sent.tr_key,
                    sent.records,
                    time.perf_counter(),
                    sent.encrypted,
                )
                self.sent.append(sent)
                self.stats.frames[sent.tr_id] += 1
                self.stats.records[sent.tr_id] += len(sent.records)
            await send({"type": "websocket.send", "text": text})

    async def _pump(self, session: _Session) -> None:
        while True:
            await asyncio.sleep(self.pump_interval)
            if session.stalled:
                continue
            self.pump(session)

    # -- requests -------------------------------------------------------------------

    def _ack(
        self,
        session: _Session,
        tr_id: str,
        tr_key: str,
        rt_cd: str,
        msg_cd: str,
        msg1: str,
        *,
        with_keys: bool = False,
    ) -> None:
        self.stats.acks[msg_cd] += 1
        body: dict[str, Any] = {"rt_cd": rt_cd, "msg_cd": msg_cd, "msg1": msg1}
        encrypt = "N"
        if with_keys:
            key, iv = session.key_for(tr_id)
            body["output"] = {"iv": iv, "key": key}
            encrypt = "Y" if tr_id in _FILLS.values() else "N"
        header = {"tr_id": tr_id, "tr_key": tr_key, "encrypt": encrypt}
        session.push(json.dumps({"header": header, "body": body}, ensure_ascii=False))

    def _on_request(self, session: _Session, text: str) -> None:
        try:
            data = json.loads(text)
            header = data["header"]
            if header.get("tr_id") == "PINGPONG":
                self.stats.pong_texts += 1  # a client echoing PINGPONG as text
                return
            request = data["body"]["input"]
            tr_id, tr_key = str(request["tr_id"]), str(request.get("tr_key", ""))
            approval, tr_type = str(header["approval_key"]), str(header["tr_type"])
        except (ValueError, KeyError, TypeError):
            self._ack(session, "", "", "1", "OPSP0007", "JSON PARSING ERROR")
            return
        app_key = self.oauth.approval_keys.get(approval)
        if app_key is None:
            self._ack(session, tr_id, tr_key, "9", "MOCK0201", "invalid approval : NOT FOUND")
            return
        if session.app_key is None:
            holder = self._holders.get(app_key)
            if app_key in self._occupied or (holder is not None and holder != session.number):
                self.stats.refused_in_use += 1
                self._ack(session, tr_id, tr_key, "1", "OPSP8996", "ALREADY IN USE appkey")
                session.outbox.put_nowait(("close", None))
                return
            session.app_key = app_key
            self._holders[app_key] = session.number
        elif session.app_key != app_key:
            self._ack(session, tr_id, tr_key, "1", "OPSP8996", "ALREADY IN USE appkey")
            return
        if tr_id not in STREAM_TR_IDS[self.server]:
            self._ack(session, tr_id, tr_key, "1", "OPSP8991", "invalid tr_id")
            return
        key = (tr_id, tr_key)
        if tr_type == "1":
            if key in session.subs:
                self._ack(session, tr_id, tr_key, "1", "OPSP0002", "ALREADY IN SUBSCRIBE")
            elif len(session.subs) >= self.max_subscriptions:
                self._ack(session, tr_id, tr_key, "1", "OPSP0008", "MAX SUBSCRIBE OVER")
            else:
                sub = _Sub(tr_id, tr_key)
                now = self.clock.now()
                # Ticks start with the next bar to print: no backlog on subscribe.
                sub.session_day = self.market.session(now)
                sub.next_bar = _printed(sub.session_day, now)
                session.subs[key] = sub
                self._ack(
                    session, tr_id, tr_key, "0", "OPSP0000", "SUBSCRIBE SUCCESS", with_keys=True
                )
        elif tr_type == "2":
            if session.subs.pop(key, None) is None:
                self._ack(session, tr_id, tr_key, "1", "OPSP0003", "UNSUBSCRIBE ERROR(not found!)")
            else:
                self._ack(session, tr_id, tr_key, "0", "OPSP0001", "UNSUBSCRIBE SUCCESS")
        else:
            self._ack(session, tr_id, tr_key, "1", "OPSP0007", "INVALID tr_type")

    # -- the feed -------------------------------------------------------------------

    def pump(self, session: _Session) -> None:
        """Queue every bar printed since the last look, and a PINGPONG when one is due."""
        now = self.clock.now()
        if any(s.tr_id in _FILLS.values() for s in session.subs.values()):
            self.exchange.catch_up(now)  # resting orders fill as the clock passes bars
        day = self.market.session(now)
        printed = _printed(day, now)
        for sub in list(session.subs.values()):
            if sub.tr_id in _FILLS.values():
                continue
            if sub.session_day != day:
                sub.session_day, sub.next_bar = day, 0
            if sub.next_bar >= printed:
                continue
            if not self.market.is_listed(sub.tr_key, day):
                sub.next_bar = printed
                continue
            records: list[str] = []
            for index in range(sub.next_bar, printed):
                if sub.tr_id in _TRADES:
                    records.extend(self._trade_records(sub.tr_key, day, index))
                else:
                    records.append(self._book_record(sub.tr_id, sub.tr_key, day, index))
            sub.next_bar = printed
            for start in range(0, len(records), _MAX_RECORDS):
                self._push_data(
                    session, sub.tr_id, sub.tr_key, records[start : start + _MAX_RECORDS]
                )
        mono = self.clock.monotonic()
        if mono - session.last_ping >= self.ping_interval:
            session.last_ping = mono
            self.stats.pings += 1
            stamp = now.strftime("%Y%m%d%H%M%S")
            session.push(json.dumps({"header": {"tr_id": "PINGPONG", "datetime": stamp}}))

    def _push_data(
        self, session: _Session, tr_id: str, tr_key: str, records: list[str], encrypt: bool = False
    ) -> None:
        payload = "^".join(records)
        if encrypt:
            payload = encrypt_payload(payload, *session.key_for(tr_id))
        text = f"{1 if encrypt else 0}|{tr_id}|{len(records):03d}|{payload}"
        session.push(text, SentFrame(session.number, tr_id, tr_key, tuple(records), 0.0, encrypt))

    def _tape(self, code: str, day: date) -> _Tape:
        tape = self._tapes.get((code, day))
        if tape is None:
            if len(self._tapes) > 512:
                self._tapes.clear()
            tape = self._tapes[(code, day)] = _Tape(self.market, code, day, self.trades_per_bar)
        return tape

    def _trade_records(self, code: str, day: date, index: int) -> list[str]:
        """Bar ``index`` of ``day`` as ``trades_per_bar`` trade records; the last is its close."""
        tape = self._tape(code, day)
        bars, base, k = tape.bars, tape.base, self.trades_per_bar
        stamp = _stamp(day, index)
        book = self.market.book(code, stamp)
        o, c, volume = bars.open[index], bars.close[index], bars.volume[index]
        before_vol = bars.cum_volume[index - 1] if index else 0
        before_val = bars.cum_value[index - 1] if index else 0
        bar_value = bars.cum_value[index] - before_val
        prev_high = bars.run_high[index - 1] if index else o
        prev_low = bars.run_low[index - 1] if index else o
        side = tape.sides[index]
        bv = tape.buy_volume[index - 1] if index else 0
        sv = tape.sell_volume[index - 1] if index else 0
        bc = tape.buy_count[index - 1] if index else 0
        sc = tape.sell_count[index - 1] if index else 0
        day_open = bars.open[0]
        high_stamp = _stamp(day, tape.high_at[index - 1]) if index else stamp
        low_stamp = _stamp(day, tape.low_at[index - 1]) if index else stamp
        same_time = tape.previous_cum[index]
        ymd = f"{day.year:04d}{day.month:02d}{day.day:02d}"
        # A call auction (the opening bar, the closing bar) prints at one instant: no
        # trade happens during the call, least of all before the open.
        step = 0 if index in (0, SESSION_BARS - 1) else 60 // k
        records = []
        done = 0
        for j in range(1, k + 1):
            price = c if j == k else snap(o + (c - o) * j / k)
            at = stamp - timedelta(seconds=(k - j) * step)
            hhmmss = _hhmmss(at)
            cum = volume * j // k
            trade_volume = cum - done
            done = cum
            acml = before_vol + cum
            value = before_val + bar_value * j // k
            if side == "1":
                bv += trade_volume
                bc += 1
            else:
                sv += trade_volume
                sc += 1
            high, low = max(prev_high, o, price), min(prev_low, o, price)
            if high > prev_high:
                high_stamp = at
            if low < prev_low:
                low_stamp = at
            change = price - base
            fields = (
                code,
                hhmmss,
                str(price),
                limit_sign(price, base),
                str(change),
                ratio(change, base),
                scaled(value, acml) if acml else str(price),
                str(day_open),
                str(high),
                str(low),
                str(book.asks[0]),
                str(book.bids[0]),
                str(trade_volume),
                str(acml),
                str(value),
                str(sc),
                str(bc),
                str(bc - sc),
                scaled(bv * 100, sv) if sv else "0.00",
                str(sv),
                str(bv),
                side,
                scaled(bv * 100, acml) if acml else "0.00",
                scaled(acml * 100, tape.previous_volume) if tape.previous_volume else "0.00",
                "090000",
                _sign(price - day_open),
                str(price - day_open),
                _hhmmss(high_stamp),
                _sign(price - high),
                str(price - high),
                _hhmmss(low_stamp),
                _sign(price - low),
                str(price - low),
                ymd,
                "20",
                "N",
                str(book.ask_qty[0]),
                str(book.bid_qty[0]),
                str(book.total_ask),
                str(book.total_bid),
                scaled(acml * 100, tape.shares),
                str(same_time),
                scaled(acml * 100, same_time) if same_time else "0.00",
                "0",
                "0",
                str(base),
            )
            records.append("^".join(fields))
            prev_high, prev_low = high, low
        return records

    def _book_record(self, tr_id: str, code: str, day: date, index: int) -> str:
        """The book shown during bar ``index`` of ``day`` as one H0STASP0 (or NX/UN) record."""
        stamp = _stamp(day, index)
        book = self.market.book(code, stamp)
        tape = self._tape(code, day)
        bars, base = tape.bars, tape.base
        if index == SESSION_BARS - 1:
            expected, volume = bars.close[-1], bars.volume[-1]
        else:
            expected = volume = 0
        change = expected - base if expected else 0
        fields = [
            code,
            _hhmmss(stamp),
            "0",
            *map(str, book.asks),
            *map(str, book.bids),
            *map(str, book.ask_qty),
            *map(str, book.bid_qty),
            str(book.total_ask),
            str(book.total_bid),
            "0",
            "0",
            str(expected),
            str(volume),
            str(volume),
            str(change),
            limit_sign(expected, base) if expected else "3",
            ratio(change, base) if expected else "0.00",
            str(bars.cum_volume[index]),
            str(sum(book.ask_change)),
            str(sum(book.bid_change)),
            "0",
            "0",
            "0",
        ]
        if tr_id != "H0STASP0":
            mid = (book.asks[0] + book.bids[0]) // 2 if book.asks[0] and book.bids[0] else 0
            fields += [str(mid), "0", "0", str(mid), "0", "0"]
        return "^".join(fields)

    # -- fill notices ---------------------------------------------------------------

    def _on_exchange(self, event: str, order: MockOrder, fill: MockFill | None) -> None:
        """The exchange accepted, revised, cancelled or filled ``order``: notify its HTS ID."""
        account = self.exchange.account(order.account_no)
        app_key = account.app_key
        tr_id = _FILLS[self.server]
        hts_id = self.hts_id(app_key)
        targets = [
            s for s in self._sessions.values() if s.app_key == app_key and (tr_id, hts_id) in s.subs
        ]
        if not targets:
            return
        record = self._notice_record(hts_id, order, fill)
        for session in targets:
            self._push_data(session, tr_id, hts_id, [record], encrypt=True)

    def _notice_record(self, hts_id: str, order: MockOrder, fill: MockFill | None) -> str:
        ticker = self.market.tickers[order.ticker]
        if fill is not None:
            quantity, price, at, filled = fill.quantity, fill.price, fill.at, "2"
        else:
            quantity, price, at, filled = order.quantity, order.price, self.clock.now(), "1"
        revise_cancel = {"new": "0", "revise": "1", "cancel": "2"}[order.kind]
        fields = (
            hts_id,
            order.account_no.replace("-", ""),
            order.order_id,
            order.original_order_id or "",
            "02" if order.is_buy else "01",
            revise_cancel,
            "00" if order.order_type == "limit" else "01",
            "0",
            order.ticker,
            str(quantity),
            str(price),
            _hhmmss(at.astimezone(KST)),
            "0",
            filled,
            "2" if fill is not None or order.kind != "new" else "1",
            order.org_no,
            str(order.quantity),
            "모의투자",
            "0",
            {"KRX": "1", "NXT": "2", "SOR": "3"}.get(order.exchange, "1"),
            "N",
            "",
            "10",
            "",
            ticker.name_ko,
            str(order.price),
        )
        return "^".join(fields)

    def __repr__(self) -> str:
        return f"MockStream({self.open_sessions} sessions, ping every {self.ping_interval:g} s)"


def _printed(day: date, now: datetime) -> int:
    """How many of ``day``'s bars have printed by ``now`` (0 before it opens)."""
    if (now.date(), now.time()) < (day, OPEN):
        return 0
    return visible_bars(day, now)

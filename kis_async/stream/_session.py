"""KISStream: one real-time WebSocket session with subscriptions, fan-out and a supervisor.

The socket reader never blocks: it parses each frame and appends the events to the
bounded queue of every subscriber that wants them (drop oldest when full, counted).
A supervisor task owns the connection: it answers PINGPONG, notices a silent
connection, reconnects with capped exponential back-off and jitter, and restores
every subscription on the new session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import weakref
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

from kis_async._constants import REAL_BASE_URL, VIRTUAL_BASE_URL
from kis_async._errors import ConfigError, InvalidRequestError, KISError
from kis_async._redact import get_logger, redactor
from kis_async._validation import check_tickers

from ._columns import BOOK_TR_IDS, FILL_TR_IDS, TRADE_TR_IDS
from ._errors import (
    AlreadySubscribedError,
    AppKeyInUseError,
    InvalidTrIdError,
    StreamClosedError,
    StreamConnectionError,
    StreamError,
    StreamProtocolError,
    SubscriptionError,
    SubscriptionLimitError,
    SubscriptionTimeoutError,
)
from ._frames import ControlMessage, decrypt, parse_control, parse_data_frame, parse_records
from ._models import FillNotice, OrderBookUpdate, StreamEvent, TradeTick
from ._transport import ConnectionEnded, WebSocketConnection, WebSocketTransport

if TYPE_CHECKING:
    from kis_async._base_client import BaseKISClient

__all__ = [
    "DEFAULT_WS_URLS",
    "MAX_SUBSCRIPTIONS",
    "KISStream",
    "StreamStats",
    "StreamView",
    "Subscription",
]

logger = get_logger("kis_async.stream")
# websockets logs every frame at DEBUG, the subscribe message (approval key) included.
for _name in ("websockets", "websockets.client"):
    get_logger(_name)

#: KIS's WebSocket addresses (kis-api.md §1); the official samples use the /tryitout path.
DEFAULT_WS_URLS = {
    "real": "ws://ops.koreainvestment.com:21000/tryitout",
    "virtual": "ws://ops.koreainvestment.com:31000/tryitout",
}
#: KIS's REST hosts and the server each is (their WebSockets are on DEFAULT_WS_URLS).
_KIS_REST_HOSTS = {
    urlsplit(REAL_BASE_URL).hostname or "": "real",
    urlsplit(VIRTUAL_BASE_URL).hostname or "": "virtual",
}
#: Host name of the in-process mock's WebSocket; it is never resolved.
MOCK_WS_URL = "ws://mock-kis.invalid/tryitout"
#: Real-time registrations per session (kis-api.md §6, §8.5: 40 in the samples).
MAX_SUBSCRIPTIONS = 40
#: An approval key is valid 24 h; one is replaced this long before then (seconds).
_APPROVAL_LIFETIME = 24 * 3600.0
_APPROVAL_MARGIN = 600.0

Market = Literal["KRX", "NXT", "UN"]
E = TypeVar("E", bound=StreamEvent)

_REFUSALS: dict[str, type[SubscriptionError]] = {
    "OPSP0002": AlreadySubscribedError,
    "OPSP0008": SubscriptionLimitError,
    "OPSP8991": InvalidTrIdError,
    "OPSP8996": AppKeyInUseError,
}


@dataclass(frozen=True, slots=True)
class Subscription:
    """One registration: a tr_id and its key (a ticker, or the HTS ID for fill notices)."""

    tr_id: str
    tr_key: str = field(repr=False)
    kind: Literal["trades", "order_book", "fills"]

    def __repr__(self) -> str:
        shown = "<hts id>" if self.kind == "fills" else self.tr_key
        return f"Subscription({self.tr_id}, {shown})"


@dataclass
class StreamStats:
    """Counters of one :class:`KISStream`.

    ``connection_attempts`` counts every try to open a socket; ``reconnects`` the
    sessions opened again after a loss; ``dead_connections`` those closed because
    nothing (not even PINGPONG) came for ``idle_timeout`` seconds; ``events`` parsed
    events by type; ``dropped`` events a full subscriber queue pushed out (oldest
    first), total and by subscriber name; ``bad_frames`` frames that could not be read.
    """

    connection_attempts: int = 0
    connections: int = 0
    reconnects: int = 0
    disconnects: int = 0
    dead_connections: int = 0
    refusals: Counter[str] = field(default_factory=Counter)
    frames: int = 0
    events: Counter[str] = field(default_factory=Counter)
    bad_frames: int = 0
    pings: int = 0
    dropped: int = 0
    dropped_by_subscriber: Counter[str] = field(default_factory=Counter)
    dropped_unread: int = 0


class _ApprovalKeys:
    """Approval keys per client, reused for their 24 h, in memory only."""

    def __init__(self) -> None:
        self._keys: weakref.WeakKeyDictionary[Any, tuple[str, float]] = weakref.WeakKeyDictionary()
        self._locks: weakref.WeakKeyDictionary[Any, asyncio.Lock] = weakref.WeakKeyDictionary()

    async def get(self, client: BaseKISClient) -> str:
        lock = self._locks.setdefault(client, asyncio.Lock())
        async with lock:
            now = client.clock.monotonic()
            cached = self._keys.get(client)
            if cached is not None and now - cached[1] < _APPROVAL_LIFETIME - _APPROVAL_MARGIN:
                return cached[0]
            key = await client.get_approval_key()
            self._keys[client] = (key, now)
            return key

    def discard(self, client: BaseKISClient, key: str) -> None:
        cached = self._keys.get(client)
        if cached is not None and cached[0] == key:
            del self._keys[client]


_approval_keys = _ApprovalKeys()


class _Subscriber:
    """A bounded queue of events for one consumer: drop oldest when full."""

    __slots__ = (
        "accepts",
        "closed",
        "counted",
        "dropped",
        "maxlen",
        "name",
        "queue",
        "stream",
        "waiters",
    )

    def __init__(
        self,
        stream: KISStream,
        name: str,
        maxlen: int,
        accepts: Callable[[StreamEvent], bool] | None,
    ) -> None:
        self.stream = stream
        self.name = name
        self.maxlen = maxlen
        self.accepts = accepts
        self.queue: deque[StreamEvent] = deque()
        #: One future per task waiting in get(): several tasks may read one queue.
        self.waiters: list[asyncio.Future[None]] = []
        self.dropped = 0
        #: Whether someone reads this queue (the stream's own queue: once iterated).
        self.counted = True
        #: A closed view: its readers end once its queue is empty.
        self.closed = False

    def put(self, event: StreamEvent) -> None:
        queue = self.queue
        queue.append(event)
        if len(queue) > self.maxlen:
            queue.popleft()
            stats = self.stream.stats
            if self.counted:
                self.dropped += 1
                stats.dropped += 1
                stats.dropped_by_subscriber[self.name] += 1
            else:
                stats.dropped_unread += 1
        self.wake()

    def wake(self) -> None:
        waiters = self.waiters
        if waiters:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
            waiters.clear()

    async def get(self) -> StreamEvent:
        while not self.queue:
            self.stream._raise_if_over()
            if self.closed:
                raise StreamClosedError("this view was closed")
            waiter = asyncio.get_running_loop().create_future()
            self.waiters.append(waiter)
            try:
                await waiter
            finally:
                # A woken waiter was unlisted by wake(); a cancelled one still is.
                if waiter.cancelled() and waiter in self.waiters:
                    self.waiters.remove(waiter)
        return self.queue.popleft()


class StreamView(AsyncIterator[E]):
    """Events of one kind (and ticker) from a stream, in their own bounded queue.

    ``async for tick in stream.trades("005930")``; ``close()`` stops the view.
    """

    def __init__(self, subscriber: _Subscriber) -> None:
        self._subscriber = subscriber

    @property
    def dropped(self) -> int:
        """Events this view lost because its queue was full (oldest first)."""
        return self._subscriber.dropped

    def __aiter__(self) -> StreamView[E]:
        return self

    async def __anext__(self) -> E:
        try:
            event = await self._subscriber.get()
        except StreamClosedError:
            raise StopAsyncIteration from None
        return event  # type: ignore[return-value]

    def close(self) -> None:
        """Stop receiving events."""
        self._subscriber.stream._remove(self._subscriber)


class KISStream:
    """One KIS WebSocket session: subscribe, then ``async for event in stream``.

    Get one from ``client.stream()`` and use it as ``async with``. Events are
    :class:`TradeTick`, :class:`OrderBookUpdate` and :class:`FillNotice`. Options
    (seconds unless said): ``ack_timeout`` for each subscribe/unsubscribe answer;
    ``idle_timeout`` without any frame (PINGPONG included) before the connection is
    called dead; ``queue_size`` events per subscriber (the oldest are dropped beyond
    it); ``reconnect`` whether to reconnect at all; ``max_reconnect_attempts``
    consecutive failed tries before giving up (None: never); ``backoff_initial`` /
    ``backoff_max`` the capped exponential back-off; ``in_use_backoff`` the least
    wait after OPSP8996; ``stable_after`` how long a session must last before the
    back-off starts again from the beginning.
    """

    def __init__(
        self,
        client: BaseKISClient,
        *,
        transport: WebSocketTransport | None = None,
        url: str | None = None,
        ack_timeout: float = 10.0,
        open_timeout: float = 10.0,
        idle_timeout: float = 180.0,
        queue_size: int = 10_000,
        reconnect: bool = True,
        max_reconnect_attempts: int | None = None,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        in_use_backoff: float = 10.0,
        stable_after: float = 10.0,
        max_subscriptions: int = MAX_SUBSCRIPTIONS,
        random_seed: int | None = None,
    ) -> None:
        if queue_size < 1:
            raise InvalidRequestError(f"queue_size must be at least 1, got {queue_size}")
        if idle_timeout <= 0 or ack_timeout <= 0:
            raise InvalidRequestError("idle_timeout and ack_timeout must be positive seconds")
        self._client = client
        self._transport = transport if transport is not None else _default_transport(client)
        self.url = url or _default_url(client)
        self.ack_timeout = ack_timeout
        self.open_timeout = open_timeout
        self.idle_timeout = idle_timeout
        self.queue_size = queue_size
        self.reconnect = reconnect
        self.max_reconnect_attempts = max_reconnect_attempts
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.in_use_backoff = in_use_backoff
        self.stable_after = stable_after
        self.max_subscriptions = max_subscriptions
        self.stats = StreamStats()
        self._rng = random.Random(random_seed)
        self._subs: dict[tuple[str, str], Subscription] = {}
        self._keys: dict[str, tuple[str, str]] = {}  # tr_id -> (key, iv) of its last ack
        self._pending: dict[tuple[str, str], asyncio.Future[ControlMessage]] = {}
        #: Registrations asked for and not yet answered (they count against the cap).
        self._reserved: set[tuple[str, str]] = set()
        self._conn: WebSocketConnection | None = None
        self._connected = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self._closed = False
        self._opened = False
        self._approval: str | None = None
        self._send_lock = asyncio.Lock()
        self._last_frame = 0.0
        self._main = _Subscriber(self, "stream", queue_size, None)
        self._main.counted = False
        self._subscribers: list[_Subscriber] = [self._main]
        self._views_by_ticker: dict[tuple[type[Any], str], list[_Subscriber]] = {}
        self._views_by_type: dict[type[Any], list[_Subscriber]] = {}

    # -- lifecycle ------------------------------------------------------------------

    async def __aenter__(self) -> KISStream:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def open(self) -> None:
        """Open the session (the first connection is made here, so errors show at once)."""
        if self._closed:
            raise StreamClosedError("this stream was closed; open a new one")
        if self._opened:
            return
        self._opened = True
        conn = await self._connect()
        self._supervisor = asyncio.get_running_loop().create_task(
            self._supervise(conn), name="kis-stream-supervisor"
        )

    async def aclose(self) -> None:
        """Close the socket and stop every consumer (they end their ``async for``)."""
        if self._closed:
            return
        self._closed = True
        supervisor, self._supervisor = self._supervisor, None
        cancelled = False
        if supervisor is not None and not supervisor.done():
            supervisor.cancel()
            # Shielded wait: a caller cancelled while closing still closes the socket,
            # and is cancelled once it has (its cancel is not swallowed).
            try:
                await asyncio.shield(supervisor)
            except asyncio.CancelledError:
                # The supervisor ends by our cancel; a supervisor still running means
                # the cancel was this caller's.
                cancelled = not supervisor.done()
            except Exception:  # noqa: S110 - it logged its own failure
                pass
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()
        self._fail_pending(StreamClosedError("the stream was closed"))
        for subscriber in self._subscribers:
            subscriber.wake()
        if self._approval is not None:
            redactor.unregister(self._approval)
            self._approval = None
        if cancelled:
            raise asyncio.CancelledError

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

    @property
    def connected(self) -> bool:
        """Whether a session is up and its subscriptions restored."""
        return self._connected.is_set()

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        """The registrations this stream holds (and restores after a reconnect)."""
        return tuple(self._subs.values())

    def _raise_if_over(self) -> None:
        if self._failure is not None:
            raise self._failure
        if self._closed:
            raise StreamClosedError("the stream is closed")

    # -- consuming ------------------------------------------------------------------

    def __aiter__(self) -> KISStream:
        self._main.counted = True
        return self

    async def __anext__(self) -> StreamEvent:
        try:
            return await self._main.get()
        except StreamClosedError:
            raise StopAsyncIteration from None

    def trades(
        self, ticker: str | None = None, *, queue_size: int | None = None
    ) -> StreamView[TradeTick]:
        """A view of the trade ticks (of ``ticker`` only, if given), with its own queue."""
        return self._view(TradeTick, ticker, queue_size)

    def order_books(
        self, ticker: str | None = None, *, queue_size: int | None = None
    ) -> StreamView[OrderBookUpdate]:
        """A view of the order-book updates (of ``ticker`` only, if given)."""
        return self._view(OrderBookUpdate, ticker, queue_size)

    def fills(self, *, queue_size: int | None = None) -> StreamView[FillNotice]:
        """A view of the fill and order notices."""
        return self._view(FillNotice, None, queue_size)

    def _view(self, kind: type[E], ticker: str | None, queue_size: int | None) -> StreamView[E]:
        if self._closed:
            raise StreamClosedError("the stream is closed")
        code = check_tickers([ticker])[0] if ticker is not None else None
        name = f"{kind.__name__}:{code or '*'}#{len(self._subscribers)}"
        subscriber = _Subscriber(self, name, queue_size or self.queue_size, None)
        self._subscribers.append(subscriber)
        if code is None:
            self._views_by_type.setdefault(kind, []).append(subscriber)
        else:
            self._views_by_ticker.setdefault((kind, code), []).append(subscriber)
        return StreamView(subscriber)

    def _remove(self, subscriber: _Subscriber) -> None:
        for table in (self._views_by_type, self._views_by_ticker):
            for subscribers in table.values():
                if subscriber in subscribers:
                    subscribers.remove(subscriber)
        if subscriber in self._subscribers and subscriber is not self._main:
            self._subscribers.remove(subscriber)
            subscriber.closed = True
            subscriber.wake()  # a task reading the view ends its async for

    def _dispatch(self, events: Sequence[StreamEvent]) -> None:
        by_type = self._views_by_type
        by_ticker = self._views_by_ticker
        counts = self.stats.events
        main = self._main
        for event in events:
            kind = type(event)
            counts[kind.__name__] += 1
            main.put(event)
            if by_type:
                for subscriber in by_type.get(kind, ()):
                    subscriber.put(event)
            if by_ticker:
                for subscriber in by_ticker.get((kind, event.ticker), ()):
                    subscriber.put(event)

    # -- subscribing ----------------------------------------------------------------

    async def subscribe_trades(
        self, tickers: Iterable[str], *, market: Market = "KRX"
    ) -> tuple[Subscription, ...]:
        """Trade ticks of ``tickers`` (H0STCNT0; ``market`` "NXT" H0NXCNT0, "UN" H0UNCNT0)."""
        tr_id = _pick(TRADE_TR_IDS, market)
        return await self._subscribe_all(
            [Subscription(tr_id, code, "trades") for code in check_tickers(tickers)]
        )

    async def subscribe_order_book(
        self, tickers: Iterable[str], *, market: Market = "KRX"
    ) -> tuple[Subscription, ...]:
        """10-level order books of ``tickers`` (H0STASP0; "NXT" H0NXASP0, "UN" H0UNASP0)."""
        tr_id = _pick(BOOK_TR_IDS, market)
        return await self._subscribe_all(
            [Subscription(tr_id, code, "order_book") for code in check_tickers(tickers)]
        )

    async def subscribe_fills(self) -> Subscription:
        """Order and fill notices of this HTS ID (H0STCNI0 real, H0STCNI9 virtual)."""
        hts = self._client.settings.hts_id
        hts_id = hts.get_secret_value().strip() if hts is not None else ""
        if not hts_id and self._client.mock is not None:
            from kis_async.mock import DEMO_HTS_ID

            hts_id = DEMO_HTS_ID
        if not hts_id:
            raise ConfigError(
                "fill notices are keyed by your HTS ID (the KIS login ID): set KIS_HTS_ID"
            )
        redactor.register(hts_id)
        tr_id = FILL_TR_IDS["virtual" if self._client.settings.is_virtual else "real"]
        (subscription,) = await self._subscribe_all([Subscription(tr_id, hts_id, "fills")])
        return subscription

    async def unsubscribe(self, *subscriptions: Subscription | Iterable[Subscription]) -> None:
        """End these registrations (as returned by the ``subscribe_*`` calls)."""
        flat: list[Subscription] = []
        for item in subscriptions:
            flat.extend([item] if isinstance(item, Subscription) else item)
        await self._ensure_connected()
        results = await asyncio.gather(
            *(self._request(sub, "2") for sub in flat), return_exceptions=True
        )
        for sub in flat:
            self._subs.pop((sub.tr_id, sub.tr_key), None)
        _raise_first(results)

    async def _subscribe_all(self, wanted: list[Subscription]) -> tuple[Subscription, ...]:
        if not wanted:
            raise InvalidRequestError("give at least one ticker")
        # Registrations still waiting for their ack count too: two subscribes running
        # at once must not pass the cap together. Checked and reserved with no await
        # in between.
        held = self._subs.keys() | self._reserved
        new = {(s.tr_id, s.tr_key) for s in wanted} - held
        if len(held) + len(new) > self.max_subscriptions:
            raise SubscriptionLimitError(
                f"a session holds at most {self.max_subscriptions} registrations: "
                f"{len(held)} held, {len(new)} more asked for"
            )
        self._reserved |= new
        try:
            await self._ensure_connected()
            results = await asyncio.gather(
                *(self._request(sub, "1") for sub in wanted), return_exceptions=True
            )
            for sub, result in zip(wanted, results, strict=True):
                if isinstance(result, (ControlMessage, AlreadySubscribedError)):
                    self._subs[(sub.tr_id, sub.tr_key)] = sub
        finally:
            self._reserved -= new
        _raise_first(results)
        return tuple(wanted)

    async def _ensure_connected(self) -> None:
        self._raise_if_over()
        if not self._opened:
            raise StreamClosedError("open the stream first: async with client.stream() as s")
        if self._connected.is_set():
            return
        try:
            async with asyncio.timeout(self.ack_timeout):
                while not self._connected.is_set():
                    self._raise_if_over()
                    waiter = asyncio.ensure_future(self._connected.wait())
                    try:
                        await asyncio.wait({waiter}, timeout=0.5)
                    finally:
                        waiter.cancel()
        except TimeoutError:
            raise StreamConnectionError(
                f"no session within {self.ack_timeout:g} s (reconnecting)"
            ) from None

    async def _request(
        self, sub: Subscription, tr_type: str, conn: WebSocketConnection | None = None
    ) -> ControlMessage:
        """Send one subscribe ("1") or unsubscribe ("2") and wait for its answer."""
        conn = conn if conn is not None else self._conn
        if conn is None:
            raise StreamConnectionError("not connected")
        key = (sub.tr_id, sub.tr_key)
        if key in self._pending:
            raise SubscriptionError(f"a request for {sub!r} is already waiting for its answer")
        future: asyncio.Future[ControlMessage] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            approval = self._approval or ""
            message = json.dumps(
                {
                    "header": {
                        "approval_key": approval,
                        "custtype": "P",
                        "tr_type": tr_type,
                        "content-type": "utf-8",
                    },
                    "body": {"input": {"tr_id": sub.tr_id, "tr_key": sub.tr_key}},
                }
            )
            async with self._send_lock:
                await conn.send(message)
            try:
                async with asyncio.timeout(self.ack_timeout):
                    ack = await future
            except TimeoutError:
                raise SubscriptionTimeoutError(
                    f"no answer to {'subscribe' if tr_type == '1' else 'unsubscribe'} "
                    f"{sub!r} within {self.ack_timeout:g} s",
                    tr_id=sub.tr_id,
                ) from None
        except ConnectionEnded as exc:
            raise StreamConnectionError(f"the connection closed while sending: {exc}") from None
        finally:
            if self._pending.get(key) is future:
                del self._pending[key]
        if not ack.ok:
            raise _refusal(ack, sub)
        return ack

    def _fail_pending(self, exc: BaseException) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(exc)
                # Retrieved by its waiter, unless the waiter is gone: do not warn then.
                future.exception()

    # -- connection and supervisor ----------------------------------------------------

    async def _connect(self) -> WebSocketConnection:
        self.stats.connection_attempts += 1
        if self._approval is None:
            try:
                self._approval = await _approval_keys.get(self._client)
            except KISError as exc:
                raise StreamConnectionError(f"no approval key: {exc}") from exc
            redactor.register(self._approval)
        try:
            conn = await self._transport.connect(self.url, open_timeout=self.open_timeout)
        except (OSError, TimeoutError, ConnectionEnded) as exc:
            raise StreamConnectionError(
                f"could not open {self.url}: {type(exc).__name__}: {exc}",
                attempts=self.stats.connection_attempts,
            ) from None
        except Exception as exc:
            if isinstance(exc, KISError):
                raise
            # websockets raises its own InvalidHandshake/InvalidURI family.
            raise StreamConnectionError(
                f"could not open {self.url}: {type(exc).__name__}: {exc}",
                attempts=self.stats.connection_attempts,
            ) from None
        self.stats.connections += 1
        self._last_frame = time.monotonic()
        return conn

    async def _supervise(self, first: WebSocketConnection) -> None:
        try:
            await self._run_sessions(first)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must not leave consumers waiting forever
            logger.exception("the stream supervisor failed")
            self._give_up(exc, 0)

    async def _run_sessions(self, first: WebSocketConnection) -> None:
        conn: WebSocketConnection | None = first
        failures = 0  # consecutive sessions that did not last ``stable_after``
        last_error: BaseException | None = None
        restoring = False
        while not self._closed:
            if conn is not None:
                started = time.monotonic()
                in_use = False
                try:
                    self._conn = conn
                    # A new session hands out new keys: never decrypt with the last one's.
                    self._keys.clear()
                    reader = asyncio.get_running_loop().create_task(self._read(conn))
                    watchdog = asyncio.get_running_loop().create_task(self._watch(conn))
                    try:
                        if restoring:
                            await self._restore(conn)
                            self.stats.reconnects += 1
                        self._connected.set()
                        await asyncio.wait({reader}, return_when=asyncio.FIRST_COMPLETED)
                        last_error = reader.exception()
                        if last_error is not None and not isinstance(last_error, StreamError):
                            logger.error("the stream reader failed", exc_info=last_error)
                    finally:
                        for task in (reader, watchdog):
                            task.cancel()
                        await asyncio.gather(reader, watchdog, return_exceptions=True)
                except AppKeyInUseError as exc:
                    in_use, last_error = True, exc
                except StreamError as exc:
                    last_error = exc
                finally:
                    self._connected.clear()
                    self._conn = None
                    self._fail_pending(StreamConnectionError("the connection was lost"))
                    with contextlib.suppress(Exception):
                        await conn.close()
                    conn = None
                if self._closed:
                    return
                self.stats.disconnects += 1
                if isinstance(last_error, AppKeyInUseError):
                    in_use = True
                # A handshake followed at once by a refusal is a failure, not a success:
                # only a session that lasted resets the back-off.
                if time.monotonic() - started >= self.stable_after and not in_use:
                    failures = 0
            else:
                in_use = isinstance(last_error, AppKeyInUseError)
            if not self.reconnect:
                self._give_up(last_error, 0)
                return
            failures += 1
            if self.max_reconnect_attempts is not None and failures > self.max_reconnect_attempts:
                self._give_up(last_error, failures)
                return
            await asyncio.sleep(self._backoff(failures, in_use))
            try:
                conn = await self._connect()
                restoring = True
            except StreamConnectionError as exc:
                last_error = exc
                conn = None
            except ConfigError as exc:
                self._give_up(exc, failures)
                return

    def _backoff(self, failures: int, in_use: bool) -> float:
        delay = min(self.backoff_max, self.backoff_initial * 2.0 ** (failures - 1))
        if in_use:
            # Another session holds the app key; it rarely lets go within seconds.
            delay = max(delay, self.in_use_backoff)
        # Equal jitter: never less than half the delay, so there is no tight loop.
        return delay / 2 + self._rng.uniform(0, delay / 2)

    def _give_up(self, error: BaseException | None, attempts: int) -> None:
        if isinstance(error, AppKeyInUseError):
            failure: StreamError = AppKeyInUseError(
                f"another session uses this app key (OPSP8996); gave up after {attempts} tries",
                attempts=attempts,
                msg_cd="OPSP8996",
                msg1=error.msg1,
            )
        else:
            what = (
                f"the stream stopped reconnecting after {attempts} tries"
                if attempts
                else "the connection was lost and the stream does not reconnect"
            )
            failure = StreamConnectionError(
                what + (f": {error}" if error is not None else ""), attempts=attempts
            )
        self._failure = failure
        self._fail_pending(failure)
        for subscriber in self._subscribers:
            subscriber.wake()

    async def _restore(self, conn: WebSocketConnection) -> None:
        """Register every subscription again on a new session."""
        subs = list(self._subs.values())
        if not subs:
            return
        results = await asyncio.gather(
            *(self._request(sub, "1", conn) for sub in subs), return_exceptions=True
        )
        for result in results:
            if isinstance(result, AppKeyInUseError):
                raise result
        for result in results:
            if isinstance(result, AlreadySubscribedError):
                continue
            if isinstance(result, BaseException):
                raise result if isinstance(result, StreamError) else StreamError(str(result))

    async def _watch(self, conn: WebSocketConnection) -> None:
        """Close a connection on which nothing arrived for ``idle_timeout`` seconds."""
        while True:
            silent = time.monotonic() - self._last_frame
            if silent >= self.idle_timeout:
                self.stats.dead_connections += 1
                logger.warning("no frame for %.1f s (not even PINGPONG): reconnecting", silent)
                with contextlib.suppress(Exception):
                    await conn.close()
                return
            await asyncio.sleep(min(self.idle_timeout - silent, self.idle_timeout / 4) + 0.001)

    async def _read(self, conn: WebSocketConnection) -> None:
        """Read frames until the connection ends; never blocks on a consumer."""
        stats = self.stats
        while True:
            try:
                text = await conn.recv()
            except ConnectionEnded:
                # Whoever waits for an ack on this connection learns now, not at its timeout.
                self._fail_pending(StreamConnectionError("the connection closed"))
                return
            self._last_frame = time.monotonic()
            stats.frames += 1
            if not stats.frames & 31:
                # A buffered socket returns frames without ever suspending; let the
                # consumers run now and then, so events do not pile up in the queues.
                await asyncio.sleep(0)
            first = text[:1]
            try:
                if first == "0" or first == "1":
                    self._on_data(text)
                elif first == "{":
                    await self._on_control(conn, text)
                else:
                    raise StreamProtocolError(f"unknown frame {text[:20]!r}")
            except AppKeyInUseError:
                raise
            except StreamProtocolError as exc:
                stats.bad_frames += 1
                logger.warning("skipped an unreadable frame: %s", exc)

    def _on_data(self, text: str) -> None:
        frame = parse_data_frame(text)
        payload = frame.payload
        if frame.encrypted:
            keys = self._keys.get(frame.tr_id)
            if keys is None:
                raise StreamProtocolError(f"encrypted {frame.tr_id} frame before its ack's key")
            payload = decrypt(payload, *keys)
        self._dispatch(parse_records(frame.tr_id, frame.count, payload))

    async def _on_control(self, conn: WebSocketConnection, text: str) -> None:
        message = parse_control(text)
        if message.is_pingpong:
            self.stats.pings += 1
            # As the official samples do: a pong control frame carrying the text.
            with contextlib.suppress(ConnectionEnded):
                await conn.pong(text)
            return
        if not message.ok:
            self.stats.refusals[message.msg_cd or message.rt_cd] += 1
        elif message.key and message.iv:
            # Kept here, by the reader: a notice may follow its ack in the same read,
            # before the subscriber waiting for the ack runs again.
            self._keys[message.tr_id] = (message.key, message.iv)
        future = self._pending.get((message.tr_id, message.tr_key))
        if future is None and not message.tr_key:
            # Some refusals do not echo the key: give it to the oldest request waiting.
            # One that names a key nobody waits for is a late answer (its request timed
            # out), never another request's.
            future = next(
                (f for (tr_id, _), f in self._pending.items() if tr_id == message.tr_id),
                None,
            ) or next(iter(self._pending.values()), None)
        if future is not None and not future.done():
            future.set_result(message)
        elif message.msg_cd == "OPSP8996":
            raise AppKeyInUseError(
                "another session uses this app key (OPSP8996)", msg_cd="OPSP8996", msg1=message.msg1
            )
        if message.rt_cd == "9" and self._approval is not None:
            # An approval key the server no longer knows: the next connection gets a new one.
            _approval_keys.discard(self._client, self._approval)
            self._approval = None

    def __repr__(self) -> str:
        state = "closed" if self._closed else "connected" if self.connected else "connecting"
        return f"KISStream({self.url!r}, {state}, {len(self._subs)} subscriptions)"


def _pick(table: dict[str, str], market: str) -> str:
    try:
        return table[market]
    except KeyError:
        raise InvalidRequestError(
            f"market must be one of {', '.join(table)}, got {market!r}"
        ) from None


def _refusal(ack: ControlMessage, sub: Subscription) -> SubscriptionError:
    kind = _REFUSALS.get(ack.msg_cd, SubscriptionError)
    shown = sub.tr_key if sub.kind != "fills" else "<hts id>"
    return kind(
        f"KIS refused {sub.tr_id} {shown}: {ack.msg_cd} {ack.msg1}".strip(),
        msg_cd=ack.msg_cd,
        msg1=ack.msg1,
        tr_id=sub.tr_id,
        tr_key=shown,
    )


def _raise_first(results: Sequence[object]) -> None:
    for result in results:
        if isinstance(result, BaseException):
            raise result


def _default_transport(client: BaseKISClient) -> WebSocketTransport:
    mock = client.mock
    if mock is not None:
        transport: WebSocketTransport = mock.ws_transport
        return transport
    injected = getattr(client, "_ws_transport", None)
    if injected is not None:
        return injected  # type: ignore[no-any-return]
    from ._transport import WebsocketsTransport

    return WebsocketsTransport()


def _default_url(client: BaseKISClient) -> str:
    settings = client.settings
    if settings.ws_url:
        return settings.ws_url
    if settings.env in DEFAULT_WS_URLS and not settings.base_url:
        return DEFAULT_WS_URLS[settings.env]
    # KIS's own REST address written out (KIS_BASE_URL, KIS_API_BASE_URL_REAL) is still
    # KIS: its WebSocket is on another host, not on the REST address.
    server = _KIS_REST_HOSTS.get(settings.base_host)
    if server is not None:
        return DEFAULT_WS_URLS[server]
    if settings.base_url:
        # A server of our own (a mock on a port): its WebSocket sits on the same address.
        parts = urlsplit(settings.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, parts.netloc, "/tryitout", "", ""))
    return MOCK_WS_URL

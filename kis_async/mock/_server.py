"""MockKIS: the mock KIS server, wiring clock, market, auth, limits, faults, app and transport.

The request pipeline (docs/mock-spec.md, "Requests, in the order the mock checks them")
lives in :meth:`MockKIS.handle`; endpoints only compute answers.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Mapping
from datetime import date
from email.utils import formatdate
from fractions import Fraction
from typing import get_args

from kis_async.market import FeeSchedule

from ._accounts import MockAccount
from ._asgi import ASGIApp, Request, Response, Router
from ._calendar import Calendar
from ._clock import MockClock
from ._exchange import Exchange, normalize_account_no
from ._faults import ADMITTED, AFTER_PROCESSING, BEFORE_PROCESSING, FaultKind, FaultPlan
from ._market import Market
from ._oauth import OAuth
from ._orders import MockOrder
from ._quotations import Quotations
from ._ratelimit import SlidingWindow
from ._routes import Call, Endpoint, Server
from ._stats import MockStats
from ._stream import DEMO_HTS_ID, MockStream
from ._trading import Trading
from ._transport import MockTransport
from ._universe import UNIVERSE
from ._wire import (
    JSON_CONTENT_TYPE,
    Reply,
    Success,
    WireError,
    dumps,
    dumps_object,
    gateway,
    invalid_input,
)
from ._ws_transport import MockWebSocketTransport

__all__ = [
    "DEFAULT_CASH",
    "DEFAULT_RATE_LIMITS",
    "DEMO_ACCOUNT_NO",
    "DEMO_APP_KEY",
    "DEMO_APP_SECRET",
    "DEMO_HTS_ID",
    "STATS_PATH",
    "MockKIS",
]

#: Public demo credentials of the mock server. Not secrets: they open nothing but a mock.
DEMO_APP_KEY = "PSMOCKKIS0DEMO0APP0KEY0NOT0A0SECRET0"
DEMO_APP_SECRET = "MockKISDemoAppSecretPublicNotASecret" * 5
DEMO_ACCOUNT_NO = "50000000-01"
#: KRW in a new account unless told otherwise.
DEFAULT_CASH = 100_000_000

#: Requests per second per app key when none is given (kis-api.md §6).
DEFAULT_RATE_LIMITS: Mapping[Server, float] = {"real": 18.0, "virtual": 1.0}

#: The mock's own endpoint: its counters as JSON (not counted, never faulted).
STATS_PATH = "/__mock/stats"


def _gateway_page(status: str) -> bytes:
    return (
        f"<html>\r\n<head><title>{status}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status}</h1></center>\r\n</body>\r\n</html>\r\n"
    ).encode("ascii")


_GATEWAY_HTML = _gateway_page("502 Bad Gateway")
_GATEWAY_TIMEOUT_HTML = _gateway_page("504 Gateway Time-out")
_HTML_HEADER = ("Content-Type", "text/html; charset=utf-8")
# Capitalised as KIS sends them: some clients (the official samples) turn every
# lowercase response header name into a namedtuple field, which "content-type" cannot be.
_JSON_HEADER = ("Content-Type", JSON_CONTENT_TYPE)


class MockKIS:
    """A deterministic KIS REST server over a simulated KRX market.

    Same ``seed`` and same clock time give the same prices, order books and charts.
    ``server`` picks which KIS server is emulated (tr_ids, default rate limit);
    ``rate_limit`` is requests per second per app key (None: 18 real / 1 virtual;
    ``math.inf``: none); ``latency`` seconds are added to every answer, give or take a
    seeded ``latency_jitter`` seconds; ``token_issue_interval`` is the seconds between
    token issuances per app key. With ``accept_any_app_key`` any well-formed key/secret
    pair (36 and 180 characters) is an app; its account opens, with ``initial_cash``,
    under the account number its first trading request names.

    Every app owns one account (the demo app :data:`DEMO_ACCOUNT_NO`) that starts with
    ``initial_cash`` KRW; orders trade against the simulated market (:meth:`account`,
    :attr:`orders`).

    Use :attr:`transport` with ``httpx.AsyncClient`` in-process, or serve :attr:`app`
    (``python -m kis_async.mock``).
    """

    DEMO_APP_KEY = DEMO_APP_KEY
    DEMO_APP_SECRET = DEMO_APP_SECRET
    DEMO_ACCOUNT_NO = DEMO_ACCOUNT_NO
    DEMO_HTS_ID = DEMO_HTS_ID

    def __init__(
        self,
        seed: int = 0,
        *,
        server: Server = "real",
        rate_limit: float | None = None,
        latency: float = 0.0,
        latency_jitter: float = 0.0,
        faults: FaultPlan | None = None,
        clock: MockClock | None = None,
        apps: Mapping[str, str] | None = None,
        token_issue_interval: float = 60.0,
        initial_cash: int = DEFAULT_CASH,
        accept_any_app_key: bool = False,
    ) -> None:
        if server not in get_args(Server):
            raise ValueError(f"server must be 'real' or 'virtual', got {server!r}")
        if latency < 0:
            raise ValueError(f"latency must not be negative, got {latency}")
        if not 0 <= latency_jitter <= latency:
            raise ValueError(f"latency_jitter must be within 0..latency, got {latency_jitter}")
        if isinstance(initial_cash, bool) or not isinstance(initial_cash, int) or initial_cash < 0:
            raise ValueError(f"initial_cash must be whole KRW >= 0, got {initial_cash!r}")
        self.seed = seed
        self.server: Server = server
        self.rate_limit = DEFAULT_RATE_LIMITS[server] if rate_limit is None else rate_limit
        self.latency = latency
        self.latency_jitter = latency_jitter
        self.accept_any_app_key = accept_any_app_key
        self._jitter = random.Random(f"{seed}:latency")
        self.faults = faults if faults is not None else FaultPlan()
        self.clock = clock if clock is not None else MockClock()
        self.stats = MockStats()
        calendar = Calendar()
        # History is anchored on the session shown at construction, so it stays put
        # while the clock moves on.
        self.market = Market(seed, UNIVERSE, calendar, calendar.session_date(self.clock.now()))
        self.oauth = OAuth(
            seed,
            self.clock,
            {DEMO_APP_KEY: DEMO_APP_SECRET} if apps is None else apps,
            token_issue_interval,
            self.stats,
            accept_any_app_key=accept_any_app_key,
        )
        self.initial_cash = initial_cash
        self.exchange = Exchange(seed, server, self.market, self.clock, FeeSchedule())
        for app_key in {DEMO_APP_KEY: ""} if apps is None else apps:
            self.exchange.open_account(
                app_key, DEMO_ACCOUNT_NO if app_key == DEMO_APP_KEY else None, initial_cash
            )
        self._window = SlidingWindow(self.rate_limit)
        self._gt_uids = random.Random(f"{seed}:gt_uid")
        self._date_second = -1
        self._date_value = ""
        self._router: Router[Endpoint] = Router()
        for endpoint in self._endpoints():
            self._router.add(endpoint.method, endpoint.path, endpoint)
        #: The real-time WebSocket feed (same market, clock and exchange as REST).
        self.stream = MockStream(
            seed=seed,
            server=server,
            market=self.market,
            exchange=self.exchange,
            oauth=self.oauth,
        )
        self.stream.hts_ids[DEMO_APP_KEY] = DEMO_HTS_ID
        self.app = ASGIApp(self._serve, websocket=self.stream)
        self.transport = MockTransport(self.app, self.admit)
        #: The streaming counterpart of ``transport``: WebSocket connections in memory.
        self.ws_transport = MockWebSocketTransport(self.app)

    def _endpoints(self) -> list[Endpoint]:
        oauth = self.oauth
        return [
            Endpoint("POST", "/oauth2/tokenP", lambda c: oauth.issue(c.request.body), "oauth"),
            Endpoint("POST", "/oauth2/revokeP", lambda c: oauth.revoke(c.request.body), "oauth"),
            Endpoint("POST", "/oauth2/Approval", lambda c: oauth.approve(c.request.body), "oauth"),
            Endpoint("POST", "/uapi/hashkey", lambda c: oauth.hashkey(c.request.body), "app"),
            *Quotations(self.market).endpoints(),
            *Trading(
                self.exchange,
                history_lag=lambda: self.faults.history_lag,
                open_account=self._open_on_first_use if self.accept_any_app_key else None,
            ).endpoints(),
        ]

    # -- public helpers -------------------------------------------------------------

    @property
    def tickers(self) -> tuple[str, ...]:
        """The codes of the universe, in a fixed order."""
        return tuple(t.code for t in UNIVERSE)

    def add_app(
        self,
        app_key: str,
        app_secret: str,
        *,
        account_no: str | None = None,
        cash: int | None = None,
    ) -> MockAccount:
        """Let another app (key and secret) use the server; returns the account it owns.

        A new app gets ``account_no`` ("12345678-01"; default the next free number)
        with ``cash`` KRW (default ``initial_cash``). Re-keying a known app keeps its
        account (``account_no``, if given, must be that one; ``cash`` sets its deposit).
        """
        if not app_key or not app_secret:
            raise ValueError("app key and app secret must not be empty")
        account = self.exchange.account_for(app_key)
        if (
            account is not None
            and account_no is not None
            and normalize_account_no(account_no) != account.account_no
        ):
            raise ValueError(f"this app already owns account {account.account_no}")
        if account is None:
            starting = self.initial_cash if cash is None else cash
            account = self.exchange.open_account(app_key, account_no, starting)
        elif cash is not None:
            account.set_cash(cash)
        self.oauth.add_app(app_key, app_secret)
        return account

    def _open_on_first_use(self, app_key: str, account_no: str) -> MockAccount | None:
        """Open an accepted-on-sight app's account under the number it first names."""
        if self.exchange.account_for(app_key) is not None:
            return None
        try:
            normalized = normalize_account_no(account_no)
            self.exchange.account(normalized)
        except ValueError:
            return None  # not an account number
        except KeyError:
            return self.exchange.open_account(app_key, normalized, self.initial_cash)
        return None  # the number belongs to another app

    def account(self, account_no: str) -> MockAccount:
        """The account ``account_no`` ("12345678-01") at ``clock.now()``; KeyError if none."""
        account = self.exchange.account(account_no)
        self.exchange.catch_up(self.clock.now())
        return account

    @property
    def orders(self) -> list[MockOrder]:
        """Every order the exchange holds, all accounts, in acceptance order (caught up)."""
        self.exchange.catch_up(self.clock.now())
        return list(self.exchange.orders)

    async def drain(self) -> None:
        """Wait until the in-process server has finished every request it is working on
        (also those whose caller was cancelled or timed out)."""
        await self.transport.drain()

    def expire_tokens(self) -> None:
        """Expire every token issued so far: each now answers EGW00123."""
        self.oauth.expire_all()

    def adjust_history(
        self, ticker: str, ratio: Fraction | int | str, *, effective: date | None = None
    ) -> None:
        """Adjust ``ticker``'s past chart bars, as a split or dividend adjustment would.

        Every daily bar before ``effective`` (default: the session shown now) is served
        with its prices times ``ratio`` and its volume divided by it: ``Fraction(1, 2)``
        (or ``"1/2"``) is a two-for-one split. Quotes and trading are unchanged; charts
        change from the next request on. For tests of code that must notice a changed
        history (incremental backfills).
        """
        day = effective if effective is not None else self.market.session(self.clock.now())
        self.market.adjust(ticker, day, Fraction(ratio))

    def current_price(self, ticker: str) -> int:
        """The simulated last price of ``ticker`` (KRW) at ``clock.now()``."""
        now = self.clock.now()
        if not self.market.is_listed(ticker, self.market.session(now)):
            raise KeyError(f"{ticker!r} is not a listed ticker of the mock market")
        return self.market.price(ticker, now)

    # -- the pipeline ---------------------------------------------------------------

    def admit(self, method: str, path: str, tr_id: str = "") -> FaultKind | None:
        """Count one arriving request and decide its fault (exactly once per request).

        The mock's own ``/__mock/`` endpoints are neither counted nor faulted.
        """
        if path.startswith("/__mock/"):
            return None
        self.stats.requests[path] += 1
        if tr_id:
            self.stats.by_tr_id[tr_id] += 1
        fault = self.faults.draw(method, path)
        if fault is not None:
            self.stats.faults[fault] += 1
        return fault

    async def _serve(self, request: Request) -> Response:
        if request.path.startswith("/__mock/"):
            return self._own(request)
        admitted = ADMITTED.get()
        if admitted is not None:
            # In-process: the transport admitted it and handles transport faults.
            return await self.handle(request, admitted[0])
        # Served on a port: admit here; transport faults become a dropped connection.
        fault = self.admit(request.method, request.path, request.headers.get("tr_id", ""))
        if fault in BEFORE_PROCESSING:
            return Response(200, abort=True)
        response = await self.handle(request, fault)
        if fault in AFTER_PROCESSING:
            return Response(response.status, abort=True)
        return response

    async def handle(self, request: Request, fault: FaultKind | None = None) -> Response:
        """Answer one admitted request, applying ``fault`` (one of the server-side kinds).

        Half of ``latency`` passes before the request is processed and half after, as on
        a real round trip; a ``slow`` answer is late after the work is done. So a
        request can take effect (an order recorded) while its answer is still on its way.
        """
        latency = self.latency
        if self.latency_jitter > 0:
            latency += self._jitter.uniform(-self.latency_jitter, self.latency_jitter)
        if latency > 0:
            await asyncio.sleep(latency / 2)
        response = self._respond(request, fault)
        if fault == "bad_gateway_after":
            response = Response(502, _GATEWAY_HTML, (_HTML_HEADER, self._date()))
        elif fault == "gateway_timeout_after":
            response = Response(504, _GATEWAY_TIMEOUT_HTML, (_HTML_HEADER, self._date()))
        delay = latency / 2 + (self.faults.slow_seconds if fault == "slow" else 0.0)
        if delay > 0:
            await asyncio.sleep(delay)
        return response

    def _own(self, request: Request) -> Response:
        """The mock's own endpoints: ``GET /__mock/stats``."""
        if request.method == "GET" and request.path == STATS_PATH:
            body = {
                "seed": self.seed,
                "server": self.server,
                "rate_limit": None if math.isinf(self.rate_limit) else self.rate_limit,
                "orders": len(self.exchange.orders),
                **self.stats.as_dict(),
            }
            return Response(200, dumps(body), (_JSON_HEADER, self._date()))
        return self._refuse(gateway("EGW00002"), request)

    def _respond(self, request: Request, fault: FaultKind | None) -> Response:
        if fault == "error_5xx":
            return Response(503)
        if fault == "gateway_html":
            return Response(502, _GATEWAY_HTML, (_HTML_HEADER,))
        if fault == "rate_limit":
            self.stats.rate_limited += 1
            return self._refuse(gateway("EGW00201"), request)
        endpoint = self._router.get(request.method, request.path)
        if endpoint is None:
            return self._refuse(gateway("EGW00002"), request)
        if fault == "expire_token":
            self.oauth.expire_presented(request.headers.get("authorization"))
        try:
            result = self._dispatch(endpoint, request)
        except WireError as error:
            return self._refuse(error, request)
        return self._render(result, request)

    def _dispatch(self, endpoint: Endpoint, request: Request) -> Success | Reply:
        server = self.server
        if endpoint.guard == "oauth":
            return endpoint.handler(Call(request, "", "", self.clock.now(), server))
        headers = request.headers
        app_key = headers.get("appkey", "")
        error = self.oauth.app_error(app_key, headers.get("appsecret"))
        if error:
            raise gateway(error)
        if not self._window.acquire(app_key, self.clock.monotonic()):
            self.stats.rate_limited += 1
            raise gateway("EGW00201")
        tr_id = headers.get("tr_id", "")
        if endpoint.guard == "token":
            self.oauth.check(headers.get("authorization"), app_key)
            if tr_id not in endpoint.tr_ids.get(server, ()):
                raise gateway("OPSQ0002")
            custtype = headers.get("custtype")
            if custtype is not None and custtype not in ("P", "B"):
                raise invalid_input("custtype")
        return endpoint.handler(Call(request, app_key, tr_id, self.clock.now(), server))

    def _gt_uid(self, request: Request) -> str:
        # Echo the caller's transaction id when it sends one (corporate clients do).
        return request.headers.get("gt_uid") or f"{self._gt_uids.getrandbits(128):032x}"

    def _date(self) -> tuple[str, str]:
        """The ``Date`` header, in the mock clock's time, as a server states its own time."""
        second = int(self.clock.now().timestamp())
        if second != self._date_second:
            self._date_second = second
            self._date_value = formatdate(second, usegmt=True)
        return ("Date", self._date_value)

    def _render(self, result: Success | Reply, request: Request) -> Response:
        if isinstance(result, Reply):
            return Response(
                result.status,
                dumps(result.body),
                (("Content-Type", result.content_type), self._date()),
            )
        body = {**result.body, "rt_cd": "0", "msg_cd": result.msg_cd, "msg1": result.msg1}
        headers = [
            _JSON_HEADER,
            self._date(),
            ("tr_id", request.headers.get("tr_id", "")),
            ("tr_cont", result.tr_cont),
            ("gt_uid", self._gt_uid(request)),
            *result.headers.items(),
        ]
        return Response(200, dumps_object(body), tuple(headers))

    def _refuse(self, error: WireError, request: Request) -> Response:
        self.stats.rejections[error.code] += 1
        reply = error.reply()
        headers: list[tuple[str, str]] = [_JSON_HEADER, self._date()]
        if request.path.startswith("/uapi/"):
            tr_id = request.headers.get("tr_id")
            if tr_id is not None:
                headers.append(("tr_id", tr_id))
            headers.append(("gt_uid", self._gt_uid(request)))
        return Response(reply.status, dumps(reply.body), tuple(headers))

    def __repr__(self) -> str:
        limit = "none" if math.isinf(self.rate_limit) else f"{self.rate_limit:g}/s"
        return f"MockKIS(seed={self.seed}, server={self.server!r}, rate_limit={limit})"

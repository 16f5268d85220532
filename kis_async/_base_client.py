"""The request pipeline that every KIS call goes through, in one place.

    token -> rate gate -> circuit -> send -> envelope -> error mapping -> retry policy

Retries follow one rule. A request that is safe to repeat (every query) is retried on
connect errors, timeouts, dropped connections, 5xx answers and EGW00201, with capped
exponential backoff and jitter, within ``max_retries``. An order is retried only when it
provably was not accepted: the connection never opened, or KIS answered EGW00201. A
token-expired answer renews the token once and repeats the call; KIS rejected the
request before doing anything, so that is safe for orders too.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import partial
from types import TracebackType
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from ._auth import AccessToken, FileTokenStore, MemoryTokenStore, TokenManager, TokenStore
from ._auth import token_cache_key as _token_cache_key
from ._clock import KST, Clock, SystemClock, parse_kst
from ._config import KISSettings
from ._constants import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_CONNECTION_LIMITS,
    TOKEN_REFRESH_MARGIN,
    USER_AGENT,
)
from ._endpoints import APPROVAL, HASHKEY, REVOKE_TOKEN, TOKEN, Endpoint
from ._errors import (
    AuthError,
    CircuitOpenError,
    KISAPIError,
    KISError,
    KISResponseError,
    KISServerError,
    KISTimeoutError,
    KISTransportError,
    OrderRejectedError,
    RateLimitError,
    TokenExpiredError,
    TokenIssueThrottledError,
)
from ._events import RequestEvent, RequestHook, outcome_of
from ._limits import CircuitBreaker, KeyedLocks
from ._redact import get_logger, redactor
from .shared._budget import RateBudget
from .shared._cache import CachedAnswer
from .shared._token_store import shared_approval_key
from .shared._wiring import (
    approval_store_for,
    rate_budget_for,
    response_cache_for,
    token_store_for,
)

__all__ = ["BaseKISClient", "ClientStats", "KISResponse", "call_context", "is_retryable"]

logger = get_logger("kis_async.client")

ModelT = TypeVar("ModelT", bound=BaseModel)

_TOKEN_REJECTED = frozenset({"EGW00121", "EGW00122", "EGW00123"})
_CREDENTIALS_REJECTED = frozenset({"EGW00103", "EGW00105", "EGW00003", "EGW00004", "EGW00206"})
#: tr_cont values that announce another page (KIS: "F or M: more data").
_MORE_PAGES = frozenset({"F", "M"})


@dataclass(frozen=True)
class KISResponse:
    """A successful KIS answer: the decoded body and what the headers said."""

    status_code: int
    body: dict[str, Any] = field(repr=False)
    tr_id: str
    #: The response's ``tr_cont`` header: "F"/"M" more pages follow, "D"/"E" last page.
    tr_cont: str = ""

    @property
    def msg_cd(self) -> str:
        return str(self.body.get("msg_cd", "")).strip()

    @property
    def msg1(self) -> str:
        return str(self.body.get("msg1", "")).strip()

    @property
    def has_more(self) -> bool:
        return self.tr_cont in _MORE_PAGES


@dataclass
class ClientStats:
    """What this client sent and met, for tests, benchmarks and dashboards."""

    #: HTTP requests sent, tokens included.
    requests: int = 0
    #: Attempts repeated by the retry policy.
    retries: int = 0
    #: EGW00201 answers received (each was retried or raised).
    rate_limited: int = 0
    #: Tokens dropped after KIS called them expired or invalid.
    token_rejections: int = 0


def is_retryable(exc: BaseException, *, idempotent: bool) -> bool:
    """The retry rule: may this failure be followed by another attempt?"""
    if isinstance(exc, RateLimitError):
        return True  # an explicit rejection: KIS did nothing with the request
    # A failed token request sent no order: asking again is safe (the worst answer is
    # EGW00133, which the token manager handles), whatever call needed the token.
    if isinstance(exc, KISTransportError):
        return idempotent or not exc.request_sent or exc.path == TOKEN.path
    if isinstance(exc, KISServerError):
        return idempotent or exc.path == TOKEN.path
    return False


def api_error(
    *,
    msg_cd: str,
    msg1: str,
    rt_cd: str,
    status_code: int,
    tr_id: str,
    path: str,
    body: Any,
    is_order: bool,
    context: str = "",
) -> KISAPIError:
    """The exception for a KIS error answer, by code first and HTTP status second."""
    kind: type[KISAPIError]
    if msg_cd == "EGW00201":
        kind = RateLimitError
    elif msg_cd in _TOKEN_REJECTED:
        kind = TokenExpiredError
    elif msg_cd == "EGW00133":
        kind = TokenIssueThrottledError
    elif msg_cd in _CREDENTIALS_REJECTED:
        kind = AuthError
    elif status_code >= 500:
        kind = KISServerError
    elif is_order:
        kind = OrderRejectedError
    else:
        kind = KISAPIError
    return kind(
        msg1,
        msg_cd=msg_cd,
        rt_cd=rt_cd,
        tr_id=tr_id,
        status_code=status_code,
        path=path,
        body=body,
        context=context,
    )


#: Order tr_ids by side, real and virtual, current and legacy.
_ORDER_SIDES: Mapping[str, str] = {
    "TTTC0012U": "buy",
    "VTTC0012U": "buy",
    "TTTC0802U": "buy",
    "VTTC0802U": "buy",
    "TTTC0011U": "sell",
    "VTTC0011U": "sell",
    "TTTC0801U": "sell",
    "VTTC0801U": "sell",
    "TTTC0013U": "revise/cancel",
    "VTTC0013U": "revise/cancel",
    "TTTC0803U": "revise/cancel",
    "VTTC0803U": "revise/cancel",
}


def call_context(
    tr_id: str, params: Mapping[str, str] | None, body: Mapping[str, Any] | None
) -> str:
    """What a call was about, from its wire fields: ticker, order side, quantity, price.

    Never the account number (CANO is not read).
    """
    fields: dict[str, Any] = {**(params or {}), **(body or {})}
    ticker = str(fields.get("PDNO") or fields.get("FID_INPUT_ISCD") or "").strip()
    side = _ORDER_SIDES.get(tr_id)
    if side is None:
        return f"ticker {ticker}" if ticker else ""
    parts = [f"order {side}"]
    if ticker:
        parts.append(ticker)
    original = str(fields.get("ORGN_ODNO") or "").strip()
    if original:
        parts.append(f"of order {original}")
    qty = str(fields.get("ORD_QTY") or "").strip()
    if qty:
        parts.append(f"{qty} shares")
    price = str(fields.get("ORD_UNPR") or "").strip()
    if price:
        parts.append("at market" if price == "0" else f"at {price} KRW")
    return " ".join(parts)


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what lies under it: causes, contexts, members of exception groups."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo and len(seen) < 32:
        current = todo.pop()
        if any(current is known for known in seen):
            continue
        seen.append(current)
        if isinstance(current, BaseExceptionGroup):
            todo.extend(current.exceptions)
        for nxt in (current.__cause__, current.__context__):
            if nxt is not None:
                todo.append(nxt)
    return seen


def _plain_cause(exc: httpx.RequestError, timeout: float) -> str:
    """What went wrong, in the words a user would search for."""
    causes = _causes(exc)
    if any(isinstance(c, socket.gaierror) for c in causes):
        return "name not resolved"
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return "connection refused"
    text = " ".join(str(c) for c in causes).lower()
    if isinstance(exc, httpx.PoolTimeout):
        return f"no free connection within {timeout:g} s"
    if isinstance(exc, httpx.ConnectTimeout):
        return f"connect timed out after {min(timeout, DEFAULT_CONNECT_TIMEOUT):g} s"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out after {timeout:g} s"
    if isinstance(exc, httpx.ConnectError):
        if "refused" in text:
            return "connection refused"
        if any(
            words in text
            for words in (
                "name or service not known",
                "nodename nor servname",
                "name resolution",
                "no address associated",
                "getaddrinfo failed",
                "name does not resolve",
            )
        ):
            return "name not resolved"
        if "certificate" in text or "ssl" in text:
            return "TLS handshake failed"
        if "unreachable" in text:
            return "network unreachable"
        return "could not connect"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server closed the connection without a complete answer"
    if isinstance(exc, httpx.LocalProtocolError):
        return "the request could not be encoded (an illegal header value?)"
    if isinstance(exc, httpx.ReadError):
        return "the connection broke while reading the answer"
    if isinstance(exc, httpx.WriteError):
        return "the connection broke while sending the request"
    return "transport failure"


def _clip(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text[:limit] + ("..." if len(text) > limit else "")


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _snippet(response: httpx.Response) -> str:
    text = " ".join(response.text.split())
    return text[:120] + ("..." if len(text) > 120 else "")


def _json_body(endpoint: Endpoint, response: httpx.Response, tr_id: str = "") -> dict[str, Any]:
    """The answer's JSON object; a gateway page or an outage (5xx) or anything else not
    JSON raises KISServerError or KISResponseError."""
    body = _json_object(response)
    if body is not None:
        return body
    status = response.status_code
    if status >= 500:
        raise KISServerError(
            f"no KIS answer, the server said: {_snippet(response)}",
            status_code=status,
            tr_id=tr_id,
            path=endpoint.path,
        )
    raise KISResponseError(
        f"{endpoint.name}: expected a JSON object, got HTTP {status}: {_snippet(response)}",
        path=endpoint.path,
    )


_Self = TypeVar("_Self", bound="BaseKISClient")


class BaseKISClient:
    """Construction, lifecycle and the request pipeline; the public calls live in mixins."""

    def __init__(
        self,
        settings: KISSettings | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
        token_store: TokenStore | None = None,
    ) -> None:
        settings = settings if settings is not None else KISSettings()
        self.settings = settings
        self.stats = ClientStats()
        self._mock: Any = None

        uses_mock_server = settings.env == "mock"
        in_process = uses_mock_server and not settings.base_url
        if in_process and transport is None and http_client is None:
            # The only import of the mock from the client: env "mock" runs on an
            # in-process mock server when no transport or address is given.
            from .mock import MockKIS

            self._mock = MockKIS(seed=settings.mock_seed, rate_limit=settings.effective_rate_limit)
            transport = self._mock.transport
            clock = clock if clock is not None else self._mock.clock
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._base_url = settings.effective_base_url

        app_key, app_secret = self._credentials(uses_mock_server)
        self._app_key = app_key
        self._app_secret = app_secret
        self._account = self._account_parts(uses_mock_server)
        redactor.register(app_key, app_secret, self._account[0] if self._account else None)

        if http_client is not None:
            self._http = http_client
            self._owns_http = False
        else:
            timeout = httpx.Timeout(
                settings.timeout, connect=min(settings.timeout, DEFAULT_CONNECT_TIMEOUT)
            )
            self._http = httpx.AsyncClient(
                transport=transport,
                timeout=timeout,
                limits=DEFAULT_CONNECTION_LIMITS,
                headers={"user-agent": USER_AGENT},
            )
            self._owns_http = True

        shared_key = _token_cache_key(settings.env, self._base_url, app_key)
        # Connections this client opens to shared stores, closed by aclose().
        self._owned: list[Any] = []
        if token_store is None:
            token_store = token_store_for(settings, key=shared_key)
            self._owned.append(token_store)
        if token_store is None:
            cache_dir = settings.token_cache_dir
            explicit = "token_cache_dir" in settings.model_fields_set
            # A cache file outlives the in-process mock that issued the token, so it is
            # only used there when asked for explicitly.
            if cache_dir is not None and (explicit or not in_process):
                key = _token_cache_key(settings.env, self._base_url, app_key)
                # No caller waits for another process's issuance longer than it would
                # for an answer; then it asks KIS itself (EGW00133 at worst, handled).
                token_store = FileTokenStore(cache_dir, key, lock_patience=settings.timeout)
            else:
                token_store = MemoryTokenStore()
        # The WebSocket approval key, shared when the token store is shared.
        self._approvals = approval_store_for(settings, key=shared_key)
        self._owned.append(self._approvals)
        self._tokens = TokenManager(
            self._issue_token,
            store=token_store,
            clock=self._clock,
            min_issue_interval=settings.token_min_issue_interval,
            # No caller waits for a token longer than it would for an answer.
            max_wait=settings.timeout,
        )
        # KIS_RATE_BUDGET: this process, this machine or every host on a Redis.
        self._gate = rate_budget_for(settings, key=shared_key, in_process=in_process)
        self._cache = response_cache_for(settings, clock=self._clock, namespace=self._base_url)
        self._owned += [self._gate, self._cache.backend]
        self._circuit = CircuitBreaker(
            settings.circuit_failure_threshold,
            settings.circuit_reset_timeout,
            monotonic=self._clock.monotonic,
            trial_wait=settings.timeout,
        )
        # initial * 2**n capped, plus up to one initial delay of jitter.
        self._wait = wait_exponential(
            multiplier=settings.retry_initial_delay, max=settings.retry_max_delay
        ) + wait_random(0, settings.retry_initial_delay)
        # Today's price band per ticker, learnt from quotes, to check limit prices.
        self._price_bands: dict[tuple[str, date], tuple[int, int]] = {}
        # Order ids this client has handed out, so a lost order is never matched twice.
        self._known_orders: set[str] = set()
        # Identical orders are placed one at a time; these are their locks, by signature.
        self._order_locks = KeyedLocks()
        # (signature, sent_at on KIS's clock) of orders whose state stayed unknown.
        self._unresolved: list[tuple[tuple[Any, ...], datetime]] = []
        self._warned_real_money = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_server_date: tuple[str, datetime] | None = None
        self._closed = False
        self._request_hooks: list[RequestHook] = []

    # -- construction helpers --------------------------------------------------------

    def _credentials(self, uses_mock_server: bool) -> tuple[str, str]:
        key, secret = self.settings.app_key, self.settings.app_secret
        if key is not None and secret is not None:
            return key.get_secret_value(), secret.get_secret_value()
        if uses_mock_server:
            from .mock import DEMO_APP_KEY, DEMO_APP_SECRET

            return DEMO_APP_KEY, DEMO_APP_SECRET
        raise AssertionError("KISSettings guarantees credentials outside env='mock'")

    def _account_parts(self, uses_mock_server: bool) -> tuple[str, str] | None:
        if self.settings.account_no is not None:
            return self.settings.account_parts()
        if uses_mock_server:
            from .mock import DEMO_ACCOUNT_NO

            cano, product = DEMO_ACCOUNT_NO.split("-")
            return cano, product
        return None

    # -- lifecycle -------------------------------------------------------------------

    @property
    def mock(self) -> Any:
        """The in-process mock server this client runs on (env "mock"), else None."""
        return self._mock

    @property
    def clock(self) -> Clock:
        """The clock this client reads: KST wall time and a monotonic clock (seconds)."""
        return self._clock

    @property
    def rate_budget(self) -> RateBudget:
        """The rate budget this client's requests wait in (``KIS_RATE_BUDGET``); its
        ``stats`` say the shared rate, waits, EGW00201 answers and fallbacks."""
        return self._gate

    @property
    def token_requests(self) -> int:
        """How many ``/oauth2/tokenP`` requests this client made."""
        return self._tokens.issue_count

    async def aclose(self) -> None:
        """Close the HTTP client if this client created it. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._owns_http:
            await self._http.aclose()
        for owned in self._owned:
            close = getattr(owned, "aclose", None)
            if close is not None:
                await close()
        redactor.unregister(
            self._app_key, self._app_secret, self._account[0] if self._account else None
        )

    async def __aenter__(self: _Self) -> _Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(env={self.settings.env!r}, base_url={self._base_url!r})"

    # -- the pipeline ----------------------------------------------------------------

    def _retrying(self, *, idempotent: bool) -> AsyncRetrying:
        return AsyncRetrying(
            stop=stop_after_attempt(self.settings.max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception(partial(is_retryable, idempotent=idempotent)),
            before_sleep=self._before_retry,
            reraise=True,
        )

    def _before_retry(self, state: RetryCallState) -> None:
        self.stats.retries += 1
        exc = state.outcome.exception() if state.outcome is not None else None
        logger.info(
            "retrying after %s: %s (attempt %d of %d)",
            type(exc).__name__,
            exc,
            state.attempt_number + 1,
            self.settings.max_retries + 1,
        )

    async def _request(
        self,
        endpoint: Endpoint,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, str] | None = None,
        tr_cont: str = "",
    ) -> KISResponse:
        """Send one KIS call through the whole pipeline and return its successful answer."""
        tr_id = endpoint.tr_id(virtual=self.settings.is_virtual)
        self._check_usable()
        if endpoint.cache is not None and body is None:
            # Market data: identical queries in flight share one request, and the
            # cache policy (by data kind) may answer from what it kept.
            answer = await self._cache.fetch(
                endpoint.cache,
                tr_id,
                params or {},
                partial(self._fresh_answer, endpoint, tr_id, params, tr_cont),
                today=self._clock.now().astimezone(KST).date(),
                tr_cont=tr_cont,
            )
            return KISResponse(answer.status_code, answer.body, answer.tr_id, answer.tr_cont)
        return await self._attempts(endpoint, tr_id, params, body, tr_cont)

    async def _fresh_answer(
        self, endpoint: Endpoint, tr_id: str, params: Mapping[str, str] | None, tr_cont: str
    ) -> CachedAnswer:
        response = await self._attempts(endpoint, tr_id, params, None, tr_cont)
        return CachedAnswer(response.status_code, response.body, response.tr_id, response.tr_cont)

    async def _attempts(
        self,
        endpoint: Endpoint,
        tr_id: str,
        params: Mapping[str, str] | None,
        body: Mapping[str, str] | None,
        tr_cont: str,
    ) -> KISResponse:
        try:
            async for attempt in self._retrying(idempotent=endpoint.idempotent):
                with attempt:
                    number = attempt.retry_state.attempt_number
                    return await self._authorized_call(
                        endpoint, tr_id, params, body, tr_cont, number
                    )
        except (KISTransportError, CircuitOpenError) as exc:
            # Their message says all (operation, host, cause); the frames below are the
            # retry machinery's, dozens of lines that bury it.
            raise exc.with_traceback(None) from None
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def _authorized_call(
        self,
        endpoint: Endpoint,
        tr_id: str,
        params: Mapping[str, str] | None,
        body: Mapping[str, str] | None,
        tr_cont: str,
        attempt: int = 1,
    ) -> KISResponse:
        token, waited = await self._slot_and_token()
        call = (endpoint, tr_id, params, body, tr_cont, attempt)
        try:
            return await self._call_with_token(token, waited, *call)
        except TokenExpiredError:
            # Compare-and-invalidate: only this token is dropped, never a newer one.
            self.stats.token_rejections += 1
            await self._tokens.invalidate(token)
            token, waited = await self._slot_and_token()
            return await self._call_with_token(token, waited, *call)

    async def _slot_and_token(self) -> tuple[AccessToken, float]:
        """A token, then a rate-gate slot, then the token again.

        The token comes first so that callers waiting for one (a cold start, a renewal
        that must wait out KIS's one-a-minute rule) do not hold gate slots and then all
        send at once when it arrives. It is read again after the slot, which costs
        nothing while it is fresh, because a slot may come minutes later (1 req/s).
        Also returns the seconds spent waiting for the slot.
        """
        await self._tokens.get()
        queued = time.perf_counter()
        await self._gate.acquire()
        waited = time.perf_counter() - queued
        return await self._tokens.get(), waited

    async def _call_with_token(
        self,
        token: AccessToken,
        gate_wait: float,
        endpoint: Endpoint,
        tr_id: str,
        params: Mapping[str, str] | None,
        body: Mapping[str, str] | None,
        tr_cont: str,
        attempt: int,
    ) -> KISResponse:
        headers = {
            "content-type": "application/json; charset=utf-8",
            "authorization": f"Bearer {token.value}",
            "appkey": self._app_key,
            "appsecret": self._app_secret,
            "tr_id": tr_id,
            "tr_cont": tr_cont,
            "custtype": "P",
        }
        started = time.perf_counter()
        response: httpx.Response | None = None
        try:
            response = await self._send(endpoint, headers=headers, params=params, body=body)
            result = await self._checked(endpoint, tr_id, response, params, body)
        except BaseException as exc:
            self._report(endpoint, tr_id, attempt, started, gate_wait, response, exc)
            raise
        self._report(endpoint, tr_id, attempt, started, gate_wait, response, None)
        return result

    async def _checked(
        self,
        endpoint: Endpoint,
        tr_id: str,
        response: httpx.Response,
        params: Mapping[str, str] | None,
        body: Mapping[str, str] | None,
    ) -> KISResponse:
        """The decoded answer, with the circuit and the rate gate told what it said."""
        try:
            result = self._decode(endpoint, tr_id, response, call_context(tr_id, params, body))
        except KISServerError as exc:
            self._circuit.record_failure(self._failure_text(endpoint, exc))
            raise
        except KISError as exc:
            if isinstance(exc, RateLimitError):
                self.stats.rate_limited += 1
                # Here, not in the retry hook: every caller on the key is held back
                # and slowed (the shared budget), whether or not this one retries.
                await self._gate.on_rate_limited()
            self._circuit.record_success()  # the server is alive and answering
            raise
        self._circuit.record_success()
        return result

    # -- request hooks ----------------------------------------------------------------

    def add_request_hook(self, hook: RequestHook) -> None:
        """Call ``hook`` with a :class:`RequestEvent` after every HTTP request.

        Every attempt is reported, retries and token requests included, with its
        endpoint, tr_id, HTTP status, attempt number, outcome, duration and rate-gate
        wait (seconds). Hooks run on the event loop, in the order added; one that
        raises is logged and skipped. Nothing secret is in an event.
        """
        self._request_hooks.append(hook)

    def remove_request_hook(self, hook: RequestHook) -> None:
        """Stop calling ``hook`` (ValueError if it was never added)."""
        self._request_hooks.remove(hook)

    def _report(
        self,
        endpoint: Endpoint,
        tr_id: str,
        attempt: int,
        started: float,
        gate_wait: float,
        response: httpx.Response | None,
        exc: BaseException | None,
    ) -> None:
        if not self._request_hooks:
            return
        event = RequestEvent(
            endpoint=endpoint.name,
            method=endpoint.method,
            path=endpoint.path,
            tr_id=tr_id,
            status=response.status_code if response is not None else None,
            attempt=attempt,
            outcome=outcome_of(exc),
            msg_cd=exc.msg_cd if isinstance(exc, KISAPIError) else "",
            duration=time.perf_counter() - started,
            gate_wait=gate_wait,
        )
        for hook in list(self._request_hooks):
            try:
                hook(event)
            except Exception:
                logger.exception("a request hook failed; the request itself is unaffected")

    async def _send(
        self,
        endpoint: Endpoint,
        *,
        headers: Mapping[str, str],
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """One HTTP exchange, with every httpx failure mapped to KISTransportError.

        Callers (``_request``, ``_oauth_post``) have checked the client is usable.
        """
        await self._circuit.admit()
        url = self._base_url + endpoint.path
        started = time.perf_counter()
        self.stats.requests += 1
        failure: KISTransportError | None = None
        try:
            response = await self._http.request(
                endpoint.method, url, headers=headers, params=params, json=body
            )
        except httpx.RequestError as exc:
            failure = self._transport_error(endpoint, exc)
            self._circuit.record_failure(str(failure))
        except BaseException:
            self._circuit.release()
            raise
        if failure is not None:
            # Raised here, outside the except block, so that neither __cause__ nor
            # __context__ keeps the httpx error: it holds the request, whose headers hold
            # the app secret and the token. Its type and message are in ours.
            raise failure
        date = response.headers.get("date")
        if date is not None:
            self._last_server_date = (date, self._clock.now())
        logger.debug(
            "%s %s [%s] -> HTTP %d in %.1f ms",
            endpoint.method,
            endpoint.name,
            headers.get("tr_id", "-"),
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        return response

    def server_clock_offset(self) -> timedelta | None:
        """KIS's clock minus this machine's, from the last answer's ``Date`` header.

        Good to about a second; None before any answer carried one.
        """
        if self._last_server_date is None:
            return None
        text, received_at = self._last_server_date
        try:
            server = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if server.tzinfo is None:
            return None
        return server - received_at

    def _check_usable(self) -> None:
        """Refuse use after close, and use from an event loop other than the first."""
        if self._closed:
            raise KISError("this AsyncKISClient is closed; create a new one")
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif loop is not self._loop:
            # Its lock, rate gate and pooled connections belong to the first loop.
            raise KISError(
                "an AsyncKISClient serves the event loop it first ran in; create one "
                "client per event loop (e.g. per asyncio.run)"
            )

    def _transport_error(self, endpoint: Endpoint, exc: httpx.RequestError) -> KISTransportError:
        # Only these mean the request certainly never left this machine. Anything else
        # (including an answer that could not be decoded) may have reached KIS.
        not_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
        kind = KISTimeoutError if isinstance(exc, httpx.TimeoutException) else KISTransportError
        what = "was not sent" if not_sent else "may have reached KIS"
        cause = _plain_cause(exc, self.settings.timeout)
        # httpx's own text may quote a header value (h11: "Illegal header value b'...'"),
        # and header values are the app key, the secret and the token: redact it.
        detail = redactor.redact(str(exc)) or type(exc).__name__
        return kind(
            f"{endpoint.method} {endpoint.name} to {self._host_port()}: {cause}; "
            f"the request {what} ({type(exc).__name__}: {_clip(detail)})",
            method=endpoint.method,
            path=endpoint.path,
            request_sent=not not_sent,
        )

    def _failure_text(self, endpoint: Endpoint, exc: KISError) -> str:
        return f"{endpoint.method} {endpoint.name} to {self._host_port()}: {exc}"

    def _host_port(self) -> str:
        url = httpx.URL(self._base_url)
        port = url.port or (443 if url.scheme == "https" else 80)
        return f"{url.host}:{port}"

    def _decode(
        self,
        endpoint: Endpoint,
        tr_id: str,
        response: httpx.Response,
        context: str = "",
    ) -> KISResponse:
        """Read the body envelope whatever the HTTP status; raise the matching error."""
        status = response.status_code
        body = _json_body(endpoint, response, tr_id)
        rt_cd = str(body.get("rt_cd", "")).strip()
        if rt_cd == "0" and status < 400:
            return KISResponse(status, body, tr_id, response.headers.get("tr_cont", "").strip())
        msg_cd = str(body.get("msg_cd") or body.get("error_code") or "").strip()
        msg1 = str(body.get("msg1") or body.get("error_description") or "")
        if not rt_cd and not msg_cd and status < 400:
            raise KISResponseError(
                f"{endpoint.name}: answer has no rt_cd envelope", path=endpoint.path
            )
        raise api_error(
            msg_cd=msg_cd,
            msg1=msg1,
            rt_cd=rt_cd,
            status_code=status,
            tr_id=tr_id,
            path=endpoint.path,
            body=body,
            is_order=not endpoint.idempotent,
            context=context,
        )

    def _parse(self, model: type[ModelT], data: Any, endpoint: Endpoint) -> ModelT:
        """Validate one output block into ``model``; a KIS shape we do not know is an error."""
        if not isinstance(data, Mapping):
            raise KISResponseError(
                f"{endpoint.name}: expected an object, got {type(data).__name__}"
            )
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            fields = ", ".join(str(err["loc"][0]) for err in exc.errors() if err["loc"])
            raise KISResponseError(
                f"{endpoint.name}: answer did not match {model.__name__} ({fields})"
            ) from exc

    # -- OAuth calls (their own body shapes, no tr_id, outside the REST rate limit) ----

    async def _oauth_post(
        self, endpoint: Endpoint, body: Mapping[str, Any], *, retry: bool = True
    ) -> dict[str, Any]:
        """One OAuth call; with ``retry=False`` a single exchange, retried by the caller."""
        self._check_usable()
        if not retry:
            return await self._oauth_exchange(endpoint, body)
        async for attempt in self._retrying(idempotent=False):
            with attempt:
                return await self._oauth_exchange(
                    endpoint, body, attempt.retry_state.attempt_number
                )
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def _oauth_exchange(
        self, endpoint: Endpoint, body: Mapping[str, Any], attempt: int = 1
    ) -> dict[str, Any]:
        headers = {"content-type": "application/json; charset=utf-8"}
        waited = 0.0
        if endpoint is HASHKEY:
            headers |= {"appkey": self._app_key, "appsecret": self._app_secret}
            queued = time.perf_counter()
            await self._gate.acquire()  # the one OAuth-style call under /uapi
            waited = time.perf_counter() - queued
        started = time.perf_counter()
        response: httpx.Response | None = None
        try:
            response = await self._send(endpoint, headers=headers, body=body)
            answer = self._decode_oauth(endpoint, response)
        except BaseException as exc:
            self._report(endpoint, "", attempt, started, waited, response, exc)
            raise
        self._report(endpoint, "", attempt, started, waited, response, None)
        return answer

    def _decode_oauth(self, endpoint: Endpoint, response: httpx.Response) -> dict[str, Any]:
        """OAuth answers: a bare object, or ``error_code``/``error_description`` on error."""
        status = response.status_code
        try:
            data = _json_body(endpoint, response)
        except KISServerError as exc:
            self._circuit.record_failure(self._failure_text(endpoint, exc))
            raise
        except KISResponseError:
            self._circuit.record_success()  # an answer, if not one we understand
            raise
        self._circuit.record_success()
        failed = "error_code" in data or str(data.get("rt_cd", "0")).strip() != "0"
        if status == 200 and not failed:
            return data
        raise api_error(
            msg_cd=str(data.get("error_code") or data.get("msg_cd") or "").strip(),
            msg1=str(data.get("error_description") or data.get("msg1") or ""),
            rt_cd=str(data.get("rt_cd", "")),
            status_code=status,
            tr_id="",
            path=endpoint.path,
            body=data,
            is_order=False,
        )

    async def _issue_token(self) -> AccessToken:
        # One exchange: the public call that needs the token owns the retry budget, so
        # retries never multiply (token attempts times call attempts).
        data = await self._oauth_post(
            TOKEN,
            {
                "grant_type": "client_credentials",
                "appkey": self._app_key,
                "appsecret": self._app_secret,
            },
            retry=False,
        )
        value = data.get("access_token")
        if not isinstance(value, str) or not value:
            # path names the token request, so no one takes this for an order's loss.
            raise KISResponseError("token answer has no access_token", path=TOKEN.path)
        redactor.register(value)
        now = self._clock.now()
        return AccessToken(value=value, expires_at=self._token_expiry(data, now), issued_at=now)

    def _token_expiry(self, data: Mapping[str, Any], now: datetime) -> datetime:
        """When the token expires, on this machine's clock.

        KIS states it twice: ``access_token_token_expired`` (Korea time, no zone) and
        ``expires_in`` (seconds). The earlier of the two wins, so a re-issued token
        whose ``expires_in`` might not count down is never trusted too long. An absolute
        time already past on arrival means the server's clock and ours disagree; then
        ``expires_in`` alone is used.
        """
        absolute: datetime | None = None
        relative: datetime | None = None
        text = data.get("access_token_token_expired")
        if isinstance(text, str):
            try:
                absolute = parse_kst(text)  # Korea time: parse_kst says so explicitly
            except ValueError:
                absolute = None
        seconds = data.get("expires_in")
        if isinstance(seconds, (int, float, str)):
            try:
                relative = now + timedelta(seconds=float(seconds))
            except ValueError:
                relative = None
        if relative is None:
            if absolute is None:
                raise KISResponseError(
                    "token answer has neither an expiry time nor expires_in", path=TOKEN.path
                )
            return absolute
        if absolute is None:
            return relative
        if absolute <= now + TOKEN_REFRESH_MARGIN < relative:
            logger.warning(
                "the server says the new token expires at %s, which is already past on this "
                "machine's clock; the clocks differ, so expires_in (%s s) is used instead",
                absolute.isoformat(),
                seconds,
            )
            return relative
        return min(absolute, relative)

    async def revoke_token(self) -> None:
        """Revoke the current access token at KIS and forget it (memory and cache)."""
        token = self._tokens.current
        if token is None:
            return
        await self._oauth_post(
            REVOKE_TOKEN,
            {"appkey": self._app_key, "appsecret": self._app_secret, "token": token.value},
        )
        await self._tokens.forget()

    async def get_approval_key(self) -> str:
        """A WebSocket approval key (``/oauth2/Approval``); valid 24 h.

        With ``KIS_TOKEN_STORE`` a Redis URL, every host on the app key shares one.
        """
        if self._approvals is None:
            return await self._issue_approval_key()
        key = await shared_approval_key(self._approvals, self._issue_approval_key, self._clock)
        redactor.register(key)
        return key

    async def _issue_approval_key(self) -> str:
        data = await self._oauth_post(
            APPROVAL,
            {
                "grant_type": "client_credentials",
                "appkey": self._app_key,
                "secretkey": self._app_secret,
            },
        )
        key = data.get("approval_key")
        if not isinstance(key, str) or not key:
            raise KISResponseError("approval answer has no approval_key")
        redactor.register(key)
        return key

    async def hashkey(self, body: Mapping[str, str]) -> str:
        """KIS's hash of a POST body (``/uapi/hashkey``). Optional: KIS does not require it."""
        data = await self._oauth_post(HASHKEY, body)
        value = data.get("HASH")
        if not isinstance(value, str) or not value:
            raise KISResponseError("hashkey answer has no HASH")
        return value

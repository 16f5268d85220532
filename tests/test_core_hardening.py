"""The core pipeline's failure reports, token single flight and breaker half-open."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import traceback
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import respx
from pydantic import SecretStr

from kis_async import (
    KIS_CODES,
    AsyncKISClient,
    CircuitOpenError,
    KISAPIError,
    KISResponseError,
    KISServerError,
    KISSettings,
    KISTimeoutError,
    KISTransportError,
    OrderRejectedError,
    OrderStateUnknownError,
    QueueTimeoutError,
    TokenIssueThrottledError,
    describe_code,
)
from kis_async._auth import AccessToken, FileTokenStore, MemoryTokenStore, TokenManager
from kis_async.mock import DEMO_ACCOUNT_NO, DEMO_APP_KEY, DEMO_APP_SECRET, MockKIS

from .conftest import make_settings, on
from .fixtures_kis import PRICE_OUTPUT
from .helpers import ACCOUNT, APP_KEY, APP_SECRET, REAL, ManualClock, envelope, token_body
from .mock.test_served import _serving

PRICE = "/uapi/domestic-stock/v1/quotations/inquire-price"
ORDER = "/uapi/domestic-stock/v1/trading/order-cash"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "errors.md"


def _dead_port() -> int:
    """A 127.0.0.1 port with nothing listening (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# -- 1. failures say what failed ------------------------------------------------------


async def test_one_retry_budget_per_call_token_included() -> None:
    port = _dead_port()
    settings = make_settings(base_url=f"http://127.0.0.1:{port}", max_retries=2)
    async with AsyncKISClient(settings) as kis:
        with pytest.raises(KISTransportError) as caught:
            await kis.get_current_price("005930")
        # Three attempts in all (not three token attempts per call attempt), so the
        # 5-failure breaker is still closed and the error is the real one.
        assert kis.stats.requests == 3
        assert kis.token_requests == 3
    assert not isinstance(caught.value, CircuitOpenError)
    message = str(caught.value)
    assert "POST token" in message
    assert f"127.0.0.1:{port}" in message
    assert "connection refused" in message
    assert caught.value.request_sent is False
    # The report is short: the retry machinery's frames are not in it.
    frames = traceback.extract_tb(caught.value.__traceback__)
    assert not any("tenacity" in frame.filename for frame in frames)


async def test_an_unresolvable_host_is_named_as_such() -> None:
    settings = make_settings(base_url="http://kis-nowhere.invalid:9443", max_retries=0)
    async with AsyncKISClient(settings) as kis:
        with pytest.raises(KISTransportError) as caught:
            await kis.get_current_price("005930")
    assert "kis-nowhere.invalid:9443" in str(caught.value)
    assert "name not resolved" in str(caught.value)


async def test_a_timeout_says_how_long_was_waited(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    with respx.mock(base_url=REAL) as router:
        router.post("/oauth2/tokenP").mock(side_effect=httpx.ReadTimeout("read timed out"))
        async with client_factory(max_retries=0) as kis:
            with pytest.raises(KISTimeoutError) as caught:
                await kis.get_current_price("005930")
    assert "timed out after 10 s" in str(caught.value)
    assert "openapi.koreainvestment.com:9443" in str(caught.value)


async def test_circuit_open_error_and_retry_log_name_the_last_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = _dead_port()
    settings = make_settings(
        base_url=f"http://127.0.0.1:{port}", max_retries=1, circuit_failure_threshold=2
    )
    caplog.set_level(logging.INFO, logger="kis_async")
    async with AsyncKISClient(settings) as kis:
        with pytest.raises(KISTransportError):
            await kis.get_current_price("005930")
        with pytest.raises(CircuitOpenError) as caught:
            await kis.get_current_price("005930")
    message = str(caught.value)
    assert "connection refused" in message
    assert f"127.0.0.1:{port}" in message
    assert "token" in message
    assert caught.value.retry_after > 0
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert retries
    assert all("connection refused" in line for line in retries)


async def test_api_errors_keep_msg1_and_add_the_gloss_and_what_the_call_was_about(
    mock: MockKIS,
) -> None:
    async with on(mock) as kis:
        with pytest.raises(KISAPIError) as quote:
            await kis.get_current_price("999990")
        with pytest.raises(OrderRejectedError) as order:
            await kis.buy("005930", 1_000_000, mock.current_price("005930"))
    assert quote.value.msg_cd == "MCA05918"
    assert "종목코드 오류입니다" in str(quote.value)  # KIS's text, verbatim
    assert describe_code("MCA05918") in str(quote.value)
    assert "ticker 999990" in str(quote.value)
    assert order.value.msg_cd == "APBK0656"
    text = str(order.value)
    assert describe_code("APBK0656") in text
    assert "order buy 005930" in text
    assert "1000000 shares" in text
    assert f"at {mock.current_price('005930')} KRW" in text
    assert ACCOUNT.split("-")[0] not in text


def test_docs_errors_lists_exactly_the_code_table() -> None:
    rows = re.findall(r"^\| `([A-Z]+\d+)` \| (.+?) \|$", DOCS.read_text(encoding="utf-8"), re.M)
    assert dict(rows) == KIS_CODES


def test_every_code_the_mock_answers_has_a_gloss() -> None:
    mock_dir = Path(__file__).resolve().parent.parent / "kis_async" / "mock"
    emitted: set[str] = set()
    for source in mock_dir.glob("*.py"):
        emitted |= set(
            re.findall(r'"((?:EGW|APBK|MCA|OPSQ|OPSP|KIOK|MOCK)\d{4,5})"', source.read_text())
        )
    assert emitted
    assert emitted <= set(KIS_CODES)


# -- 2. tokens: no 60-second stalls ---------------------------------------------------


class _HeldTokenAnswers(httpx.AsyncBaseTransport):
    """The mock's transport, with token answers held back until ``release`` is set."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.release = asyncio.Event()
        self.token_answered = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path == "/oauth2/tokenP":
            self.token_answered.set()  # issued at the server; the answer is on its way
            await self.release.wait()
        return response


async def test_a_cancelled_caller_does_not_lose_the_issued_token(mock: MockKIS) -> None:
    held = _HeldTokenAnswers(mock.transport)
    settings = make_settings(
        env="mock",
        base_url="http://mock-kis.invalid",
        app_key=DEMO_APP_KEY,
        app_secret=DEMO_APP_SECRET,
        account_no=DEMO_ACCOUNT_NO,
    )
    async with AsyncKISClient(settings, transport=held, clock=mock.clock) as kis:
        first = asyncio.create_task(kis.get_current_price("005930"))
        await asyncio.wait_for(held.token_answered.wait(), 5)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        held.release.set()
        # The answer the cancelled caller left behind is kept: no second tokenP, no wait.
        price = await asyncio.wait_for(kis.get_current_price("005930"), 5)
        assert kis.token_requests == 1
    assert price.current_price == mock.current_price("005930")
    assert mock.stats.token_requests == 1


async def test_after_a_5xx_or_connect_error_on_token_the_next_ask_is_at_once(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    gateway = httpx.Response(502, text="<html>502 Bad Gateway</html>")
    good = httpx.Response(200, json=token_body(clock.now() + timedelta(days=1)))
    with respx.mock(base_url=REAL) as router:
        tokens = router.post("/oauth2/tokenP").mock(
            side_effect=[httpx.ConnectError("refused"), gateway, gateway, good]
        )
        router.get(PRICE).mock(return_value=httpx.Response(200, json=envelope(output=PRICE_OUTPUT)))
        async with client_factory(max_retries=0) as kis:
            # A cold client in an outage fails fast, with the real cause ...
            with pytest.raises(KISTransportError):
                await asyncio.wait_for(kis.get_current_price("005930"), 5)
            with pytest.raises(KISServerError):
                await asyncio.wait_for(kis.get_current_price("005930"), 5)
            # ... and, within one call's budget, recovers as soon as the server does.
            kis.settings.max_retries = 1
            await asyncio.wait_for(kis.get_current_price("005930"), 5)
        assert tokens.call_count == 4


async def test_an_unwritable_cache_dir_warns_once_and_goes_on_in_memory(
    mock: MockKIS, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    async with on(mock, token_cache_dir=blocker / "tokens") as kis:
        await kis.get_current_price("005930")
        await kis.get_current_price("000660")
        assert kis.token_requests == 1
    warnings = [r for r in caplog.records if "not writable" in r.getMessage()]
    assert len(warnings) == 1


async def test_a_token_answer_without_access_token_is_no_order_loss(
    client_factory: Callable[..., AsyncKISClient],
) -> None:
    with respx.mock(base_url=REAL, assert_all_called=False) as router:
        router.post("/oauth2/tokenP").mock(return_value=httpx.Response(200, json={"x": 1}))
        orders = router.post(ORDER).mock(return_value=httpx.Response(500))
        async with client_factory() as kis:
            with pytest.raises(KISResponseError) as caught:
                await kis.buy("005930", 3)
        assert not orders.called
    assert not isinstance(caught.value, OrderStateUnknownError)
    assert caught.value.path == "/oauth2/tokenP"


async def test_egw00201_pauses_the_gate_even_without_a_retry(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    limited = httpx.Response(
        500, json={"rt_cd": "1", "msg_cd": "EGW00201", "msg1": "초당 거래건수를 초과하였습니다."}
    )
    with respx.mock(base_url=REAL) as router:
        router.post("/oauth2/tokenP").mock(
            return_value=httpx.Response(200, json=token_body(clock.now() + timedelta(days=1)))
        )
        router.get(PRICE).mock(return_value=limited)
        async with client_factory(max_retries=0, rate_limit_cooldown=30.0) as kis:
            with pytest.raises(KISAPIError):
                await kis.get_current_price("005930")
            # The next caller is held back for the cool-down: its slot is > 20 s away.
            with pytest.raises(QueueTimeoutError) as held:
                await kis._gate.acquire(max_wait=1.0)
            assert held.value.wait > 20


# -- 3. circuit breaker half-open -----------------------------------------------------


@pytest.mark.parametrize("trial_fails", [False, True])
async def test_a_fan_out_after_the_cool_down_follows_the_trial(
    mock: MockKIS, trial_fails: bool
) -> None:
    async with on(
        mock,
        max_retries=0,
        circuit_failure_threshold=1,
        circuit_reset_timeout=30,
        rate_limit=10_000,
    ) as kis:
        await kis.get_current_price("005930")  # the token, and the circuit closed
        mock.faults.schedule("error_5xx", path=PRICE)
        with pytest.raises(KISServerError):
            await kis.get_current_price("005930")
        with pytest.raises(CircuitOpenError):
            await kis.get_current_price("005930")
        mock.clock.advance(31)
        if trial_fails:
            mock.faults.schedule("error_5xx", path=PRICE)
        sent = mock.stats.total_requests
        outcomes = await asyncio.gather(
            *(kis.get_current_price(t) for t in mock.tickers[:20]), return_exceptions=True
        )
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    if trial_fails:
        assert len(errors) == 20
        assert mock.stats.total_requests == sent + 1  # only the trial was sent
        followers = [e for e in errors if isinstance(e, CircuitOpenError)]
        assert len(followers) == 19
        assert all("HTTP 5" in str(e) or "500" in str(e) for e in followers)
    else:
        assert errors == []
        assert mock.stats.total_requests == sent + 20


# -- 5. secrets in transport error messages -------------------------------------------


async def test_a_secret_with_a_trailing_cr_never_reaches_an_error(mock: MockKIS) -> None:
    key, secret = APP_KEY + "\r", APP_SECRET + "\r"
    async with _serving(mock) as base_url:
        settings = make_settings(base_url=base_url, max_retries=0)
        # As a CRLF .env would give them; model_construct skips the validation that
        # refuses such values, to test the pipeline's own defence.
        settings = KISSettings.model_construct(
            **{**settings.model_dump(), "app_key": SecretStr(key), "app_secret": SecretStr(secret)}
        )
        async with AsyncKISClient(settings) as kis:
            with pytest.raises(KISTransportError) as caught:
                await kis.hashkey({"PDNO": "005930"})
    error = caught.value
    texts = [str(error), repr(error), *map(str, error.args), *map(repr, error.args)]
    for text in texts:
        for value in (APP_KEY, APP_SECRET):
            assert value not in text
    assert "could not be encoded" in str(error)


async def test_a_slot_wait_longer_than_the_caller_would_wait_fails_at_once(
    clock: ManualClock,
) -> None:
    calls = 0

    async def issue() -> AccessToken:
        nonlocal calls
        calls += 1
        return AccessToken(f"t{calls}", clock.now() + timedelta(days=1), clock.now())

    manager = TokenManager(
        issue, store=MemoryTokenStore(), clock=clock, min_issue_interval=60, max_wait=10
    )
    token = await manager.get()
    clock.advance(15)
    await manager.invalidate(token)  # KIS rejected it within the minute
    with pytest.raises(TokenIssueThrottledError, match=r"ask again in 45 s"):
        await asyncio.wait_for(manager.get(), 5)
    assert calls == 1
    clock.advance(45)
    assert (await manager.get()).value == "t2"


async def test_after_egw00133_the_store_is_polled_for_the_winners_token(
    clock: ManualClock,
) -> None:
    store = MemoryTokenStore()
    winner = AccessToken("the-winners-token", clock.now() + timedelta(days=1), clock.now())
    calls = 0

    async def throttled() -> AccessToken:
        nonlocal calls
        calls += 1

        async def winner_saves_a_moment_later() -> None:
            await asyncio.sleep(0.2)
            await store.save(winner)

        asyncio.get_running_loop().create_task(winner_saves_a_moment_later())
        raise TokenIssueThrottledError("접근토큰 발급 잠시 후 다시 시도하세요", msg_cd="EGW00133")

    manager = TokenManager(throttled, store=store, clock=clock, min_issue_interval=60)
    token = await asyncio.wait_for(manager.get(), 5)  # not the one-minute wait
    assert token.value == "the-winners-token"
    assert calls == 1


async def test_the_file_store_works_without_flock(
    tmp_path: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("kis_async._auth.fcntl", None)  # as on Windows
    store = FileTokenStore(tmp_path, "real-0123")
    token = AccessToken("jwt-value", clock.now() + timedelta(days=1), clock.now())
    async with store.issue_lock():
        await store.save(token)
    assert await store.load() == token


def test_every_registered_secret_is_masked_as_http_libraries_quote_it() -> None:
    from kis_async._redact import MASK, SecretRedactor

    redactor = SecretRedactor()
    for secret in ("an-app-key\r", "an-app-secret\r\n", "a.token.value\r"):
        redactor.register(secret)
        for shown in (secret, secret.strip(), repr(secret), repr(secret.encode())):
            text = redactor.redact(f"Illegal header value {shown}")
            assert secret.strip() not in text
            assert MASK in text
        redactor.unregister(secret)
        assert redactor.redact(secret) == secret  # forgotten with all its forms

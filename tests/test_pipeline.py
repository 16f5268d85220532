"""Retries, circuit breaker and token renewal in the request pipeline (respx)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
import respx

from kis_async import (
    AsyncKISClient,
    AuthError,
    CircuitOpenError,
    KISAPIError,
    KISServerError,
    KISTimeoutError,
    KISTransportError,
    OrderRejectedError,
    RateLimitError,
    TokenExpiredError,
)
from kis_async._base_client import is_retryable
from kis_async._endpoints import ORDER_CASH_BUY

from .fixtures_kis import PRICE_OUTPUT
from .helpers import REAL, ManualClock, envelope, token_body

PRICE = "/uapi/domestic-stock/v1/quotations/inquire-price"
ORDER = "/uapi/domestic-stock/v1/trading/order-cash"
OK = httpx.Response(200, json=envelope(output=PRICE_OUTPUT))
RATE_LIMITED = httpx.Response(
    500, json={"rt_cd": "1", "msg_cd": "EGW00201", "msg1": "초당 거래건수를 초과하였습니다."}
)
EXPIRED = httpx.Response(
    500, json={"rt_cd": "1", "msg_cd": "EGW00123", "msg1": "기간이 만료된 token 입니다."}
)
GATEWAY = httpx.Response(502, text="<html><body><h1>502 Bad Gateway</h1></body></html>")
ORDER_BODY = {
    "CANO": "87654321",
    "ACNT_PRDT_CD": "01",
    "PDNO": "005930",
    "ORD_DVSN": "00",
    "ORD_QTY": "1",
    "ORD_UNPR": "71000",
    "EXCG_ID_DVSN_CD": "KRX",
}


def _token(router: respx.MockRouter, clock: ManualClock, value: str = "tok-1") -> respx.Route:
    return router.post("/oauth2/tokenP").mock(
        return_value=httpx.Response(200, json=token_body(clock.now() + timedelta(days=1), value))
    )


@pytest.mark.parametrize(
    ("exc", "idempotent", "expected"),
    [
        (RateLimitError("x", msg_cd="EGW00201"), False, True),
        (KISTransportError("x", method="POST", path="/", request_sent=False), False, True),
        (KISTransportError("x", method="POST", path="/", request_sent=True), False, False),
        (KISTimeoutError("x", method="POST", path="/", request_sent=True), False, False),
        (KISTimeoutError("x", method="GET", path="/", request_sent=True), True, True),
        (KISServerError("x", status_code=502), True, True),
        (KISServerError("x", status_code=502), False, False),
        (OrderRejectedError("x", msg_cd="APBK0656"), False, False),
        (KISAPIError("x", msg_cd="MCA05918"), True, False),
        (AuthError("x", msg_cd="EGW00103"), True, False),
    ],
)
def test_the_retry_rule(exc: Exception, idempotent: bool, expected: bool) -> None:
    assert is_retryable(exc, idempotent=idempotent) is expected


async def test_quotation_is_retried_after_5xx_gateway_page_and_dropped_connection(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    with respx.mock(base_url=REAL) as router:
        _token(router, clock)
        route = router.get(PRICE).mock(
            side_effect=[
                GATEWAY,
                httpx.Response(503),
                httpx.RemoteProtocolError("Server disconnected without sending a response."),
                OK,
            ]
        )
        async with client_factory(max_retries=3) as kis:
            price = await kis.get_current_price("005930")
            assert price.current_price == 75_700
            assert kis.stats.retries == 3
        assert route.call_count == 4


async def test_retries_stop_at_the_budget_and_the_last_error_is_raised(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    with respx.mock(base_url=REAL) as router:
        _token(router, clock)
        route = router.get(PRICE).mock(return_value=GATEWAY)
        async with client_factory(max_retries=2, circuit_failure_threshold=10) as kis:
            with pytest.raises(KISServerError) as caught:
                await kis.get_current_price("005930")
        assert route.call_count == 3
    assert caught.value.status_code == 502
    assert "Bad Gateway" in str(caught.value)


async def test_rate_limit_answer_is_retried_and_counted(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    with respx.mock(base_url=REAL) as router:
        _token(router, clock)
        route = router.get(PRICE).mock(side_effect=[RATE_LIMITED, RATE_LIMITED, OK])
        async with client_factory() as kis:
            await kis.get_current_price("005930")
            assert kis.stats.rate_limited == 2
        assert route.call_count == 3


async def test_business_error_is_not_retried(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    with respx.mock(base_url=REAL) as router:
        _token(router, clock)
        route = router.get(PRICE).mock(
            return_value=httpx.Response(
                200, json={"rt_cd": "1", "msg_cd": "MCA05918", "msg1": "종목코드 오류입니다."}
            )
        )
        async with client_factory() as kis:
            with pytest.raises(KISAPIError):
                await kis.get_current_price("005930")
        assert route.call_count == 1


async def test_expired_token_is_renewed_once_and_the_call_repeated(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    with respx.mock(base_url=REAL) as router:
        tokens = router.post("/oauth2/tokenP").mock(
            side_effect=[
                httpx.Response(200, json=token_body(clock.now() + timedelta(days=1), "old")),
                httpx.Response(200, json=token_body(clock.now() + timedelta(days=1), "new")),
            ]
        )
        route = router.get(PRICE).mock(side_effect=[OK, EXPIRED, OK])
        async with client_factory() as kis:
            await kis.get_current_price("005930")
            clock.advance(120)  # past KIS's one-issuance-a-minute window
            await kis.get_current_price("005930")
            assert kis.stats.token_rejections == 1
            assert kis.token_requests == 2
        auth = [call.request.headers["authorization"] for call in route.calls]
        assert auth == ["Bearer old", "Bearer old", "Bearer new"]
        assert tokens.call_count == 2


async def test_a_second_expiry_answer_after_renewal_is_raised(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    with respx.mock(base_url=REAL) as router:
        router.post("/oauth2/tokenP").mock(
            side_effect=[
                httpx.Response(200, json=token_body(clock.now() + timedelta(days=1), f"t{i}"))
                for i in range(3)
            ]
        )
        route = router.get(PRICE).mock(return_value=EXPIRED)
        async with client_factory(token_min_issue_interval=0) as kis:
            with pytest.raises(TokenExpiredError):
                await kis.get_current_price("005930")
        assert route.call_count == 2  # the call, then one repeat with a new token


async def test_token_throttle_waits_then_issues(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    throttled = httpx.Response(
        403,
        json={
            "error_code": "EGW00133",
            "error_description": "접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)",
        },
    )
    with respx.mock(base_url=REAL) as router:
        tokens = router.post("/oauth2/tokenP").mock(
            side_effect=[
                throttled,
                httpx.Response(200, json=token_body(clock.now() + timedelta(days=1))),
            ]
        )
        router.get(PRICE).mock(return_value=OK)
        async with client_factory(token_min_issue_interval=0) as kis:
            await kis.get_current_price("005930")
        assert tokens.call_count == 2


async def test_wrong_credentials_raise_auth_error_without_retrying(
    client_factory: Callable[..., AsyncKISClient],
) -> None:
    with respx.mock(base_url=REAL) as router:
        tokens = router.post("/oauth2/tokenP").mock(
            return_value=httpx.Response(
                403,
                json={
                    "error_code": "EGW00105",
                    "error_description": "유효하지 않은 AppSecret입니다.",
                },
            )
        )
        async with client_factory() as kis:
            with pytest.raises(AuthError) as caught:
                await kis.get_current_price("005930")
        assert tokens.call_count == 1
    assert caught.value.msg_cd == "EGW00105"
    assert caught.value.status_code == 403


async def test_circuit_opens_after_repeated_failures_and_half_opens_after_cool_down(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    with respx.mock(base_url=REAL) as router:
        _token(router, clock)
        route = router.get(PRICE).mock(return_value=httpx.Response(503))
        async with client_factory(
            max_retries=1, circuit_failure_threshold=3, circuit_reset_timeout=30
        ) as kis:
            with pytest.raises(KISServerError):
                await kis.get_current_price("005930")  # failures 1 and 2
            with pytest.raises(CircuitOpenError) as caught:
                await kis.get_current_price("005930")  # failure 3 opens it; the retry is refused
            assert route.call_count == 3
            with pytest.raises(CircuitOpenError):
                await kis.get_current_price("005930")
            assert route.call_count == 3  # nothing sent while open
            assert caught.value.retry_after == pytest.approx(30)

            clock.advance(30)
            route.mock(return_value=OK)
            await kis.get_current_price("005930")  # the trial request closes the circuit
            await kis.get_current_price("005930")
            assert route.call_count == 5


async def test_a_failed_trial_request_opens_the_circuit_again(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    with respx.mock(base_url=REAL) as router:
        _token(router, clock)
        route = router.get(PRICE).mock(return_value=httpx.Response(503))
        async with client_factory(
            max_retries=0, circuit_failure_threshold=2, circuit_reset_timeout=10
        ) as kis:
            for _ in range(2):
                with pytest.raises(KISServerError):
                    await kis.get_current_price("005930")
            clock.advance(10)
            with pytest.raises(KISServerError):
                await kis.get_current_price("005930")  # the trial fails
            with pytest.raises(CircuitOpenError):
                await kis.get_current_price("005930")
        assert route.call_count == 3


# -- the order rule: never repeat what may have been accepted --------------------------


async def test_order_is_not_repeated_after_a_read_timeout(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    with respx.mock(base_url=REAL) as router:
        _token(router, clock)
        route = router.post(ORDER).mock(side_effect=httpx.ReadTimeout("timed out"))
        async with client_factory(max_retries=3) as kis:
            with pytest.raises(KISTimeoutError) as caught:
                await kis._request(ORDER_CASH_BUY, body=ORDER_BODY)
        assert route.call_count == 1
    assert caught.value.request_sent is True


@pytest.mark.parametrize(
    "failure",
    [GATEWAY, httpx.Response(503), httpx.RemoteProtocolError("dropped")],
)
async def test_order_is_not_repeated_after_5xx_or_dropped_connection(
    client_factory: Callable[..., AsyncKISClient],
    clock: ManualClock,
    failure: httpx.Response | Exception,
) -> None:
    with respx.mock(base_url=REAL) as router:
        _token(router, clock)
        route = router.post(ORDER).mock(side_effect=[failure])
        async with client_factory(max_retries=3) as kis:
            with pytest.raises((KISServerError, KISTransportError)):
                await kis._request(ORDER_CASH_BUY, body=ORDER_BODY)
        assert route.call_count == 1


async def test_order_is_repeated_when_it_provably_was_not_accepted(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    accepted = httpx.Response(
        200,
        json={
            "rt_cd": "0",
            "msg_cd": "APBK0013",
            "msg1": "주문 전송 완료 되었습니다.",
            "output": {"KRX_FWDG_ORD_ORGNO": "06010", "ODNO": "0001569157", "ORD_TMD": "155211"},
        },
    )
    with respx.mock(base_url=REAL) as router:
        _token(router, clock)
        route = router.post(ORDER).mock(
            side_effect=[httpx.ConnectError("refused"), RATE_LIMITED, accepted]
        )
        async with client_factory(max_retries=3) as kis:
            response = await kis._request(ORDER_CASH_BUY, body=ORDER_BODY)
        assert route.call_count == 3  # refused, rate-limited, accepted: each provably not taken
        sent = json.loads(route.calls.last.request.content)
    assert response.body["output"]["ODNO"] == "0001569157"
    assert sent == ORDER_BODY
    assert route.calls.last.request.headers["tr_id"] == "TTTC0012U"


async def test_rejected_order_raises_order_rejected(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    with respx.mock(base_url=REAL) as router:
        _token(router, clock)
        router.post(ORDER).mock(
            return_value=httpx.Response(
                200,
                json={
                    "rt_cd": "1",
                    "msg_cd": "APBK0656",
                    "msg1": "매수가능금액을 초과 하였습니다.",
                },
            )
        )
        async with client_factory() as kis:
            with pytest.raises(OrderRejectedError) as caught:
                await kis._request(ORDER_CASH_BUY, body=ORDER_BODY)
    assert caught.value.msg_cd == "APBK0656"

"""Keys, secrets, tokens and account numbers never reach logs, reprs or errors."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
import respx

from kis_async import AsyncKISClient, KISError

from .fixtures_kis import PRICE_OUTPUT
from .helpers import (
    ACCOUNT,
    APP_KEY,
    APP_SECRET,
    REAL,
    TOKEN_VALUE,
    ManualClock,
    envelope,
    token_body,
)

TRADING = "/uapi/domestic-stock/v1/trading"
CANO = ACCOUNT.split("-")[0]
SECRETS = (APP_KEY, APP_SECRET, TOKEN_VALUE, CANO)


async def test_a_full_run_at_debug_level_logs_no_secret(
    client_factory: Callable[..., AsyncKISClient],
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    with respx.mock(base_url=REAL, assert_all_called=False) as router:
        router.post("/oauth2/tokenP").mock(
            return_value=httpx.Response(200, json=token_body(clock.now() + timedelta(days=1)))
        )
        router.get("/uapi/domestic-stock/v1/quotations/inquire-price").mock(
            side_effect=[
                httpx.Response(
                    500,
                    json={
                        "rt_cd": "1",
                        "msg_cd": "EGW00123",
                        "msg1": "기간이 만료된 token 입니다.",
                    },
                ),
                httpx.Response(200, json=envelope(output=PRICE_OUTPUT)),
                httpx.Response(200, json=envelope(output=PRICE_OUTPUT)),
            ]
        )
        router.post(f"{TRADING}/order-cash").mock(side_effect=httpx.ReadTimeout("lost"))
        router.get(f"{TRADING}/inquire-daily-ccld").mock(
            return_value=httpx.Response(
                200,
                json={"output1": [], "output2": {}, "rt_cd": "0", "msg_cd": "KIOK0460", "msg1": ""},
            )
        )
        router.get(f"{TRADING}/inquire-balance").mock(
            return_value=httpx.Response(
                400,
                json={
                    "rt_cd": "1",
                    "msg_cd": "OPSQ2001",
                    "msg1": "ERROR : INPUT INVALID_CHECK_CANO",
                },
            )
        )
        async with client_factory(token_min_issue_interval=0, order_settle_seconds=0) as kis:
            await kis.get_current_price("005930")
            for call in (lambda: kis.buy("005930", 1, 75_800), kis.get_balance):
                try:
                    await call()
                except KISError as exc:
                    errors.append(exc)
            text_of_client = repr(kis) + repr(kis.settings) + repr(kis._tokens.current)
    assert len(errors) == 2
    logged = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    assert "HTTP Request" in logged  # httpx's own lines were captured...
    assert "CANO=***" in logged  # ...with the account number masked
    for secret in SECRETS:
        assert secret not in logged
        assert secret not in text_of_client
        for error in errors:
            assert secret not in str(error)
            assert secret not in repr(error)


async def test_a_run_against_the_mock_server_logs_no_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from kis_async import PriceType
    from kis_async.mock import DEMO_ACCOUNT_NO, DEMO_APP_KEY, DEMO_APP_SECRET, FaultPlan, MockKIS

    caplog.set_level(logging.DEBUG)
    mock = MockKIS(
        seed=1, rate_limit=float("inf"), faults=FaultPlan(seed=2, drop=0.1, error_5xx=0.1)
    )
    async with AsyncKISClient.for_mock(
        mock, retry_initial_delay=0.0, retry_max_delay=0.0, max_retries=8
    ) as kis:
        await kis.get_current_prices(mock.tickers[:10])
        await kis.get_order_book("005930")
        await kis.get_chart_data("005930", PriceType.MINUTE_5, count=10)
        approval = await kis.get_approval_key()
        token = kis._tokens.current
        assert token is not None
    secrets = (DEMO_APP_KEY, DEMO_APP_SECRET, DEMO_ACCOUNT_NO.split("-")[0], token.value, approval)
    assert "HTTP Request" in caplog.text
    for secret in secrets:
        assert secret not in caplog.text

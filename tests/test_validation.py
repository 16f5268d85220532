"""Bad input is refused with InvalidRequestError before anything is sent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, time, timedelta
from typing import Any

import httpx
import pytest

from kis_async import AsyncKISClient, InvalidRequestError, PriceType

from .conftest import make_settings
from .fixtures_kis import PRICE_OUTPUT
from .helpers import ManualClock, envelope, token_body


def _client_that_must_not_send() -> tuple[AsyncKISClient, list[httpx.Request]]:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    return AsyncKISClient(make_settings(), transport=httpx.MockTransport(handler)), sent


BAD_TICKERS: list[Any] = [
    "",
    "5930",
    "0059300",
    "00593-",
    "abcdef",
    "005930 x",
    5930,
    None,
    ["005930"],
]


@pytest.mark.parametrize("ticker", BAD_TICKERS)
async def test_malformed_ticker_is_refused_before_sending(ticker: Any) -> None:
    kis, sent = _client_that_must_not_send()
    async with kis:
        for call in (
            kis.get_current_price,
            kis.get_order_book,
            kis.get_stock_info,
            kis.get_chart_data,
        ):
            with pytest.raises(InvalidRequestError):
                await call(ticker)
    assert sent == []


@pytest.mark.parametrize(
    "call",
    [
        lambda kis: kis.get_chart_data("005930", count=0),
        lambda kis: kis.get_chart_data("005930", count=-5),
        lambda kis: kis.get_chart_data("005930", count=True),
        lambda kis: kis.get_chart_data("005930", count=1.5),
        lambda kis: kis.get_chart_data("005930", count=10_001),
        lambda kis: kis.get_chart_data("005930", PriceType.MINUTE_1, count=1_000),
        lambda kis: kis.get_chart_data("005930", "hourly"),
        lambda kis: kis.get_chart_data("005930", PriceType.DAILY, end=time(10, 0)),
        lambda kis: kis.get_chart_data("005930", PriceType.MINUTE_5, end=date(2026, 1, 2)),
        lambda kis: kis.get_current_price("005930", market="KOSPI"),
        lambda kis: kis.get_current_prices("005930"),
        lambda kis: kis.get_current_prices(["005930", "bad"]),
    ],
)
async def test_bad_arguments_are_refused_before_sending(
    call: Callable[[AsyncKISClient], Any],
) -> None:
    kis, sent = _client_that_must_not_send()
    async with kis:
        with pytest.raises(InvalidRequestError):
            await call(kis)
    assert sent == []


def test_invalid_request_error_is_a_value_error() -> None:
    assert issubclass(InvalidRequestError, ValueError)


async def test_lowercase_and_padded_tickers_are_normalised(clock: ManualClock) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/tokenP":
            return httpx.Response(200, json=token_body(clock.now() + timedelta(days=1)))
        seen.append(request.url.params["FID_INPUT_ISCD"])
        return httpx.Response(200, json=envelope(output=PRICE_OUTPUT))

    transport = httpx.MockTransport(handler)
    async with AsyncKISClient(make_settings(), transport=transport, clock=clock) as kis:
        await kis.get_current_price(" q500001 ")
        await kis.get_current_prices(["005930", "005930 ", "000660"])
    assert seen == ["Q500001", "005930", "000660"]

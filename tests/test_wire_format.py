"""The exact requests the client sends, checked with respx against KIS's documented shapes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, time, timedelta

import httpx
import pytest
import respx

from kis_async import AsyncKISClient, ConfigError, KISAPIError, PriceType

from .fixtures_kis import ORDER_BOOK_005930, PRICE_OUTPUT
from .helpers import (
    APP_KEY,
    APP_SECRET,
    REAL,
    TOKEN_VALUE,
    VIRTUAL,
    ManualClock,
    envelope,
    token_body,
)

QUOTES = "/uapi/domestic-stock/v1/quotations"


def _mock_token(router: respx.MockRouter, clock: ManualClock) -> respx.Route:
    return router.post("/oauth2/tokenP").mock(
        return_value=httpx.Response(200, json=token_body(clock.now() + timedelta(days=1)))
    )


async def test_token_request_body_and_headers(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    with respx.mock(base_url=REAL) as router:
        token = _mock_token(router, clock)
        router.get(f"{QUOTES}/inquire-price").mock(
            return_value=httpx.Response(200, json=envelope(output=PRICE_OUTPUT))
        )
        async with client_factory() as kis:
            await kis.get_current_price("005930")
    request = token.calls.last.request
    assert request.headers["content-type"].startswith("application/json")
    assert json.loads(request.content) == {
        "grant_type": "client_credentials",
        "appkey": APP_KEY,
        "appsecret": APP_SECRET,
    }


async def test_inquire_price_wire_format(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    with respx.mock(base_url=REAL) as router:
        _mock_token(router, clock)
        route = router.get(f"{QUOTES}/inquire-price").mock(
            return_value=httpx.Response(200, json=envelope(output=PRICE_OUTPUT))
        )
        async with client_factory() as kis:
            price = await kis.get_current_price("005930")
    assert price.current_price == 75_700
    request = route.calls.last.request
    assert request.method == "GET"
    assert dict(request.url.params) == {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"}
    assert request.headers["authorization"] == f"Bearer {TOKEN_VALUE}"
    assert request.headers["appkey"] == APP_KEY
    assert request.headers["appsecret"] == APP_SECRET
    assert request.headers["tr_id"] == "FHKST01010100"
    assert request.headers["custtype"] == "P"
    assert request.headers["tr_cont"] == ""
    assert request.headers["content-type"] == "application/json; charset=utf-8"


async def test_order_book_wire_format_and_parse(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    with respx.mock(base_url=REAL) as router:
        _mock_token(router, clock)
        route = router.get(f"{QUOTES}/inquire-asking-price-exp-ccn").mock(
            return_value=httpx.Response(200, json=ORDER_BOOK_005930)
        )
        async with client_factory() as kis:
            book = await kis.get_order_book("005930")
    request = route.calls.last.request
    assert request.headers["tr_id"] == "FHKST01010200"
    assert dict(request.url.params) == {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"}
    assert (book.best_bid, book.best_ask, book.total_ask_volume) == (75_700, 75_800, 588_904)


def _daily_rows(newest: date, count: int) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    day = newest
    while len(rows) < count:
        if day.weekday() < 5:
            rows.append(
                {
                    "stck_bsop_date": day.strftime("%Y%m%d"),
                    "stck_clpr": "71000",
                    "stck_oprc": "70000",
                    "stck_hgpr": "72000",
                    "stck_lwpr": "69000",
                    "acml_vol": "1000",
                    "acml_tr_pbmn": "71000000",
                    "flng_cls_code": "00",
                    "prtt_rate": "0.00",
                    "mod_yn": "N",
                    "prdy_vrss_sign": "3",
                    "prdy_vrss": "0",
                    "revl_issu_reas": "",
                }
            )
        day -= timedelta(days=1)
    return rows


async def test_daily_chart_pages_backward_by_moving_the_end_date(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    newest = date(2026, 11, 20)
    history = _daily_rows(newest, 250)

    def answer(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        assert params["FID_PERIOD_DIV_CODE"] == "D"
        assert params["FID_ORG_ADJ_PRC"] == "0"
        start, end = params["FID_INPUT_DATE_1"], params["FID_INPUT_DATE_2"]
        rows = [r for r in history if start <= r["stck_bsop_date"] <= end][:100]
        return httpx.Response(200, json=envelope(output1={"stck_prpr": "71000"}, output2=rows))

    with respx.mock(base_url=REAL) as router:
        _mock_token(router, clock)
        route = router.get(f"{QUOTES}/inquire-daily-itemchartprice").mock(side_effect=answer)
        async with client_factory() as kis:
            candles = await kis.get_chart_data("005930", PriceType.DAILY, count=230, end=newest)
    assert len(candles) == 230
    assert candles[-1].date == newest
    assert [c.date for c in candles] == sorted(c.date for c in candles)
    assert len({c.date for c in candles}) == 230
    assert route.call_count == 3
    ends = [call.request.url.params["FID_INPUT_DATE_2"] for call in route.calls]
    assert ends[0] == "20261120"
    assert ends[1] < ends[0]
    assert ends[2] < ends[1]
    assert {call.request.headers["tr_id"] for call in route.calls} == {"FHKST03010100"}


def _minute_rows(last: time, count: int, day: str = "20261120") -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    minute = last.hour * 60 + last.minute
    cumulative = 0
    series = []
    for m in range(9 * 60, minute + 1):
        cumulative += 10 * 71000
        series.append((m, cumulative))
    for m, cum in reversed(series[-count:]):
        rows.append(
            {
                "stck_bsop_date": day,
                "stck_cntg_hour": f"{m // 60:02d}{m % 60:02d}00",
                "stck_prpr": str(71000 + m % 7 * 100),
                "stck_oprc": "71000",
                "stck_hgpr": str(71500 + m % 7 * 100),
                "stck_lwpr": "70500",
                "cntg_vol": "10",
                "acml_tr_pbmn": str(cum),
            }
        )
    return rows


async def test_minute_chart_pages_through_thirty_row_calls_and_builds_five_minute_bars(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        assert params["FID_ETC_CLS_CODE"] == ""
        assert params["FID_PW_DATA_INCU_YN"] in {"Y", "N"}
        hour = params["FID_INPUT_HOUR_1"]
        at = time(int(hour[:2]), int(hour[2:4]))
        return httpx.Response(200, json=envelope(output1={}, output2=_minute_rows(at, 30)))

    with respx.mock(base_url=REAL) as router:
        _mock_token(router, clock)
        route = router.get(f"{QUOTES}/inquire-time-itemchartprice").mock(side_effect=answer)
        async with client_factory() as kis:
            bars = await kis.get_chart_data(
                "005930", PriceType.MINUTE_5, count=12, end=time(11, 29, 59)
            )
    assert [b.time for b in bars] == [
        time(10, 30 + 5 * i) if i < 6 else time(11, 5 * (i - 6)) for i in range(12)
    ]
    assert all(b.volume == 50 for b in bars)
    assert all(b.trading_value == 50 * 71000 for b in bars)
    assert route.calls[0].request.url.params["FID_INPUT_HOUR_1"] == "112959"
    assert route.calls[1].request.url.params["FID_INPUT_HOUR_1"] == "105900"
    assert {call.request.headers["tr_id"] for call in route.calls} == {"FHKST03010200"}


async def test_stock_info_wire_format(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    with respx.mock(base_url=REAL) as router:
        _mock_token(router, clock)
        route = router.get(f"{QUOTES}/search-stock-info").mock(
            return_value=httpx.Response(
                200,
                json=envelope(
                    output={
                        "pdno": "00000A005930",
                        "prdt_abrv_name": "삼성전자",
                        "mket_id_cd": "STK",
                        "lstg_stqt": "5969782550",
                    }
                ),
            )
        )
        async with client_factory() as kis:
            info = await kis.get_stock_info("005930")
    request = route.calls.last.request
    assert request.headers["tr_id"] == "CTPF1002R"
    assert dict(request.url.params) == {"PRDT_TYPE_CD": "300", "PDNO": "005930"}
    assert info.market == "KOSPI"
    assert info.stock_name == "삼성전자"


async def test_virtual_env_uses_the_virtual_server(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    with respx.mock(base_url=VIRTUAL) as router:
        _mock_token(router, clock)
        route = router.get(f"{QUOTES}/inquire-price").mock(
            return_value=httpx.Response(200, json=envelope(output=PRICE_OUTPUT))
        )
        async with client_factory(env="virtual") as kis:
            await kis.get_current_price("005930")
            with pytest.raises(ConfigError, match="real server only"):
                await kis.get_stock_info("005930")
        assert route.calls.last.request.headers["tr_id"] == "FHKST01010100"
        assert len(router.calls) == 2  # token + price; stock info sent nothing


async def test_kis_error_fields_are_exposed_and_msg1_stripped(
    client_factory: Callable[..., AsyncKISClient], clock: ManualClock
) -> None:
    with respx.mock(base_url=REAL) as router:
        _mock_token(router, clock)
        router.get(f"{QUOTES}/inquire-price").mock(
            return_value=httpx.Response(
                200,
                json={
                    "rt_cd": "1",
                    "msg_cd": "MCA05918",
                    "msg1": "종목코드 오류입니다." + " " * 40,
                },
            )
        )
        async with client_factory() as kis:
            with pytest.raises(KISAPIError) as caught:
                await kis.get_current_price("999999")
    error = caught.value
    assert (error.msg_cd, error.msg1, error.tr_id, error.status_code) == (
        "MCA05918",
        "종목코드 오류입니다.",
        "FHKST01010100",
        200,
    )
    assert "MCA05918" in str(error)

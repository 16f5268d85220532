"""The request pipeline, rule by rule, in the order the mock checks them."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from kis_async.mock import DEMO_APP_KEY, DEMO_APP_SECRET, MockClock, MockKIS

from .kit import (
    BOOK,
    DAILY,
    INFO,
    KIS,
    PRICE,
    TOKEN,
    TR_BOOK,
    TR_INFO,
    TR_PRICE,
    price_params,
    token_body,
)

RATE_LIMITED = {"rt_cd": "1", "msg_cd": "EGW00201", "msg1": "초당 거래건수를 초과하였습니다."}
NO_SERVICE = {"rt_cd": "1", "msg_cd": "OPSQ0002", "msg1": "없는 서비스 코드 입니다"}
BAD_TICKER = {"rt_cd": "1", "msg_cd": "MCA05918", "msg1": "종목코드 오류입니다."}


def _invalid(name: str) -> dict[str, str]:
    return {"rt_cd": "2", "msg_cd": "OPSQ2001", "msg1": f"ERROR : INPUT INVALID_CHECK_{name}"}


async def _refusal(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"rt_cd", "msg_cd", "msg1"}
    return body


async def test_success_headers_and_envelope(kis: KIS) -> None:
    response = await kis.get(PRICE, TR_PRICE, price_params(), gt_uid=None)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    assert response.headers["tr_id"] == TR_PRICE
    assert response.headers["tr_cont"] == "D"
    assert len(response.headers["gt_uid"]) == 32
    body = response.json()
    assert (body["rt_cd"], body["msg_cd"], body["msg1"]) == (
        "0",
        "MCA00000",
        "정상처리 되었습니다.",
    )
    echoed = await kis.get(PRICE, TR_PRICE, price_params(), gt_uid="A" * 32)
    assert echoed.headers["gt_uid"] == "A" * 32


async def test_unknown_path_is_404_egw00002(kis: KIS, mock: MockKIS) -> None:
    body = await _refusal(await kis.get("/uapi/domestic-stock/v1/nope", TR_PRICE, {}), 404)
    assert (body["rt_cd"], body["msg_cd"]) == ("1", "EGW00002")
    wrong_method = await kis.client.post(PRICE, json={})
    assert wrong_method.status_code == 404
    assert mock.stats.requests["/uapi/domestic-stock/v1/nope"] == 1


async def test_unknown_app_key_and_wrong_secret_are_403(kis: KIS) -> None:
    body = await _refusal(await kis.get(PRICE, TR_PRICE, price_params(), appkey="PSnope"), 403)
    assert body == {"rt_cd": "1", "msg_cd": "EGW00103", "msg1": "유효하지 않은 AppKey입니다."}
    missing = await _refusal(await kis.get(PRICE, TR_PRICE, price_params(), appkey=None), 403)
    assert missing["msg_cd"] == "EGW00103"
    body = await _refusal(await kis.get(PRICE, TR_PRICE, price_params(), appsecret="x"), 403)
    assert body["msg_cd"] == "EGW00105"


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Token abc", "Bearer eyJunknown", "eyJ-no-scheme"],
    ids=["missing", "empty", "no-token", "other-scheme", "unknown", "bare"],
)
async def test_invalid_authorization_is_500_egw00121(kis: KIS, authorization: str | None) -> None:
    response = await kis.get(PRICE, TR_PRICE, price_params(), authorization=authorization)
    body = await _refusal(response, 500)
    assert body == {"rt_cd": "1", "msg_cd": "EGW00121", "msg1": "유효하지 않은 token 입니다."}


async def test_token_of_another_app_is_egw00121(kis: KIS, mock: MockKIS) -> None:
    mock.add_app("PSOTHER" + "0" * 29, "other-secret")
    response = await kis.client.post(TOKEN, json=token_body("PSOTHER" + "0" * 29, "other-secret"))
    other = response.json()["access_token"]
    refused = await kis.get(PRICE, TR_PRICE, price_params(), authorization=f"Bearer {other}")
    assert (await _refusal(refused, 500))["msg_cd"] == "EGW00121"


async def test_expired_token_is_500_egw00123(kis: KIS, clock: MockClock) -> None:
    await kis.token()
    clock.advance(86_400)
    body = await _refusal(await kis.get(PRICE, TR_PRICE, price_params()), 500)
    assert body == {"rt_cd": "1", "msg_cd": "EGW00123", "msg1": "기간이 만료된 token 입니다."}


async def test_expire_tokens_expires_every_token(kis: KIS, mock: MockKIS) -> None:
    assert (await kis.get(PRICE, TR_PRICE, price_params())).status_code == 200
    mock.expire_tokens()
    body = await _refusal(await kis.get(PRICE, TR_PRICE, price_params()), 500)
    assert body["msg_cd"] == "EGW00123"


async def test_rate_limit_burst_then_success_after_the_window(clock: MockClock) -> None:
    mock = MockKIS(clock=clock, rate_limit=5)
    async with httpx.AsyncClient(transport=mock.transport, base_url="http://mock") as client:
        kis = KIS(client, mock)
        await kis.token()  # /oauth2 is not rate limited
        burst = await asyncio.gather(*(kis.get(PRICE, TR_PRICE, price_params()) for _ in range(8)))
        assert [r.status_code for r in burst].count(200) == 5
        refused = [r for r in burst if r.status_code != 200]
        assert len(refused) == 3
        for response in refused:
            assert response.status_code == 500
            assert response.json() == RATE_LIMITED
        assert mock.stats.rate_limited == 3
        # Refused requests do not count: once the accepted ones leave the window,
        # a full window's worth is accepted again.
        clock.advance(1.0)
        again = await asyncio.gather(*(kis.get(PRICE, TR_PRICE, price_params()) for _ in range(5)))
        assert [r.status_code for r in again] == [200] * 5
        assert (await kis.get(PRICE, TR_PRICE, price_params())).status_code == 500


async def test_rate_limit_is_per_app_key(clock: MockClock) -> None:
    other_key, other_secret = "PSSECOND" + "0" * 28, "second-secret"
    mock = MockKIS(clock=clock, rate_limit=1, apps={DEMO_APP_KEY: DEMO_APP_SECRET})
    mock.add_app(other_key, other_secret)
    async with httpx.AsyncClient(transport=mock.transport, base_url="http://mock") as client:
        first, second = KIS(client, mock), KIS(client, mock)
        second.app_key, second.app_secret = other_key, other_secret
        assert (await first.get(PRICE, TR_PRICE, price_params())).status_code == 200
        assert (await second.get(PRICE, TR_PRICE, price_params())).status_code == 200
        assert (await first.get(PRICE, TR_PRICE, price_params())).status_code == 500


async def test_default_rate_limits_are_18_real_and_1_virtual(clock: MockClock) -> None:
    assert MockKIS(clock=clock).rate_limit == 18
    assert MockKIS(clock=clock, server="virtual").rate_limit == 1


async def test_token_is_checked_before_tr_id(kis: KIS) -> None:
    response = await kis.get(PRICE, None, price_params(), authorization=None)
    assert (await _refusal(response, 500))["msg_cd"] == "EGW00121"


@pytest.mark.parametrize(
    "tr_id",
    [None, "", "FHKST99999999", TR_BOOK, "VTTC8434R"],
    ids=["missing", "empty", "unknown", "other-path", "virtual-on-real"],
)
async def test_wrong_tr_id_is_200_opsq0002(kis: KIS, tr_id: str | None) -> None:
    body = await _refusal(await kis.get(PRICE, tr_id, price_params()), 200)
    assert body == NO_SERVICE


async def test_real_only_tr_id_is_refused_on_virtual(clock: MockClock) -> None:
    mock = MockKIS(clock=clock, server="virtual", rate_limit=float("inf"))
    async with httpx.AsyncClient(transport=mock.transport, base_url="http://mock") as client:
        kis = KIS(client, mock)
        params = {"PRDT_TYPE_CD": "300", "PDNO": "005930"}
        assert (await _refusal(await kis.get(INFO, TR_INFO, params), 200)) == NO_SERVICE
        assert (await kis.get(PRICE, TR_PRICE, price_params())).status_code == 200


async def test_custtype_must_be_p_or_b(kis: KIS) -> None:
    assert (await kis.get(PRICE, TR_PRICE, price_params(), custtype="B")).status_code == 200
    assert (await kis.get(PRICE, TR_PRICE, price_params(), custtype=None)).status_code == 200
    body = await _refusal(await kis.get(PRICE, TR_PRICE, price_params(), custtype="X"), 200)
    assert body == _invalid("CUSTTYPE")


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"FID_INPUT_ISCD": "005930"}, "FID_COND_MRKT_DIV_CODE"),
        ({"FID_COND_MRKT_DIV_CODE": "Q", "FID_INPUT_ISCD": "005930"}, "FID_COND_MRKT_DIV_CODE"),
        ({"FID_COND_MRKT_DIV_CODE": "J"}, "FID_INPUT_ISCD"),
        ({"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": ""}, "FID_INPUT_ISCD"),
    ],
    ids=["missing-market", "bad-market", "missing-ticker", "empty-ticker"],
)
async def test_missing_or_invalid_parameter_is_opsq2001(
    kis: KIS, params: dict[str, str], name: str
) -> None:
    body = await _refusal(await kis.get(PRICE, TR_PRICE, params), 200)
    assert body == _invalid(name)


@pytest.mark.parametrize(
    ("override", "name"),
    [
        ({"FID_INPUT_DATE_1": "2026-01-01"}, "FID_INPUT_DATE_1"),
        ({"FID_INPUT_DATE_2": "20260230"}, "FID_INPUT_DATE_2"),
        ({"FID_PERIOD_DIV_CODE": "Q"}, "FID_PERIOD_DIV_CODE"),
        ({"FID_ORG_ADJ_PRC": "2"}, "FID_ORG_ADJ_PRC"),
    ],
)
async def test_invalid_chart_parameters_are_opsq2001(
    kis: KIS, override: dict[str, str], name: str
) -> None:
    params = {
        **price_params(),
        "FID_INPUT_DATE_1": "20260101",
        "FID_INPUT_DATE_2": "20260512",
        "FID_PERIOD_DIV_CODE": "D",
        "FID_ORG_ADJ_PRC": "0",
        **override,
    }
    body = await _refusal(await kis.get(DAILY, "FHKST03010100", params), 200)
    assert body == _invalid(name)


@pytest.mark.parametrize("code", ["999999", "00593", "Q005930", "005930 "])
async def test_unknown_ticker_is_mca05918(kis: KIS, code: str) -> None:
    body = await _refusal(await kis.get(PRICE, TR_PRICE, price_params(code)), 200)
    assert body == BAD_TICKER


async def test_lowercase_query_names_are_accepted(kis: KIS) -> None:
    upper = await kis.ok(PRICE, TR_PRICE, price_params())
    lower = await kis.ok(
        PRICE, TR_PRICE, {"fid_cond_mrkt_div_code": "J", "fid_input_iscd": "005930"}
    )
    assert lower == upper
    mixed = await kis.ok(BOOK, TR_BOOK, {"Fid_Cond_Mrkt_Div_Code": "J", "FID_input_ISCD": "005930"})
    assert mixed["output1"]["askp1"]


async def test_requests_are_counted_by_path_and_tr_id(kis: KIS, mock: MockKIS) -> None:
    await kis.price()
    await kis.price("000660")
    await kis.get(PRICE, "FHKST99999999", price_params())
    assert mock.stats.requests[PRICE] == 3
    assert mock.stats.requests[TOKEN] == 1
    assert mock.stats.by_tr_id == {TR_PRICE: 2, "FHKST99999999": 1}
    assert mock.stats.rejections == {"OPSQ0002": 1}
    mock.stats.reset()
    assert mock.stats.total_requests == 0
    assert not mock.stats.by_tr_id

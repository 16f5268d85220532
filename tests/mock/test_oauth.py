"""OAuth: token issuance, re-issue, throttling, revocation, approval keys and hashkeys."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx

from kis_async._clock import KST, parse_kst
from kis_async.mock import DEMO_APP_KEY, DEMO_APP_SECRET, MockClock, MockKIS

from .kit import KIS, PRICE, TOKEN, TR_PRICE, price_params, token_body

THROTTLED = {
    "error_code": "EGW00133",
    "error_description": "접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)",
}


def _claims(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")

    def decode(part: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        return data

    return decode(header), decode(payload), signature


async def _issue(client: httpx.AsyncClient, **body: str) -> httpx.Response:
    return await client.post(TOKEN, json={**token_body(), **body})


async def test_token_body_is_what_kis_sends(client: httpx.AsyncClient, clock: MockClock) -> None:
    response = await _issue(client)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    body = response.json()
    assert list(body) == [
        "access_token",
        "access_token_token_expired",
        "token_type",
        "expires_in",
    ]
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 86_400  # the one number in KIS bodies
    expiry = parse_kst(body["access_token_token_expired"])
    assert expiry == clock.now().replace(microsecond=0) + timedelta(hours=24)


async def test_token_is_an_hs512_jwt_whose_exp_matches_the_kst_expiry(
    client: httpx.AsyncClient,
) -> None:
    body = (await _issue(client)).json()
    token = body["access_token"]
    assert token.startswith("eyJ")
    assert len(token) <= 350
    header, claims, signature = _claims(token)
    assert header == {"typ": "JWT", "alg": "HS512"}
    assert claims["sub"] == "token"
    assert claims["iss"] == "unogw"
    assert claims["jti"] == DEMO_APP_KEY
    assert uuid.UUID(claims["aud"]).version == 4
    assert claims["exp"] - claims["iat"] == 86_400
    assert len(base64.urlsafe_b64decode(signature + "==")) == 64  # SHA-512
    expiry = datetime.fromtimestamp(claims["exp"], KST).strftime("%Y-%m-%d %H:%M:%S")
    assert expiry == body["access_token_token_expired"]


async def test_unknown_app_key_wrong_secret_and_grant_type_are_refused(
    client: httpx.AsyncClient, mock: MockKIS
) -> None:
    unknown = await _issue(client, appkey="PS" + "X" * 34)
    assert unknown.status_code == 403
    assert unknown.json() == {
        "error_code": "EGW00103",
        "error_description": "유효하지 않은 AppKey입니다.",
    }
    wrong = await _issue(client, appsecret="nope")
    assert wrong.status_code == 403
    assert wrong.json()["error_code"] == "EGW00105"
    grant = await _issue(client, grant_type="password")
    assert grant.status_code == 403
    assert grant.json()["error_code"] == "EGW00101"
    not_json = await client.post(TOKEN, content=b"appkey=1")
    assert not_json.status_code == 403
    assert not_json.json()["error_code"] == "EGW00101"
    assert mock.stats.token_requests == 4
    assert mock.stats.tokens_issued == 0
    assert mock.stats.rejections == {"EGW00103": 1, "EGW00105": 1, "EGW00101": 2}


async def test_second_issue_within_a_minute_is_throttled(
    client: httpx.AsyncClient, mock: MockKIS, clock: MockClock
) -> None:
    assert (await _issue(client)).status_code == 200
    clock.advance(59)
    again = await _issue(client)
    assert again.status_code == 403
    assert again.json() == THROTTLED
    assert mock.stats.rejections["EGW00133"] == 1


async def test_reissue_within_six_hours_returns_the_same_token(
    client: httpx.AsyncClient, mock: MockKIS, clock: MockClock
) -> None:
    first = (await _issue(client)).json()
    clock.advance(61)
    second = (await _issue(client)).json()
    assert second["access_token"] == first["access_token"]
    assert second["access_token_token_expired"] == first["access_token_token_expired"]
    assert second["expires_in"] == 86_400 - 61
    clock.advance(timedelta(hours=5, minutes=58))
    third = (await _issue(client)).json()
    assert third["access_token"] == first["access_token"]
    assert mock.stats.token_requests == 3
    assert mock.stats.tokens_issued == 1


async def test_a_new_token_after_six_hours_and_the_old_one_still_works(
    kis: KIS, client: httpx.AsyncClient, mock: MockKIS, clock: MockClock
) -> None:
    old = await kis.token()
    clock.advance(timedelta(hours=6))
    new = (await _issue(client)).json()
    assert new["access_token"] != old
    assert new["expires_in"] == 86_400
    assert mock.stats.tokens_issued == 2
    response = await kis.get(PRICE, TR_PRICE, price_params())
    assert response.status_code == 200, "older tokens stay valid until they expire"


async def test_an_issue_interval_of_zero_allows_immediate_reissue(clock: MockClock) -> None:
    mock = MockKIS(clock=clock, token_issue_interval=0)
    async with httpx.AsyncClient(transport=mock.transport, base_url="http://mock") as client:
        first = (await _issue(client)).json()
        second = (await _issue(client)).json()
    assert first["access_token"] == second["access_token"]


async def test_revoked_token_is_invalid_and_a_new_one_can_be_issued(
    kis: KIS, client: httpx.AsyncClient, clock: MockClock
) -> None:
    token = await kis.token()
    revoke = {"appkey": DEMO_APP_KEY, "appsecret": DEMO_APP_SECRET, "token": token}
    response = await client.post("/oauth2/revokeP", json=revoke)
    assert response.status_code == 200
    assert response.json() == {"code": 200, "message": "접근토큰 폐기에 성공하였습니다"}
    refused = await kis.get(PRICE, TR_PRICE, price_params())
    assert refused.status_code == 500
    assert refused.json() == {
        "rt_cd": "1",
        "msg_cd": "EGW00121",
        "msg1": "유효하지 않은 token 입니다.",
    }
    again = await client.post("/oauth2/revokeP", json=revoke)
    assert again.status_code == 403
    assert again.json()["error_code"] == "EGW00121"
    clock.advance(61)
    fresh = (await _issue(client)).json()
    assert fresh["access_token"] != token


async def test_revoking_an_unknown_token_or_with_a_wrong_secret_is_refused(
    client: httpx.AsyncClient,
) -> None:
    unknown = await client.post(
        "/oauth2/revokeP",
        json={"appkey": DEMO_APP_KEY, "appsecret": DEMO_APP_SECRET, "token": "eyJnope"},
    )
    assert unknown.status_code == 403
    assert unknown.json()["error_code"] == "EGW00121"
    wrong = await client.post(
        "/oauth2/revokeP", json={"appkey": DEMO_APP_KEY, "appsecret": "x", "token": "eyJnope"}
    )
    assert wrong.json()["error_code"] == "EGW00105"


async def test_approval_key_uses_secretkey(client: httpx.AsyncClient) -> None:
    body = {"grant_type": "client_credentials", "appkey": DEMO_APP_KEY}
    response = await client.post("/oauth2/Approval", json={**body, "secretkey": DEMO_APP_SECRET})
    assert response.status_code == 200
    key = response.json()["approval_key"]
    assert uuid.UUID(key)
    assert len(key) == 36
    wrong = await client.post("/oauth2/Approval", json={**body, "appsecret": DEMO_APP_SECRET})
    assert wrong.status_code == 403
    assert wrong.json()["error_code"] == "EGW00105"


async def test_hashkey_echoes_the_body_with_its_hash_and_needs_no_token(
    client: httpx.AsyncClient,
) -> None:
    order = {"CANO": "50000000", "ACNT_PRDT_CD": "01", "PDNO": "005930", "ORD_QTY": "1"}
    response = await client.post(
        "/uapi/hashkey",
        json=order,
        headers={"appkey": DEMO_APP_KEY, "appsecret": DEMO_APP_SECRET},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["JsonBody"] == order
    canonical = json.dumps(order, sort_keys=True, separators=(",", ":"))
    assert body["HASH"] == hashlib.sha256(canonical.encode()).hexdigest()
    refused = await client.post("/uapi/hashkey", json=order, headers={"appkey": "x"})
    assert refused.status_code == 403
    assert refused.json()["msg_cd"] == "EGW00103"


async def test_tokens_of_the_same_seed_and_clock_are_the_same(clock: MockClock) -> None:
    tokens = []
    for _ in range(2):
        mock = MockKIS(3, clock=clock)
        async with httpx.AsyncClient(transport=mock.transport, base_url="http://m") as client:
            tokens.append((await _issue(client)).json()["access_token"])
    assert tokens[0] == tokens[1]

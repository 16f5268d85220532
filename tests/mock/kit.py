"""Shared helpers of the mock server tests: paths, tr_ids and a thin KIS test client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import httpx

from kis_async._clock import KST
from kis_async.mock import DEMO_APP_KEY, DEMO_APP_SECRET, MockClock, MockKIS

QUOTES = "/uapi/domestic-stock/v1/quotations"
PRICE = f"{QUOTES}/inquire-price"
BOOK = f"{QUOTES}/inquire-asking-price-exp-ccn"
DAILY = f"{QUOTES}/inquire-daily-itemchartprice"
MINUTES = f"{QUOTES}/inquire-time-itemchartprice"
INFO = f"{QUOTES}/search-stock-info"
TOKEN = "/oauth2/tokenP"

TR_PRICE = "FHKST01010100"
TR_BOOK = "FHKST01010200"
TR_DAILY = "FHKST03010100"
TR_MINUTES = "FHKST03010200"
TR_INFO = "CTPF1002R"

#: A Tuesday, mid-session.
MIDDAY = datetime(2026, 5, 12, 11, 23, 45, tzinfo=KST)


def token_body(app_key: str = DEMO_APP_KEY, app_secret: str = DEMO_APP_SECRET) -> dict[str, str]:
    return {"grant_type": "client_credentials", "appkey": app_key, "appsecret": app_secret}


def price_params(code: str = "005930") -> dict[str, str]:
    return {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": code}


class KIS:
    """A thin test client: issues the token once and sends KIS headers."""

    def __init__(self, client: httpx.AsyncClient, mock: MockKIS) -> None:
        self.client = client
        self.mock = mock
        self.app_key = DEMO_APP_KEY
        self.app_secret = DEMO_APP_SECRET
        self._token: str | None = None

    async def token(self) -> str:
        if self._token is None:
            response = await self.client.post(TOKEN, json=token_body(self.app_key, self.app_secret))
            assert response.status_code == 200, response.text
            self._token = response.json()["access_token"]
        return self._token

    def forget_token(self) -> None:
        self._token = None

    async def headers(self, tr_id: str | None, **overrides: str | None) -> dict[str, str]:
        headers: dict[str, str | None] = {
            "content-type": "application/json; charset=utf-8",
            "authorization": f"Bearer {await self.token()}",
            "appkey": self.app_key,
            "appsecret": self.app_secret,
            "tr_id": tr_id,
            "custtype": "P",
        }
        headers.update(overrides)
        return {k: v for k, v in headers.items() if v is not None}

    async def get(
        self, path: str, tr_id: str | None, params: Mapping[str, str], **headers: str | None
    ) -> httpx.Response:
        return await self.client.get(
            path, params=dict(params), headers=await self.headers(tr_id, **headers)
        )

    async def ok(
        self, path: str, tr_id: str, params: Mapping[str, str], **headers: str | None
    ) -> dict[str, Any]:
        response = await self.get(path, tr_id, params, **headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert body["rt_cd"] == "0", body
        return body

    async def price(self, code: str = "005930") -> dict[str, str]:
        body = await self.ok(PRICE, TR_PRICE, price_params(code))
        output: dict[str, str] = body["output"]
        return output


@asynccontextmanager
async def kis_at(moment: datetime, seed: int = 7, **options: Any) -> AsyncIterator[KIS]:
    """A fresh mock with a clock frozen at ``moment``, and a test client for it."""
    options.setdefault("rate_limit", float("inf"))
    mock = MockKIS(seed, clock=MockClock(moment, frozen=True), **options)
    async with httpx.AsyncClient(transport=mock.transport, base_url="http://mock") as client:
        yield KIS(client, mock)

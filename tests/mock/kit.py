"""Shared helpers of the mock server tests: paths, tr_ids and a thin KIS test client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import httpx

from kis_async._clock import KST
from kis_async.mock import DEMO_ACCOUNT_NO, DEMO_APP_KEY, DEMO_APP_SECRET, MockClock, MockKIS

QUOTES = "/uapi/domestic-stock/v1/quotations"
PRICE = f"{QUOTES}/inquire-price"
BOOK = f"{QUOTES}/inquire-asking-price-exp-ccn"
DAILY = f"{QUOTES}/inquire-daily-itemchartprice"
MINUTES = f"{QUOTES}/inquire-time-itemchartprice"
INFO = f"{QUOTES}/search-stock-info"
TOKEN = "/oauth2/tokenP"

TRADING = "/uapi/domestic-stock/v1/trading"
ORDER = f"{TRADING}/order-cash"
RVSECNCL = f"{TRADING}/order-rvsecncl"
BALANCE = f"{TRADING}/inquire-balance"
PSBL = f"{TRADING}/inquire-psbl-order"
CCLD = f"{TRADING}/inquire-daily-ccld"
#: Trading tr_ids per server: buy, sell, rvsecncl, balance, psbl, ccld.
TRADE_TR_IDS = {
    "real": {
        "buy": "TTTC0012U",
        "sell": "TTTC0011U",
        "rvsecncl": "TTTC0013U",
        "balance": "TTTC8434R",
        "psbl": "TTTC8908R",
        "ccld": "TTTC0081R",
    },
    "virtual": {
        "buy": "VTTC0012U",
        "sell": "VTTC0011U",
        "rvsecncl": "VTTC0013U",
        "balance": "VTTC8434R",
        "psbl": "VTTC8908R",
        "ccld": "VTTC0081R",
    },
}

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
        self.account_no = DEMO_ACCOUNT_NO
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

    # -- trading --------------------------------------------------------------------

    def tr(self, name: str) -> str:
        """The trading tr_id ``name`` (buy, sell, rvsecncl, balance, psbl, ccld) of this server."""
        return TRADE_TR_IDS[self.mock.server][name]

    def account_fields(self) -> dict[str, str]:
        cano, product = self.account_no.split("-")
        return {"CANO": cano, "ACNT_PRDT_CD": product}

    async def post(
        self, path: str, tr_id: str | None, body: Any, **headers: str | None
    ) -> httpx.Response:
        return await self.client.post(path, json=body, headers=await self.headers(tr_id, **headers))

    def order_body(
        self,
        code: str,
        quantity: int,
        price: int | None = None,
        *,
        sell: bool = False,
        **fields: str,
    ) -> dict[str, str]:
        """An order-cash body as the client sends it (a market order without ``price``)."""
        body = {
            **self.account_fields(),
            "PDNO": code,
            "ORD_DVSN": "00" if price is not None else "01",
            "ORD_QTY": str(quantity),
            "ORD_UNPR": str(price) if price is not None else "0",
            "EXCG_ID_DVSN_CD": "KRX",
            "CNDT_PRIC": "",
        }
        if sell:
            body["SLL_TYPE"] = "01"
        body.update(fields)
        return body

    async def order(
        self, side: str, code: str, quantity: int, price: int | None = None, **fields: str
    ) -> httpx.Response:
        """POST order-cash (``side`` "buy" or "sell")."""
        body = self.order_body(code, quantity, price, sell=side == "sell", **fields)
        return await self.post(ORDER, self.tr(side), body)

    async def placed(
        self, side: str, code: str, quantity: int, price: int | None = None, **fields: str
    ) -> dict[str, str]:
        """An accepted order's ``output`` (KRX_FWDG_ORD_ORGNO, ODNO, ORD_TMD)."""
        return accepted(await self.order(side, code, quantity, price, **fields))

    def change_body(
        self,
        original: Mapping[str, str],
        action: str,
        quantity: int | None = None,
        price: int = 0,
        **fields: str,
    ) -> dict[str, str]:
        """An order-rvsecncl body as the client sends it (``quantity`` None: all)."""
        body = {
            **self.account_fields(),
            "KRX_FWDG_ORD_ORGNO": original["KRX_FWDG_ORD_ORGNO"],
            "ORGN_ODNO": original["ODNO"],
            "ORD_DVSN": "00",
            "RVSE_CNCL_DVSN_CD": action,
            "ORD_QTY": str(quantity) if quantity is not None else "0",
            "ORD_UNPR": str(price),
            "QTY_ALL_ORD_YN": "Y" if quantity is None else "N",
            "CNDT_PRIC": "",
            "EXCG_ID_DVSN_CD": "KRX",
        }
        body.update(fields)
        return body

    async def revise(
        self, original: Mapping[str, str], price: int, quantity: int | None = None, **fields: str
    ) -> httpx.Response:
        body = self.change_body(original, "01", quantity, price, **fields)
        return await self.post(RVSECNCL, self.tr("rvsecncl"), body)

    async def cancel(
        self, original: Mapping[str, str], quantity: int | None = None, **fields: str
    ) -> httpx.Response:
        body = self.change_body(original, "02", quantity, 0, **fields)
        return await self.post(RVSECNCL, self.tr("rvsecncl"), body)

    def balance_params(self, **overrides: str) -> dict[str, str]:
        """inquire-balance parameters as the client sends them."""
        params = {
            **self.account_fields(),
            "AFHR_FLPR_YN": "N",
            "OFL_YN": "",
            "INQR_DVSN": "01",
            "UNPR_DVSN": "01",
            "FUND_STTL_ICLD_YN": "N",
            "FNCG_AMT_AUTO_RDPT_YN": "N",
            "PRCS_DVSN": "00",
            "CTX_AREA_FK100": "",
            "CTX_AREA_NK100": "",
        }
        params.update(overrides)
        return params

    def history_params(self, day: str | None = None, **overrides: str) -> dict[str, str]:
        """inquire-daily-ccld parameters as the client sends them (today by default)."""
        day = day or self.mock.clock.now().strftime("%Y%m%d")
        params = {
            **self.account_fields(),
            "INQR_STRT_DT": day,
            "INQR_END_DT": day,
            "SLL_BUY_DVSN_CD": "00",
            "INQR_DVSN": "00",
            "PDNO": "",
            "CCLD_DVSN": "00",
            "ORD_GNO_BRNO": "",
            "ODNO": "",
            "INQR_DVSN_3": "00",
            "INQR_DVSN_1": "",
            "EXCG_ID_DVSN_CD": "ALL",
            "CTX_AREA_FK100": "",
            "CTX_AREA_NK100": "",
        }
        params.update(overrides)
        return params

    def psbl_params(self, code: str, price: int | None = None) -> dict[str, str]:
        """inquire-psbl-order parameters as the client sends them."""
        return {
            **self.account_fields(),
            "PDNO": code,
            "ORD_UNPR": str(price) if price is not None else "",
            "ORD_DVSN": "00" if price is not None else "01",
            "CMA_EVLU_AMT_ICLD_YN": "N",
            "OVRS_ICLD_YN": "N",
        }

    async def pages(self, path: str, tr_id: str, params: Mapping[str, str]) -> list[httpx.Response]:
        """Every page of a continued query, keys echoed back exactly as received."""
        responses = [await self.get(path, tr_id, params, tr_cont="")]
        while responses[-1].headers["tr_cont"] == "M":
            body = responses[-1].json()
            follow = {
                **params,
                "CTX_AREA_FK100": body["ctx_area_fk100"],
                "CTX_AREA_NK100": body["ctx_area_nk100"],
            }
            responses.append(await self.get(path, tr_id, follow, tr_cont="N"))
            assert len(responses) < 100
        for response in responses:
            assert response.status_code == 200, response.text
            assert response.json()["rt_cd"] == "0", response.text
        return responses

    async def history(self, **overrides: str) -> list[dict[str, str]]:
        """Every row of today's order history (newest first unless told)."""
        pages = await self.pages(CCLD, self.tr("ccld"), self.history_params(**overrides))
        return [row for page in pages for row in page.json()["output1"]]


def accepted(response: httpx.Response) -> dict[str, str]:
    """The ``output`` of an accepted order answer."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["rt_cd"], body["msg_cd"]) == ("0", "APBK0013"), body
    output: dict[str, str] = body["output"]
    return output


def refused(response: httpx.Response, msg_cd: str, rt_cd: str = "1") -> dict[str, str]:
    """The body of a refusal with ``msg_cd`` (HTTP 200 for every trading refusal)."""
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    assert (body["rt_cd"], body["msg_cd"]) == (rt_cd, msg_cd), body
    assert set(body) == {"rt_cd", "msg_cd", "msg1"}
    return body


@asynccontextmanager
async def kis_at(moment: datetime, seed: int = 7, **options: Any) -> AsyncIterator[KIS]:
    """A fresh mock with a clock frozen at ``moment``, and a test client for it."""
    options.setdefault("rate_limit", float("inf"))
    mock = MockKIS(seed, clock=MockClock(moment, frozen=True), **options)
    async with httpx.AsyncClient(transport=mock.transport, base_url="http://mock") as client:
        yield KIS(client, mock)

"""The served mock as a product: its command line, its counters endpoint, and what other
KIS clients rely on (header name case, tokens that outlive a restart, any app key)."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections import namedtuple
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from kis_async.mock import MockClock, MockKIS
from kis_async.mock.__main__ import build_parser, main, parse_latency

from .kit import (
    BALANCE,
    KIS,
    MIDDAY,
    ORDER,
    PRICE,
    TOKEN,
    TR_PRICE,
    price_params,
    token_body,
)
from .test_served import _free_port, _serving

STATS = "/__mock/stats"


# -- the command line -------------------------------------------------------------------


def test_a_taken_port_is_one_error_line_and_exit_status_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        status = main(["--port", str(port), "--seed", "3"])
    captured = capsys.readouterr()
    assert status == 1
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"mock KIS: cannot listen on 127.0.0.1:{port}: ")
    assert "serving on" not in captured.err


def test_latency_is_milliseconds_with_an_optional_jitter(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert parse_latency("20") == (0.02, 0.0)
    assert parse_latency("20:5") == (0.02, 0.005)
    args = build_parser().parse_args(["--latency", "8:2", "--server", "virtual"])
    assert (args.latency, args.server, args.accept_any_app_key) == (
        (0.008, 0.002),
        "virtual",
        False,
    )
    for bad in ("fast", "5:10", "-1", "20:x"):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["--latency", bad])
    assert "latency" in capsys.readouterr().err
    with pytest.raises(ValueError, match="latency_jitter"):
        MockKIS(latency=0.01, latency_jitter=0.02)


def test_the_help_states_the_virtual_servers_rate_for_other_clients(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        build_parser("kis mock serve").parse_args(["--help"])
    text = capsys.readouterr().out
    assert text.startswith("usage: kis mock serve")
    assert "1 request/s on --server virtual" in " ".join(text.split())
    for option in ("--seed", "--rate-limit", "--latency", "--server", "--accept-any-app-key"):
        assert option in text


# -- /__mock/stats ------------------------------------------------------------------------


async def test_stats_endpoint_answers_the_counters_and_is_not_counted(
    kis: KIS, mock: MockKIS
) -> None:
    await kis.price()
    await kis.client.post(TOKEN, json=token_body())  # throttled: EGW00133
    response = await kis.client.get(STATS)
    assert response.status_code == 200
    stats = response.json()
    assert stats["requests"] == {TOKEN: 2, PRICE: 1}
    assert stats["total_requests"] == 3
    assert stats["by_tr_id"] == {TR_PRICE: 1}
    assert (stats["token_requests"], stats["tokens_issued"]) == (2, 1)
    assert stats["rejections"] == {"EGW00133": 1}
    assert (stats["seed"], stats["server"], stats["rate_limit"]) == (7, "real", None)
    assert stats == {**json.loads(json.dumps(mock.stats.as_dict())), **stats}
    assert mock.stats.total_requests == 3, "the stats request itself is not counted"
    assert (await kis.client.get("/__mock/nothing")).status_code == 404


# -- any app key ------------------------------------------------------------------------


async def test_any_well_formed_app_key_gets_an_account_it_names() -> None:
    mock = MockKIS(
        4, clock=MockClock(MIDDAY, frozen=True), rate_limit=float("inf"), accept_any_app_key=True
    )
    key, secret = "PS" + "a1B2" * 8 + "xy", "S3cr+/=" * 25 + "abcde"
    assert (len(key), len(secret)) == (36, 180)
    async with httpx.AsyncClient(transport=mock.transport, base_url="http://m") as client:
        short = await client.post(TOKEN, json=token_body(key[:-1], secret))
        assert short.json()["error_code"] == "EGW00103"
        spaced = await client.post(TOKEN, json=token_body(key, " " + secret[1:]))
        assert spaced.json()["error_code"] == "EGW00103"
        token = (await client.post(TOKEN, json=token_body(key, secret))).json()["access_token"]
        wrong = await client.post(TOKEN, json=token_body(key, "Z" * 180))
        assert wrong.json()["error_code"] == "EGW00105", "the first secret is the app's"
        headers = {"authorization": f"Bearer {token}", "appkey": key, "appsecret": secret}
        params = {
            "CANO": "81234567",
            "ACNT_PRDT_CD": "01",
            "AFHR_FLPR_YN": "N",
            "OFL_YN": "",
            "INQR_DVSN": "02",
            "UNPR_DVSN": "01",
            "FUND_STTL_ICLD_YN": "N",
            "FNCG_AMT_AUTO_RDPT_YN": "N",
            "PRCS_DVSN": "00",
            "CTX_AREA_FK100": "",
            "CTX_AREA_NK100": "",
        }
        balance = await client.get(
            BALANCE, params=params, headers={**headers, "tr_id": "TTTC8434R"}
        )
        assert balance.json()["rt_cd"] == "0", balance.text
        assert balance.json()["output2"][0]["dnca_tot_amt"] == str(mock.initial_cash)
        assert mock.account("81234567-01").cash == mock.initial_cash
        # The demo app's number is taken: another new app cannot claim it.
        other = "PS" + "z9" * 17
        token2 = (await client.post(TOKEN, json=token_body(other, secret))).json()["access_token"]
        taken = {**params, "CANO": "50000000"}
        headers2 = {"authorization": f"Bearer {token2}", "appkey": other, "appsecret": secret}
        refused = await client.get(
            BALANCE, params=taken, headers={**headers2, "tr_id": "TTTC8434R"}
        )
        assert refused.json()["msg1"] == "ERROR : INPUT INVALID_CHECK_ACNO"


# -- what the official sample client does with the headers ------------------------------


def _sample_header(response: http.client.HTTPResponse) -> Any:
    """The official sample's APIResp._setHeader: a namedtuple of the lowercase names."""
    fields = {name: value for name, value in response.getheaders() if name.islower()}
    return namedtuple("header", fields.keys())(**fields)


def _sample_call(
    base_url: str, method: str, path: str, headers: dict[str, str], body: Any = None
) -> tuple[Any, Any, list[str]]:
    """One call as the sample makes it (http.client keeps header names as sent, like
    requests); returns the header namedtuple, the body namedtuple and the raw names."""
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        payload = json.dumps(body) if body is not None else None
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        data = json.loads(response.read())
        header = _sample_header(response)
        names = [name for name, _ in response.getheaders()]
    finally:
        connection.close()
    return header, namedtuple("body", data.keys())(**data), names


async def test_the_official_samples_header_handling_works_on_every_answer() -> None:
    mock = MockKIS(5, clock=MockClock(MIDDAY, frozen=True), rate_limit=float("inf"))
    base = {"Content-Type": "application/json", "Accept": "text/plain", "charset": "UTF-8"}
    async with _serving(mock) as base_url:

        def session() -> list[tuple[Any, Any, list[str]]]:
            calls = [_sample_call(base_url, "POST", TOKEN, base, token_body())]
            auth = {
                **base,
                "authorization": f"Bearer {calls[0][1].access_token}",
                "appkey": mock.DEMO_APP_KEY,
                "appsecret": mock.DEMO_APP_SECRET,
                "custtype": "P",
                "tr_cont": "",
            }
            query = "&".join(f"{k}={v}" for k, v in price_params().items())
            quote = {**auth, "tr_id": TR_PRICE}
            calls.append(_sample_call(base_url, "GET", f"{PRICE}?{query}", quote))
            price = mock.market.book("035720", mock.clock.now()).bids[3]
            order = {
                "CANO": "50000000",
                "ACNT_PRDT_CD": "01",
                "PDNO": "035720",
                "ORD_DVSN": "00",
                "ORD_QTY": "1",
                "ORD_UNPR": str(price),
                "EXCG_ID_DVSN_CD": "KRX",
                "SLL_TYPE": "",
                "CNDT_PRIC": "",
            }
            buy = {**auth, "tr_id": "TTTC0012U"}
            calls.append(_sample_call(base_url, "POST", ORDER, buy, order))
            calls.append(_sample_call(base_url, "GET", f"{PRICE}?{query}", {**auth, "tr_id": "X"}))
            return calls

        calls = await asyncio.to_thread(session)
    (_, token, token_names), (quote_header, quote, names), (order_header, order, _), refusal = calls
    assert token.token_type == "Bearer"
    assert {"Content-Type", "Content-Length"} <= set(token_names)
    assert {"Content-Type", "Content-Length"} <= set(names)
    assert (quote_header.tr_id, quote_header.tr_cont) == (TR_PRICE, "D")
    assert len(quote_header.gt_uid) == 32
    assert quote.rt_cd == "0"
    assert order.rt_cd == "0"
    assert order.output["ODNO"] == mock.orders[0].order_id
    assert order_header.tr_id == "TTTC0012U"
    assert refusal[1].msg_cd == "OPSQ0002"
    assert refusal[0].tr_id == "X"


# -- tokens outlive a restart with the same seed ----------------------------------------


@contextmanager
def _served_process(*options: str) -> Iterator[str]:
    port = _free_port()
    command = [sys.executable, "-m", "kis_async.mock", "--port", str(port), *options]
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        command, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        assert "serving on" in first, first
        for _ in range(200):  # bound before the banner; uvicorn accepts right after
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def _quote(client: httpx.Client, token: str) -> httpx.Response:
    headers = {
        "authorization": f"Bearer {token}",
        "appkey": MockKIS.DEMO_APP_KEY,
        "appsecret": MockKIS.DEMO_APP_SECRET,
        "tr_id": TR_PRICE,
    }
    return client.get(PRICE, params=price_params(), headers=headers)


def test_a_token_stays_valid_after_the_mock_restarts_with_the_same_seed() -> None:
    options = ("--seed", "11", "--server", "virtual", "--rate-limit", "inf", "--latency", "2:1")
    with _served_process(*options) as base_url, httpx.Client(base_url=base_url) as client:
        token = client.post(TOKEN, json=token_body()).json()["access_token"]
        assert _quote(client, token).json()["rt_cd"] == "0"
        stats = client.get(STATS).json()
        assert (stats["server"], stats["rate_limit"], stats["seed"]) == ("virtual", None, 11)
    with _served_process(*options) as base_url, httpx.Client(base_url=base_url) as client:
        again = _quote(client, token)
        assert again.status_code == 200, again.text
        assert again.json()["rt_cd"] == "0"
        stats = client.get(STATS).json()
        assert (stats["token_requests"], stats["requests"]) == (0, {PRICE: 1})


async def test_tokens_are_checked_by_signature_so_a_new_instance_accepts_them() -> None:
    clock = MockClock(MIDDAY, frozen=True)
    first = MockKIS(11, clock=clock)
    async with httpx.AsyncClient(transport=first.transport, base_url="http://m") as client:
        token = (await client.post(TOKEN, json=token_body())).json()["access_token"]

    async def status(mock: MockKIS, presented: str) -> str:
        async with httpx.AsyncClient(transport=mock.transport, base_url="http://m") as client:
            headers = {
                "authorization": f"Bearer {presented}",
                "appkey": mock.DEMO_APP_KEY,
                "appsecret": mock.DEMO_APP_SECRET,
                "tr_id": TR_PRICE,
            }
            response = await client.get(PRICE, params=price_params(), headers=headers)
            return str(response.json()["msg_cd"])

    restarted = MockKIS(11, clock=clock)
    assert await status(restarted, token) == "MCA00000"
    assert await status(MockKIS(12, clock=clock), token) == "EGW00121", "another seed's key"
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert await status(restarted, tampered) == "EGW00121"
    # The same seed, app and issue time give the same token.
    again = MockKIS(11, clock=clock)
    async with httpx.AsyncClient(transport=again.transport, base_url="http://m") as client:
        assert (await client.post(TOKEN, json=token_body())).json()["access_token"] == token
    restarted.expire_tokens()
    assert await status(restarted, token) == "EGW00123", "expire_tokens reaches old tokens"
    later = MockKIS(11, clock=MockClock(MIDDAY.replace(day=14), frozen=True))
    assert await status(later, token) == "EGW00123", "expired after 24 h"

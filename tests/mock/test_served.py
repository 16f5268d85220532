"""The app served by uvicorn on 127.0.0.1: a real HTTP exchange and a real dropped connection."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import uvicorn

from kis_async.mock import MockClock, MockKIS
from kis_async.mock.__main__ import main

from .kit import MIDDAY, PRICE, TOKEN, TR_PRICE, price_params, token_body


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def _serving(mock: MockKIS) -> AsyncIterator[str]:
    port = _free_port()
    config = uvicorn.Config(
        mock.app,
        host="127.0.0.1",
        port=port,
        log_level="critical",
        lifespan="on",
        date_header=False,  # the app states the mock clock's Date itself
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


async def test_one_real_http_call() -> None:
    mock = MockKIS(7, clock=MockClock(MIDDAY, frozen=True))
    async with _serving(mock) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        token = await client.post(TOKEN, json=token_body())
        assert token.status_code == 200
        headers = {
            "authorization": f"Bearer {token.json()['access_token']}",
            "appkey": mock.DEMO_APP_KEY,
            "appsecret": mock.DEMO_APP_SECRET,
            "tr_id": TR_PRICE,
            "custtype": "P",
        }
        response = await client.get(PRICE, params=price_params(), headers=headers)
        assert response.status_code == 200
        assert response.headers["tr_id"] == TR_PRICE
        assert response.headers["tr_cont"] == "D"
        assert response.json()["output"]["stck_prpr"] == str(mock.current_price("005930"))
    assert mock.stats.requests == {TOKEN: 1, PRICE: 1}


@pytest.mark.parametrize("kind", ["drop", "drop_after"])
async def test_transport_faults_drop_the_connection_when_served(kind: str) -> None:
    mock = MockKIS(7, clock=MockClock(MIDDAY, frozen=True))
    mock.faults.schedule(kind, path=TOKEN)  # type: ignore[arg-type]
    async with _serving(mock) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post(TOKEN, json=token_body())
        after = await client.post(TOKEN, json=token_body())
    assert after.status_code == (403 if kind == "drop_after" else 200)
    assert mock.stats.faults == {kind: 1}


def test_command_line_rejects_a_bad_rate_limit(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--rate-limit", "0"])
    assert "rate limit must be positive" in capsys.readouterr().err

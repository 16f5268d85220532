"""The feed served by uvicorn on 127.0.0.1, read over a real socket with ``websockets``."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import uvicorn

from kis_async import AsyncKISClient, KISSettings, TradeTick, WebsocketsTransport
from kis_async.mock import DEMO_HTS_ID, MockClock, MockKIS
from tests.conftest import MIDDAY

from .conftest import take


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def _serving(mock: MockKIS) -> AsyncIterator[str]:
    port = _free_port()
    config = uvicorn.Config(
        mock.app, host="127.0.0.1", port=port, log_level="critical", date_header=False
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


@pytest.mark.parametrize("path", ["/tryitout", ""])
async def test_trades_and_fill_notices_over_a_real_socket(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="websockets")
    mock = MockKIS(5, clock=MockClock(MIDDAY, frozen=True), rate_limit=float("inf"))
    mock.stream.ping_interval = 30.0
    async with _serving(mock) as base_url:
        settings = KISSettings(
            _env_file=None,
            env="mock",
            base_url=base_url,
            ws_url=base_url.replace("http", "ws") + path,
            hts_id=DEMO_HTS_ID,
            token_cache_dir=None,
            rate_limit=1000.0,
        )
        async with AsyncKISClient(settings) as kis, kis.stream() as stream:
            assert isinstance(stream._transport, WebsocketsTransport)
            await stream.subscribe_trades(["005930"])
            await stream.subscribe_fills()
            mock.clock.advance(31)  # also due: a PINGPONG
            mock.clock.advance(29)
            ticks = await take(stream.trades(), mock.stream.trades_per_bar)
            price = await kis.get_current_price("005930")
            notices = stream.fills()
            order = await kis.buy("005930", 2)
            accepted, *_ = await take(notices, 2)
            approval = stream._approval
        assert stream.stats.pings >= 1
    # websockets logs every frame at DEBUG, the subscribe message too: masked.
    assert approval is not None
    assert "approval_key" in caplog.text
    assert approval not in caplog.text
    assert DEMO_HTS_ID not in caplog.text
    assert all(isinstance(t, TradeTick) for t in ticks)
    assert ticks[-1].price == price.current_price
    assert accepted.order_no == order.order_id
    assert mock.stream.open_sessions == 0

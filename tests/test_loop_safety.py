"""The library never owns the event loop: it works in services, notebooks and tests."""

from __future__ import annotations

import ast
import asyncio
import threading
from pathlib import Path

import httpx

from kis_async import AsyncKISClient

from .conftest import make_settings

PACKAGE = Path(__file__).resolve().parents[1] / "kis_async"
FORBIDDEN = {"run", "run_until_complete", "get_event_loop", "new_event_loop", "set_event_loop"}


def test_library_never_starts_or_grabs_an_event_loop() -> None:
    offenders = []
    for source in PACKAGE.rglob("*.py"):
        if source.name == "__main__.py":
            continue  # command-line entry points own their process
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN:
                base = node.value
                if isinstance(base, ast.Name) and base.id in {"asyncio", "loop", "anyio"}:
                    offenders.append(f"{source.name}:{node.lineno} {base.id}.{node.attr}")
    assert offenders == []


def test_construction_needs_no_loop_and_sends_nothing() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    transport = httpx.MockTransport(handler)
    client = AsyncKISClient(make_settings(), transport=transport)  # plain sync code, no loop
    assert sent == []
    asyncio.run(client.aclose())  # the test, not the library, owns this loop


def test_default_client_runs_on_the_mock_inside_someone_elses_loop() -> None:
    # A notebook's kernel already runs a loop; top-level await simply uses it. Here a
    # loop in another thread plays the kernel.
    results: list[int] = []

    async def notebook_cell() -> None:
        async with AsyncKISClient(make_settings(env="mock", app_key=None, app_secret=None)) as kis:
            results.append((await kis.get_current_price("005930")).current_price)

    thread = threading.Thread(target=lambda: asyncio.run(notebook_cell()))
    thread.start()
    thread.join(timeout=30)
    assert len(results) == 1
    assert results[0] > 0


async def test_an_injected_http_client_is_never_closed_by_us() -> None:
    from kis_async.mock import MockKIS

    mock = MockKIS(rate_limit=float("inf"))
    async with httpx.AsyncClient(transport=mock.transport) as shared:
        async with AsyncKISClient(
            make_settings(env="mock", app_key=None, app_secret=None, account_no=None),
            http_client=shared,
            clock=mock.clock,
        ) as kis:
            await kis.get_current_price("005930")
        assert not shared.is_closed  # still the caller's to use and close
        response = await shared.get("http://mock/uapi/domestic-stock/v1/quotations/inquire-price")
        assert response.status_code == 403  # the shared client still works (no credentials sent)

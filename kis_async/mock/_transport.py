"""The in-process httpx transport of the mock server, with the faults that live below HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
from anyio.lowlevel import checkpoint

from ._asgi import ASGIApp
from ._faults import ADMITTED, FaultKind

__all__ = ["MockTransport"]

Admit = Callable[[str, str, str], "FaultKind | None"]


class MockTransport(httpx.AsyncBaseTransport):
    """Serves a mock app in-process (``httpx.ASGITransport``) and injects transport faults.

    ``admit(method, path, tr_id)`` counts the request and decides its fault once. The
    faults that lose a request or its answer are raised here as the httpx errors a real
    network gives: ``refuse`` (``ConnectError``, the app never sees it), ``drop``
    (``RemoteProtocolError``) and ``timeout`` (``ReadTimeout``) before processing,
    ``drop_after`` and ``timeout_after`` after it. Every other fault is the app's.

    As on a network, the server's work belongs to the server: each request is handled
    in a task the transport owns, so a caller cancelled mid-request (``wait_for``, a
    task group) does not cancel it (an order it carried is still recorded), and a
    caller that waits longer than the request's read timeout gets ``httpx.ReadTimeout``
    while the server finishes (httpx enforces timeouts on sockets only; this does it
    for the in-process app). The mock therefore needs asyncio.
    """

    def __init__(self, app: ASGIApp, admit: Admit) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self._admit = admit
        self._running: set[asyncio.Task[httpx.Response]] = set()

    async def drain(self) -> None:
        """Wait until every request the server is still working on is finished."""
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # A real round trip yields to the event loop on the way out and on the way back;
        # without these, an in-process call would run to completion in one go and hide
        # every race between concurrent callers (one token for N callers, say).
        await checkpoint()
        fault = self._admit(request.method, request.url.path, request.headers.get("tr_id", ""))
        if fault == "refuse":
            raise httpx.ConnectError("mock KIS: connection refused (injected)", request=request)
        if fault == "drop":
            raise httpx.RemoteProtocolError(
                "mock KIS: server disconnected without sending a response (injected)",
                request=request,
            )
        if fault == "timeout":
            raise httpx.ReadTimeout("mock KIS: no answer (injected)", request=request)
        token = ADMITTED.set((fault,))
        try:
            # The task copies the context now, ADMITTED included.
            work = asyncio.ensure_future(self._inner.handle_async_request(request))
        finally:
            ADMITTED.reset(token)
        self._running.add(work)
        work.add_done_callback(self._finished)
        timeouts = request.extensions.get("timeout") or {}
        read_timeout = timeouts.get("read")
        try:
            response = await asyncio.wait_for(asyncio.shield(work), read_timeout)
        except TimeoutError:
            raise httpx.ReadTimeout(
                f"mock KIS: no answer within the read timeout of {read_timeout:g} s",
                request=request,
            ) from None
        await checkpoint()
        if fault == "drop_after":
            await response.aclose()
            raise httpx.RemoteProtocolError(
                "mock KIS: connection dropped after the request was processed (injected)",
                request=request,
            )
        if fault == "timeout_after":
            await response.aclose()
            raise httpx.ReadTimeout(
                "mock KIS: no answer after the request was processed (injected)", request=request
            )
        return response

    def _finished(self, work: asyncio.Task[httpx.Response]) -> None:
        self._running.discard(work)
        if not work.cancelled():
            # Retrieved, so a failure whose caller already left is not logged as lost.
            work.exception()

    async def aclose(self) -> None:
        await self._inner.aclose()

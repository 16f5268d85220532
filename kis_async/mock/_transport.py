"""The in-process httpx transport of the mock server, with the faults that live below HTTP."""

from __future__ import annotations

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
    """

    def __init__(self, app: ASGIApp, admit: Admit) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self._admit = admit

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
            response = await self._inner.handle_async_request(request)
        finally:
            ADMITTED.reset(token)
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

    async def aclose(self) -> None:
        await self._inner.aclose()

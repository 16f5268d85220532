"""The in-memory WebSocket transport: a client connection straight into the mock's ASGI app.

The streaming counterpart of :class:`MockTransport`: ``MockKIS().ws_transport`` runs the
app's ASGI ``websocket`` scope in a task and passes messages through two queues, so
tests and env "mock" stream without a socket. It satisfies the stream's transport
protocol (``connect(url, open_timeout=...)``) without importing the client.

ASGI has no pong message; a pong is delivered as ``{"type": "websocket.pong", "text":
...}``, an extension only this transport sends (a real server sees pongs below ASGI).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from kis_async.stream._transport import ConnectionEnded

from ._asgi import Message, Scope

__all__ = ["MockWebSocketTransport"]

App = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]


class _Connection:
    def __init__(self) -> None:
        self.to_app: asyncio.Queue[Message] = asyncio.Queue()
        self.to_client: asyncio.Queue[Message] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self.closed: ConnectionEnded | None = None

    # -- the app's side ----------------------------------------------------------------

    async def app_receive(self) -> Message:
        return await self.to_app.get()

    async def app_send(self, message: Message) -> None:
        if self.closed is not None and message["type"] != "websocket.close":
            # The client is gone: a real server's send would fail the same way.
            raise OSError("mock WebSocket: the client closed the connection")
        self.to_client.put_nowait(message)

    # -- the client's side -------------------------------------------------------------

    async def send(self, text: str) -> None:
        if self.closed is not None:
            raise self.closed
        self.to_app.put_nowait({"type": "websocket.receive", "text": text})

    async def recv(self) -> str:
        if self.closed is not None and self.to_client.empty():
            raise self.closed
        message = await self.to_client.get()
        kind = message["type"]
        if kind == "websocket.send":
            text = message.get("text")
            if text is None:
                return bytes(message.get("bytes") or b"").decode("utf-8")
            return str(text)
        if kind == "websocket.close":
            self.closed = ConnectionEnded(
                int(message.get("code", 1000)), message.get("reason") or ""
            )
            self.to_app.put_nowait({"type": "websocket.disconnect", "code": self.closed.code})
            raise self.closed
        if kind == "_ended":
            self.closed = ConnectionEnded(1006, "the server went away")
            raise self.closed
        raise ConnectionEnded(1002, f"unexpected ASGI message {kind!r}")

    async def pong(self, data: str) -> None:
        if self.closed is not None:
            raise self.closed
        self.to_app.put_nowait({"type": "websocket.pong", "text": data})

    async def close(self) -> None:
        if self.closed is None:
            self.closed = ConnectionEnded(1000, "closed by the client")
            self.to_app.put_nowait({"type": "websocket.disconnect", "code": 1000})
        task = self.task
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout=1.0)
            except (TimeoutError, Exception):
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task


class MockWebSocketTransport:
    """Opens in-memory WebSocket connections to an ASGI app (the mock server's)."""

    def __init__(self, app: App) -> None:
        self._app = app
        #: Connections opened through this transport.
        self.connections = 0

    async def connect(self, url: str, *, open_timeout: float = 10.0) -> _Connection:
        """Open a connection to ``url``'s path; OSError when the app refuses the handshake."""
        parts = urlsplit(url)
        path = parts.path or "/"
        scope: Scope = {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "scheme": parts.scheme or "ws",
            "path": path,
            "raw_path": path.encode(),
            "query_string": parts.query.encode(),
            "root_path": "",
            "headers": [(b"host", (parts.netloc or "mock-kis.invalid").encode())],
            "client": ("127.0.0.1", 0),
            "server": (parts.hostname or "mock-kis.invalid", parts.port or 80),
            "subprotocols": [],
            "extensions": {"websocket.pong": {}},
        }
        conn = _Connection()

        async def run() -> None:
            try:
                await self._app(scope, conn.app_receive, conn.app_send)
            finally:
                conn.to_client.put_nowait({"type": "_ended"})

        self.connections += 1
        conn.task = asyncio.get_running_loop().create_task(run(), name="mock-ws-session")
        conn.to_app.put_nowait({"type": "websocket.connect"})
        try:
            async with asyncio.timeout(open_timeout):
                first = await conn.to_client.get()
        except TimeoutError:
            conn.task.cancel()
            raise
        if first["type"] != "websocket.accept":
            conn.task.cancel()
            with contextlib.suppress(BaseException):
                await conn.task
            raise ConnectionRefusedError("mock WebSocket: the server refused the handshake (403)")
        return conn

    def __repr__(self) -> str:
        return "MockWebSocketTransport()"

"""The WebSocket transport seam: how the stream opens a connection.

As httpx takes a transport, :class:`KISStream` takes a :class:`WebSocketTransport`:
:class:`WebsocketsTransport` speaks to a real server over the ``websockets`` library;
the mock server's ``MockKIS().ws_transport`` connects straight to its ASGI app in
memory. The stream only ever sees :class:`WebSocketConnection`.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = [
    "ConnectionEnded",
    "WebSocketConnection",
    "WebSocketTransport",
    "WebsocketsTransport",
]


class ConnectionEnded(Exception):
    """The connection is over (closed by either side, or lost). ``code`` is the close code."""

    def __init__(self, code: int = 1006, reason: str = "") -> None:
        super().__init__(f"connection closed ({code}{': ' + reason if reason else ''})")
        self.code = code
        self.reason = reason


@runtime_checkable
class WebSocketConnection(Protocol):
    """One open WebSocket. Every method raises :class:`ConnectionEnded` once it is over."""

    async def send(self, text: str) -> None:
        """Send one text message."""
        ...

    async def recv(self) -> str:
        """The next text message (binary messages are decoded as UTF-8)."""
        ...

    async def pong(self, data: str) -> None:
        """Send a pong control frame carrying ``data`` (the answer to KIS's PINGPONG)."""
        ...

    async def close(self) -> None:
        """Close the connection (a normal close); safe to call twice."""
        ...


@runtime_checkable
class WebSocketTransport(Protocol):
    """Opens WebSocket connections."""

    async def connect(self, url: str, *, open_timeout: float) -> WebSocketConnection:
        """Open a connection to ``url``; raises ``OSError``/``TimeoutError`` on failure."""
        ...


class _WebsocketsConnection:
    __slots__ = ("_closed_exc", "_ws")

    def __init__(self, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        self._ws = ws
        self._closed_exc: type[Exception] = ConnectionClosed

    def _ended(self, exc: Exception) -> ConnectionEnded:
        rcvd = getattr(exc, "rcvd", None)
        code = getattr(rcvd, "code", 1006) if rcvd is not None else 1006
        return ConnectionEnded(code, getattr(rcvd, "reason", "") if rcvd is not None else "")

    async def send(self, text: str) -> None:
        try:
            await self._ws.send(text)
        except self._closed_exc as exc:
            raise self._ended(exc) from None

    async def recv(self) -> str:
        try:
            message = await self._ws.recv()
        except self._closed_exc as exc:
            raise self._ended(exc) from None
        return message if isinstance(message, str) else bytes(message).decode("utf-8")

    async def pong(self, data: str) -> None:
        try:
            await self._ws.pong(data.encode("utf-8"))
        except self._closed_exc as exc:
            raise self._ended(exc) from None

    async def close(self) -> None:
        await self._ws.close()


class WebsocketsTransport:
    """Connections over the ``websockets`` library's asyncio client.

    ``ping_interval``/``ping_timeout`` (seconds) are the library's own WebSocket pings,
    which find a dead TCP connection long before KIS's PINGPONG would; the official
    samples use them too, so KIS tolerates them. Its built-in reconnect is not used:
    it resets its back-off after every handshake, so a server that accepts and then
    refuses (OPSP8996) would make it spin (kis-api.md §8.5).
    """

    def __init__(
        self,
        *,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        max_size: int = 2**22,
    ) -> None:
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.max_size = max_size

    async def connect(self, url: str, *, open_timeout: float) -> WebSocketConnection:
        """One open connection to ``url``, its handshake allowed ``open_timeout`` seconds.

        ConfigError when the ``stream`` extra (``websockets``) is not installed.
        """
        try:
            from websockets.asyncio.client import connect
        except ImportError as exc:  # pragma: no cover - depends on the install
            from kis_async._errors import ConfigError

            raise ConfigError(
                "streaming needs the 'stream' extra: pip install 'kis-async[stream]'"
            ) from exc
        ws = await connect(
            url,
            open_timeout=open_timeout,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            max_size=self.max_size,
            compression=None,
            # A dead peer never answers the close handshake: do not wait long for it.
            close_timeout=2.0,
        )
        return _WebsocketsConnection(ws)

    def __repr__(self) -> str:
        return f"WebsocketsTransport(ping_interval={self.ping_interval})"

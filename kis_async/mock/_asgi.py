"""A small ASGI layer: request and response objects, a router and the app callable.

No web framework: the mock needs exact control over status codes, headers and
dropped connections, and a per-request path measured in microseconds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl

__all__ = [
    "ASGIApp",
    "Message",
    "Receive",
    "Request",
    "Response",
    "Router",
    "Scope",
    "Send",
    "parse_query",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request.

    ``headers`` has lowercase names (the last value wins); ``query`` has UPPERCASE
    names, since KIS accepts query parameter names in either case.
    """

    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    body: bytes = b""

    @classmethod
    def from_scope(cls, scope: Scope, body: bytes) -> Request:
        """The request an ASGI ``http`` scope describes."""
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope["headers"]
        }
        raw_query: bytes = scope.get("query_string", b"")
        query = parse_query(raw_query.decode("latin-1")) if raw_query else {}
        return cls(scope["method"].upper(), scope["path"], headers, query, body)


@dataclass(frozen=True, slots=True)
class Response:
    """One HTTP answer. ``abort`` means: start the answer, then drop the connection."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    abort: bool = False

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """Headers as ASGI wants them, with Content-Length (names keep their case)."""
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self.headers]
        raw.append((b"Content-Length", str(len(self.body)).encode("ascii")))
        return raw


def parse_query(text: str) -> dict[str, str]:
    """Query parameters with UPPERCASE names (the last value wins)."""
    if "%" in text or "+" in text:
        pairs = parse_qsl(text, keep_blank_values=True)
    else:
        # The common case, with nothing to unquote, at a fraction of parse_qsl's cost.
        pairs = [(k, v) for k, _, v in (part.partition("=") for part in text.split("&") if part)]
    return {name.upper(): value for name, value in pairs}


class Router(Generic[T]):
    """Routes by exact (method, path); ``T`` is whatever the server keeps per route."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], T] = {}

    def add(self, method: str, path: str, route: T) -> None:
        """Register ``route`` for ``method`` ``path`` (once)."""
        key = (method.upper(), path)
        if key in self._routes:
            raise ValueError(f"{method} {path} is already routed")
        self._routes[key] = route

    def get(self, method: str, path: str) -> T | None:
        """The route for ``method`` ``path``, or None."""
        return self._routes.get((method, path))


Handler = Callable[[Request], Awaitable[Response]]


class ASGIApp:
    """An ASGI 3 application around one ``handler(Request) -> Response``.

    Answers lifespan events, reads the whole request body, and for an ``abort``
    response starts the answer and returns without finishing it, which makes a
    server (uvicorn) drop the connection mid-answer.
    """

    def __init__(
        self,
        handler: Handler,
        websocket: Callable[[Scope, Receive, Send], Awaitable[None]] | None = None,
    ) -> None:
        self._handler = handler
        # The real-time feed: ASGI "websocket" scopes go to it, whatever their path.
        self._websocket = websocket

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket" and self._websocket is not None:
            await self._websocket(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        else:
            raise RuntimeError(f"unsupported ASGI scope type {kind!r}")

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        request = Request.from_scope(scope, b"".join(chunks))
        response = await self._handler(request)
        if response.abort:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": [(b"Content-Type", b"application/json")],
                }
            )
            return
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": response.raw_headers(),
            }
        )
        await send({"type": "http.response.body", "body": response.body, "more_body": False})

    @staticmethod
    async def _lifespan(receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

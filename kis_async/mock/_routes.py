"""The endpoint registry: which handler answers (method, path), with which tr_ids per server.

Handlers are plain functions of a :class:`Call`; they know nothing about HTTP. New
endpoints (the exchange's orders and balances) are added by registering more of them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from ._asgi import Request
from ._wire import Reply, Success, invalid_input

__all__ = ["Call", "Endpoint", "Guard", "Server", "tr_ids"]

Server = Literal["real", "virtual"]
#: What the server checks before the handler runs:
#: ``"oauth"`` nothing (the handler has its own rules); ``"app"`` app key and secret and
#: the rate window; ``"token"`` those plus the bearer token, tr_id and custtype.
Guard = Literal["oauth", "app", "token"]


@dataclass(frozen=True, slots=True)
class Call:
    """One request as a handler sees it: who (``app_key``), what (``tr_id``) and when."""

    request: Request
    app_key: str
    tr_id: str
    now: datetime
    server: Server

    def param(
        self,
        name: str,
        choices: Collection[str] | None = None,
        *,
        required: bool = True,
        default: str = "",
    ) -> str:
        """The query parameter ``name`` (any case on the wire).

        Missing and ``required``, or not among ``choices``: OPSQ2001 naming it.
        """
        value = self.request.query.get(name)
        if value is None:
            if required:
                raise invalid_input(name)
            return default
        if choices is not None and value not in choices:
            raise invalid_input(name)
        return value


Handler = Callable[[Call], "Success | Reply"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A handler with the rules guarding it.

    ``tr_ids[server]`` are the tr_ids accepted on that server (empty: none required).
    """

    method: str
    path: str
    handler: Handler
    guard: Guard = "token"
    tr_ids: Mapping[Server, frozenset[str]] = field(default_factory=dict)


def tr_ids(
    real: Collection[str] = (), virtual: Collection[str] = ()
) -> dict[Server, frozenset[str]]:
    """The tr_id table of an endpoint: which tr_ids each server accepts."""
    return {"real": frozenset(real), "virtual": frozenset(virtual)}

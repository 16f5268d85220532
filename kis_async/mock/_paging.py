"""Continued queries (연속조회, kis-api.md §7): ``tr_cont`` and the CTX_AREA_FK100/NK100 keys.

The first call sends ``tr_cont`` blank; a page with more to come answers header
``tr_cont: M``, the last one ``D``. Each answer carries ``ctx_area_fk100`` (the
request's parameters joined by ``^``) and ``ctx_area_nk100`` (the key of the last row
served), both right-padded with spaces to 100 characters. The next call sends
``tr_cont: N`` and both keys back exactly; a key that does not match is refused with
OPSQ2001 naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from ._routes import Call
from ._wire import invalid_input

__all__ = ["CTX_WIDTH", "Page", "pad", "paginate", "request_key"]

#: Width of the continuation keys, characters.
CTX_WIDTH = 100

T = TypeVar("T")


def pad(text: str) -> str:
    """``text`` cut or right-padded with spaces to :data:`CTX_WIDTH` characters."""
    return text[:CTX_WIDTH].ljust(CTX_WIDTH)


def request_key(values: Iterable[str]) -> str:
    """The CTX_AREA_FK100 of a request: its parameter values, each followed by ``^``."""
    return pad("".join(f"{value}^" for value in values))


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of rows; ``more`` when rows remain after it."""

    rows: list[T]
    more: bool
    fk100: str
    nk100: str

    @property
    def tr_cont(self) -> str:
        """The response header: ``"M"`` more pages follow, ``"D"`` this is the last."""
        return "M" if self.more else "D"

    def keys(self) -> dict[str, str]:
        """The body's continuation keys."""
        return {"ctx_area_fk100": self.fk100, "ctx_area_nk100": self.nk100}


def paginate(
    call: Call, rows: Sequence[T], key: Callable[[T], str], size: int, fk100: str
) -> Page[T]:
    """The page of ``rows`` (already filtered and ordered) this call asks for.

    ``key`` names a row uniquely (it becomes NK100); ``fk100`` is this request's
    :func:`request_key`. A continued call (``tr_cont: N``) must send both keys back as
    received, else OPSQ2001 ``INVALID_CHECK_CTX_AREA_FK100`` / ``..._NK100``.
    """
    start = 0
    if call.request.headers.get("tr_cont", "").strip() == "N":
        if call.param("CTX_AREA_FK100", required=False) != fk100:
            raise invalid_input("CTX_AREA_FK100")
        sent = call.param("CTX_AREA_NK100", required=False)
        cursor = sent.rstrip(" ")
        keys = [key(row) for row in rows]
        # The cursor names the last row served; a row key is never blank.
        if not cursor or sent != pad(cursor) or cursor not in keys:
            raise invalid_input("CTX_AREA_NK100")
        start = keys.index(cursor) + 1
    page = list(rows[start : start + size])
    more = start + size < len(rows)
    return Page(page, more, fk100, pad(key(page[-1]) if page else ""))

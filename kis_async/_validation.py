"""Checks on user input, made before anything is sent.

Each raises :class:`InvalidRequestError` (also a ``ValueError``) naming the argument
and what would be accepted. Text is checked with ASCII rules only: Unicode case folding
turns look-alikes into valid codes (``"ſ".upper() == "S"``, ``"ﬀ".upper() == "FF"``),
so anything outside ASCII is refused before it is folded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from ._clock import KST
from ._errors import InvalidRequestError
from ._trading_models import Side

__all__ = [
    "check_count",
    "check_date",
    "check_filled",
    "check_positive_int",
    "check_side",
    "check_ticker",
    "check_tickers",
]

# KRX short codes are six characters: digits, and since 2024 capital letters for some
# new listings. ETNs take a leading "Q" (KIS: "ETN은 종목코드 6자리 앞에 Q 입력").
_TICKER = re.compile(r"Q?[0-9][0-9A-Z]{5}")
_ASCII_BLANKS = " \t"


def check_ticker(ticker: Any) -> str:
    """The ticker as KIS wants it, or InvalidRequestError."""
    if not isinstance(ticker, str):
        raise InvalidRequestError(
            f"ticker must be a string such as '005930', got {type(ticker).__name__}"
        )
    # ASCII first, then fold: str.upper() maps some non-ASCII letters onto ASCII ones.
    code = ticker.strip(_ASCII_BLANKS).upper() if ticker.isascii() else ""
    if not _TICKER.fullmatch(code):
        raise InvalidRequestError(
            f"ticker {ticker!r} is not a KRX stock code: six ASCII characters such as "
            "'005930' (ETNs: 'Q' and six characters)"
        )
    return code


def check_tickers(tickers: Any) -> list[str]:
    """Every ticker checked, duplicates removed, order kept."""
    if isinstance(tickers, str | bytes):
        raise InvalidRequestError("tickers must be a list of codes, not a single string")
    if not isinstance(tickers, Iterable):
        raise InvalidRequestError(
            f"tickers must be a list of codes such as ['005930'], got {type(tickers).__name__}"
        )
    seen: dict[str, None] = {}
    for ticker in tickers:
        seen.setdefault(check_ticker(ticker), None)
    return list(seen)


def check_positive_int(name: str, value: Any, *, maximum: int | None = None) -> int:
    """A positive whole number (bools are refused), at most ``maximum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequestError(f"{name} must be a whole number, got {value!r}")
    if value <= 0:
        raise InvalidRequestError(f"{name} must be at least 1, got {value}")
    if maximum is not None and value > maximum:
        raise InvalidRequestError(f"{name} must be at most {maximum:,}, got {value:,}")
    return value


def check_count(count: Any, *, maximum: int) -> int:
    return check_positive_int("count", count, maximum=maximum)


def check_side(side: Any) -> Side | None:
    """None (both sides), a Side, or "buy"/"sell" in any case."""
    if side is None or isinstance(side, Side):
        return side
    if isinstance(side, str) and side.isascii():
        try:
            return Side(side.strip(_ASCII_BLANKS).lower())
        except ValueError:
            pass
    raise InvalidRequestError(
        f"side must be Side.BUY, Side.SELL, 'buy', 'sell' or None, got {side!r}"
    )


def check_filled(filled: Any) -> bool | None:
    """None (all orders), True (with fills) or False (without); nothing else."""
    if filled is None or isinstance(filled, bool):
        return filled
    raise InvalidRequestError(f"filled must be True, False or None, got {filled!r}")


def check_date(name: str, value: Any) -> date:
    """A calendar date (a datetime gives its own date)."""
    if isinstance(value, datetime):
        # An aware datetime means that moment in Korea, where KIS keeps its dates.
        return value.astimezone(KST).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    raise InvalidRequestError(
        f"{name} must be a datetime.date such as date(2026, 11, 20), got {value!r}"
    )

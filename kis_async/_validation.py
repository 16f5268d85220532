"""Checks on user input, made before anything is sent.

Each raises :class:`InvalidRequestError` (also a ``ValueError``) naming the argument
and what would be accepted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ._errors import InvalidRequestError

__all__ = ["check_count", "check_positive_int", "check_ticker", "check_tickers"]

# KRX short codes are six characters: digits, and since 2024 capital letters for some
# new listings. ETNs take a leading "Q" (KIS: "ETN은 종목코드 6자리 앞에 Q 입력").
_TICKER = re.compile(r"^(?:Q?[0-9][0-9A-Z]{5})$")


def check_ticker(ticker: Any) -> str:
    """The ticker as KIS wants it, or InvalidRequestError."""
    if not isinstance(ticker, str):
        raise InvalidRequestError(
            f"ticker must be a string such as '005930', got {type(ticker).__name__}"
        )
    code = ticker.strip().upper()
    if not _TICKER.match(code):
        raise InvalidRequestError(
            f"ticker {ticker!r} is not a KRX stock code: six characters such as '005930' "
            "(ETNs: 'Q' and six characters)"
        )
    return code


def check_tickers(tickers: Iterable[str]) -> list[str]:
    """Every ticker checked, duplicates removed, order kept."""
    if isinstance(tickers, str):
        raise InvalidRequestError("tickers must be a list of codes, not a single string")
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

"""Time sources. KIS speaks Korea Standard Time (UTC+9, no daylight saving).

Everything that needs "now" takes a :class:`Clock`, so the mock server and tests can
move time; production code uses :class:`SystemClock`.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Protocol, runtime_checkable

__all__ = ["KST", "Clock", "SystemClock", "parse_kst"]

#: Korea Standard Time. A fixed offset: Korea has not used daylight saving since 1988,
#: and a fixed offset needs no tz database on the host.
KST = timezone(timedelta(hours=9), "KST")


@runtime_checkable
class Clock(Protocol):
    """A source of wall-clock and monotonic time."""

    def now(self) -> datetime:
        """The current wall-clock time, timezone-aware."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards."""
        ...


class SystemClock:
    """The machine's clocks."""

    def now(self) -> datetime:
        """The current time in Korea (KST, UTC+9), from the system clock."""
        return datetime.now(KST)

    def monotonic(self) -> float:
        """Seconds from :func:`time.monotonic`: only differences between readings mean anything."""
        return time.monotonic()

    def __repr__(self) -> str:
        return "SystemClock()"


def parse_kst(text: str) -> datetime:
    """Parse KIS's ``"YYYY-MM-DD HH:MM:SS"`` (Korea local time, no zone suffix)."""
    return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=KST)

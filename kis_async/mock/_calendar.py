"""The simulated KRX calendar: trading days and the session's minutes.

Trading days are weekdays less a fixed set of month-day holidays (no lunar holidays,
no substitute days): simple, stable and good enough for a simulation.
"""

from __future__ import annotations

import bisect
from datetime import date, datetime, time, timedelta
from functools import lru_cache

__all__ = [
    "AUCTION_STAMP",
    "CLOSE_AUCTION",
    "CONTINUOUS_END",
    "CONTINUOUS_MINUTES",
    "FIRST_HISTORY_DAY",
    "FIXED_HOLIDAYS",
    "MINUTE_STAMPS",
    "OPEN",
    "SESSION_BARS",
    "Calendar",
    "visible_bars",
]

#: (month, day) pairs on which KRX is closed every year in the simulation.
FIXED_HOLIDAYS: frozenset[tuple[int, int]] = frozenset(
    {(1, 1), (3, 1), (5, 5), (6, 6), (8, 15), (10, 3), (10, 9), (12, 25), (12, 31)}
)
#: Continuous trading starts (KST).
OPEN = time(9, 0)
#: Continuous trading ends; the closing call auction runs until CLOSE_AUCTION.
CONTINUOUS_END = time(15, 20)
#: The closing auction prints the day's close.
CLOSE_AUCTION = time(15, 30)
#: One-minute bars of continuous trading: 09:00 .. 15:19.
CONTINUOUS_MINUTES = 380
#: Bars in a session: the continuous minutes plus the closing-auction bar.
SESSION_BARS = CONTINUOUS_MINUTES + 1
#: No simulated history before this day (the first KRX session of 2000).
FIRST_HISTORY_DAY = date(2000, 1, 4)

_OPEN_MINUTE = OPEN.hour * 60 + OPEN.minute
_AUCTION_MINUTE = CLOSE_AUCTION.hour * 60 + CLOSE_AUCTION.minute
#: HHMMSS of each bar as an int (90000 .. 151900, then 153000), in session order.
MINUTE_STAMPS: tuple[int, ...] = tuple(
    (minute // 60) * 10000 + (minute % 60) * 100
    for minute in [*range(_OPEN_MINUTE, _OPEN_MINUTE + CONTINUOUS_MINUTES), _AUCTION_MINUTE]
)
AUCTION_STAMP = MINUTE_STAMPS[-1]


def _is_trading_day(day: date) -> bool:
    return day.weekday() < 5 and (day.month, day.day) not in FIXED_HOLIDAYS


class Calendar:
    """Trading days from :data:`FIRST_HISTORY_DAY` on, as a sorted list, grown on demand."""

    def __init__(self) -> None:
        self._days: list[date] = []
        self._index: dict[date, int] = {}
        self._extend_to(date(2030, 12, 31))

    def _extend_to(self, last: date) -> None:
        day = self._days[-1] + timedelta(days=1) if self._days else FIRST_HISTORY_DAY
        while day <= last:
            if _is_trading_day(day):
                self._index[day] = len(self._days)
                self._days.append(day)
            day += timedelta(days=1)

    def _cover(self, day: date) -> None:
        if day > self._days[-1]:
            # Grow a year past the request so a moving clock rarely pays for this.
            self._extend_to(day + timedelta(days=366))

    @staticmethod
    def is_trading_day(day: date) -> bool:
        """Whether KRX trades on ``day`` in the simulation."""
        return _is_trading_day(day)

    @property
    def days(self) -> list[date]:
        """Every trading day known so far, oldest first (do not mutate)."""
        return self._days

    def index(self, day: date) -> int:
        """The position of trading day ``day`` in :attr:`days`."""
        self._cover(day)
        return self._index[day]

    def day_at(self, index: int) -> date:
        """The trading day at position ``index``."""
        while index >= len(self._days):
            self._extend_to(self._days[-1] + timedelta(days=366))
        return self._days[index]

    def index_on_or_before(self, day: date) -> int:
        """The position of the last trading day on or before ``day`` (-1 if none)."""
        self._cover(day)
        return bisect.bisect_right(self._days, day) - 1

    def index_on_or_after(self, day: date) -> int:
        """The position of the first trading day on or after ``day``."""
        self._cover(day)
        return bisect.bisect_left(self._days, day)

    def session_date(self, now: datetime) -> date:
        """The session shown at ``now``: today's from 09:00 on a trading day, else the last one."""
        return _session_date(now.date(), now.hour * 60 + now.minute >= _OPEN_MINUTE)


@lru_cache(maxsize=4096)
def _session_date(today: date, opened: bool) -> date:
    if opened and _is_trading_day(today):
        return today
    day = today - timedelta(days=1)
    while not _is_trading_day(day):
        day -= timedelta(days=1)
    return day


def visible_bars(session: date, now: datetime) -> int:
    """How many of ``session``'s bars have printed by ``now`` (1 .. SESSION_BARS).

    A bar is visible from its stamp on (the bar stamped 09:00 from 09:00:00); the
    closing-auction bar appears at 15:30. A past session shows all its bars.
    """
    if now.date() != session:
        return SESSION_BARS
    minute = now.hour * 60 + now.minute
    if minute >= _AUCTION_MINUTE:
        return SESSION_BARS
    return max(1, min(minute - _OPEN_MINUTE + 1, CONTINUOUS_MINUTES))

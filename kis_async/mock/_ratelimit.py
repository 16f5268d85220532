"""A sliding-window request limit per app key, as KIS enforces it (EGW00201)."""

from __future__ import annotations

import math
from collections import deque

__all__ = ["SlidingWindow"]


class SlidingWindow:
    """At most ``limit`` accepted requests per key in any window of one second.

    Only accepted requests enter the window, so a client that is refused does not
    lengthen its own penalty. A ``limit`` below 1 means one request per ``1/limit``
    seconds; ``math.inf`` means no limit. Times are seconds on a monotonic clock.
    """

    __slots__ = ("_capacity", "_hits", "limit", "window")

    def __init__(self, limit: float) -> None:
        if not limit > 0:
            raise ValueError(f"rate limit must be positive, got {limit}")
        self.limit = limit
        if math.isinf(limit):
            self.window = 0.0
            self._capacity = 0
        elif limit >= 1:
            self.window = 1.0
            self._capacity = math.floor(limit)
        else:
            self.window = 1.0 / limit
            self._capacity = 1
        self._hits: dict[str, deque[float]] = {}

    def acquire(self, key: str, now: float) -> bool:
        """Admit one request for ``key`` at time ``now``; False if over the limit."""
        if self._capacity == 0:
            return True
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
        horizon = now - self.window
        while hits and hits[0] <= horizon:
            hits.popleft()
        if len(hits) >= self._capacity:
            return False
        hits.append(now)
        return True

    def reset(self) -> None:
        """Forget every window."""
        self._hits.clear()

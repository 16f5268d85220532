"""MockClock: a clock the mock server and tests can move."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from kis_async._clock import KST

__all__ = ["MockClock"]


class MockClock:
    """Wall-clock and monotonic time that tests can advance.

    ``now() = start + elapsed + advanced`` (aware, KST), where ``elapsed`` is real time
    since construction unless ``frozen``. ``monotonic()`` is real monotonic seconds plus
    everything advanced; it runs even when frozen, so sliding rate windows keep working
    against real time. Satisfies :class:`kis_async._clock.Clock`.
    """

    __slots__ = ("_advanced", "_frozen", "_start", "_t0")

    def __init__(self, start: datetime | None = None, *, frozen: bool = False) -> None:
        if start is None:
            start = datetime.now(KST)
        elif start.tzinfo is None:
            # A naive start is read as Korea local time, the zone KIS speaks.
            start = start.replace(tzinfo=KST)
        self._start = start.astimezone(KST)
        self._frozen = frozen
        self._t0 = time.monotonic()
        self._advanced = 0.0

    @property
    def frozen(self) -> bool:
        """Whether real time is ignored by :meth:`now`."""
        return self._frozen

    def now(self) -> datetime:
        """The simulated wall-clock time, timezone-aware, in KST."""
        elapsed = self._advanced
        if not self._frozen:
            elapsed += time.monotonic() - self._t0
        return self._start + timedelta(seconds=elapsed)

    def monotonic(self) -> float:
        """Seconds: real monotonic time plus everything advanced; never goes backwards."""
        return time.monotonic() + self._advanced

    def advance(self, seconds: float | timedelta) -> None:
        """Move both clocks forward by ``seconds`` (a number of seconds or a timedelta)."""
        step = seconds.total_seconds() if isinstance(seconds, timedelta) else float(seconds)
        if step < 0:
            raise ValueError(f"a clock only moves forward, got {step} seconds")
        self._advanced += step

    def __repr__(self) -> str:
        state = ", frozen" if self._frozen else ""
        return f"MockClock({self.now().isoformat(timespec='seconds')}{state})"

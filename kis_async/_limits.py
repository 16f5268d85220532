"""The rate gate every request passes, and the circuit breaker.

KIS counts REST calls per app key on a one-second window and answers EGW00201 beyond
the limit. The gate spaces requests evenly at slightly under the limit (a leaky bucket
of capacity one, from ``aiolimiter``), so any number of concurrent callers stay inside
every one-second window, and it pauses everyone for a moment when KIS says the limit
was hit anyway.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager

import anyio
from aiolimiter import AsyncLimiter

from ._constants import RATE_GATE_HEADROOM
from ._errors import CircuitOpenError
from ._redact import get_logger

__all__ = ["CircuitBreaker", "CircuitState", "KeyedLocks", "RateGate"]

logger = get_logger("kis_async.limits")


class RateGate:
    """At most ``rate`` requests per second (less a small headroom), shared by all callers."""

    def __init__(self, rate: float, *, headroom: float = RATE_GATE_HEADROOM) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.rate = rate
        self.paced_rate = rate * (1.0 - headroom)
        # A leaky bucket of capacity c draining at r admits at most c + r requests in
        # any closed one-second window; it stays within the limit L while c + r < L + 1.
        # c = 1 would be bare pacing, but every timer wake-up comes a little late (epoll
        # rounds up to the millisecond) and a full bucket cannot bank that time, so the
        # rate sags. Half the headroom goes to banking it; half stays as slack for
        # jitter between here and the server.
        self.capacity = 1.0 + rate * headroom / 2
        self._limiter = AsyncLimiter(self.capacity, self.capacity / self.paced_rate)
        self._paused_until = 0.0

    async def acquire(self) -> None:
        """Wait for this request's slot, outside any pause."""
        while True:
            # A loop, not an event: another EGW00201 may extend the pause while we sleep.
            while (delay := self._paused_until - time.monotonic()) > 0:  # noqa: ASYNC110
                await anyio.sleep(delay)
            await self._limiter.acquire()
            # A pause may have begun while this request queued in the limiter; its slot
            # is then void, and it queues again once the pause is over.
            if self._paused_until <= time.monotonic():
                return

    def pause(self, seconds: float) -> None:
        """Hold every caller back for ``seconds`` (after KIS answered EGW00201)."""
        until = time.monotonic() + seconds
        if until > self._paused_until:
            self._paused_until = until
            logger.info("rate limit reached: all requests pause for %.2f s", seconds)

    def __repr__(self) -> str:
        return f"RateGate(rate={self.rate:g}/s, paced at {self.paced_rate:.2f}/s)"


class CircuitState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    """Stops sending after ``failure_threshold`` consecutive failures of the server.

    Failures are transport errors and 5xx answers that are not KIS business errors.
    While open, requests fail at once with :class:`CircuitOpenError`, which names the
    last failure. After ``reset_timeout`` seconds one trial request is let through
    (half-open) and the callers that arrive meanwhile wait for its outcome, each at
    most ``trial_wait`` seconds: its success closes the circuit and lets them all
    through, its failure opens it again and fails them with that failure.
    """

    def __init__(
        self,
        failure_threshold: int,
        reset_timeout: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        trial_wait: float = 10.0,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.trial_wait = trial_wait
        self._monotonic = monotonic
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._last_failure = ""
        #: Set when the trial in flight ends; None while no trial is in flight.
        self._trial_done: asyncio.Event | None = None

    @property
    def state(self) -> CircuitState:
        if (
            self._state is CircuitState.OPEN
            and self._monotonic() - self._opened_at >= self.reset_timeout
        ):
            return CircuitState.HALF_OPEN
        return self._state

    @property
    def last_failure(self) -> str:
        """What the last counted failure was (operation, host, cause), or ""."""
        return self._last_failure

    async def admit(self) -> None:
        """Return when a request may be sent now; else raise CircuitOpenError."""
        while True:
            state = self.state
            if state is CircuitState.CLOSED:
                return
            if state is CircuitState.OPEN:
                raise self._open_error()
            if self._trial_done is None:
                self._state = CircuitState.HALF_OPEN
                self._trial_done = asyncio.Event()
                logger.info("circuit half-open: letting one trial request through")
                return
            # A trial is in flight: its outcome decides for this caller too.
            done = self._trial_done
            with anyio.move_on_after(self.trial_wait) as scope:
                await done.wait()
            if scope.cancelled_caught:
                raise CircuitOpenError(
                    f"circuit half-open: the trial request did not finish within "
                    f"{self.trial_wait:g} s; last failure: {self._last_failure or 'unknown'}",
                    retry_after=0.0,
                )
            # Closed: go; opened again: raise with its cause; released: maybe be the trial.

    def before_request(self) -> None:
        """The synchronous check: raise CircuitOpenError unless the circuit is closed
        or a trial may start now (callers that can wait use :meth:`admit`)."""
        state = self.state
        if state is CircuitState.CLOSED:
            return
        if state is CircuitState.HALF_OPEN and self._trial_done is None:
            self._state = CircuitState.HALF_OPEN
            self._trial_done = asyncio.Event()
            return
        raise self._open_error()

    def _open_error(self) -> CircuitOpenError:
        retry_after = max(0.0, self.reset_timeout - (self._monotonic() - self._opened_at))
        return CircuitOpenError(
            f"circuit open after {self._failures} consecutive server failures, the last: "
            f"{self._last_failure or 'unknown'}; requests resume in {retry_after:.1f} s",
            retry_after=retry_after,
        )

    def _end_trial(self) -> None:
        if self._trial_done is not None:
            self._trial_done.set()
            self._trial_done = None

    def record_success(self) -> None:
        if self._state is not CircuitState.CLOSED:
            logger.info("circuit closed: the server answers again")
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._end_trial()

    def record_failure(self, what: str = "") -> None:
        """Count one server failure; ``what`` says which (operation, host, cause)."""
        self._failures += 1
        if what:
            self._last_failure = what
        if self._state is CircuitState.HALF_OPEN or self._failures >= self.failure_threshold:
            if self._state is not CircuitState.OPEN:
                logger.warning(
                    "circuit open after %d consecutive failures (the last: %s); pausing %.1f s",
                    self._failures,
                    self._last_failure or "unknown",
                    self.reset_timeout,
                )
            self._state = CircuitState.OPEN
            self._opened_at = self._monotonic()
        self._end_trial()

    def release(self) -> None:
        """End a trial request that neither succeeded nor failed (e.g. cancelled)."""
        self._end_trial()

    def __repr__(self) -> str:
        return f"CircuitBreaker(state={self.state.value}, failures={self._failures})"


class KeyedLocks:
    """One lock per key, alive while anyone holds or awaits it.

    Identical orders share a key and so go one at a time. The count, not the lock's
    state, decides when a key is forgotten (a released lock looks free for an instant
    before its next waiter takes it).
    """

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)

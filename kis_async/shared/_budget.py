"""Rate budgets: one interface, state in this process, on this machine, or in Redis.

KIS counts requests per app key, not per process. A budget is where the count lives:

- :class:`ProcessBudget`: in this process (every client in it that shares the budget
  object shares the count). Right for one program on one key.
- :class:`MachineBudget`: in a small file under the token cache directory, read and
  written under a file lock, so every process on this machine using the same app key
  shares one budget. The lock is taken in a worker thread, never on the event loop.
- :class:`~kis_async.shared.RedisBudget`: in Redis, timed by Redis's own clock, so every
  process on every host shares it whatever their clocks say.

All three apply the same rule (``_pacing.py``) and offer the same calls: ``await
acquire()`` before each request (with a queue timeout), ``await on_rate_limited()``
after an EGW00201, and ``stats``.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import EllipsisType
from typing import IO, Protocol, runtime_checkable

import anyio

from kis_async._constants import DEFAULT_QUEUE_TIMEOUT
from kis_async._errors import QueueTimeoutError
from kis_async._redact import get_logger

from ._pacing import Decision, Outcome, Pacing, PacingState, rate_limited, reserve

__all__ = [
    "DEFAULT_QUEUE_TIMEOUT",
    "BudgetStats",
    "MachineBudget",
    "ProcessBudget",
    "RateBudget",
    "queue_timeout_error",
]

logger = get_logger("kis_async.shared")


@dataclass
class BudgetStats:
    """What a budget did for this process, and what the shared state says."""

    #: "process", "machine" or "redis".
    backend: str
    #: The configured limit, requests per second.
    limit: float
    #: The shared adaptive rate last seen, requests per second (below ``limit`` after
    #: EGW00201 answers, climbing back).
    rate: float
    #: Slots granted to this process.
    acquired: int = 0
    #: Seconds this process's requests spent waiting for slots, in total.
    waited: float = 0.0
    #: EGW00201 answers this process reported.
    rate_limited: int = 0
    #: EGW00201 answers reported by everyone sharing the budget (last seen).
    shared_rate_limited: int = 0
    #: How often the shared rate was lowered, by anyone (last seen).
    decreases: int = 0
    #: Requests that failed with QueueTimeoutError (never sent).
    timeouts: int = 0
    #: Whether requests currently go at the local fallback pace (Redis unreachable).
    fallback: bool = False
    #: Times the shared store became unreachable.
    outages: int = 0
    #: Slots granted by the local fallback pace.
    fallback_acquired: int = 0
    #: Slots given up because this process woke too late to use them (a busy machine).
    late: int = 0


@runtime_checkable
class RateBudget(Protocol):
    """What the request pipeline needs from a rate budget."""

    stats: BudgetStats

    async def acquire(self, max_wait: float | EllipsisType | None = ...) -> None:
        """Wait for this request's slot; QueueTimeoutError if it would wait too long.

        ``max_wait`` is seconds (None: wait as long as it takes; omitted: the budget's
        queue timeout).
        """
        ...

    async def on_rate_limited(self) -> None:
        """KIS answered EGW00201: lower the shared rate and pause everyone briefly."""
        ...

    async def aclose(self) -> None:
        """Release what the budget holds (a file, a connection)."""
        ...


def queue_timeout_error(
    wait: float, timeout: float, rate: float, queued_ahead: int
) -> QueueTimeoutError:
    """The error for a request that would wait ``wait`` s, beyond ``timeout`` s."""
    fan_out = 100 / rate if rate > 0 else math.inf
    return QueueTimeoutError(
        f"no rate-budget slot within KIS_API_QUEUE_TIMEOUT={timeout:g} s: this request "
        f"would wait about {wait:.1f} s ({queued_ahead} requests queued ahead of it here, "
        f"paced at {rate:.3g} req/s), so it was not sent. At {rate:.3g} req/s a 100-ticker "
        f"fan-out needs about {fan_out:.0f} s: raise KIS_API_QUEUE_TIMEOUT (or set it to "
        "'none' to wait as long as it takes), or spread read-only queries over several "
        "app keys with kis_async.shared.AppKeyPool",
        wait=wait,
        timeout=timeout,
        rate=rate,
    )


class _PacedBudget:
    """The acquire loop every backend shares; subclasses say where the state lives.

    Within a process, callers take turns (FIFO) to reserve; a turn ends as soon as the
    slot is reserved, so the next caller reserves the next slot while the first one
    sleeps until its own. At most a horizon's worth of slots is ever reserved ahead.
    """

    backend = "process"

    def __init__(self, pacing: Pacing, *, queue_timeout: float | None = DEFAULT_QUEUE_TIMEOUT):
        if queue_timeout is not None and queue_timeout < 0:
            raise ValueError(f"queue_timeout must be >= 0 seconds or None, got {queue_timeout}")
        self.pacing = pacing
        self.queue_timeout = queue_timeout
        self.stats = BudgetStats(backend=self.backend, limit=pacing.limit, rate=pacing.limit)
        self._turn = asyncio.Lock()
        self._queued = 0
        # Half the headroom's slack in a one-second window (about 15 ms at 3 %).
        self._late_limit = pacing.headroom / 2

    async def _reserve(self, max_wait: float | None) -> Decision:
        raise NotImplementedError

    async def _limited(self) -> None:
        raise NotImplementedError

    async def acquire(self, max_wait: float | EllipsisType | None = ...) -> None:
        """Wait for this request's slot; QueueTimeoutError (nothing sent) if too long."""
        limit = self.queue_timeout if isinstance(max_wait, EllipsisType) else max_wait
        started = time.monotonic()
        deadline = None if limit is None else started + limit
        ahead = self._queued
        if limit is not None:
            # A lower bound: every request queued ahead here needs a slot first.
            estimate = ahead / (self.stats.rate * (1.0 - self.pacing.headroom))
            if estimate > limit:
                self.stats.timeouts += 1
                raise queue_timeout_error(estimate, limit, self.stats.rate, ahead)
        while True:
            due = await self._take_slot(limit, deadline, ahead, started)
            delay = due - time.monotonic()
            if delay > 0:
                await anyio.sleep(delay)
            # A slot is a moment on the shared schedule. Sent much later than that (this
            # process was not scheduled in time), the request would crowd the next
            # holder's, perhaps another process's, into one window: the slot is given
            # up and the request queues again.
            if time.monotonic() - due <= self._late_limit:
                break
            self.stats.late += 1
        self.stats.acquired += 1
        self.stats.waited += time.monotonic() - started

    async def _take_slot(
        self, limit: float | None, deadline: float | None, ahead: int, started: float
    ) -> float:
        """Reserve the next slot in turn; returns when it is due (local monotonic)."""
        self._queued += 1
        try:
            if deadline is not None:
                # The caller ahead may hold the turn through a pause: waiting for it
                # must not outlast this caller's own queue timeout.
                try:
                    with anyio.fail_after(max(0.0, deadline - time.monotonic())):
                        await self._turn.acquire()
                except TimeoutError:
                    assert limit is not None
                    self.stats.timeouts += 1
                    waited = time.monotonic() - started
                    raise queue_timeout_error(waited, limit, self.stats.rate, ahead) from None
            else:
                await self._turn.acquire()
            try:
                while True:
                    max_wait = None if deadline is None else max(0.0, deadline - time.monotonic())
                    decision = await self._reserve(max_wait)
                    self.stats.rate = decision.rate
                    if decision.outcome is Outcome.GRANTED:
                        return time.monotonic() + decision.wait
                    if decision.outcome is Outcome.REFUSED:
                        assert limit is not None
                        self.stats.timeouts += 1
                        waited = time.monotonic() - started
                        raise queue_timeout_error(
                            waited + decision.wait, limit, decision.rate, ahead
                        )
                    await anyio.sleep(max(decision.wait - self.pacing.horizon, 0.001))
            finally:
                self._turn.release()
        finally:
            self._queued -= 1

    async def on_rate_limited(self) -> None:
        """KIS answered EGW00201: lower the shared rate and pause everyone briefly."""
        self.stats.rate_limited += 1
        await self._limited()

    def _note(self, state: PacingState, rate: float) -> None:
        self.stats.rate = rate
        self.stats.shared_rate_limited = state.limited
        self.stats.decreases = state.decreases

    async def aclose(self) -> None:
        """Nothing to release: the state lives in this process."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(limit={self.pacing.limit:g}/s, rate={self.stats.rate:.3g}/s)"


class ProcessBudget(_PacedBudget):
    """A budget in this process's memory: every client given this object shares it."""

    backend = "process"

    def __init__(self, pacing: Pacing, *, queue_timeout: float | None = DEFAULT_QUEUE_TIMEOUT):
        super().__init__(pacing, queue_timeout=queue_timeout)
        self._state = PacingState()

    async def _reserve(self, max_wait: float | None) -> Decision:
        decision = reserve(self._state, time.monotonic(), self.pacing, max_wait=max_wait)
        self._note(self._state, decision.rate)
        return decision

    async def _limited(self) -> None:
        rate = rate_limited(self._state, time.monotonic(), self.pacing)
        self._note(self._state, rate)


class MachineBudget(_PacedBudget):
    """A budget shared by every process on this machine that uses the same file.

    The state is a few numbers in ``<directory>/<key>.budget`` (no secret in it), read
    and rewritten under an exclusive lock for each reservation. Time is the machine's
    monotonic clock, which every process on the machine shares (CLOCK_MONOTONIC on
    Linux). The lock and the file I/O run in a worker thread.
    """

    backend = "machine"

    def __init__(
        self,
        directory: Path,
        key: str,
        pacing: Pacing,
        *,
        queue_timeout: float | None = DEFAULT_QUEUE_TIMEOUT,
    ) -> None:
        super().__init__(pacing, queue_timeout=queue_timeout)
        self.path = Path(directory) / f"{key}.budget"
        self._file: IO[bytes] | None = None
        self._threads = threading.Lock()

    def _open(self) -> IO[bytes]:
        if self._file is None:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._file = os.fdopen(fd, "r+b", buffering=0)
        return self._file

    def _transact(self, op: str, max_wait: float | None) -> tuple[Decision, PacingState]:
        # The thread lock first: flock does not exclude two threads sharing one open
        # file (a reservation and an EGW00201 report of this same process).
        with self._threads, _locked(self._open()) as handle:
            handle.seek(0)
            state = _decode_state(handle.read())
            now = time.monotonic()
            if op == "reserve":
                decision = reserve(state, now, self.pacing, max_wait=max_wait)
                if decision.outcome is not Outcome.GRANTED:
                    return decision, state  # nothing changed: nothing to write
            else:
                decision = Decision(Outcome.GRANTED, 0.0, rate_limited(state, now, self.pacing))
            handle.seek(0)
            handle.write(_encode_state(state))
            handle.truncate()
            return decision, state

    async def _reserve(self, max_wait: float | None) -> Decision:
        decision, state = await anyio.to_thread.run_sync(self._transact, "reserve", max_wait)
        self._note(state, decision.rate)
        return decision

    async def _limited(self) -> None:
        decision, state = await anyio.to_thread.run_sync(self._transact, "limited", None)
        self._note(state, decision.rate)

    async def aclose(self) -> None:
        """Close the budget file (the state stays on disk for the other processes)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __repr__(self) -> str:
        return f"MachineBudget({str(self.path.parent)!r}, limit={self.pacing.limit:g}/s)"


def _encode_state(state: PacingState) -> bytes:
    decreased_at = state.decreased_at if math.isfinite(state.decreased_at) else None
    return json.dumps(
        [state.tat, state.rate, state.since, decreased_at, state.limited, state.decreases]
    ).encode()


def _decode_state(raw: bytes) -> PacingState:
    try:
        tat, rate, since, decreased_at, limited, decreases = json.loads(raw or b"null")
        return PacingState(
            float(tat),
            float(rate),
            float(since),
            -math.inf if decreased_at is None else float(decreased_at),
            int(limited),
            int(decreases),
        )
    except (TypeError, ValueError):
        # A fresh (or, after a crash mid-write, unreadable) state: the worst it allows is
        # one burst of the tolerance, which the bound already accounts for.
        return PacingState()


class _locked:
    """An exclusive advisory lock on an open file, released on exit (blocking)."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle

    def __enter__(self) -> IO[bytes]:
        if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
            import msvcrt

            self._handle.seek(0)
            while True:
                try:
                    msvcrt.locking(self._handle.fileno(), msvcrt.LK_LOCK, 1)
                    return self._handle
                except OSError:
                    continue
        else:
            import fcntl

            fcntl.flock(self._handle.fileno(), fcntl.LOCK_EX)
        return self._handle

    def __exit__(self, *exc: object) -> None:
        if sys.platform == "win32":  # pragma: no cover
            import msvcrt

            self._handle.seek(0)
            msvcrt.locking(self._handle.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)

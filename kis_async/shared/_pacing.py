"""The pacing rule every rate budget applies, whatever holds its state.

A budget is a GCRA (generic cell rate algorithm) state: ``tat``, the theoretical
arrival time of the next request, plus the adaptive rate. Every backend (one process,
every process on a machine, every host on a Redis) runs the same rule on the same
state; only where the state lives and whose clock times it differ. The Redis backend
runs a Lua port of :func:`reserve` and :func:`rate_limited` (``_redis_budget.py``);
the tests hold both to the same bound.

The bound is the one the pipeline's gate keeps: requests are spaced ``1 / paced``
seconds apart, ``paced = rate * (1 - headroom)``. A GCRA of capacity ``c`` (one plus
the ``burst`` tolerance) and rate ``r`` admits at most ``c + r`` requests in any closed
one-second window; ``c + r < rate + 1`` keeps that at or below ``rate``. Slots are
reserved on a virtual schedule (``tat`` moves by one spacing per slot, whenever its
holder wakes up), so a late wake-up does not slow the slots after it and no burst
tolerance is needed to keep the pace: the default ``burst`` is 0 and the whole
headroom is slack for jitter between the budget and the server (at 18 req/s and 3 %,
about half a request, 30 ms, in every window), which matters when several processes
on a busy machine share the schedule.

Adaptive pacing (AIMD): an EGW00201 answer lowers the shared rate by ``decrease``
(once per ``hold`` seconds, however many requests were refused in that burst) and
pauses everyone for ``cooldown`` seconds; the rate then climbs back by ``recovery``
requests per second every second until it reaches the configured limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from kis_async._constants import RATE_GATE_HEADROOM

__all__ = ["Decision", "Outcome", "Pacing", "PacingState", "rate_limited", "reserve"]


@dataclass(frozen=True, slots=True)
class Pacing:
    """How a budget paces: the configured limit and the adaptive rule's constants.

    ``limit`` is requests per second; ``cooldown``, ``hold`` and ``horizon`` are seconds;
    ``recovery`` is requests per second regained per second (default: a twentieth of
    the limit, so a halved rate recovers in about ten seconds); ``floor`` is the lowest
    rate the adaptive rule goes to (default a tenth of the limit).
    """

    limit: float
    headroom: float = RATE_GATE_HEADROOM
    cooldown: float = 1.0
    decrease: float = 0.75
    recovery: float | None = None
    floor: float | None = None
    hold: float = 1.0
    #: Requests beyond one that may go back to back after an idle spell.
    burst: float = 0.0

    def __post_init__(self) -> None:
        if not (self.limit > 0 and math.isfinite(self.limit)):
            raise ValueError(
                f"limit must be a positive number of requests per second: {self.limit}"
            )
        if not 0 <= self.headroom < 0.5:
            raise ValueError(f"headroom must be in [0, 0.5): {self.headroom}")
        if self.burst != 0 and not 0 <= self.burst < self.limit * self.headroom:
            raise ValueError(
                f"burst must be in [0, limit * headroom) to keep the bound: {self.burst}"
            )
        if not 0 < self.decrease <= 1:
            raise ValueError(f"decrease must be in (0, 1]: {self.decrease}")

    @property
    def recovery_rate(self) -> float:
        """Requests per second added back each second after a decrease (default limit/20)."""
        return self.limit / 20 if self.recovery is None else self.recovery

    @property
    def floor_rate(self) -> float:
        """The lowest rate a decrease may reach, requests per second (default limit/10)."""
        return self.limit / 10 if self.floor is None else min(self.floor, self.limit)

    @property
    def horizon(self) -> float:
        """Seconds ahead a slot may be reserved: two spacings, at least a quarter second.

        Reservations are short so that a lowered rate or a pause reaches every caller
        at once, and long enough that a round trip to the state never leaves the
        pipeline empty.
        """
        return max(0.25, 2.0 / (self.limit * (1.0 - self.headroom)))


@dataclass(slots=True)
class PacingState:
    """One budget's shared state. Times are seconds on the state's own clock."""

    #: Theoretical arrival time of the next request.
    tat: float = 0.0
    #: The adaptive rate (requests per second) as of ``since``; 0 means "the limit".
    rate: float = 0.0
    since: float = 0.0
    #: When the rate was last lowered.
    decreased_at: float = -math.inf
    #: EGW00201 answers reported by everyone sharing the state.
    limited: int = 0
    #: How often the rate was lowered.
    decreases: int = 0


class Outcome(StrEnum):
    GRANTED = "granted"  # a slot ``wait`` seconds from now is yours
    LATER = "later"  # the next slot is beyond the horizon: ask again in ``wait - horizon``
    REFUSED = "refused"  # the next slot is later than you may wait


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    #: Seconds until the slot (granted) or until the next free slot (later, refused).
    wait: float
    #: The shared rate now, requests per second.
    rate: float
    #: When the slot (or the next free slot) is, on the state's clock (seconds).
    at: float = 0.0


def current_rate(state: PacingState, now: float, pacing: Pacing) -> float:
    """The adaptive rate at ``now``: the stored one plus the recovery since, capped."""
    if state.rate <= 0:
        return pacing.limit
    elapsed = max(0.0, now - state.since)
    return min(pacing.limit, state.rate + pacing.recovery_rate * elapsed)


def _spacing(rate: float, pacing: Pacing) -> tuple[float, float]:
    """(seconds between slots, burst tolerance in seconds) at ``rate``."""
    interval = 1.0 / (rate * (1.0 - pacing.headroom))
    return interval, pacing.burst * interval


def reserve(state: PacingState, now: float, pacing: Pacing, *, max_wait: float | None) -> Decision:
    """Reserve the next slot if it lies within the horizon and within ``max_wait``.

    Mutates ``state`` only when the slot is granted.
    """
    rate = current_rate(state, now, pacing)
    interval, tolerance = _spacing(rate, pacing)
    start = max(state.tat, now)
    wait = max(0.0, start - tolerance - now)
    if max_wait is not None and wait > max_wait:
        return Decision(Outcome.REFUSED, wait, rate, now + wait)
    if wait > pacing.horizon:
        return Decision(Outcome.LATER, wait, rate, now + wait)
    state.tat = start + interval
    state.rate = rate
    state.since = now
    return Decision(Outcome.GRANTED, wait, rate, now + wait)


def rate_limited(state: PacingState, now: float, pacing: Pacing) -> float:
    """Record an EGW00201: lower the rate (once per hold) and pause; returns the new rate."""
    rate = current_rate(state, now, pacing)
    if now - state.decreased_at >= pacing.hold:
        rate = max(pacing.floor_rate, rate * pacing.decrease)
        state.decreased_at = now
        state.decreases += 1
    state.limited += 1
    state.rate = rate
    state.since = now
    _, tolerance = _spacing(rate, pacing)
    # Nobody's slot comes before the cooldown is over (wait = tat - tolerance - now).
    state.tat = max(state.tat, now + pacing.cooldown + tolerance)
    return rate

"""The pacing rule every budget applies, on a simulated clock: the bound and AIMD."""

from __future__ import annotations

import heapq
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from kis_async.shared import Pacing
from kis_async.shared._pacing import Outcome, PacingState, current_rate, rate_limited, reserve


def _simulate(
    pacing: Pacing, arrivals: list[float], limited_at: list[float]
) -> tuple[list[float], PacingState]:
    """Every caller asks at its arrival and again when told to; returns the slot times."""
    state = PacingState()
    events: list[tuple[float, int, str]] = [(t, i, "ask") for i, t in enumerate(arrivals)]
    events += [(t, -1 - i, "limited") for i, t in enumerate(limited_at)]
    heapq.heapify(events)
    slots: list[float] = []
    while events:
        now, who, what = heapq.heappop(events)
        if what == "limited":
            rate_limited(state, now, pacing)
            continue
        decision = reserve(state, now, pacing, max_wait=None)
        if decision.outcome is Outcome.GRANTED:
            slots.append(now + decision.wait)
        else:
            heapq.heappush(events, (now + max(decision.wait - pacing.horizon, 0.001), who, what))
    return sorted(slots), state


def _most_in_one_second(slots: list[float]) -> int:
    """The most slots in any window (t - 1, t]: the way KIS's window counts."""
    best, start = 0, 0
    for end, moment in enumerate(slots):
        while moment - slots[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


@settings(max_examples=60, deadline=None)
@given(
    limit=st.sampled_from([1.0, 2.0, 12.0, 18.0, 40.0]),  # KIS limits are whole numbers
    arrivals=st.lists(st.floats(0, 5), min_size=1, max_size=150),
    limited_at=st.lists(st.floats(0, 5), max_size=4),
)
def test_no_one_second_window_holds_more_than_the_limit(
    limit: float, arrivals: list[float], limited_at: list[float]
) -> None:
    slots, _ = _simulate(Pacing(limit), arrivals, limited_at)
    assert len(slots) == len(arrivals)  # everyone is served, however late
    assert _most_in_one_second(slots) <= math.floor(limit)


def test_a_full_queue_is_paced_just_under_the_limit() -> None:
    pacing = Pacing(18.0)
    slots, _ = _simulate(pacing, [0.0] * 400, [])
    achieved = (len(slots) - 1) / (slots[-1] - slots[0])
    assert 0.96 * 18 <= achieved < 18


def test_rate_limited_lowers_the_rate_once_per_burst_then_it_recovers() -> None:
    pacing = Pacing(18.0, decrease=0.5, hold=1.0)  # recovery 0.9 req/s per second
    state = PacingState()
    assert rate_limited(state, 100.0, pacing) == 9.0
    # The rest of the burst (requests already on their way) does not lower it again.
    assert rate_limited(state, 100.2, pacing) == current_rate(state, 100.2, pacing)
    assert (state.limited, state.decreases) == (2, 1)
    assert math.isclose(current_rate(state, 105.2, pacing), 9.0 + 0.9 * 5.2)
    assert current_rate(state, 200.0, pacing) == 18.0  # back at the configured limit
    # Nobody's slot comes before the cooldown is over.
    decision = reserve(state, 100.3, pacing, max_wait=None)
    assert decision.outcome is Outcome.LATER
    assert decision.at >= 100.2 + pacing.cooldown


def test_the_floor_holds_against_a_storm() -> None:
    pacing = Pacing(10.0, decrease=0.5, hold=0.0)
    state = PacingState()
    for step in range(20):
        rate = rate_limited(state, 10.0 + step * 0.001, pacing)
    assert rate == pacing.floor_rate == 1.0


def test_a_slot_beyond_max_wait_is_refused_and_not_reserved() -> None:
    pacing = Pacing(1.0)
    state = PacingState()
    first = reserve(state, 0.0, pacing, max_wait=5.0)
    tat = state.tat
    refused = reserve(state, 0.0, pacing, max_wait=0.5)
    assert first.outcome is Outcome.GRANTED
    assert refused.outcome is Outcome.REFUSED
    assert refused.wait > 0.5
    assert state.tat == tat  # nothing reserved for a request that will not be sent

"""Rate budgets in one process: shared state, the bound on Redis's clock, AIMD seen by
everyone on the key, queue timeouts that fail at once, and Redis going away and back."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from kis_async import QueueTimeoutError
from kis_async.shared import MachineBudget, Pacing, ProcessBudget, RedisBudget, make_budget
from kis_async.shared._budget import _PacedBudget
from kis_async.shared._pacing import Decision, Outcome

from .conftest import RedisServer
from .test_pacing import _most_in_one_second


def _record_slots(budget: _PacedBudget, slots: list[float]) -> None:
    """Keep the time (on the state's clock) of every slot ``budget`` is granted."""
    reserve = budget._reserve

    async def recording(max_wait: float | None) -> Decision:
        decision = await reserve(max_wait)
        if decision.outcome is Outcome.GRANTED:
            slots.append(decision.at)
        return decision

    budget._reserve = recording  # type: ignore[method-assign]


async def _two_sharing(first: _PacedBudget, second: _PacedBudget, each: int) -> list[float]:
    slots: list[float] = []
    _record_slots(first, slots)
    _record_slots(second, slots)
    await asyncio.gather(*(b.acquire() for b in (first, second) for _ in range(each)))
    await first.aclose()
    await second.aclose()
    return sorted(slots)


async def test_two_machine_budgets_on_one_file_share_one_budget(tmp_path: Path) -> None:
    pacing = Pacing(30.0)
    slots = await _two_sharing(
        MachineBudget(tmp_path, "key", pacing), MachineBudget(tmp_path, "key", pacing), 24
    )
    assert len(slots) == 48
    # Alone, each would take 30 a second: together they stay at 30.
    assert _most_in_one_second(slots) <= 30
    assert (tmp_path / "key.budget").stat().st_mode & 0o077 == 0


async def test_two_redis_budgets_share_one_schedule_on_redis_clock(
    redis_url: str, prefix: str
) -> None:
    pacing = Pacing(40.0)
    a = RedisBudget(redis_url, "key", pacing, prefix=prefix)
    b = RedisBudget(redis_url, "key", pacing, prefix=prefix)
    slots = await _two_sharing(a, b, 32)
    assert len(slots) == 64
    assert _most_in_one_second(slots) <= 40
    assert a.stats.acquired == b.stats.acquired == 32
    assert not a.stats.fallback
    assert not b.stats.fallback


async def test_rate_limited_lowers_the_rate_for_everyone_on_the_key(
    redis_url: str, prefix: str
) -> None:
    pacing = Pacing(20.0, decrease=0.5, cooldown=0.0)
    a = RedisBudget(redis_url, "key", pacing, prefix=prefix)
    b = RedisBudget(redis_url, "key", pacing, prefix=prefix)
    await b.acquire()
    assert b.stats.rate == 20.0
    await a.on_rate_limited()
    await a.on_rate_limited()  # the same burst: lowered once
    await b.acquire()
    assert 10.0 <= b.stats.rate < 11.0  # b never saw an EGW00201 itself
    assert (b.stats.rate_limited, b.stats.shared_rate_limited, b.stats.decreases) == (0, 2, 1)
    assert a.stats.rate_limited == 2
    await a.aclose()
    await b.aclose()


async def test_a_queue_too_long_fails_at_once_and_names_the_setting() -> None:
    # A virtual account's 1 req/s and a 100-ticker fan-out.
    budget = ProcessBudget(Pacing(1.0), queue_timeout=30.0)
    outcomes: list[str] = []

    async def one() -> None:
        try:
            await budget.acquire()
            outcomes.append("sent")
        except QueueTimeoutError as exc:
            outcomes.append("refused")
            errors.append(exc)

    errors: list[QueueTimeoutError] = []
    tasks = [asyncio.create_task(one()) for _ in range(100)]
    await asyncio.sleep(0.05)  # the refusals come before any slot is waited for
    refused_at_once = outcomes.count("refused")
    sent = outcomes.count("sent")
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert refused_at_once >= 65  # about 70 would wait beyond 30 s
    assert sent <= 2  # the first slot (and the burst tolerance) only
    message = str(errors[0])
    assert "KIS_API_QUEUE_TIMEOUT=30 s" in message
    assert "100-ticker fan-out needs about 100 s" in message
    assert errors[0].timeout == 30.0
    assert errors[0].wait > 30.0
    assert budget.stats.timeouts == refused_at_once


async def test_a_slot_that_would_come_too_late_is_refused_unsent(
    redis_url: str, prefix: str
) -> None:
    budget = RedisBudget(redis_url, "key", Pacing(5.0), prefix=prefix)
    await budget.acquire()
    with pytest.raises(QueueTimeoutError):
        await budget.acquire(max_wait=0.0)  # the next slot is 0.2 s away
    await budget.acquire(max_wait=None)
    assert budget.stats.acquired == 2
    await budget.aclose()


async def test_redis_stopped_mid_run_then_restarted(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    pacing = Pacing(40.0)
    budget = RedisBudget(redis_server.url, "key", pacing, prefix="t")
    caplog.set_level(logging.WARNING, logger="kis_async.shared")
    await asyncio.gather(*(budget.acquire() for _ in range(5)))
    assert not budget.stats.fallback

    redis_server.stop()
    await asyncio.gather(*(budget.acquire() for _ in range(8)))  # no crash, no flood
    assert budget.stats.fallback
    assert budget.stats.outages == 1
    assert budget.stats.fallback_acquired == 8
    assert budget.stats.rate == pytest.approx(10.0)  # a quarter of the limit, alone
    warnings = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(warnings) == 1

    redis_server.start()
    await asyncio.sleep(1.05)  # the budget tries Redis again once a second
    await asyncio.gather(*(budget.acquire() for _ in range(5)))
    assert not budget.stats.fallback
    assert budget.stats.fallback_acquired == 8
    assert budget.stats.acquired == 18
    assert budget.stats.rate == 40.0
    assert len([r for r in caplog.records if "unreachable" in r.getMessage()]) == 1
    await budget.aclose()


def test_make_budget_reads_the_setting(tmp_path: Path) -> None:
    pacing = Pacing(18.0)
    assert isinstance(make_budget("process", pacing, key="k", directory=None), ProcessBudget)
    assert isinstance(make_budget("machine", pacing, key="k", directory=tmp_path), MachineBudget)
    redis = make_budget("redis://:pw@127.0.0.1:6379/0", pacing, key="k", directory=None)
    assert isinstance(redis, RedisBudget)
    assert "pw" not in repr(redis)
    from kis_async import ConfigError

    with pytest.raises(ConfigError, match="KIS_TOKEN_CACHE_DIR"):
        make_budget("machine", pacing, key="k", directory=None)
    with pytest.raises(ConfigError, match="KIS_RATE_BUDGET"):
        make_budget("everywhere", pacing, key="k", directory=None)

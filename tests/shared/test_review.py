"""Regression tests: secrets kept out of reprs and logs, queue timeouts on time."""

from __future__ import annotations

import logging

import pytest

from kis_async._config import KISSettings
from kis_async.shared import RedisBudget
from kis_async.shared._pacing import Pacing
from kis_async.shared._redis import safe_url

SECRET = "hunter2secret"


@pytest.mark.parametrize(
    "url",
    [
        f"redis://:{SECRET}@127.0.0.1:6379/0",
        f"redis://user:{SECRET}@127.0.0.1:6379/0",
        f"redis://127.0.0.1:6379/0?password={SECRET}",
        f"unix:///tmp/redis.sock?db=0&password={SECRET}",
    ],
)
def test_safe_url_hides_every_password(url: str) -> None:
    shown = safe_url(url)
    assert SECRET not in shown
    assert "127.0.0.1" in shown or "redis.sock" in shown


async def test_redis_budget_repr_and_outage_warning_hide_a_query_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Port 1: nothing listens, so the budget falls back and warns.
    budget = RedisBudget(f"redis://127.0.0.1:1/0?password={SECRET}", "k", Pacing(10.0))
    try:
        with caplog.at_level(logging.WARNING, logger="kis_async.shared"):
            await budget.acquire()
        assert budget.stats.fallback
        assert SECRET not in repr(budget)
        assert caplog.records
        assert all(SECRET not in r.getMessage() for r in caplog.records)
    finally:
        await budget.aclose()


def test_settings_repr_hides_redis_passwords() -> None:
    url = f"redis://:{SECRET}@127.0.0.1:6379/0"
    settings = KISSettings(
        env="virtual",
        app_key="a" * 36,
        app_secret="b" * 180,
        rate_budget=url,
        token_store=url,
        response_cache=url,
    )
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)
    assert settings.rate_budget == url  # the value itself is intact


def test_doctor_settings_hide_redis_passwords() -> None:
    from kis_async.cli._app import _masked_settings

    url = f"redis://127.0.0.1:6379/0?password={SECRET}"
    settings = KISSettings(
        env="virtual",
        app_key="a" * 36,
        app_secret="b" * 180,
        rate_budget=url,
        token_store=url,
        response_cache=url,
    )
    shown = _masked_settings(settings)
    assert SECRET not in repr(shown)
    assert str(shown["rate_budget"]).startswith("redis://127.0.0.1:6379/0")


async def test_a_queue_timeout_fires_while_another_caller_holds_the_turn() -> None:
    import asyncio

    from kis_async._errors import QueueTimeoutError
    from kis_async.shared import ProcessBudget

    budget = ProcessBudget(Pacing(10.0, cooldown=1.0), queue_timeout=None)
    await budget.on_rate_limited()  # everyone paused for a second
    paused_until = budget._state.tat
    patient = asyncio.create_task(budget.acquire(None))  # takes the turn, waits it out
    await asyncio.sleep(0)
    with pytest.raises(QueueTimeoutError):
        await budget.acquire(0.5)
    # Refused while the patient caller was still waiting for the pause to end, not
    # after it had reserved its slot (which moves the schedule on).
    assert budget._state.tat == paused_until
    assert budget.stats.acquired == 0
    await patient
    assert budget.stats.acquired == 1

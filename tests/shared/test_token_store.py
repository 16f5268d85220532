"""RedisTokenStore against a real Redis: round trip, compare-and-discard, the issue lock
exclusive across "hosts", the last-issued mark, and no token value in logs or reprs."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

import pytest

from kis_async import KST, AccessToken
from kis_async.shared import RedisTokenStore, SharedStoreError

from .conftest import free_port

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=KST)


def _token(value: str) -> AccessToken:
    return AccessToken(value=value, expires_at=NOW + timedelta(hours=24), issued_at=NOW)


async def test_round_trip_and_compare_and_discard(redis_url: str, prefix: str) -> None:
    host_a = RedisTokenStore(redis_url, "k", prefix=prefix)
    host_b = RedisTokenStore(redis_url, "k", prefix=prefix)
    assert await host_a.load() is None
    old, new = _token("old-token-value"), _token("new-token-value")
    await host_a.save(old)
    assert await host_b.load() == old
    await host_b.save(new)
    await host_a.discard(old)  # a late EGW00123 about the old token
    assert await host_a.load() == new  # the newer one is kept
    await host_a.discard(new)
    assert await host_b.load() is None
    # The approval key lives beside the token, not over it.
    approval = RedisTokenStore(redis_url, "k", kind="approval", prefix=prefix)
    await approval.save(_token("approval-key"))
    assert await host_a.load() is None
    for store in (host_a, host_b, approval):
        await store.aclose()


async def test_the_issue_lock_is_exclusive_across_hosts(redis_url: str, prefix: str) -> None:
    hosts = [RedisTokenStore(redis_url, "k", prefix=prefix) for _ in range(3)]
    inside = 0
    most = 0
    entered = 0

    async def issue(store: RedisTokenStore) -> None:
        nonlocal inside, most, entered
        async with store.issue_lock():
            inside += 1
            entered += 1
            most = max(most, inside)
            await asyncio.sleep(0.02)
            inside -= 1

    await asyncio.gather(*(issue(store) for store in hosts for _ in range(3)))
    assert entered == 9
    assert most == 1

    # A holder cancelled mid-issue leaves the lock free for the next host.
    holder = asyncio.create_task(issue(hosts[0]))
    await asyncio.sleep(0.01)
    holder.cancel()
    await asyncio.gather(holder, return_exceptions=True)
    await asyncio.wait_for(issue(hosts[1]), timeout=5)
    for store in hosts:
        await store.aclose()


async def test_last_issued_only_moves_forward(redis_url: str, prefix: str) -> None:
    a = RedisTokenStore(redis_url, "k", prefix=prefix)
    b = RedisTokenStore(redis_url, "k", prefix=prefix)
    assert await a.last_issued() is None
    await a.note_issued(NOW)
    await b.note_issued(NOW - timedelta(seconds=30))  # a late, older note
    assert await b.last_issued() == NOW
    await b.note_issued(NOW + timedelta(seconds=61))
    assert await a.last_issued() == NOW + timedelta(seconds=61)
    await a.aclose()
    await b.aclose()


async def test_the_token_value_appears_in_no_log_or_repr(
    redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store = RedisTokenStore(redis_url, "k", prefix=prefix)
    token = _token("secret-token-value-123")
    assert "secret-token-value-123" not in repr(token)
    await store.save(token)
    async with store.issue_lock():
        assert await store.load() == token
    await store.discard(token)
    assert "secret-token-value-123" not in caplog.text
    await store.aclose()
    with_password = RedisTokenStore("redis://:hunter2@127.0.0.1:1/0", "k")
    assert "hunter2" not in repr(with_password)


async def test_an_unreachable_store_raises_a_clear_error() -> None:
    store = RedisTokenStore(f"redis://127.0.0.1:{free_port()}/0", "k")
    with pytest.raises(SharedStoreError, match="cannot be reached"):
        await store.load()
    await store.aclose()

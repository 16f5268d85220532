"""Processes and hosts sharing one app key against ONE served mock enforcing 18 req/s.

These are the tests that say why the shared budgets exist: four processes on one key,
each pacing itself at 18 req/s, draw EGW00201 from the server; sharing a budget on the
machine or over Redis, they draw none, and the four of them ask for one token. Every
EGW00201 the server sends and every tokenP it receives is counted by the client that
got it (the mock runs in a process of its own).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kis_async.mock import MockKIS

from .processes import run_workers, served_mock, worker_settings

TICKERS = MockKIS().tickers[:100]


@pytest.mark.parametrize("backend", ["machine", "redis"])
async def test_four_processes_on_one_key_share_the_budget_and_one_token(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    extra: dict[str, object] = {"token_cache_dir": str(tmp_path / "tokens")}
    if backend == "redis":
        redis_url = request.getfixturevalue("redis_url")
        prefix = request.getfixturevalue("prefix")
        extra |= {"rate_budget": redis_url, "redis_prefix": prefix}
    else:
        extra |= {"rate_budget": "machine"}
    async with served_mock(tmp_path, "--rate-limit", "18") as base_url:
        jobs = [
            {"settings": worker_settings(base_url, **extra), "tickers": TICKERS[i::4]}
            for i in range(4)
        ]
        results = await run_workers(jobs, tmp_path)
    assert [r["prices"] for r in results] == [25] * 4, [r["errors"] for r in results]
    assert sum(r["rate_limited"] for r in results) == 0  # not one EGW00201 from the server
    assert sum(r["token_requests"] for r in results) == 1  # one tokenP for four processes


async def test_four_processes_each_with_its_own_budget_draw_egw00201(tmp_path: Path) -> None:
    async with served_mock(tmp_path, "--rate-limit", "18") as base_url:
        settings = worker_settings(
            base_url,
            rate_budget="process",
            token_cache_dir=str(tmp_path / "tokens"),
            max_retries=0,  # the point is made by the first refusals
        )
        jobs = [{"settings": settings, "tickers": TICKERS[i:48:4]} for i in range(4)]
        results = await run_workers(jobs, tmp_path)
    # Each paces itself under 18 req/s; together they send about four times that.
    assert sum(r["rate_limited"] for r in results) > 10


async def test_two_hosts_share_one_token_over_redis_despite_a_skewed_clock(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    """Two hosts share nothing but Redis (separate token cache dirs); the second one's
    clock is 2 s ahead. One token in all, and the shared schedule, timed by Redis, does
    not overshoot: a budget stamped with each host's own clock would let the skewed host
    jump the queue."""
    tickers = TICKERS[:30]
    async with served_mock(tmp_path, "--rate-limit", "18") as base_url:
        jobs = [
            {
                "settings": worker_settings(
                    base_url,
                    token_cache_dir=str(tmp_path / f"host{i}"),
                    token_store=redis_url,
                    rate_budget=redis_url,
                    redis_prefix=prefix,
                ),
                "tickers": tickers[i::2],
                "skew": 2.0 * i,
            }
            for i in range(2)
        ]
        results = await run_workers(jobs, tmp_path)
    assert [r["prices"] for r in results] == [15, 15], [r["errors"] for r in results]
    assert sum(r["token_requests"] for r in results) == 1
    assert sum(r["rate_limited"] for r in results) == 0

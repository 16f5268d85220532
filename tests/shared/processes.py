"""Real subprocesses against one served mock: the harness of the multi-process tests."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from kis_async.mock import DEMO_APP_KEY, DEMO_APP_SECRET

WORKER = Path(__file__).with_name("worker.py")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIS_")}
    env["XDG_CACHE_HOME"] = str(home)
    return env


@asynccontextmanager
async def served_mock(home: Path, *args: str) -> AsyncIterator[str]:
    """``python -m kis_async.mock`` on a free port in a process of its own.

    Its own process, not the test's event loop: a pause of the test process (its
    garbage collector, with the whole suite's objects) would hold requests back and
    then admit them together, a burst no client sent.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kis_async.mock",
        "--port",
        str(port),
        *args,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env=_env(home),
    )
    try:
        for _ in range(500):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.02)
                continue
            writer.close()
            await writer.wait_closed()
            break
        else:
            raise AssertionError("the served mock did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        await proc.wait()


def worker_settings(base_url: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "env": "mock",
        "base_url": base_url,
        "app_key": DEMO_APP_KEY,
        "app_secret": DEMO_APP_SECRET,
        "rate_limit": 18,
        "retry_initial_delay": 0.05,
        "retry_max_delay": 0.2,
        # Slack for the jitter of a loaded two-core test machine: five processes (four
        # clients and the served mock) share it, so an answer can be late by tens of
        # milliseconds and bunch up at the server. Without sharing, four processes
        # send four times the limit: no headroom hides that.
        "rate_limit_headroom": 0.1,
    }
    values.update(overrides)
    return values


async def run_workers(jobs: list[dict[str, Any]], home: Path) -> list[dict[str, Any]]:
    """Start every job at once; each prints one JSON line. Raises if any fails."""
    env = _env(home)
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(WORKER),
            json.dumps(job),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        for job in jobs
    ]
    outputs = await asyncio.wait_for(
        asyncio.gather(*(proc.communicate() for proc in procs)), timeout=120
    )
    results = []
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()[-2000:]
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    return results

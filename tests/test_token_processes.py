"""Token single flight across real processes sharing one cache dir and one served mock."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

_WORKER = """
import asyncio, json, os, sys, time
from kis_async import AsyncKISClient, KISSettings

async def main(base_url, cache, go):
    settings = KISSettings(_env_file=None, env="mock", base_url=base_url, token_cache_dir=cache)
    async with AsyncKISClient(settings) as kis:
        print("ready", flush=True)
        while not os.path.exists(go):
            await asyncio.sleep(0.005)
        started = time.monotonic()
        error = None
        try:
            await kis.get_current_price("005930")
        except Exception as exc:
            error = repr(exc)
        print(json.dumps({"tokens": kis.token_requests, "error": error,
                          "seconds": time.monotonic() - started}), flush=True)

asyncio.run(main(*sys.argv[1:4]))
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_listening(port: int, server: subprocess.Popen[bytes]) -> None:
    for _ in range(500):
        assert server.poll() is None, "the mock server exited"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                return
        except OSError:
            time.sleep(0.02)
    raise AssertionError("the mock server did not start listening")


def test_four_cold_processes_on_one_cache_dir_issue_one_token(tmp_path: Path) -> None:
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "kis_async.mock", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: list[subprocess.Popen[str]] = []
    try:
        _wait_listening(port, server)
        go = tmp_path / "go"
        base_url = f"http://127.0.0.1:{port}"
        cache = tmp_path / "tokens"
        for _ in range(4):
            workers.append(
                subprocess.Popen(  # noqa: S603 (our own interpreter, our own script)
                    [
                        sys.executable,
                        "-c",
                        _WORKER,
                        base_url,
                        str(cache),
                        str(go),
                    ],
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
        for worker in workers:  # all four started and cold before any asks
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready"
        go.touch()
        reports = []
        for worker in workers:
            out, _ = worker.communicate(timeout=60)
            reports.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        server.terminate()
        server.wait(timeout=10)
    assert [r["error"] for r in reports] == [None] * 4
    assert sum(r["tokens"] for r in reports) == 1  # exactly one tokenP reached the mock
    # Nobody sat out KIS's one-a-minute rule (the old behaviour: about 60 s).
    assert max(r["seconds"] for r in reports) < 2.0

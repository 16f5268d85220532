"""The crash test: a trader killed with SIGKILL at random points, then reconciled.

One mock is served on 127.0.0.1 (``python -m kis_async.mock``) for every trial, so the
broker's state outlives each trader. After each kill, ``reconcile()`` must leave the
ledger and the broker in agreement (positions, quantities, cash to the won) without
repairs to positions, and no order may ever have been sent twice.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from kis_async import AsyncKISClient
from kis_async.engine import Ledger, TradingEngine
from kis_async.engine._fills import order_key

from .crash_trader import config, settings

TRIALS = 20
TRADER = Path(__file__).with_name("crash_trader.py")
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def served_mock() -> Iterator[str]:
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "kis_async.mock",
            "--port",
            str(port),
            "--seed",
            "5",
            "--rate-limit",
            "inf",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("the mock server did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _run_and_kill(args: list[str], rng: random.Random) -> str:
    """Start the trader; SIGKILL it at a random point. Returns how it ended."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    trader = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, str(TRADER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        env=env,
        text=True,
    )
    assert trader.stdout is not None
    # Whatever happens, no trader outlives its trial (a hung one is killed too).
    watchdog = threading.Timer(30, trader.kill)
    watchdog.start()
    try:
        if rng.random() < 0.2:
            time.sleep(rng.uniform(0.0, 0.8))  # anywhere, even during start or reconcile
        else:
            line = trader.stdout.readline()  # wait until it trades
            if not line.startswith("READY"):
                raise AssertionError(f"trader did not start: {line!r}")
            time.sleep(rng.uniform(0.0, 0.4))
        if trader.poll() is None:
            trader.send_signal(signal.SIGKILL)
            ending = "killed"
        else:
            ending = f"exited {trader.returncode}"
    finally:
        trader.wait(timeout=10)
        watchdog.cancel()
        trader.stdout.close()
    # Let the server finish a request the kill cut off before the check looks.
    time.sleep(0.05)
    return ending


async def _check(url: str, ledger_path: Path, token_dir: Path) -> dict[str, int]:
    """Reconcile as a restarted trader would, then compare ledger and broker."""
    async with AsyncKISClient(settings(url, token_dir)) as kis:
        engine = TradingEngine(kis, Ledger(ledger_path), config=config())
        async with engine:
            report = engine.last_reconcile
            assert report is not None
            assert [d for d in report.differences if d.kind == "position"] == []
            balance = await kis.get_balance()
            held = {h.stock_code: h.quantity for h in balance.holdings if h.quantity > 0}
            mine = {p.ticker: p.quantity for p in await engine.ledger.positions()}
            assert mine == held
            assert await engine.ledger.cash() == balance.summary.d2_deposit
            cash_repair = sum(
                abs(int(d.ledger or 0) - int(d.broker or 0))
                for d in report.differences
                if d.kind == "cash"
            )
            # Every order the broker holds is one the ledger knows, once, and each
            # intent (one per plan step) became at most one order.
            today = kis.clock.now().date()
            history = await kis.get_orders(today, today)
            broker_orders = [r for r in history if not r.original_order_id]
            ledger_orders = await engine.ledger.orders()
            assert sorted(order_key(r.order_id) for r in broker_orders) == sorted(
                order_key(o.order_id) for o in ledger_orders
            )
            intents = await engine.ledger.intents()
            steps = Counter(i.reason for i in intents)
            assert max(steps.values(), default=0) <= 1, steps
            assert not [i for i in intents if i.state == "sending"]
            return {
                "orders": len(ledger_orders),
                "recovered": len(report.recovered),
                "not_sent": len(report.not_sent),
                "cancelled": len(report.cancelled),
                "fills": report.fills_applied,
                "cash_repair": cash_repair,
            }


async def test_sigkilled_trader_is_reconciled_without_double_orders(
    served_mock: str, tmp_path: Path
) -> None:
    seed = int(os.environ.get("KIS_CRASH_SEED", "20261201"))
    print(f"crash test seed: {seed} (set KIS_CRASH_SEED to replay another)")
    rng = random.Random(seed)
    ledger_path, token_dir = tmp_path / "ledger.db", tmp_path / "tokens"
    # One token for every run: the trader loads it from the cache instead of asking
    # the mock for a new one each start (KIS allows one issuance a minute).
    async with AsyncKISClient(settings(served_mock, token_dir)) as kis:
        await kis.get_balance()
    totals: Counter[str] = Counter()
    endings: Counter[str] = Counter()
    for _ in range(TRIALS):
        endings[_run_and_kill([served_mock, str(ledger_path), str(token_dir), "8"], rng)] += 1
        totals.update(await _check(served_mock, ledger_path, token_dir))
    print(f"crash test: {dict(endings)}; {dict(totals)}")
    assert endings["killed"] >= TRIALS // 2
    assert totals["orders"] > 0
    # Commission is truncated per execution at the broker and per observed fill in
    # the ledger; that is the only cash the ledger may have had to take from it.
    assert totals["cash_repair"] <= totals["fills"]

"""A trader the crash test runs as a subprocess and kills at random points.

``python tests/engine/crash_trader.py URL LEDGER TOKEN_DIR STEPS``: opens the engine
(which reconciles), prints READY, then works through a fixed plan of buys and sells,
one step after another, continuing where the last run stopped. The step about to run
is logged in the ledger first, so a restarted run never repeats a step, crashed or not.
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import httpx

from kis_async import AsyncKISClient, KISSettings
from kis_async.engine import EngineConfig, EngineRuleError, Ledger, TradingEngine

TICKERS = ("005930", "000660", "035420", "051910", "005380")


def settings(url: str, token_dir: Path) -> KISSettings:
    """The client settings the test and the trader share (same token cache)."""
    return KISSettings(
        _env_file=None,
        env="mock",
        base_url=url,
        token_cache_dir=token_dir,
        rate_limit=1000,
        retry_initial_delay=0.01,
        retry_max_delay=0.05,
        order_settle_seconds=0.2,
    )


class SlowAnswers(httpx.AsyncHTTPTransport):
    """A network whose order answers take a while to come back.

    The server has the order by then, so a kill in that pause is a crash with the
    order sent and its answer lost: the case reconcile exists for.
    """

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if request.method == "POST" and "/trading/order" in request.url.path:
            await anyio.sleep(0.08)
        return response


def config() -> EngineConfig:
    return EngineConfig(
        _env_file=None,
        stop_loss=None,
        take_profit=None,
        fill_timeout=0.1,
        fill_poll_interval=0.03,
        ticks_through=0,
    )


async def step(engine: TradingEngine, n: int) -> None:
    """Step ``n`` of the plan: mostly small buys, every third a partial sell."""
    ticker = TICKERS[n % len(TICKERS)]
    reason = f"step {n}"
    if n % 3 == 2:
        held = await engine.ledger.position(ticker)
        if held is not None and held.quantity > 0:
            await engine.sell(ticker, max(1, held.quantity // 2), reason=reason)
            return
    await engine.buy(ticker, 150_000 + 10_000 * (n % 7), reason=reason)


async def main(url: str, ledger_path: str, token_dir: str, steps: int) -> None:
    client = AsyncKISClient(settings(url, Path(token_dir)), transport=SlowAnswers())
    async with client as kis:
        engine = TradingEngine(kis, Ledger(ledger_path), config=config())
        async with engine:
            print("READY", flush=True)
            logged = await engine.ledger.events("step")
            start = max((int(e["detail"]["n"]) for e in logged), default=-1) + 1
            for n in range(start, start + steps):
                await engine.ledger.log("step", at=kis.clock.now(), n=n)
                try:
                    await step(engine, n)
                except EngineRuleError as exc:
                    print(f"step {n} refused: {exc}", flush=True)
    print("DONE", flush=True)


if __name__ == "__main__":
    _, url, ledger_path, token_dir, steps = sys.argv
    anyio.run(main, url, ledger_path, token_dir, int(steps))

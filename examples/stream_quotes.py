"""Live quotes: a table of 10 stocks updated from the real-time trade stream.

    python examples/stream_quotes.py [--seconds 8] [--speed 600]

Runs on the embedded mock server, whose clock starts at a session's open and runs
``--speed`` times faster than real time, so a trading day scrolls by in a minute; it
stops by itself after ``--seconds``. Against KIS, the same code runs with
``AsyncKISClient()`` and your credentials (needs ``pip install 'kis-async[stream]'``).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import datetime

from rich.console import Console
from rich.live import Live
from rich.table import Table

from kis_async import KST, AsyncKISClient, TradeTick
from kis_async.mock import MockClock, MockKIS

TICKERS = [
    "005930",  # Samsung Electronics
    "000660",  # SK hynix
    "373220",  # LG Energy Solution
    "207940",  # Samsung Biologics
    "005380",  # Hyundai Motor
    "000270",  # Kia
    "068270",  # Celltrion
    "035420",  # NAVER
    "105560",  # KB Financial
    "035720",  # Kakao
]
#: A Friday at the open.
OPEN = datetime(2026, 11, 20, 9, 0, tzinfo=KST)


def render(last: dict[str, TradeTick], counts: dict[str, int], clock: datetime) -> Table:
    table = Table(title=f"real-time trades (mock clock {clock:%H:%M})")
    for column in ("code", "price", "change", "%", "volume", "high", "low", "ticks"):
        table.add_column(column, justify="left" if column == "code" else "right")
    for code in TICKERS:
        tick = last.get(code)
        if tick is None:
            table.add_row(code, "-", "-", "-", "-", "-", "-", "0")
            continue
        colour = "red" if tick.change > 0 else "blue" if tick.change < 0 else "white"
        table.add_row(
            code,
            f"{tick.price:,}",
            f"[{colour}]{tick.change:+,}[/]",
            f"[{colour}]{tick.change_rate:+}[/]",
            f"{tick.accumulated_volume:,}",
            f"{tick.high:,}",
            f"{tick.low:,}",
            str(counts[code]),
        )
    return table


async def main(seconds: float, speed: float) -> None:
    mock = MockKIS(seed=0, clock=MockClock(OPEN, frozen=True), rate_limit=float("inf"))
    last: dict[str, TradeTick] = {}
    counts = dict.fromkeys(TICKERS, 0)
    console = Console()
    async with AsyncKISClient.for_mock(mock) as kis, kis.stream() as stream:
        await stream.subscribe_trades(TICKERS)
        deadline = time.monotonic() + seconds

        async def run_clock() -> None:
            # The mock's time-lapse: a minute bar every 60 / speed real seconds.
            while time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                mock.clock.advance(0.05 * speed)

        ticker = asyncio.create_task(run_clock())
        with Live(render(last, counts, mock.clock.now()), console=console) as live:
            try:
                async with asyncio.timeout(seconds):
                    async for event in stream:
                        if isinstance(event, TradeTick):
                            last[event.ticker] = event
                            counts[event.ticker] += 1
                            live.update(render(last, counts, mock.clock.now()))
            except TimeoutError:
                pass
        ticker.cancel()
        console.print(
            f"\n{sum(counts.values())} ticks in {seconds:g} s; "
            f"{stream.stats.frames} frames, {stream.stats.dropped} dropped, "
            f"{stream.stats.reconnects} reconnects"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="run this long (default 8)")
    parser.add_argument("--speed", type=float, default=600.0, help="mock clock speed-up")
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.speed))

"""Fan-out: current prices of many stocks at once, inside the account's rate limit.

    python examples/fanout_prices.py

Every request passes the client's one rate gate, so however many tickers you ask for,
KIS never sees more than the account's limit per second (18 real, 1 virtual).
"""

from __future__ import annotations

import asyncio
import time

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from kis_async import AsyncKISClient, CurrentPrice
from kis_async.mock import MockKIS

console = Console()


async def main() -> None:
    async with AsyncKISClient() as kis:
        # The mock's universe is a list of real KRX stocks, so it serves on KIS too.
        tickers = list((kis.mock or MockKIS()).tickers)
        limit = kis.settings.effective_rate_limit
        console.rule(f"{len(tickers)} prices at up to {limit:g} requests/s ({kis.settings.env})")
        started = time.perf_counter()
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("fetching", total=len(tickers))
            prices = await kis.get_current_prices(
                tickers, on_result=lambda _code, _price: progress.advance(task)
            )
        elapsed = time.perf_counter() - started

        table = Table(title="sorted by change")
        for column in ("code", "price", "change", "%", "volume", "sector"):
            table.add_column(column, justify="left" if column in ("code", "sector") else "right")

        def change(price: CurrentPrice) -> float:
            return float(price.change_rate)

        for price in sorted(prices.values(), key=change, reverse=True):
            style = "red" if price.change_price > 0 else "blue" if price.change_price < 0 else ""
            table.add_row(
                price.stock_code,
                f"{price.current_price:,}",
                f"{price.change_price:+,}",
                f"{price.change_rate:+.2f}",
                f"{price.volume:,}",
                price.sector_name or "",
                style=style,
            )
        console.print(table)
        console.print(
            f"{len(prices)} prices in {elapsed:.2f} s = {len(prices) / elapsed:.1f} req/s; "
            f"rate-limit answers from KIS: {kis.stats.rate_limited}, retries: {kis.stats.retries}"
        )


if __name__ == "__main__":
    asyncio.run(main())

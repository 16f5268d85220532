"""Quickstart: a price, the order book, charts and stock information.

    python examples/quickstart.py [TICKER]

With no credentials this runs on the embedded mock KIS server. With KIS_APP_KEY and
KIS_APP_SECRET in .env (KIS_ENV=virtual) it asks KIS's paper-trading server instead.
"""

from __future__ import annotations

import asyncio
import sys

from rich.console import Console
from rich.table import Table

from kis_async import AsyncKISClient, ConfigError, CurrentPrice, OrderBook, PriceType

console = Console()


def show_price(price: CurrentPrice) -> None:
    color = "red" if price.change_price > 0 else "blue" if price.change_price < 0 else "white"
    console.print(
        f"[bold]{price.stock_code}[/] {price.current_price:,} KRW "
        f"[{color}]{price.change_price:+,} ({price.change_rate:+}%)[/]  "
        f"open {price.open_price:,}  high {price.high_price:,}  low {price.low_price:,}  "
        f"volume {price.volume:,}  band {price.lower_limit:,}..{price.upper_limit:,}  "
        f"tick {price.tick_size:,}"
    )


def show_book(book: OrderBook) -> None:
    table = Table(title=f"order book {book.stock_code} (spread {book.spread} KRW)")
    table.add_column("ask volume", justify="right", style="blue")
    table.add_column("price", justify="right")
    table.add_column("bid volume", justify="right", style="red")
    for level in reversed(book.ask_levels[:5]):
        table.add_row(f"{level.volume:,}", f"{level.price:,}", "")
    for level in book.bid_levels[:5]:
        table.add_row("", f"{level.price:,}", f"{level.volume:,}")
    console.print(table)


async def main(ticker: str) -> None:
    async with AsyncKISClient() as kis:
        console.rule(f"kis-async quickstart ({kis.settings.env})")
        show_price(await kis.get_current_price(ticker))
        show_book(await kis.get_order_book(ticker))

        daily = Table(title=f"{ticker}: last 5 trading days")
        for column in ("date", "open", "high", "low", "close", "volume"):
            daily.add_column(column, justify="right")
        for candle in await kis.get_chart_data(ticker, PriceType.DAILY, count=5):
            daily.add_row(
                candle.date.isoformat(),
                *(f"{v:,}" for v in (candle.open_price, candle.high_price, candle.low_price)),
                f"{candle.close_price:,}",
                f"{candle.volume:,}",
            )
        console.print(daily)

        bars = await kis.get_chart_data(ticker, PriceType.MINUTE_30, count=4)
        console.print(
            "30-minute bars: "
            + ", ".join(f"{b.time:%H:%M} {b.close_price:,}" for b in bars if b.time is not None)
        )
        yearly = await kis.get_chart_data(ticker, PriceType.DAILY, count=250)
        console.print(
            f"one year of daily bars ({len(yearly)} rows, paged past KIS's 100-row calls): "
            f"{yearly[0].date} .. {yearly[-1].date}"
        )

        try:
            info = await kis.get_stock_info(ticker)
        except ConfigError as exc:  # KIS offers stock info on its real server only
            console.print(f"stock info: {exc}")
        else:
            console.print(
                f"{info.stock_name} ({info.english_name}), {info.market}, "
                f"{info.listed_shares or 0:,} shares listed, ISIN {info.isin}"
            )
        console.print(f"requests sent: {kis.stats.requests}, tokens issued: {kis.token_requests}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "005930"))

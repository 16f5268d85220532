"""Place orders: buy at the best ask, see the fill, then rest an order and cancel it.

    python examples/place_order.py [TICKER]

Runs on the embedded mock KIS server with no credentials, or on a virtual
(paper-trading) account when .env has one. It refuses to run against real money.
"""

from __future__ import annotations

import asyncio
import sys

from rich.console import Console
from rich.table import Table

from kis_async import KST, AsyncKISClient, OrderRecord, market

console = Console()


def show_orders(title: str, records: list[OrderRecord]) -> None:
    table = Table(title=title)
    for column in ("order", "side", "qty", "price", "filled", "avg fill", "resting", "note"):
        table.add_column(column, justify="right")
    for r in records:
        note = (
            "cancel"
            if r.cancelled
            else (f"revises {r.original_order_id}" if r.original_order_id else "")
        )
        table.add_row(
            r.order_id,
            r.side.value,
            f"{r.quantity:,}",
            f"{r.price:,}" if r.price else "market",
            f"{r.filled_quantity:,}",
            f"{r.average_fill_price:,.0f}",
            f"{r.remaining_quantity:,}",
            note,
        )
    console.print(table)


async def main(ticker: str) -> None:
    async with AsyncKISClient() as kis:
        if kis.settings.env == "real":
            raise SystemExit("this example places orders: run it on the mock or a virtual account")
        console.rule(f"placing orders on {kis.settings.env}")
        today = kis.clock.now().astimezone(KST).date()

        book = await kis.get_order_book(ticker)
        assert book.best_ask is not None
        bought = await kis.buy(ticker, 10, book.best_ask)
        console.print(
            f"bought 10 x {ticker} at the best ask {book.best_ask:,} KRW: order {bought.order_id}"
        )

        quote = await kis.get_current_price(ticker)
        far_below = market.round_to_tick(
            max(quote.lower_limit, quote.current_price * 9 // 10), "up"
        )
        resting = await kis.buy(ticker, 5, far_below)
        console.print(f"resting bid 5 x {ticker} at {far_below:,} KRW: order {resting.order_id}")
        show_orders("today's orders", await kis.get_orders(today, today, ticker=ticker))

        cancel = await kis.cancel_order(resting)
        console.print(f"cancelled {resting.order_id} with order {cancel.order_id}")
        show_orders("after the cancel", await kis.get_orders(today, today, ticker=ticker))

        balance = await kis.get_balance()
        holding = balance.holding(ticker)
        if holding is not None:
            console.print(
                f"holding {holding.quantity:,} x {holding.stock_name} at {holding.avg_price:,.0f} "
                f"avg, worth {holding.eval_amount:,} KRW ({holding.profit_loss:+,})"
            )
        s = balance.summary
        console.print(
            f"cash {s.deposit:,} KRW, stocks {s.eval_total:,} KRW, "
            f"total {s.total_eval_amount:,} KRW"
        )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "005930"))

"""The ``kis`` command: a thin layer over the public API of :mod:`kis_async`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time as _time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from kis_async import (
    KST,
    AsyncKISClient,
    ConfigError,
    FileTokenStore,
    KISError,
    KISSettings,
    OrderRecord,
    PriceType,
    token_cache_key,
)
from kis_async.cli._output import Output
from kis_async.frames import to_records

__all__ = ["CommandError", "build_parser", "prepare", "report_error", "run"]

ClientFactory = Callable[[], AsyncKISClient]

#: WebSocket hosts of KIS (plain ws://), by env.
_WEBSOCKET_URLS = {
    "real": "ws://ops.koreainvestment.com:21000",
    "virtual": "ws://ops.koreainvestment.com:31000",
}
#: A server clock further off than this makes doctor complain (seconds).
_CLOCK_TOLERANCE = 5.0
#: Seconds doctor waits for a host to accept a connection.
_CONNECT_TIMEOUT = 3.0


class CommandError(Exception):
    """A problem to report in one line, with an exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


# -- argument parsing ------------------------------------------------------------------


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _period(text: str) -> PriceType:
    try:
        return PriceType(text)
    except ValueError:
        choices = ", ".join(p.value for p in PriceType)
        raise argparse.ArgumentTypeError(f"period must be one of {choices}") from None


def _price(text: str) -> int:
    try:
        value = int(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a price is whole KRW, got {text!r}") from None
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``kis`` argument parser (every subcommand)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--json", action="store_true", help="one JSON object per line (default off a terminal)"
    )
    common.add_argument(
        "--pretty", action="store_true", help="tables even when stdout is not a terminal"
    )
    common.add_argument("--debug", action="store_true", help="show the traceback of an error")
    parser = argparse.ArgumentParser(
        prog="kis",
        description="The KIS Open API from a terminal. Settings come from KIS_* variables "
        "and .env; with no credentials everything runs on the embedded mock server.",
        parents=[common],
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=text, description=text, parents=[common])

    quote = command("quote", "current prices of one or more tickers (KRW)")
    quote.add_argument("tickers", nargs="+", metavar="TICKER")
    book = command("book", "the order book of a ticker: ten levels a side")
    book.add_argument("ticker", metavar="TICKER")
    chart = command("chart", "bars of a ticker, oldest first")
    chart.add_argument("ticker", metavar="TICKER")
    chart.add_argument("--period", type=_period, default=PriceType.DAILY, help="D W M Y 1m 5m ...")
    chart.add_argument("--count", type=int, default=30, help="how many bars (default 30)")
    chart.add_argument("--plot", type=Path, metavar="PNG", help="also write a candle chart")
    info = command("info", "reference data of a ticker")
    info.add_argument("ticker", metavar="TICKER")
    prices = command("prices", "current prices of many tickers at once")
    source = prices.add_mutually_exclusive_group(required=True)
    source.add_argument("tickers", nargs="*", default=[], metavar="TICKER")
    source.add_argument("--file", type=Path, help="tickers from a file, one per line")
    source.add_argument("--universe", action="store_true", help="every ticker of the mock")
    command("balance", "holdings and account totals (KRW)")
    orders = command("orders", "order history")
    orders.add_argument("--from", dest="start", type=_date, help="first day (default today)")
    orders.add_argument("--to", dest="end", type=_date, help="last day (default today)")
    for side in ("buy", "sell"):
        order = command(side, f"{side} shares: a limit order at PRICE KRW, else a market order")
        order.add_argument("ticker", metavar="TICKER")
        order.add_argument("quantity", type=int, metavar="QTY")
        order.add_argument("price", type=_price, nargs="?", metavar="PRICE")
        order.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    cancel = command("cancel", "cancel a resting order of today")
    cancel.add_argument("order_id", metavar="ORDER_ID")
    cancel.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    mock = command("mock", "the mock KIS server")
    mock_commands = mock.add_subparsers(dest="mock_command", metavar="SUBCOMMAND", required=True)
    mock_commands.add_parser(
        "serve",
        help="serve the mock on a port (options: kis mock serve --help)",
        add_help=False,
    )
    fill = command("backfill", "store historical bars of many tickers (resumable)")
    fill_source = fill.add_mutually_exclusive_group(required=True)
    fill_source.add_argument("tickers", nargs="*", default=[], metavar="TICKER")
    fill_source.add_argument("--file", type=Path, help="tickers from a file, one per line")
    fill_source.add_argument("--universe", action="store_true", help="every ticker of the mock")
    fill_source.add_argument(
        "--master", type=Path, help="the stocks of a KIS kospi_code.mst / kosdaq_code.mst file"
    )
    fill.add_argument("--start", type=_date, required=True, help="first day (YYYY-MM-DD)")
    fill.add_argument("--end", type=_date, help="last day (default: the last finished session)")
    fill.add_argument("--period", type=_period, default=PriceType.DAILY, help="D, W, M or Y")
    fill.add_argument(
        "--store",
        default="kis-bars.sqlite",
        help="SQLite file (default kis-bars.sqlite), or a directory / *.parquet for Parquet",
    )
    fill.add_argument("--concurrency", type=int, default=8, help="tickers at once (default 8)")
    command("doctor", "check settings, hosts, token cache, clock and rate budget")
    stream = command("stream", "real-time trades (and order books) over KIS's WebSocket")
    stream.add_argument("tickers", nargs="+", metavar="TICKER")
    stream.add_argument("--book", action="store_true", help="order books as well as trades")
    stream.add_argument("--count", type=int, help="stop after this many events")
    stream.add_argument("--seconds", type=float, help="stop after this many seconds")
    from kis_async.cli._engine import add_engine_commands

    add_engine_commands(commands, common)
    return parser


# -- helpers ---------------------------------------------------------------------------


def _tickers_from(args: argparse.Namespace) -> list[str]:
    if getattr(args, "universe", False):
        from kis_async.mock import MockKIS

        return list(MockKIS().tickers)
    master = getattr(args, "master", None)
    if master is not None:
        from kis_async.backfill import read_master

        return [record.ticker for record in read_master(master)]
    if args.file is not None:
        try:
            text = Path(args.file).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot read {args.file}: {exc.strerror or exc}") from None
        lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
        return [line for line in lines if line]
    return list(args.tickers)


def _today(kis: AsyncKISClient) -> date:
    return kis.clock.now().astimezone(KST).date()


def _confirm(out: Output, stdin: IO[str], question: str) -> bool:
    out.stderr.write(f"{question} [y/N] ")
    out.stderr.flush()
    answer = stdin.readline()
    return answer.strip().lower() in {"y", "yes"}


def _check_real_money(settings: KISSettings) -> None:
    if settings.env == "real" and not settings.production_confirmed:
        raise ConfigError(
            "env 'real' trades real money: set KIS_PRODUCTION_CONFIRMED=YES to place orders"
        )


def _order_record(order: Any) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "ticker": order.ticker,
        "side": order.side,
        "quantity": order.quantity,
        "price": order.price,
        "order_type": order.order_type,
        "kind": order.kind,
        "ordered_at": order.ordered_at,
        "recovered": order.recovered,
    }


# -- commands --------------------------------------------------------------------------

Command = Callable[[AsyncKISClient, argparse.Namespace, Output, IO[str]], Awaitable[int]]


async def _quote(kis: AsyncKISClient, args: argparse.Namespace, out: Output, _: IO[str]) -> int:
    prices = await kis.get_current_prices(args.tickers)
    out.rows("Quotes (KRW)", to_records(prices))
    return 0


async def _book(kis: AsyncKISClient, args: argparse.Namespace, out: Output, _: IO[str]) -> int:
    book = await kis.get_order_book(args.ticker)
    if out.json:
        out.line(
            {
                "ticker": book.stock_code,
                "quoted_at": book.quoted_at,
                "asks": [[level.price, level.volume] for level in book.ask_levels],
                "bids": [[level.price, level.volume] for level in book.bid_levels],
                "total_ask_volume": book.total_ask_volume,
                "total_bid_volume": book.total_bid_volume,
            }
        )
        return 0
    rows = [
        {"side": "ask", "price": level.price, "volume": level.volume}
        for level in reversed(book.ask_levels)
    ] + [{"side": "bid", "price": level.price, "volume": level.volume} for level in book.bid_levels]
    out.rows(f"Order book {book.stock_code} (KRW, shares)", rows)
    return 0


async def _chart(kis: AsyncKISClient, args: argparse.Namespace, out: Output, _: IO[str]) -> int:
    candles = await kis.get_chart_data(args.ticker, args.period, args.count)
    out.rows(f"{args.ticker} {args.period.value} bars (KRW, shares)", to_records(candles))
    if args.plot is not None:
        from kis_async.plot import plot_candles

        if not candles:
            raise CommandError("no bars to plot")
        path = plot_candles(candles, args.plot, title=f"{args.ticker} ({args.period.value})")
        out.note(f"wrote {path}")
    return 0


async def _info(kis: AsyncKISClient, args: argparse.Namespace, out: Output, _: IO[str]) -> int:
    info = await kis.get_stock_info(args.ticker)
    out.record(f"{info.stock_code} {info.stock_name}", info.model_dump())
    return 0


async def _prices(kis: AsyncKISClient, args: argparse.Namespace, out: Output, _: IO[str]) -> int:
    tickers = _tickers_from(args)
    if not tickers:
        raise CommandError("no tickers given")
    with out.progress("prices", len(tickers)) as advance:
        results = await kis.get_current_prices(
            tickers, return_exceptions=True, on_result=lambda _t, _r: advance()
        )
    out.rows("Prices (KRW)", to_records(results))
    return 1 if any(isinstance(v, Exception) for v in results.values()) else 0


async def _balance(kis: AsyncKISClient, args: argparse.Namespace, out: Output, _: IO[str]) -> int:
    balance = await kis.get_balance()
    summary = balance.summary.model_dump()
    if out.json:
        out.line({"holdings": to_records(balance), "summary": summary})
        return 0
    out.rows("Holdings", to_records(balance))
    out.record("Account (KRW)", summary)
    return 0


async def _orders(kis: AsyncKISClient, args: argparse.Namespace, out: Output, _: IO[str]) -> int:
    today = _today(kis)
    end = args.end or today
    start = args.start or min(today, end)
    orders = await kis.get_orders(start, end)
    out.rows(f"Orders {start} to {end}", to_records(orders))
    return 0


async def _order(kis: AsyncKISClient, args: argparse.Namespace, out: Output, stdin: IO[str]) -> int:
    _check_real_money(kis.settings)
    side = args.command
    plan = {
        "side": side,
        "ticker": args.ticker,
        "quantity": args.quantity,
        "price": args.price if args.price is not None else "market",
        "env": kis.settings.env,
    }
    out.record("Order to place", plan) if not out.json else out.note(f"order: {plan}")
    if not args.yes and not _confirm(out, stdin, f"Place this {side} order?"):
        out.note("not placed")
        return 1
    place = kis.buy if side == "buy" else kis.sell
    result = await place(args.ticker, args.quantity, args.price)
    out.record("Order accepted", _order_record(result))
    return 0


def _same_order_id(a: str, b: str) -> bool:
    return a.strip().lstrip("0") == b.strip().lstrip("0")


async def _cancel(
    kis: AsyncKISClient, args: argparse.Namespace, out: Output, stdin: IO[str]
) -> int:
    _check_real_money(kis.settings)
    today = _today(kis)
    found: OrderRecord | None = None
    async for record in kis.iter_orders(today, today):
        if _same_order_id(record.order_id, args.order_id):
            found = record
            break
    if found is None:
        raise CommandError(f"no order {args.order_id} in today's order history")
    if found.remaining_quantity <= 0 or found.cancelled:
        raise CommandError(f"order {found.order_id} has nothing left to cancel")
    shown = to_records([found])[0]
    out.record("Order to cancel", shown) if not out.json else out.note(f"cancel: {shown}")
    if not args.yes and not _confirm(out, stdin, f"Cancel order {found.order_id}?"):
        out.note("not cancelled")
        return 1
    result = await kis.cancel_order(found)
    out.record("Cancel accepted", _order_record(result))
    return 0


async def _backfill(kis: AsyncKISClient, args: argparse.Namespace, out: Output, _: IO[str]) -> int:
    from kis_async.backfill import BackfillProgress, backfill

    tickers = _tickers_from(args)
    if not tickers:
        raise CommandError("no tickers given")
    with out.progress("backfill", len(tickers)) as advance:

        def on_progress(event: BackfillProgress) -> None:
            if event.event in ("done", "failed"):
                advance()
                if out.json:
                    out.line(
                        {
                            "ticker": event.ticker,
                            "status": event.event,
                            "error": event.error,
                            "tickers_done": event.tickers_done,
                            "tickers_total": event.tickers_total,
                        }
                    )

        report = await backfill(
            kis,
            tickers,
            args.start,
            args.end,
            period=args.period,
            store=args.store,
            concurrency=args.concurrency,
            on_progress=on_progress,
        )
    summary = {
        "summary": True,
        "start": report.start,
        "end": report.end,
        "period": report.period,
        "tickers": report.tickers,
        "bars_written": report.bars_written,
        "requests": report.requests,
        "up_to_date": len(report.up_to_date),
        "refetched": report.refetched,
        "failed": report.failed,
        "store": args.store,
    }
    out.record("Backfill", summary)
    return 0 if report.ok else 1


def _stream_record(event: Any) -> dict[str, Any]:
    from kis_async.stream import OrderBookUpdate, TradeTick

    if isinstance(event, TradeTick):
        return {
            "type": "trade",
            "ticker": event.ticker,
            "traded_at": event.traded_at,
            "price": event.price,
            "change": event.change,
            "change_rate": event.change_rate,
            "volume": event.volume,
            "accumulated_volume": event.accumulated_volume,
        }
    if isinstance(event, OrderBookUpdate):
        return {
            "type": "book",
            "ticker": event.ticker,
            "time": event.time,
            "best_ask": event.asks[0] if event.asks else None,
            "best_bid": event.bids[0] if event.bids else None,
            "asks": list(event.asks),
            "bids": list(event.bids),
            "ask_quantities": list(event.ask_quantities),
            "bid_quantities": list(event.bid_quantities),
        }
    return {"type": type(event).__name__, **event.model_dump(exclude={"extra"})}


def _stream_line(record: dict[str, Any]) -> str:
    if record["type"] == "trade":
        return (
            f"{record['traded_at']:%H:%M:%S} {record['ticker']} {record['price']:>10,} KRW "
            f"{record['change_rate']:+}% {record['volume']:>8,} shares"
        )
    if record["type"] == "book":
        return (
            f"{record['time']:%H:%M:%S} {record['ticker']} book "
            f"bid {record['best_bid'] or 0:,} / ask {record['best_ask'] or 0:,} KRW"
        )
    return str(record)


async def _engine(
    kis: AsyncKISClient, args: argparse.Namespace, out: Output, stdin: IO[str]
) -> int:
    from kis_async.cli._engine import run_engine_command

    return await run_engine_command(kis, args, out, stdin)


async def _stream(kis: AsyncKISClient, args: argparse.Namespace, out: Output, _: IO[str]) -> int:
    if args.count is not None and args.count < 1:
        raise CommandError("--count must be at least 1", status=2)
    seen = 0
    async with kis.stream() as stream:
        await stream.subscribe_trades(args.tickers)
        if args.book:
            await stream.subscribe_order_book(args.tickers)
        deadline = None if args.seconds is None else asyncio.get_running_loop().time()
        while args.count is None or seen < args.count:
            timeout = None
            if deadline is not None:
                timeout = deadline + args.seconds - asyncio.get_running_loop().time()
                if timeout <= 0:
                    break
            try:
                event = await asyncio.wait_for(anext(stream), timeout)
            except (TimeoutError, StopAsyncIteration):
                break
            record = _stream_record(event)
            if out.json:
                out.line(record)
            else:
                out.stdout.write(_stream_line(record) + "\n")
                out.stdout.flush()
            seen += 1
    return 0


# -- doctor ------------------------------------------------------------------------------


async def _websocket_answers(kis: AsyncKISClient) -> tuple[bool | None, str]:
    """Whether KIS's WebSocket host accepts connections.

    Against KIS itself only a TCP connection is made: KIS allows one session per app
    key, and a trading process may hold it. A mock (in-process or served) gets a whole
    session opened and closed.
    """
    settings = kis.settings
    url = settings.ws_url or (_WEBSOCKET_URLS.get(settings.env) if not settings.base_url else None)
    if url is not None:
        ok, detail = await _tcp_answers(url)
        return ok, f"{url}: {detail}"
    try:
        from kis_async.stream import StreamError
    except ImportError:  # pragma: no cover - the stream package ships with the core
        return None, "kis_async.stream is not available"
    try:
        async with asyncio.timeout(_CONNECT_TIMEOUT), kis.stream():
            pass
    except (StreamError, KISError, OSError, TimeoutError, ImportError) as exc:
        return False, f"no WebSocket session: {type(exc).__name__}: {exc}"
    return True, "the mock's WebSocket feed accepted a session"


def _masked_settings(settings: KISSettings) -> dict[str, Any]:
    from kis_async.shared._redis import safe_url

    shown: dict[str, Any] = {}
    secret_fields = {
        name
        for name, info in type(settings).model_fields.items()
        if "SecretStr" in str(info.annotation)
    }
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if name in secret_fields or isinstance(value, SecretStr):
            shown[name] = "set (hidden)" if value is not None else "not set"
        elif name in ("rate_budget", "token_store", "response_cache") and isinstance(value, str):
            # A Redis URL may carry a password.
            shown[name] = safe_url(value)
        else:
            shown[name] = value
    return shown


async def _tcp_answers(url: str) -> tuple[bool, str]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), _CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        return False, f"{host}:{port} does not answer ({type(exc).__name__})"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True, f"{host}:{port} accepts connections"


async def _doctor(kis: AsyncKISClient, args: argparse.Namespace, out: Output, _: IO[str]) -> int:
    settings = kis.settings
    checks: list[dict[str, Any]] = []

    def check(name: str, ok: bool | None, detail: str) -> None:
        status = "ok" if ok else ("skipped" if ok is None else "FAIL")
        checks.append({"check": name, "status": status, "detail": detail})

    if out.json:
        out.line({"settings": _masked_settings(settings)})
    else:
        out.record("Settings (secrets hidden)", _masked_settings(settings))
    base_url = settings.effective_base_url
    in_process = kis.mock is not None
    check(
        "env",
        True,
        f"{settings.env}; REST {'in-process mock' if in_process else base_url}",
    )
    if settings.env == "real":
        check(
            "real money",
            True,
            "orders allowed (KIS_PRODUCTION_CONFIRMED=YES)"
            if settings.production_confirmed
            else "orders refused until KIS_PRODUCTION_CONFIRMED=YES",
        )
    cache = await _token_cache(kis)
    before = cache.get("state")
    started = _time.perf_counter()
    try:
        await kis.get_current_price("005930")
    except KISError as exc:
        check("REST", False, f"{type(exc).__name__}: {exc}")
    else:
        elapsed = (_time.perf_counter() - started) * 1000
        check("REST", True, f"a quotation answered in {elapsed:.0f} ms")
    ok, detail = await _websocket_answers(kis)
    check("WebSocket", ok, detail)
    cache = await _token_cache(kis)
    issued = kis.token_requests
    state = cache.get("state", "memory only")
    if cache.get("expires_at") is not None:
        left = cache["expires_at"] - kis.clock.now()
        state += f", expires {cache['expires_at'].isoformat(timespec='seconds')} (in {left})"
    detail = f"{state}; {'a new token was issued' if issued else 'reused, none issued'}"
    if before is not None and before != cache.get("state"):
        detail += f" (was: {before})"
    check("token cache", cache.get("ok", True), detail)
    offset = kis.server_clock_offset()
    if offset is None:
        check("clock", False, "no Date header seen: the server's clock is unknown")
    else:
        seconds = offset.total_seconds()
        check(
            "clock",
            abs(seconds) <= _CLOCK_TOLERANCE,
            f"KIS's clock minus this machine's: {seconds:+.1f} s "
            f"(tolerance {_CLOCK_TOLERANCE:g} s)",
        )
    limit = settings.effective_rate_limit
    paced = limit * (1 - settings.rate_limit_headroom)
    check(
        "rate budget",
        True,
        f"{limit:g} requests/s for this key, paced at {paced:.2f}/s; this process sent "
        f"{kis.stats.requests} (processes sharing the key share the budget)",
    )
    out.rows("Doctor", checks)
    return 0 if all(c["status"] != "FAIL" for c in checks) else 1


async def _token_cache(kis: AsyncKISClient) -> dict[str, Any]:
    settings = kis.settings
    directory = settings.token_cache_dir
    if directory is None or kis.mock is not None:
        return {"state": "memory only (no cache file)", "ok": True}
    key = token_cache_key(settings.env, settings.effective_base_url, _app_key(settings))
    store = FileTokenStore(directory, key)
    path = store.path
    if not path.exists():
        return {"state": f"no cached token in {directory}", "ok": True}
    mode = path.stat().st_mode & 0o777
    token = await store.load()
    if token is None:
        return {"state": f"{path.name}: unreadable or for another key", "ok": False}
    state = f"{path} (mode {mode:o})"
    return {"state": state, "expires_at": token.expires_at, "ok": mode & 0o077 == 0}


def _app_key(settings: KISSettings) -> str:
    if settings.app_key is not None:
        return settings.app_key.get_secret_value()
    from kis_async.mock import DEMO_APP_KEY

    return DEMO_APP_KEY


_COMMANDS: dict[str, Command] = {
    "quote": _quote,
    "book": _book,
    "chart": _chart,
    "info": _info,
    "prices": _prices,
    "balance": _balance,
    "orders": _orders,
    "buy": _order,
    "sell": _order,
    "cancel": _cancel,
    "backfill": _backfill,
    "doctor": _doctor,
    "stream": _stream,
    "engine": _engine,
}


# -- entry -------------------------------------------------------------------------------


def _mock_serve(argv: Sequence[str]) -> int:
    # The mock's own command line, whole: its options come along as they grow.
    from kis_async.mock import __main__ as mock_cli

    try:
        return int(mock_cli.main(list(argv)) or 0)
    except SystemExit as exc:  # its argparse: --help (0) and usage errors (2)
        return exc.code if isinstance(exc.code, int) else 1


def _split_mock_serve(argv: Sequence[str]) -> list[str] | None:
    """The arguments after ``mock serve``, or None if this is not that command."""
    words = list(argv)
    for i, word in enumerate(words):
        if word == "mock":
            serve = i + 1 < len(words) and words[i + 1] == "serve"
            return words[i + 2 :] if serve else None
        if not word.startswith("-"):
            return None
    return None


def prepare(
    words: Sequence[str], stdout: IO[str], stderr: IO[str]
) -> tuple[argparse.Namespace, Output] | int:
    """Parsed arguments and the output they ask for, or the exit status of a command
    that is already done (``mock serve``, ``--help``, a usage error)."""
    serve_args = _split_mock_serve(words)
    if serve_args is not None:
        return _mock_serve(serve_args)
    try:
        args = build_parser().parse_args(list(words))
    except SystemExit as exc:  # argparse's usage errors (2) and --help (0)
        return exc.code if isinstance(exc.code, int) else 2
    json_mode = args.json or (not args.pretty and not _is_terminal(stdout))
    return args, Output(stdout, stderr, json_mode=json_mode)


async def run(
    args: argparse.Namespace,
    out: Output,
    stdin: IO[str],
    client_factory: ClientFactory | None = None,
) -> int:
    """Run the parsed command with a client from ``client_factory`` (default
    ``AsyncKISClient()``); errors are the caller's to report."""
    kis = client_factory() if client_factory is not None else AsyncKISClient()
    async with kis:
        return await _COMMANDS[args.command](kis, args, out, stdin)


def report_error(exc: BaseException, args: argparse.Namespace, stderr: IO[str]) -> int:
    """Print ``exc`` as one line (with the traceback under --debug); its exit status."""
    if args.debug:
        traceback.print_exception(exc, file=stderr)
    status = exc.status if isinstance(exc, CommandError) else 1
    kind = "" if isinstance(exc, CommandError) else f"{type(exc).__name__}: "
    message = " ".join(str(exc).split()) or type(exc).__name__
    stderr.write(f"kis: error: {kind}{message}\n")
    return status


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False

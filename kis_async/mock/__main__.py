"""Serve the mock KIS server on a port: ``python -m kis_async.mock --port 8000``.

:func:`main` is the whole command (``main(["--port", "9000"])`` returns its exit
status), and :func:`build_parser` its argument parser, so another command line can
offer the same options.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import socket
import sys
from collections.abc import Sequence

from ._server import (
    DEFAULT_RATE_LIMITS,
    DEMO_ACCOUNT_NO,
    DEMO_APP_KEY,
    DEMO_APP_SECRET,
    DEMO_HTS_ID,
    STATS_PATH,
    MockKIS,
)

__all__ = ["build_parser", "main", "parse_latency"]

_DESCRIPTION = "Serve the deterministic mock KIS server (REST) for any KIS client."
_REAL, _VIRTUAL = DEFAULT_RATE_LIMITS["real"], DEFAULT_RATE_LIMITS["virtual"]
_EPILOG = f"""\
rate limits: the mock enforces KIS's limit per app key, {_REAL:g} requests/s on
--server real and {_VIRTUAL:g} request/s on --server virtual (KIS's paper-trading
server), answering EGW00201 (HTTP 500) beyond it. kis-async paces itself; most other
clients (the official samples, python-kis) send faster than 1/s and will meet EGW00201
on virtual: give them --rate-limit 20 (or inf) unless the limit is what you test.

tokens: the seed signs them, so a token issued by a mock started with --seed N stays
valid after a restart with --seed N (clients that cache the day's token keep working).

counters: GET {STATS_PATH} answers the request, token, rejection and fault counters.
"""


def _rate(text: str) -> float:
    value = math.inf if text.lower() in {"inf", "none", "off"} else float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("the rate limit must be positive (or 'inf')")
    return value


def parse_latency(text: str) -> tuple[float, float]:
    """``"20"`` or ``"20:5"`` (milliseconds, jitter) as (latency, jitter) in seconds."""
    latency_text, _, jitter_text = text.partition(":")
    try:
        latency = float(latency_text)
        jitter = float(jitter_text) if jitter_text else 0.0
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"latency is milliseconds, optionally with a jitter: '20' or '20:5', got {text!r}"
        ) from None
    if not (math.isfinite(latency) and math.isfinite(jitter)) or latency < 0 or jitter < 0:
        raise argparse.ArgumentTypeError(f"latency and jitter must be >= 0 ms, got {text!r}")
    if jitter > latency:
        raise argparse.ArgumentTypeError(f"the jitter must not exceed the latency, got {text!r}")
    return latency / 1000, jitter / 1000


def build_parser(prog: str = "python -m kis_async.mock") -> argparse.ArgumentParser:
    """The command line's parser (``prog`` names the command in its help)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    parser.add_argument("--seed", type=int, default=0, help="simulation seed (default 0)")
    parser.add_argument(
        "--server",
        choices=("real", "virtual"),
        default="real",
        help="KIS server to emulate: its tr_ids (T... or V...), page sizes and default rate",
    )
    parser.add_argument(
        "--rate-limit",
        type=_rate,
        default=None,
        metavar="PER_SECOND",
        help="requests per second per app key (default 18 real / 1 virtual; 'inf': none)",
    )
    parser.add_argument(
        "--latency",
        type=parse_latency,
        default=(0.0, 0.0),
        metavar="MS[:JITTER]",
        help="milliseconds added to every answer, optionally +/- a seeded jitter ('20:5')",
    )
    parser.add_argument(
        "--accept-any-app-key",
        action="store_true",
        help=(
            "any well-formed app key (36 characters) and secret (180) is an app; its account "
            "opens under the account number its first trading request names"
        ),
    )
    return parser


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``) and serve until interrupted.

    Returns the exit status: 0 after a clean stop, 1 when the port cannot be bound,
    2 when uvicorn is missing (argparse exits with 2 on bad options).
    """
    args = build_parser().parse_args(argv)
    try:
        import uvicorn
    except ImportError:
        print(
            "Serving the mock on a port needs uvicorn: pip install 'kis-async[server]'",
            file=sys.stderr,
        )
        return 2
    latency, jitter = args.latency
    mock = MockKIS(
        args.seed,
        server=args.server,
        rate_limit=args.rate_limit,
        latency=latency,
        latency_jitter=jitter,
        accept_any_app_key=args.accept_any_app_key,
    )
    try:
        sock = _bind(args.host, args.port)
    except OSError as error:
        reason = error.strerror or str(error)
        print(f"mock KIS: cannot listen on {args.host}:{args.port}: {reason}", file=sys.stderr)
        return 1
    # Only now, with the port bound, is it true that the mock is serving.
    limit = "none" if math.isinf(mock.rate_limit) else f"{mock.rate_limit:g}/s per app key"
    # uvicorn speaks WebSocket only with a WebSocket library installed.
    if importlib.util.find_spec("websockets") is not None:
        websocket = f"ws://{args.host}:{args.port}/tryitout (or the bare path)"
    else:
        websocket = "off: pip install 'kis-async[stream]' to serve it"
    print(
        f"mock KIS ({args.server}, seed {args.seed}, rate limit {limit}) serving on "
        f"http://{args.host}:{args.port}\n"
        f"  app key    {DEMO_APP_KEY}\n"
        f"  app secret {DEMO_APP_SECRET}\n"
        f"  account    {DEMO_ACCOUNT_NO}\n"
        f"  HTS ID     {DEMO_HTS_ID} (real-time fill notices)\n"
        f"  websocket  {websocket}\n"
        f"  counters   GET http://{args.host}:{args.port}{STATS_PATH}",
        file=sys.stderr,
        flush=True,
    )
    # The app states its own Date (the mock clock's) and no Server header, as KIS.
    config = uvicorn.Config(
        mock.app, log_level="warning", date_header=False, server_header=False, lifespan="on"
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

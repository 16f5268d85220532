"""Serve the mock KIS server on a port: ``python -m kis_async.mock --port 8000``."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence

from ._server import DEMO_ACCOUNT_NO, DEMO_APP_KEY, DEMO_APP_SECRET, MockKIS

__all__ = ["main"]


def _rate(text: str) -> float:
    value = math.inf if text.lower() in {"inf", "none", "off"} else float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("the rate limit must be positive (or 'inf')")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and serve until interrupted. Returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m kis_async.mock", description="Serve the deterministic mock KIS server."
    )
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    parser.add_argument("--seed", type=int, default=0, help="simulation seed (default 0)")
    parser.add_argument(
        "--server", choices=("real", "virtual"), default="real", help="KIS server to emulate"
    )
    parser.add_argument(
        "--rate-limit",
        type=_rate,
        default=None,
        help="requests per second per app key (default 18 real / 1 virtual; 'inf': none)",
    )
    args = parser.parse_args(argv)
    try:
        import uvicorn
    except ImportError:
        print(
            "Serving the mock on a port needs uvicorn: pip install 'kis-async[server]'",
            file=sys.stderr,
        )
        return 2
    mock = MockKIS(args.seed, server=args.server, rate_limit=args.rate_limit)
    print(
        f"mock KIS ({args.server}, seed {args.seed}) on http://{args.host}:{args.port}\n"
        f"  app key    {DEMO_APP_KEY}\n"
        f"  app secret {DEMO_APP_SECRET}\n"
        f"  account    {DEMO_ACCOUNT_NO}",
        file=sys.stderr,
    )
    # The app states its own Date (the mock clock's); uvicorn must not add a second.
    uvicorn.run(mock.app, host=args.host, port=args.port, log_level="warning", date_header=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())

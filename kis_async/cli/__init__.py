"""The ``kis`` command line: ``kis quote 005930``, ``kis backfill ...``, ``kis doctor``.

Installed as the console script ``kis`` and runnable as ``python -m kis_async``. In a
terminal it prints tables (``pip install 'kis-async[cli]'`` for rich); piped, or with
``--json``, one JSON object per line. Errors are one line on stderr with a nonzero
exit status (``--debug`` shows the traceback). Secrets are never printed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kis_async.cli._app import build_parser

if TYPE_CHECKING:
    from kis_async.cli.__main__ import main

__all__ = ["build_parser", "main"]


def __getattr__(name: str) -> Any:
    # Imported on use, so ``python -m kis_async.cli`` runs its __main__ only once.
    if name == "main":
        from kis_async.cli.__main__ import main

        return main
    raise AttributeError(f"module 'kis_async.cli' has no attribute {name!r}")

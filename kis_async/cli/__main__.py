"""The ``kis`` entry point: ``kis ...``, ``python -m kis_async`` or ``python -m kis_async.cli``.

The one place the command line starts an event loop: the library never does.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from typing import IO

from kis_async import KISError
from kis_async.cli._app import ClientFactory, CommandError, prepare, report_error, run

__all__ = ["main"]


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: IO[str] | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
    client_factory: ClientFactory | None = None,
) -> int:
    """Run ``kis`` with ``argv`` (default the process's) and return the exit status.

    0 success; 1 a failed command (an error, a refused confirmation, a failed check);
    2 a usage error; 130 interrupted. ``client_factory`` builds the client (default
    ``AsyncKISClient()`` from ``KIS_*`` settings and ``.env``).
    """
    words = list(sys.argv[1:] if argv is None else argv)
    stdin = stdin if stdin is not None else sys.stdin
    stdout = stdout if stdout is not None else sys.stdout
    stderr = stderr if stderr is not None else sys.stderr
    prepared = prepare(words, stdout, stderr)
    if isinstance(prepared, int):
        return prepared
    args, out = prepared
    try:
        return asyncio.run(run(args, out, stdin, client_factory))
    except KeyboardInterrupt:
        stderr.write("kis: interrupted\n")
        return 130
    except (CommandError, KISError, ValueError, OSError) as exc:
        return report_error(exc, args, stderr)


if __name__ == "__main__":
    sys.exit(main())

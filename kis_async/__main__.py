"""``python -m kis_async``: the ``kis`` command line."""

from __future__ import annotations

import sys

from kis_async.cli import main

if __name__ == "__main__":
    sys.exit(main())

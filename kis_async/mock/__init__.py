"""A deterministic mock of the KIS REST API over a simulated KRX market.

``MockKIS(seed).transport`` plugs into ``httpx.AsyncClient`` in-process;
``python -m kis_async.mock --port 8000`` serves the same app on 127.0.0.1.
"""

from __future__ import annotations

from ._clock import MockClock
from ._faults import FAULT_KINDS, FaultKind, FaultPlan
from ._server import DEMO_ACCOUNT_NO, DEMO_APP_KEY, DEMO_APP_SECRET, MockKIS
from ._stats import MockStats

__all__ = [
    "DEMO_ACCOUNT_NO",
    "DEMO_APP_KEY",
    "DEMO_APP_SECRET",
    "FAULT_KINDS",
    "FaultKind",
    "FaultPlan",
    "MockClock",
    "MockKIS",
    "MockStats",
]

# Users see kis_async.mock.MockKIS, not the private module it lives in.
for _name in ("FaultPlan", "MockClock", "MockKIS", "MockStats"):
    globals()[_name].__module__ = __name__
del _name

"""A deterministic mock of the KIS REST API over a simulated KRX market.

``MockKIS(seed).transport`` plugs into ``httpx.AsyncClient`` in-process;
``python -m kis_async.mock --port 8000`` serves the same app on 127.0.0.1. Besides
quotations it runs an exchange: every app owns a :class:`MockAccount` whose orders
(:class:`MockOrder`, each with its :class:`MockFill` executions) trade against the
simulated market.
"""

from __future__ import annotations

from ._accounts import MockAccount, MockPosition
from ._clock import MockClock
from ._faults import FAULT_KINDS, FaultKind, FaultPlan
from ._orders import MockFill, MockOrder
from ._server import DEFAULT_CASH, DEMO_ACCOUNT_NO, DEMO_APP_KEY, DEMO_APP_SECRET, MockKIS
from ._stats import MockStats
from ._stream import DEMO_HTS_ID, MockStream, MockStreamStats, SentFrame
from ._ws_transport import MockWebSocketTransport

__all__ = [
    "DEFAULT_CASH",
    "DEMO_ACCOUNT_NO",
    "DEMO_APP_KEY",
    "DEMO_APP_SECRET",
    "DEMO_HTS_ID",
    "FAULT_KINDS",
    "FaultKind",
    "FaultPlan",
    "MockAccount",
    "MockClock",
    "MockFill",
    "MockKIS",
    "MockOrder",
    "MockPosition",
    "MockStats",
    "MockStream",
    "MockStreamStats",
    "MockWebSocketTransport",
    "SentFrame",
]

# Users see kis_async.mock.MockKIS, not the private module it lives in.
for _name in (
    "FaultPlan",
    "MockAccount",
    "MockClock",
    "MockFill",
    "MockKIS",
    "MockOrder",
    "MockPosition",
    "MockStats",
    "MockStream",
    "MockStreamStats",
    "MockWebSocketTransport",
    "SentFrame",
):
    globals()[_name].__module__ = __name__
del _name

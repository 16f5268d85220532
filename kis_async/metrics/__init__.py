"""Numbers about every request, for dashboards and traces.

The client reports each HTTP request as a :class:`~kis_async.RequestEvent` to the
hooks added with ``client.add_request_hook(hook)``; nothing here is needed for that.
This package adds :class:`RequestRecorder`, a dependency-free hook that tallies the
events, and :func:`instrument_otel`, an OpenTelemetry adapter
(``pip install 'kis-async[otel]'``: ``opentelemetry-api`` only; the SDK and exporter
are the application's choice).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kis_async._events import OUTCOMES, RequestEvent, RequestHook, outcome_of

if TYPE_CHECKING:
    from kis_async.metrics._otel import OpenTelemetryHook, instrument_otel

__all__ = [
    "OUTCOMES",
    "OpenTelemetryHook",
    "RequestEvent",
    "RequestHook",
    "RequestRecorder",
    "instrument_otel",
    "outcome_of",
]


@dataclass
class RequestRecorder:
    """A request hook that counts: requests by endpoint and outcome, retries, EGW00201
    answers, and totals of request and rate-gate seconds.

    ``client.add_request_hook(recorder)``; read its fields at any time.
    """

    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    retries: int = 0
    rate_limited: int = 0
    seconds: float = 0.0
    gate_wait_seconds: float = 0.0
    #: The most recent events, oldest first (at most ``keep``).
    events: list[RequestEvent] = field(default_factory=list)
    keep: int = 1000

    def __call__(self, event: RequestEvent) -> None:
        self.requests[(event.endpoint, event.outcome)] += 1
        if event.attempt > 1:
            self.retries += 1
        if event.msg_cd == "EGW00201":
            self.rate_limited += 1
        self.seconds += event.duration
        self.gate_wait_seconds += event.gate_wait
        self.events.append(event)
        if len(self.events) > self.keep:
            del self.events[: len(self.events) - self.keep]

    @property
    def total(self) -> int:
        """Every request seen."""
        return sum(self.requests.values())


def __getattr__(name: str) -> Any:
    # The adapter imports opentelemetry; only on first use.
    if name in ("OpenTelemetryHook", "instrument_otel"):
        from kis_async.metrics import _otel

        return getattr(_otel, name)
    raise AttributeError(f"module 'kis_async.metrics' has no attribute {name!r}")

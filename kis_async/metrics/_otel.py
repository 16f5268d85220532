"""OpenTelemetry metrics and spans for every KIS request (``opentelemetry-api`` only)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from kis_async._events import RequestEvent

if TYPE_CHECKING:
    from kis_async._base_client import BaseKISClient

__all__ = ["OpenTelemetryHook", "instrument_otel"]

_SCOPE = "kis_async"


class OpenTelemetryHook:
    """A request hook that records OpenTelemetry instruments and one span per request.

    Instruments (meter ``kis_async``):

    - ``kis.client.requests`` (counter): every request, by ``kis.endpoint`` and
      ``kis.outcome``;
    - ``kis.client.request.duration`` (histogram, s): the HTTP exchange, by endpoint;
    - ``kis.client.retries`` (counter): attempts after the first, by endpoint;
    - ``kis.client.rate_limited`` (counter): EGW00201 answers, by endpoint;
    - ``kis.client.rate_gate.wait`` (histogram, s): time queued at the rate gate.

    Spans (tracer ``kis_async``) are named by endpoint (``inquire-price``), kind
    CLIENT, children of whatever span is current, with the method, path (never the
    query string), tr_id, status, attempt, outcome and KIS message code. No header,
    query or body is recorded: account numbers and secrets travel there.
    """

    def __init__(
        self, meter_provider: Any = None, tracer_provider: Any = None, *, spans: bool = True
    ) -> None:
        from kis_async import __version__

        meter = (meter_provider or metrics.get_meter_provider()).get_meter(_SCOPE, __version__)
        self._tracer = (
            (tracer_provider or trace.get_tracer_provider()).get_tracer(_SCOPE, __version__)
            if spans
            else None
        )
        self.requests = meter.create_counter(
            "kis.client.requests", unit="{request}", description="KIS HTTP requests sent"
        )
        self.duration = meter.create_histogram(
            "kis.client.request.duration", unit="s", description="KIS HTTP exchange time"
        )
        self.retries = meter.create_counter(
            "kis.client.retries", unit="{request}", description="KIS requests that were retries"
        )
        self.rate_limited = meter.create_counter(
            "kis.client.rate_limited", unit="{answer}", description="EGW00201 answers from KIS"
        )
        self.gate_wait = meter.create_histogram(
            "kis.client.rate_gate.wait", unit="s", description="Time queued at the rate gate"
        )

    def __call__(self, event: RequestEvent) -> None:
        by_endpoint = {"kis.endpoint": event.endpoint}
        self.requests.add(1, {**by_endpoint, "kis.outcome": event.outcome})
        self.duration.record(event.duration, by_endpoint)
        self.gate_wait.record(event.gate_wait, by_endpoint)
        if event.attempt > 1:
            self.retries.add(1, by_endpoint)
        if event.msg_cd == "EGW00201":
            self.rate_limited.add(1, by_endpoint)
        if self._tracer is not None:
            self._span(event)

    def _span(self, event: RequestEvent) -> None:
        assert self._tracer is not None
        end = time.time_ns()
        start = end - int(event.duration * 1e9)
        attributes: dict[str, str | int | float] = {
            "http.request.method": event.method,
            "url.path": event.path,
            "kis.endpoint": event.endpoint,
            "kis.tr_id": event.tr_id,
            "kis.attempt": event.attempt,
            "kis.outcome": event.outcome,
            "kis.rate_gate.wait": event.gate_wait,
        }
        if event.status is not None:
            attributes["http.response.status_code"] = event.status
        if event.msg_cd:
            attributes["kis.msg_cd"] = event.msg_cd
        span = self._tracer.start_span(
            event.endpoint, kind=SpanKind.CLIENT, start_time=start, attributes=attributes
        )
        if not event.ok:
            span.set_status(Status(StatusCode.ERROR, event.outcome))
        span.end(end_time=end)


def instrument_otel(
    client: BaseKISClient,
    *,
    meter_provider: Any = None,
    tracer_provider: Any = None,
    spans: bool = True,
) -> OpenTelemetryHook:
    """Record ``client``'s requests with OpenTelemetry; returns the hook added.

    Providers default to the global ones (``opentelemetry.metrics.set_meter_provider``
    and ``trace.set_tracer_provider``). ``client.remove_request_hook(hook)`` stops it.
    """
    hook = OpenTelemetryHook(meter_provider, tracer_provider, spans=spans)
    client.add_request_hook(hook)
    return hook

"""The request hook and its OpenTelemetry adapter, read back through the SDK."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kis_async import RateLimitError, RequestEvent
from kis_async.metrics import RequestRecorder, instrument_otel
from kis_async.mock import MockKIS
from tests.conftest import on
from tests.helpers import ACCOUNT

PRICE = "/uapi/domestic-stock/v1/quotations/inquire-price"


def _points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    assert data is not None
    found: dict[str, list[Any]] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found.setdefault(metric.name, []).extend(metric.data.data_points)
    return found


async def test_every_attempt_reaches_the_hook_with_what_happened(mock: MockKIS) -> None:
    mock.faults.schedule("rate_limit", path=PRICE)
    seen: list[RequestEvent] = []
    recorder = RequestRecorder()
    async with on(mock, retry_initial_delay=0, retry_max_delay=0, rate_limit_cooldown=0) as kis:
        kis.add_request_hook(seen.append)
        kis.add_request_hook(recorder)
        await kis.get_current_price("005930")
        kis.remove_request_hook(seen.append)
        await kis.get_current_price("000660")
    token, limited, priced = seen
    assert (token.endpoint, token.tr_id, token.status, token.outcome) == ("token", "", 200, "ok")
    assert (limited.outcome, limited.msg_cd, limited.attempt) == ("rate_limited", "EGW00201", 1)
    assert limited.status == 500
    assert (priced.outcome, priced.attempt, priced.tr_id) == ("ok", 2, "FHKST01010100")
    assert priced.path == PRICE
    assert all(e.duration >= 0 and e.gate_wait >= 0 for e in seen)
    assert recorder.total == 4 == kis.stats.requests
    assert recorder.retries == kis.stats.retries == 1
    assert recorder.rate_limited == 1
    assert recorder.requests[("inquire-price", "ok")] == 2


async def test_a_failing_hook_never_fails_the_request(
    mock: MockKIS, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: RequestEvent) -> None:
        raise RuntimeError("dashboard down")

    async with on(mock) as kis:
        kis.add_request_hook(broken)
        price = await kis.get_current_price("005930")
    assert price.current_price == mock.current_price("005930")
    assert "request hook failed" in caplog.text


async def test_opentelemetry_counts_retries_rate_limits_and_gate_waits(mock: MockKIS) -> None:
    reader = InMemoryMetricReader()
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    mock.faults.schedule("rate_limit", path=PRICE)
    async with on(
        mock, retry_initial_delay=0, retry_max_delay=0, rate_limit_cooldown=0, max_retries=0
    ) as kis:
        hook = instrument_otel(
            kis, meter_provider=MeterProvider(metric_readers=[reader]),
            tracer_provider=tracer_provider,
        )  # fmt: skip
        with pytest.raises(RateLimitError):
            await kis.get_current_price("005930")
        prices = await kis.get_current_prices(["005930", "000660", "035420"])
        await kis.get_balance()
        kis.remove_request_hook(hook)
    assert len(prices) == 3
    points = _points(reader)
    requests = {
        (p.attributes["kis.endpoint"], p.attributes["kis.outcome"]): p.value
        for p in points["kis.client.requests"]
    }
    assert requests == {
        ("token", "ok"): 1,
        ("inquire-price", "rate_limited"): 1,
        ("inquire-price", "ok"): 3,
        ("inquire-balance", "ok"): 1,
    }
    assert sum(p.value for p in points["kis.client.rate_limited"]) == 1
    assert "kis.client.retries" not in points  # max_retries=0: nothing was retried
    waits = {p.attributes["kis.endpoint"]: p.count for p in points["kis.client.rate_gate.wait"]}
    assert waits == {"token": 1, "inquire-price": 4, "inquire-balance": 1}
    durations = {
        p.attributes["kis.endpoint"]: p.count for p in points["kis.client.request.duration"]
    }
    assert durations["inquire-price"] == 4
    spans = exporter.get_finished_spans()
    assert sorted(s.name for s in spans) == sorted(
        ["token", "inquire-price", "inquire-price", "inquire-price", "inquire-price",
         "inquire-balance"]
    )  # fmt: skip
    limited = next(s for s in spans if s.attributes and s.attributes.get("kis.msg_cd"))
    assert limited.status.status_code.name == "ERROR"
    cano = ACCOUNT.split("-")[0]
    for span in spans:
        for value in (span.attributes or {}).values():
            text = str(value)
            assert "?" not in text
            assert mock.DEMO_APP_KEY not in text
            assert cano not in text
            assert mock.DEMO_ACCOUNT_NO.split("-")[0] not in text


async def test_retries_are_counted_by_opentelemetry(mock: MockKIS) -> None:
    reader = InMemoryMetricReader()
    mock.faults.schedule("error_5xx", path=PRICE, count=2)
    async with on(mock, retry_initial_delay=0, retry_max_delay=0) as kis:
        instrument_otel(kis, meter_provider=MeterProvider(metric_readers=[reader]), spans=False)
        await kis.get_current_price("005930")
    points = _points(reader)
    assert sum(p.value for p in points["kis.client.retries"]) == 2 == kis.stats.retries
    outcomes = {p.attributes["kis.outcome"]: p.value for p in points["kis.client.requests"]}
    assert outcomes["server_error"] == 2

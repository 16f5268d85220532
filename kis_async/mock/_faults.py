"""FaultPlan: seeded and scheduled misbehaviour of the mock server."""

from __future__ import annotations

import random
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal, get_args

__all__ = [
    "ADMITTED",
    "AFTER_PROCESSING",
    "BEFORE_PROCESSING",
    "FAULT_KINDS",
    "FaultKind",
    "FaultPlan",
    "ScheduledFault",
]

FaultKind = Literal[
    "refuse",
    "drop",
    "timeout",
    "drop_after",
    "timeout_after",
    "error_5xx",
    "gateway_html",
    "rate_limit",
    "expire_token",
    "slow",
    "bad_gateway_after",
    "gateway_timeout_after",
]
#: Every kind, in the fixed order random draws walk through.
FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
#: Transport faults that lose the request before the server processes it.
BEFORE_PROCESSING: frozenset[FaultKind] = frozenset({"refuse", "drop", "timeout"})
#: Transport faults that lose the answer after the server processed the request.
AFTER_PROCESSING: frozenset[FaultKind] = frozenset({"drop_after", "timeout_after"})

#: Set by the in-process transport around the app call: the fault it already drew for
#: this request (a 1-tuple, since "no fault" is a decision too). Unset when the app is
#: served on a port, where the app draws for itself.
ADMITTED: ContextVar[tuple[FaultKind | None] | None] = ContextVar("kis_mock_admitted", default=None)


@dataclass(slots=True)
class ScheduledFault:
    """``remaining`` more requests matching ``method``/``path`` (None: any) meet ``kind``."""

    kind: FaultKind
    remaining: int
    path: str | None = None
    method: str | None = None

    def matches(self, method: str, path: str) -> bool:
        """Whether a request for ``method`` ``path`` is one this entry targets."""
        return (self.path is None or self.path == path) and (
            self.method is None or self.method == method
        )


class FaultPlan:
    """Which requests meet which fault.

    Each request draws once from the plan's own ``random.Random(seed)``, so the same
    request sequence meets the same faults. Probabilities (0..1, summing to at most 1)
    say how often each kind is drawn:

    - ``refuse``: the connection never opens (``httpx.ConnectError``); the app never sees it.
    - ``drop``: the connection drops before processing (``httpx.RemoteProtocolError``).
    - ``timeout``: no answer, nothing processed (``httpx.ReadTimeout``).
    - ``drop_after`` / ``timeout_after``: processed (an order would be recorded), then the
      answer is lost (``RemoteProtocolError`` / ``ReadTimeout``).
    - ``error_5xx``: HTTP 503, empty body. ``gateway_html``: HTTP 502 with an HTML page.
    - ``rate_limit``: EGW00201 whatever the real rate.
    - ``expire_token``: the presented token expires just before it is checked (EGW00123).
    - ``slow``: processed, then answered ``slow_seconds`` late, in real time. A client
      whose read timeout is shorter times out, as against a real server (in-process the
      transport enforces the request's read timeout, as httpx does on a socket).
    - ``bad_gateway_after`` / ``gateway_timeout_after``: processed (an order is recorded),
      then answered HTTP 502 / 504 with the gateway's HTML page instead of the result.

    ``history_lag`` is seconds (mock clock) before a new order shows in the order
    history (inquire-daily-ccld), as when KIS's history trails its order desk.

    ``only(method, path)`` limits random faults to some requests. :meth:`schedule` makes
    the next matching requests meet a fault whatever the probabilities (first in, first
    out; decided when the request arrives, so deterministic under concurrency).
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        refuse: float = 0.0,
        drop: float = 0.0,
        timeout: float = 0.0,
        drop_after: float = 0.0,
        timeout_after: float = 0.0,
        error_5xx: float = 0.0,
        gateway_html: float = 0.0,
        rate_limit: float = 0.0,
        expire_token: float = 0.0,
        slow: float = 0.0,
        bad_gateway_after: float = 0.0,
        gateway_timeout_after: float = 0.0,
        slow_seconds: float = 1.0,
        history_lag: float = 0.0,
        only: Callable[[str, str], bool] | None = None,
    ) -> None:
        probabilities: dict[FaultKind, float] = {
            "refuse": refuse,
            "drop": drop,
            "timeout": timeout,
            "drop_after": drop_after,
            "timeout_after": timeout_after,
            "error_5xx": error_5xx,
            "gateway_html": gateway_html,
            "rate_limit": rate_limit,
            "expire_token": expire_token,
            "slow": slow,
            "bad_gateway_after": bad_gateway_after,
            "gateway_timeout_after": gateway_timeout_after,
        }
        for kind, p in probabilities.items():
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"probability of {kind!r} must be within 0..1, got {p}")
        if sum(probabilities.values()) > 1.0 + 1e-9:
            raise ValueError("fault probabilities must add up to at most 1")
        if slow_seconds < 0:
            raise ValueError(f"slow_seconds must not be negative, got {slow_seconds}")
        if history_lag < 0:
            raise ValueError(f"history_lag must not be negative, got {history_lag}")
        self.history_lag = history_lag
        self.seed = seed
        self.probabilities = probabilities
        self.slow_seconds = slow_seconds
        self.only = only
        self._rng = random.Random(seed)
        self._scheduled: list[ScheduledFault] = []
        # Cumulative thresholds in FAULT_KINDS order, zero-probability kinds left out.
        self._thresholds: list[tuple[float, FaultKind]] = []
        total = 0.0
        for kind in FAULT_KINDS:
            if probabilities[kind] > 0:
                total += probabilities[kind]
                self._thresholds.append((total, kind))

    def schedule(
        self,
        kind: FaultKind,
        count: int = 1,
        *,
        path: str | None = None,
        method: str | None = None,
    ) -> None:
        """Make the next ``count`` requests matching ``path``/``method`` meet ``kind``."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {', '.join(FAULT_KINDS)}")
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        self._scheduled.append(
            ScheduledFault(kind, count, path, method.upper() if method else None)
        )

    @property
    def pending(self) -> list[ScheduledFault]:
        """The scheduled faults still to happen, in order (a copy)."""
        return [ScheduledFault(s.kind, s.remaining, s.path, s.method) for s in self._scheduled]

    def clear(self) -> None:
        """Drop every scheduled fault (probabilities stay)."""
        self._scheduled.clear()

    def draw(self, method: str, path: str) -> FaultKind | None:
        """The fault the next request meets, if any. Call exactly once per request."""
        # Draw first, always, so scheduled faults do not shift the random sequence.
        u = self._rng.random()
        for entry in self._scheduled:
            if entry.matches(method, path):
                entry.remaining -= 1
                if entry.remaining == 0:
                    self._scheduled.remove(entry)
                return entry.kind
        if not self._thresholds or (self.only is not None and not self.only(method, path)):
            return None
        for threshold, kind in self._thresholds:
            if u < threshold:
                return kind
        return None

    def __repr__(self) -> str:
        active = ", ".join(f"{k}={p}" for k, p in self.probabilities.items() if p)
        return f"FaultPlan(seed={self.seed}{', ' + active if active else ''})"

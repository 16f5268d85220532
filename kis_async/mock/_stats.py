"""MockStats: what the mock server saw and did, for tests to assert on."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MockStats"]


@dataclass
class MockStats:
    """Counters of one :class:`MockKIS`.

    ``requests`` counts every request by path (including ones a fault swallowed);
    ``by_tr_id`` by the ``tr_id`` header; ``token_requests`` calls to /oauth2/tokenP and
    ``tokens_issued`` new tokens among them; ``rejections`` error answers by msg_cd /
    error_code; ``rate_limited`` EGW00201 answers, real or injected; ``faults`` injected
    faults by kind.
    """

    requests: Counter[str] = field(default_factory=Counter)
    by_tr_id: Counter[str] = field(default_factory=Counter)
    token_requests: int = 0
    tokens_issued: int = 0
    rejections: Counter[str] = field(default_factory=Counter)
    rate_limited: int = 0
    faults: Counter[str] = field(default_factory=Counter)

    @property
    def total_requests(self) -> int:
        """Every request seen."""
        return sum(self.requests.values())

    def as_dict(self) -> dict[str, Any]:
        """Every counter as JSON-ready data (what ``GET /__mock/stats`` answers)."""
        return {
            "total_requests": self.total_requests,
            "requests": dict(self.requests),
            "by_tr_id": dict(self.by_tr_id),
            "token_requests": self.token_requests,
            "tokens_issued": self.tokens_issued,
            "rejections": dict(self.rejections),
            "rate_limited": self.rate_limited,
            "faults": dict(self.faults),
        }

    def reset(self) -> None:
        """Zero every counter."""
        self.requests.clear()
        self.by_tr_id.clear()
        self.token_requests = 0
        self.tokens_issued = 0
        self.rejections.clear()
        self.rate_limited = 0
        self.faults.clear()

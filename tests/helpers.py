"""Small test doubles shared by the test modules."""

from __future__ import annotations

from datetime import datetime, timedelta

from kis_async import KST

REAL = "https://openapi.koreainvestment.com:9443"
VIRTUAL = "https://openapivts.koreainvestment.com:29443"
APP_KEY = "PSTESTAPPKEY0123456789abcdefghijklmn"  # 36 characters, like KIS's
APP_SECRET = "S" * 60 + "secretsecret" * 10  # 180 characters
ACCOUNT = "87654321-01"
TOKEN_VALUE = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJ0b2tlbiJ9.c2lnbmF0dXJlLXRlc3Q"


class ManualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 20, 10, 30, tzinfo=KST)
        self._mono = 1000.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._mono += seconds


def token_body(expires: datetime, value: str = TOKEN_VALUE) -> dict[str, object]:
    return {
        "access_token": value,
        "access_token_token_expired": expires.astimezone(KST).strftime("%Y-%m-%d %H:%M:%S"),
        "token_type": "Bearer",
        "expires_in": 86400,
    }


def envelope(**output: object) -> dict[str, object]:
    return {"rt_cd": "0", "msg_cd": "MCA00000", "msg1": "정상처리 되었습니다.", **output}

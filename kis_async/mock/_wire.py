"""The KIS wire format: envelopes, error bodies and number formatting.

Every value in a KIS body is a string; numbers are written plainly (``"71000"``,
``"-1600"``, rates with two decimals ``"-2.07"``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "JSON_CONTENT_TYPE",
    "MESSAGES",
    "MSG_OK",
    "MSG_OK_TEXT",
    "Encoded",
    "OAuthRejection",
    "Rejection",
    "Reply",
    "Success",
    "WireError",
    "dumps",
    "dumps_object",
    "gateway",
    "invalid_input",
    "oauth_error",
    "ratio",
    "scaled",
]

JSON_CONTENT_TYPE = "application/json; charset=UTF-8"

#: msg_cd -> (HTTP status, message) for the errors the mock sends. Texts seen from KIS
#: where known (kis-api.md §5, §9); the 404 text is the mock's own.
MESSAGES: dict[str, tuple[int, str]] = {
    "EGW00002": (404, "존재하지 않는 URL 입니다."),
    "EGW00101": (403, "유효하지 않은 요청입니다."),
    "EGW00103": (403, "유효하지 않은 AppKey입니다."),
    "EGW00105": (403, "유효하지 않은 AppSecret입니다."),
    "EGW00121": (500, "유효하지 않은 token 입니다."),
    "EGW00123": (500, "기간이 만료된 token 입니다."),
    "EGW00133": (403, "접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)"),
    "EGW00201": (500, "초당 거래건수를 초과하였습니다."),
    "OPSQ0002": (200, "없는 서비스 코드 입니다"),
    "MCA05918": (200, "종목코드 오류입니다."),
}
MSG_OK = "MCA00000"
MSG_OK_TEXT = "정상처리 되었습니다."


def dumps(body: Any) -> bytes:
    """``body`` as compact UTF-8 JSON (Korean text unescaped, as KIS sends it)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True, slots=True)
class Encoded:
    """A value already encoded as JSON, to be spliced into a body as is.

    Lets a handler cache the encoding of an output block that only changes once a
    minute, instead of encoding ~80 fields on every request.
    """

    json: bytes

    @classmethod
    def of(cls, value: Any) -> Encoded:
        """``value`` encoded once."""
        return cls(dumps(value))


def dumps_object(fields: dict[str, Any]) -> bytes:
    """A JSON object of ``fields`` whose values may be :class:`Encoded`."""
    parts = []
    for key, value in fields.items():
        encoded = value.json if isinstance(value, Encoded) else dumps(value)
        parts.append(dumps(key) + b":" + encoded)
    return b"{" + b",".join(parts) + b"}"


def scaled(numerator: int, denominator: int, places: int = 2) -> str:
    """``numerator / denominator`` with ``places`` decimals, rounded half away from zero."""
    if denominator == 0:
        return "0." + "0" * places if places else "0"
    unit = 10**places
    quotient, remainder = divmod(abs(numerator) * unit, abs(denominator))
    if 2 * remainder >= abs(denominator):
        quotient += 1
    negative = (numerator < 0) != (denominator < 0) and quotient != 0
    whole, fraction = divmod(quotient, unit)
    text = f"{whole}.{fraction:0{places}d}" if places else str(whole)
    return "-" + text if negative else text


def ratio(change: int, base: int) -> str:
    """A percentage change as KIS writes it: ``ratio(-1600, 77300) == "-2.07"``."""
    return scaled(change * 100, base)


@dataclass(frozen=True, slots=True)
class Reply:
    """A raw HTTP answer: status and JSON-able body (the token endpoints' shape)."""

    status: int
    body: Any
    content_type: str = JSON_CONTENT_TYPE


@dataclass(frozen=True, slots=True)
class Success:
    """A successful ``/uapi`` answer: the output blocks, wrapped in the KIS envelope.

    ``tr_cont`` is the response header: ``"D"`` (last page) or ``"M"`` (more).
    """

    body: dict[str, Any]
    msg_cd: str = MSG_OK
    msg1: str = MSG_OK_TEXT
    tr_cont: str = "D"
    headers: dict[str, str] = field(default_factory=dict)


class WireError(Exception):
    """A refusal that becomes an HTTP answer; ``code`` is counted in ``stats.rejections``."""

    code: str

    def reply(self) -> Reply:
        """The answer to send."""
        raise NotImplementedError


class Rejection(WireError):
    """An error in the ``rt_cd``/``msg_cd``/``msg1`` envelope (``/uapi`` and gateway errors)."""

    def __init__(self, status: int, msg_cd: str, msg1: str, rt_cd: str = "1") -> None:
        super().__init__(f"{msg_cd}: {msg1}")
        self.status = status
        self.code = msg_cd
        self.msg1 = msg1
        self.rt_cd = rt_cd

    def reply(self) -> Reply:
        return Reply(self.status, {"rt_cd": self.rt_cd, "msg_cd": self.code, "msg1": self.msg1})


class OAuthRejection(WireError):
    """An error in the token endpoints' ``error_code``/``error_description`` shape."""

    def __init__(self, status: int, error_code: str, description: str) -> None:
        super().__init__(f"{error_code}: {description}")
        self.status = status
        self.code = error_code
        self.description = description

    def reply(self) -> Reply:
        return Reply(self.status, {"error_code": self.code, "error_description": self.description})


def gateway(msg_cd: str) -> Rejection:
    """The envelope error ``msg_cd`` with its usual HTTP status and text."""
    status, text = MESSAGES[msg_cd]
    return Rejection(status, msg_cd, text)


def oauth_error(error_code: str, status: int = 403) -> OAuthRejection:
    """The token endpoints' error ``error_code`` (HTTP 403 unless told otherwise)."""
    return OAuthRejection(status, error_code, MESSAGES[error_code][1])


def invalid_input(name: str) -> Rejection:
    """OPSQ2001, KIS's answer to a missing or invalid input field ``name``."""
    return Rejection(200, "OPSQ2001", f"ERROR : INPUT INVALID_CHECK_{name.upper()}", rt_cd="2")

"""Keep secrets out of log records.

The library never formats a key, secret, token or account number into a message, but
httpx logs every request URL at INFO level, and account queries carry the account
number in the query string. A filter on each of our loggers and on httpx's masks every
registered secret in a record before any handler sees it. (A logger's filters do not
apply to records its children propagate, hence one filter per logger, installed by
:func:`get_logger`.)
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import Counter

__all__ = ["MASK", "SecretRedactor", "get_logger", "redactor"]

MASK = "***"
_THIRD_PARTY_LOGGERS = ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2")


class SecretRedactor(logging.Filter):
    """A logging filter that replaces registered secret strings with ``***``."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: Counter[str] = Counter()
        self._lock = threading.Lock()

    def register(self, *values: str | None) -> None:
        """Mask these values from now on (reference-counted; see ``unregister``).

        Each value is masked as given, stripped, and as Python and HTTP libraries quote
        it (``repr`` of the text or of its bytes): h11, for one, reports an illegal
        header value as ``b'<value>\\r'``, where the raw value never appears.
        """
        with self._lock:
            for value in values:
                for form in _forms(value):
                    self._secrets[form] += 1

    def unregister(self, *values: str | None) -> None:
        with self._lock:
            for value in values:
                for form in _forms(value):
                    if self._secrets[form] > 0:
                        self._secrets[form] -= 1
                        if self._secrets[form] == 0:
                            del self._secrets[form]

    def redact(self, text: str) -> str:
        # Longest first, so a secret containing another is masked whole.
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True


def _forms(value: str | None) -> set[str]:
    """The spellings of ``value`` that may show up in a message."""
    if not value or len(value) < 4:
        return set()
    forms = {value, value.strip(), repr(value)[1:-1]}
    with contextlib.suppress(UnicodeEncodeError):
        forms.add(repr(value.encode())[2:-1])
    return {form for form in forms if len(form) >= 4}


#: The process-wide redactor used by every client.
redactor = SecretRedactor()


def get_logger(name: str) -> logging.Logger:
    """A logger whose records pass through the redactor."""
    logger = logging.getLogger(name)
    if redactor not in logger.filters:
        logger.addFilter(redactor)
    return logger


for _name in _THIRD_PARTY_LOGGERS:
    get_logger(_name)

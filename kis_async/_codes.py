"""KIS message codes (``msg_cd``) and a short English gloss for each.

The one table of codes: error messages add the gloss to KIS's own Korean ``msg1``
(kept verbatim), and ``docs/errors.md`` lists the same table (a test keeps them equal).
Codes marked "mock" are answered by the mock server only; KIS has its own codes for
those cases, not yet confirmed.
"""

from __future__ import annotations

from typing import Final

__all__ = ["KIS_CODES", "describe_code"]

#: msg_cd -> a short English gloss.
KIS_CODES: Final[dict[str, str]] = {
    # Gateway (EGW): credentials, tokens, rate limits.
    "EGW00001": "temporary gateway error; try again",
    "EGW00002": "server error (the mock: no such URL)",
    "EGW00003": "access denied",
    "EGW00004": "not authorised",
    "EGW00101": "invalid request (malformed OAuth body or headers)",
    "EGW00103": "invalid app key",
    "EGW00105": "invalid app secret",
    "EGW00121": "invalid access token",
    "EGW00122": "access token not found",
    "EGW00123": "access token expired",
    "EGW00131": "invalid hashkey",
    "EGW00133": "token issuance throttled: KIS issues one token a minute per app key",
    "EGW00201": "rate limit exceeded: too many requests per second",
    "EGW00206": "API use not permitted for this app key (service not applied for)",
    "EGW00215": "account-level rate limit exceeded",
    "EGW00301": "gateway timeout",
    "EGW00302": "gateway timeout",
    # Successes and paging.
    "MCA00000": "success",
    "KIOK0510": "query complete",
    "KIOK0500": "more pages follow",
    "KIOK0460": "query complete (last page)",
    "KIOK0560": "nothing to show",
    "APBK0013": "order accepted",
    # Refusals.
    "MCA05918": "unknown ticker (stock code)",
    "OPSQ0002": "service error (e.g. a missing parameter)",
    "OPSQ2001": "invalid input field",
    "APBK0506": "price off the tick grid",
    "APBK0656": "insufficient buying power",
    "APBK0918": "invalid order quantity",
    "APBK0919": "insufficient orderable quantity (shares)",
    "APBK1058": "outside order hours",
    "APBK1663": "original order not found",
    "APBK1664": "original order not found (revise/cancel)",
    # WebSocket control answers (real-time subscriptions).
    "OPSP0000": "subscribed",
    "OPSP0001": "unsubscribed",
    "OPSP0002": "already subscribed to that tr_id and key in this session",
    "OPSP0003": "unsubscribe refused: no such subscription",
    "OPSP0007": "internal error of the real-time server",
    "OPSP0008": "too many real-time registrations in one session (the cap is 40)",
    "OPSP8991": "unknown real-time tr_id",
    "OPSP8996": "the app key is already in use by another WebSocket session",
    # Answered by the mock server only.
    "MOCK0101": "price beyond today's daily limit band (mock)",
    "MOCK0102": "market order or ticker not traded on NXT (mock)",
    "MOCK0103": "NXT and SOR are not available on the virtual server (mock)",
    "MOCK0104": "quantity not a positive whole number, or more than rests on the order (mock)",
    "MOCK0201": "unknown WebSocket approval key (mock)",
}


def describe_code(msg_cd: str) -> str:
    """The English gloss of a KIS message code, or "" when it is not in the table."""
    return KIS_CODES.get(msg_cd.strip(), "")

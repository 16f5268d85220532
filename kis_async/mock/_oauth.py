"""Apps, access tokens, WebSocket approval keys and hashkeys (kis-api.md §2, §9.1).

Tokens follow KIS's observed rules: one issuance per ``issue_interval`` seconds per app
key (EGW00133 inside it), the same token back for a re-issue within 6 hours, tokens
valid 24 hours, expiry written in Korea local time.

A token is a JWT signed with a key derived from the seed, its claims derived from the
seed, the app key and the issue time; it is checked by its signature and claims, so a
mock restarted with the same seed still accepts the tokens it issued before (clients
that cache the day's token never ask again). Only revocations and forced expiries are
held in memory.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kis_async._clock import KST, Clock

from ._stats import MockStats
from ._wire import Reply, gateway, oauth_error

__all__ = [
    "APP_KEY_LENGTH",
    "APP_SECRET_LENGTH",
    "SAME_TOKEN_WINDOW",
    "TOKEN_LIFETIME",
    "IssuedToken",
    "OAuth",
    "canonical_hash",
    "well_formed_app",
]

#: Seconds an access token is valid.
TOKEN_LIFETIME = 86_400
#: Seconds within which a re-issue returns the app's newest token again.
SAME_TOKEN_WINDOW = 6 * 3_600
#: Characters in a KIS app key and app secret (some clients check these lengths).
APP_KEY_LENGTH = 36
APP_SECRET_LENGTH = 180


@dataclass(slots=True)
class IssuedToken:
    """One access token: its app, and when it was issued and expires (epoch seconds)."""

    token: str
    app_key: str
    issued: int
    expires: int
    revoked: bool = False


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _compact(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def canonical_hash(body: Any) -> str:
    """SHA-256 hex of ``body`` as canonical JSON (sorted keys, compact, UTF-8)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def well_formed_app(app_key: str, app_secret: str) -> bool:
    """Whether a key/secret pair looks like KIS's: a 36-character alphanumeric key and a
    180-character secret of printable ASCII without spaces."""
    return (
        len(app_key) == APP_KEY_LENGTH
        and app_key.isascii()
        and app_key.isalnum()
        and len(app_secret) == APP_SECRET_LENGTH
        and app_secret.isascii()
        and app_secret.isprintable()
        and " " not in app_secret
    )


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _kst(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, KST).strftime("%Y-%m-%d %H:%M:%S")


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


class OAuth:
    """The apps a mock server knows, and every token and approval key it issued."""

    def __init__(
        self,
        seed: int,
        clock: Clock,
        apps: Mapping[str, str],
        issue_interval: float,
        stats: MockStats,
        *,
        accept_any_app_key: bool = False,
        on_new_app: Callable[[str], None] | None = None,
    ) -> None:
        if issue_interval < 0:
            raise ValueError(f"token_issue_interval must not be negative, got {issue_interval}")
        self._clock = clock
        self._apps = dict(apps)
        self._issue_interval = issue_interval
        self._stats = stats
        self._seed = seed
        self._rng = random.Random(f"{seed}:oauth")
        self._accept_any = accept_any_app_key
        self._on_new_app = on_new_app
        # The HS512 key only has to be stable per seed: tokens are opaque to clients.
        self._signing_key = hashlib.sha512(f"kis-async-mock:{seed}".encode()).digest()
        # Tokens seen so far (issued here, or verified after a restart), with their state.
        self._tokens: dict[str, IssuedToken] = {}
        # Tokens issued per (app key, second): a second issue in the same second (after a
        # forced expiry) must differ from the first.
        self._issued_in_second: dict[tuple[str, int], int] = {}
        # expire_all() also reaches tokens a previous run issued: those issued up to here.
        self._expired_through: int | None = None
        self._newest: dict[str, IssuedToken] = {}
        self._last_issue: dict[str, float] = {}
        self.approval_keys: dict[str, str] = {}

    # -- apps ---------------------------------------------------------------------

    def add_app(self, app_key: str, app_secret: str) -> None:
        """Register (or re-key) an app."""
        if not app_key or not app_secret:
            raise ValueError("app key and app secret must not be empty")
        self._apps[app_key] = app_secret

    def app_error(self, app_key: str | None, app_secret: str | None) -> str | None:
        """``"EGW00103"`` for an unknown app key, ``"EGW00105"`` for a wrong secret, else None.

        With ``accept_any_app_key``, an unknown but well-formed pair is registered on
        first sight (its secret from then on is the one it came with).
        """
        if (
            app_key
            and app_key not in self._apps
            and self._accept_any
            and app_secret
            and well_formed_app(app_key, app_secret)
        ):
            self._apps[app_key] = app_secret
            if self._on_new_app is not None:
                self._on_new_app(app_key)
        if not app_key or app_key not in self._apps:
            return "EGW00103"
        if not app_secret or not hmac.compare_digest(self._apps[app_key], app_secret):
            return "EGW00105"
        return None

    def _granted_app(self, raw: bytes, *, credential_field: str) -> str:
        """The app key of a client-credentials grant, or the OAuth error KIS answers."""
        body = _json_object(raw)
        if body is None:
            raise oauth_error("EGW00101")
        app_key = str(body.get("appkey") or "")
        error = self.app_error(app_key, str(body.get(credential_field) or ""))
        if error:
            raise oauth_error(error)
        if body.get("grant_type") != "client_credentials":
            raise oauth_error("EGW00101")
        return app_key

    # -- /oauth2/tokenP -----------------------------------------------------------

    def issue(self, raw: bytes) -> Reply:
        """Answer ``POST /oauth2/tokenP``."""
        self._stats.token_requests += 1
        app_key = self._granted_app(raw, credential_field="appsecret")
        now = self._clock.now().timestamp()
        last = self._last_issue.get(app_key)
        if last is not None and now - last < self._issue_interval:
            raise oauth_error("EGW00133")
        second = int(now)
        newest = self._newest.get(app_key)
        if (
            newest is None
            or newest.revoked
            or second >= newest.expires
            or second - newest.issued >= SAME_TOKEN_WINDOW
        ):
            newest = self._new_token(app_key, second)
        self._last_issue[app_key] = now
        return Reply(
            200,
            {
                "access_token": newest.token,
                "access_token_token_expired": _kst(newest.expires),
                "token_type": "Bearer",
                "expires_in": newest.expires - second,
            },
        )

    def _new_token(self, app_key: str, issued: int) -> IssuedToken:
        expires = issued + TOKEN_LIFETIME
        header = _b64url(_compact({"typ": "JWT", "alg": "HS512"}))
        nth = self._issued_in_second.get((app_key, issued), 0)
        self._issued_in_second[(app_key, issued)] = nth + 1
        # Derived, not drawn: the same seed, app and issue time give the same token.
        digest = hashlib.sha256(f"{self._seed}:{app_key}:{issued}:{nth}".encode()).digest()
        audience = str(uuid.UUID(bytes=digest[:16], version=4))
        claims = {
            "sub": "token",
            "aud": audience,
            "iss": "unogw",
            "exp": expires,
            "iat": issued,
            "jti": app_key,
        }
        payload = _b64url(_compact(claims))
        signing_input = f"{header}.{payload}".encode("ascii")
        signature = _b64url(hmac.new(self._signing_key, signing_input, hashlib.sha512).digest())
        record = IssuedToken(f"{header}.{payload}.{signature}", app_key, issued, expires)
        self._tokens[record.token] = record
        self._newest[app_key] = record
        self._stats.tokens_issued += 1
        return record

    # -- /oauth2/revokeP ----------------------------------------------------------

    def revoke(self, raw: bytes) -> Reply:
        """Answer ``POST /oauth2/revokeP``: the token answers EGW00121 from now on."""
        body = _json_object(raw)
        if body is None:
            raise oauth_error("EGW00101")
        app_key = str(body.get("appkey") or "")
        error = self.app_error(app_key, str(body.get("appsecret") or ""))
        if error:
            raise oauth_error(error)
        record = self._known(str(body.get("token") or ""))
        if record is None or record.revoked or record.app_key != app_key:
            raise oauth_error("EGW00121")
        record.revoked = True
        return Reply(200, {"code": 200, "message": "접근토큰 폐기에 성공하였습니다"})

    # -- /oauth2/Approval ---------------------------------------------------------

    def approve(self, raw: bytes) -> Reply:
        """Answer ``POST /oauth2/Approval`` with a WebSocket approval key (a UUID)."""
        # The approval request names the secret "secretkey", not "appsecret".
        app_key = self._granted_app(raw, credential_field="secretkey")
        key = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        self.approval_keys[key] = app_key
        return Reply(200, {"approval_key": key})

    # -- /uapi/hashkey ------------------------------------------------------------

    @staticmethod
    def hashkey(raw: bytes) -> Reply:
        """Answer ``POST /uapi/hashkey``: the body echoed with its hash."""
        body = _json_object(raw)
        if body is None:
            raise gateway("EGW00101")
        return Reply(200, {"JsonBody": body, "HASH": canonical_hash(body)})

    # -- tokens on /uapi ----------------------------------------------------------

    def _presented(self, authorization: str | None) -> IssuedToken | None:
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self._known(token.strip())

    def _known(self, token: str) -> IssuedToken | None:
        """The record of ``token``: seen before, or one this seed signed (a previous run)."""
        record = self._tokens.get(token)
        if record is None:
            record = self._verified(token)
            if record is not None:
                self._tokens[token] = record
        return record

    def _verified(self, token: str) -> IssuedToken | None:
        """``token``'s record if its signature is this seed's and its claims are whole."""
        header, _, rest = token.partition(".")
        payload, _, signature = rest.partition(".")
        if not header or not payload or not signature:
            return None
        signing_input = f"{header}.{payload}".encode("ascii", "replace")
        expected = _b64url(hmac.new(self._signing_key, signing_input, hashlib.sha512).digest())
        if not hmac.compare_digest(expected, signature):
            return None
        try:
            claims = json.loads(_b64url_decode(payload))
            app_key, issued, expires = str(claims["jti"]), int(claims["iat"]), int(claims["exp"])
        except (ValueError, KeyError, TypeError):
            return None
        if self._expired_through is not None and issued <= self._expired_through:
            expires = min(expires, self._expired_through)
        return IssuedToken(token, app_key, issued, expires)

    def check(self, authorization: str | None, app_key: str) -> None:
        """Raise EGW00121 unless ``authorization`` is ``Bearer <a live token of app_key>``.

        An expired token raises EGW00123 instead.
        """
        record = self._presented(authorization)
        if record is None or record.revoked or record.app_key != app_key:
            raise gateway("EGW00121")
        if self._clock.now().timestamp() >= record.expires:
            raise gateway("EGW00123")

    def expire_presented(self, authorization: str | None) -> None:
        """Expire the token in ``authorization`` now, if it is one of ours."""
        record = self._presented(authorization)
        if record is not None:
            record.expires = min(record.expires, int(self._clock.now().timestamp()))

    def expire_all(self) -> None:
        """Expire every token issued so far."""
        now = int(self._clock.now().timestamp())
        for record in self._tokens.values():
            record.expires = min(record.expires, now)
        self._expired_through = now

"""Access tokens: where they are kept and how they are renewed.

KIS tokens live 24 h, KIS issues at most one a minute per app key, and a re-issue
within 6 h returns the same token. :class:`TokenManager` therefore issues as rarely as
possible: one request however many coroutines need a token (single flight behind an
``asyncio.Lock`` with a double check), reuse of the token cached on disk by earlier
runs or other processes, renewal shortly before expiry, and compare-and-invalidate when
KIS says a token expired, so that a late answer about an old token never discards a
newer one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable

import anyio

from ._clock import Clock
from ._constants import TOKEN_MIN_ISSUE_INTERVAL, TOKEN_REFRESH_MARGIN
from ._errors import KISAPIError, KISServerError, KISTransportError, TokenIssueThrottledError
from ._redact import get_logger, redactor

__all__ = [
    "AccessToken",
    "FileTokenStore",
    "MemoryTokenStore",
    "TokenManager",
    "TokenStore",
    "token_cache_key",
]

logger = get_logger("kis_async.auth")


@dataclass(frozen=True)
class AccessToken:
    """An access token and its lifetime. ``value`` never appears in the repr."""

    value: str = field(repr=False)
    expires_at: datetime
    #: When this client received it (wall clock); KIS's one-a-minute rule counts from here.
    issued_at: datetime

    def is_fresh(self, now: datetime, margin: timedelta = TOKEN_REFRESH_MARGIN) -> bool:
        """Whether the token is still good ``margin`` from now."""
        return now + margin < self.expires_at

    @property
    def fingerprint(self) -> str:
        """A short hash identifying the token in logs without revealing it."""
        return hashlib.sha256(self.value.encode()).hexdigest()[:10]

    def to_json(self) -> dict[str, str]:
        return {
            "access_token": self.value,
            "expires_at": self.expires_at.isoformat(),
            "issued_at": self.issued_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, str]) -> AccessToken:
        return cls(
            value=data["access_token"],
            expires_at=datetime.fromisoformat(data["expires_at"]),
            issued_at=datetime.fromisoformat(data["issued_at"]),
        )


def token_cache_key(env: str, base_url: str, app_key: str) -> str:
    """The cache entry name: the env and a hash of server and app key (no secret inside)."""
    digest = hashlib.sha256(f"{base_url}\n{app_key}".encode()).hexdigest()[:16]
    return f"{env}-{digest}"


@runtime_checkable
class TokenStore(Protocol):
    """Where a token outlives the client: memory, a file, or a shared store."""

    async def load(self) -> AccessToken | None: ...

    async def save(self, token: AccessToken) -> None: ...

    async def discard(self, token: AccessToken) -> None:
        """Forget ``token`` if it is the one stored (a newer one is kept)."""
        ...


class MemoryTokenStore:
    """Keeps the token for the life of the process only."""

    def __init__(self) -> None:
        self._token: AccessToken | None = None

    async def load(self) -> AccessToken | None:
        return self._token

    async def save(self, token: AccessToken) -> None:
        self._token = token

    async def discard(self, token: AccessToken) -> None:
        if self._token is not None and self._token.value == token.value:
            self._token = None

    def __repr__(self) -> str:
        return "MemoryTokenStore()"


class FileTokenStore:
    """One JSON file per env and app key, mode 0600 in a 0700 directory.

    The file holds the token and its times, never the app key or secret. Writes are
    atomic (temporary file, then rename) so a crash never leaves half a token, and all
    file I/O runs in a worker thread so the event loop never blocks.
    """

    def __init__(self, directory: Path, key: str) -> None:
        self.path = Path(directory) / f"{key}.json"

    async def load(self) -> AccessToken | None:
        return await anyio.to_thread.run_sync(self._load)

    async def save(self, token: AccessToken) -> None:
        await anyio.to_thread.run_sync(self._save, token)

    async def discard(self, token: AccessToken) -> None:
        await anyio.to_thread.run_sync(self._discard, token)

    def _load(self) -> AccessToken | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return AccessToken.from_json(data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            logger.warning("ignoring unreadable token cache file %s", self.path)
            return None

    def _save(self, token: AccessToken) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkstemp creates the file with mode 0600, so the token is never world-readable,
        # not even for the moment before the rename.
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".token-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(token.to_json(), handle)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _discard(self, token: AccessToken) -> None:
        stored = self._load()
        if stored is not None and stored.value == token.value:
            self.path.unlink(missing_ok=True)

    def __repr__(self) -> str:
        return f"FileTokenStore({str(self.path.parent)!r})"


class TokenManager:
    """Hands out a valid token, issuing a new one only when it must.

    ``issue`` performs the ``/oauth2/tokenP`` call. ``get`` is cheap when a fresh token
    is held (no lock taken); otherwise one caller issues while the others wait on the
    lock and then reuse its result.
    """

    def __init__(
        self,
        issue: Callable[[], Awaitable[AccessToken]],
        *,
        store: TokenStore,
        clock: Clock,
        refresh_margin: timedelta = TOKEN_REFRESH_MARGIN,
        min_issue_interval: float = TOKEN_MIN_ISSUE_INTERVAL,
    ) -> None:
        self._issue = issue
        self._store = store
        self._clock = clock
        self._margin = refresh_margin
        self._min_interval = min_issue_interval
        self._token: AccessToken | None = None
        self._lock = asyncio.Lock()
        self._rejected: set[str] = set()
        self._registered: set[str] = set()
        self._last_issue: datetime | None = None
        #: How many times ``issue`` was called (tokenP requests made by this manager).
        self.issue_count = 0

    @property
    def current(self) -> AccessToken | None:
        return self._token

    async def get(self) -> AccessToken:
        """A token that is good for at least the refresh margin."""
        token = self._token
        if token is not None and token.is_fresh(self._clock.now(), self._margin):
            return token
        async with self._lock:
            token = self._token
            if token is not None and token.is_fresh(self._clock.now(), self._margin):
                return token  # another caller renewed it while we waited
            stored = await self._usable_stored()
            if stored is not None:
                self._token = stored
                return stored
            token = await self._issue_respecting_interval()
            self._token = token
            await self._store.save(token)
            return token

    async def invalidate(self, token: AccessToken) -> bool:
        """Drop ``token`` after KIS rejected it; a different (newer) token is kept.

        Returns whether anything was dropped.
        """
        self._rejected.add(token.value)
        await self._store.discard(token)
        if self._token is not None and self._token.value == token.value:
            self._token = None
            logger.info("token %s rejected by KIS; a new one will be issued", token.fingerprint)
            return True
        return False

    async def forget(self) -> None:
        """Drop the current token everywhere (after it was revoked)."""
        if self._token is not None:
            await self.invalidate(self._token)

    async def _usable_stored(self) -> AccessToken | None:
        stored = await self._store.load()
        if stored is None or stored.value in self._rejected:
            return None
        if not stored.is_fresh(self._clock.now(), self._margin):
            self._note_issue(stored.issued_at)
            return None
        if stored.value not in self._registered:
            self._registered.add(stored.value)
            redactor.register(stored.value)
        logger.debug("reusing cached token %s", stored.fingerprint)
        return stored

    def _note_issue(self, when: datetime) -> None:
        if self._last_issue is None or when > self._last_issue:
            self._last_issue = when

    async def _wait_for_issue_slot(self) -> None:
        if self._last_issue is None:
            return
        elapsed = (self._clock.now() - self._last_issue).total_seconds()
        wait = self._min_interval - elapsed
        if wait > 0:
            logger.warning(
                "KIS issues one token a minute; waiting %.1f s before asking for another", wait
            )
            await anyio.sleep(wait)

    async def _issue_once(self) -> AccessToken:
        await self._wait_for_issue_slot()
        asked_at = self._clock.now()
        self.issue_count += 1
        try:
            token = await self._issue()
        except KISAPIError as exc:
            # A clear refusal (bad key or secret) issued nothing; anything else may have.
            if isinstance(exc, KISServerError) or exc.status_code == 0:
                self._note_issue(asked_at)
            raise
        except KISTransportError as exc:
            if exc.request_sent:
                self._note_issue(asked_at)
            raise
        self._note_issue(token.issued_at)
        logger.info(
            "access token %s issued, expires %s", token.fingerprint, token.expires_at.isoformat()
        )
        return token

    async def _issue_respecting_interval(self) -> AccessToken:
        try:
            return await self._issue_once()
        except TokenIssueThrottledError:
            # Someone issued within the minute: another process sharing the cache, or an
            # earlier request whose answer was lost. Its token may already be stored.
            stored = await self._usable_stored()
            if stored is not None:
                return stored
            self._note_issue(self._clock.now())
            return await self._issue_once()

"""Access tokens: where they are kept and how they are renewed.

KIS tokens live 24 h, KIS issues at most one a minute per app key, and a re-issue
within 6 h returns the same token. :class:`TokenManager` therefore issues as rarely as
possible: one request however many coroutines need a token (single flight in a task
the manager owns, and across processes a lock the store provides), reuse of the token
cached on disk by earlier runs or other processes, renewal shortly before expiry, and
compare-and-invalidate when KIS says a token expired, so that a late answer about an old
token never discards a newer one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Protocol, runtime_checkable

import anyio

from ._clock import Clock
from ._constants import TOKEN_MIN_ISSUE_INTERVAL, TOKEN_REFRESH_MARGIN
from ._errors import TokenIssueThrottledError
from ._redact import get_logger, redactor

try:
    import fcntl
except ImportError:  # Windows: no flock; EGW00133 and the store poll cover it
    fcntl = None  # type: ignore[assignment]

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
        """The token as the cache file stores it, its value included (so only for the 0600 file)."""
        return {
            "access_token": self.value,
            "expires_at": self.expires_at.isoformat(),
            "issued_at": self.issued_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, str]) -> AccessToken:
        """The token :meth:`to_json` wrote; KeyError or ValueError when ``data`` is not one."""
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
    """Where a token outlives the client: memory, a file, or a shared store.

    Every process (and host) sharing one store shares one token and one issuance:
    :class:`TokenManager` takes :meth:`issue_lock`, re-reads :meth:`load`, and only
    then asks KIS, so that KIS's one-token-a-minute rule is met across all of them.
    """

    async def load(self) -> AccessToken | None:
        """The stored token, or None when there is none (or it cannot be read)."""
        ...

    async def save(self, token: AccessToken) -> None:
        """Store ``token`` for every sharer; a store that cannot write keeps it locally."""
        ...

    async def discard(self, token: AccessToken) -> None:
        """Forget ``token`` if it is the one stored (compare-and-discard: a newer one is kept)."""
        ...

    def issue_lock(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Held around "re-read the store, then issue".

        Exclusive across every process and host sharing the store, so that one of them
        asks KIS and the others find its token on their re-read. A store private to one
        process (:class:`MemoryTokenStore`) needs none: the manager's own single flight
        covers it.
        """
        ...

    async def last_issued(self) -> datetime | None:
        """When any sharer last asked KIS for a token that may have been issued."""
        ...

    async def note_issued(self, when: datetime) -> None:
        """Record that a token may have been issued at ``when`` (the one-a-minute stamp)."""
        ...


class MemoryTokenStore:
    """Keeps the token for the life of the process only."""

    def __init__(self) -> None:
        self._token: AccessToken | None = None
        self._last_issued: datetime | None = None

    async def load(self) -> AccessToken | None:
        """The token saved in this process, or None."""
        return self._token

    async def save(self, token: AccessToken) -> None:
        """Keep ``token`` until the process ends or it is discarded."""
        self._token = token

    async def discard(self, token: AccessToken) -> None:
        """Forget ``token`` if it is the one held; a newer one is kept."""
        if self._token is not None and self._token.value == token.value:
            self._token = None

    def issue_lock(self) -> contextlib.AbstractAsyncContextManager[None]:
        """No lock: one process's single flight already serialises its issuance."""
        return contextlib.nullcontext()

    async def last_issued(self) -> datetime | None:
        """When this process last noted an issuance, or None."""
        return self._last_issued

    async def note_issued(self, when: datetime) -> None:
        """Record an issuance at ``when``; an earlier time never replaces a later one."""
        if self._last_issued is None or when > self._last_issued:
            self._last_issued = when

    def __repr__(self) -> str:
        return "MemoryTokenStore()"


#: How often a process waiting for another's issuance lock tries again (seconds).
_LOCK_POLL = 0.02
#: How long a process waits for the lock before issuing without it (seconds); the
#: holder's issuance is one HTTP exchange, far shorter than this.
_LOCK_PATIENCE = 30.0


class FileTokenStore:
    """One JSON file per env and app key, mode 0600 in a 0700 directory.

    The file holds the token and its times, never the app key or secret. Writes are
    atomic (temporary file, then rename) so a crash never leaves half a token, and all
    file I/O runs in a worker thread so the event loop never blocks. Issuance is
    serialised across the processes of one machine by an ``flock`` on a lock file
    beside the token (POSIX; elsewhere KIS's EGW00133 answer and the store poll that
    follows it do that job). A directory that cannot be written is reported once and
    the token is then kept in memory.
    """

    def __init__(self, directory: Path, key: str, *, lock_patience: float = _LOCK_PATIENCE) -> None:
        self.path = Path(directory) / f"{key}.json"
        #: How long (seconds) to wait for another process's issuance lock before asking
        #: KIS without it: a holder that hung must not stall this process's callers.
        self.lock_patience = lock_patience
        self._lock_path = Path(directory) / f"{key}.lock"
        self._stamp_path = Path(directory) / f"{key}.issued"
        self._fallback = MemoryTokenStore()
        self._unwritable = False

    async def load(self) -> AccessToken | None:
        """The token in the file, or None when there is none or it cannot be read."""
        if self._unwritable:
            return await self._fallback.load()
        return await anyio.to_thread.run_sync(self._load)

    async def save(self, token: AccessToken) -> None:
        """Write ``token`` to the file atomically (mode 0600); kept in memory if that fails."""
        await self._fallback.save(token)
        if not self._unwritable:
            await anyio.to_thread.run_sync(self._save, token)

    async def discard(self, token: AccessToken) -> None:
        """Delete the file if it holds ``token``; a newer token written by another process stays."""
        await self._fallback.discard(token)
        if not self._unwritable:
            await anyio.to_thread.run_sync(self._discard, token)

    async def last_issued(self) -> datetime | None:
        """The latest issuance noted by any process sharing the directory, or None."""
        local = await self._fallback.last_issued()
        if self._unwritable:
            return local
        shared = await anyio.to_thread.run_sync(self._read_stamp)
        if shared is None or (local is not None and local > shared):
            return local
        return shared

    async def note_issued(self, when: datetime) -> None:
        """Stamp an issuance at ``when`` beside the token, for every process to see."""
        await self._fallback.note_issued(when)
        if not self._unwritable:
            await anyio.to_thread.run_sync(self._write_stamp, when)

    @contextlib.asynccontextmanager
    async def issue_lock(self) -> AsyncIterator[None]:
        """An ``flock`` on the lock file, exclusive across this machine's processes.

        Waited for up to :attr:`lock_patience` seconds; past that (or where ``flock`` is
        missing, or the directory cannot be written) the block runs without it.
        """
        handle = None
        if fcntl is not None and not self._unwritable:
            deadline = time.monotonic() + self.lock_patience
            while True:
                handle = await anyio.to_thread.run_sync(self._try_lock)
                if handle is not None or self._unwritable or time.monotonic() > deadline:
                    break
                await anyio.sleep(_LOCK_POLL)
        try:
            yield
        finally:
            if handle is not None:
                handle.close()  # closing the descriptor releases the flock

    # -- worker-thread side --------------------------------------------------------

    def _unwritable_dir(self, exc: OSError) -> None:
        if not self._unwritable:
            self._unwritable = True
            logger.warning(
                "token cache directory %s is not writable (%s); keeping the token in memory only",
                self.path.parent,
                exc.strerror or type(exc).__name__,
            )

    def _try_lock(self) -> IO[bytes] | None:
        assert fcntl is not None
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            handle = os.fdopen(fd, "r+b")
        except OSError as exc:
            self._unwritable_dir(exc)
            return None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return None  # another process holds it
        return handle

    def _load(self) -> AccessToken | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return AccessToken.from_json(data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            logger.warning("ignoring unreadable token cache file %s", self.path)
            return None

    def _write_private(self, target: Path, text: str) -> None:
        try:
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # mkstemp creates the file with mode 0600, so the token is never
            # world-readable, not even for the moment before the rename.
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".token-", suffix=".tmp")
        except OSError as exc:
            self._unwritable_dir(exc)
            return
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, target)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            self._unwritable_dir(exc)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _save(self, token: AccessToken) -> None:
        self._write_private(self.path, json.dumps(token.to_json()))

    def _read_stamp(self) -> datetime | None:
        try:
            return datetime.fromisoformat(self._stamp_path.read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            return None

    def _write_stamp(self, when: datetime) -> None:
        current = self._read_stamp()
        if current is None or when > current:
            self._write_private(self._stamp_path, when.isoformat())

    def _discard(self, token: AccessToken) -> None:
        stored = self._load()
        if stored is not None and stored.value == token.value:
            try:
                self.path.unlink(missing_ok=True)
            except OSError as exc:
                self._unwritable_dir(exc)

    def __repr__(self) -> str:
        return f"FileTokenStore({str(self.path.parent)!r})"


#: After EGW00133, how long the store is polled for the winner's token (seconds).
TOKEN_POLL_WINDOW = 1.5
_TOKEN_POLL_INTERVAL = 0.05


class TokenManager:
    """Hands out a valid token, issuing a new one only when it must.

    ``issue`` performs one ``/oauth2/tokenP`` exchange (no retries of its own: the
    caller's retry budget covers it). A wait for KIS's one-a-minute slot longer than
    ``max_wait`` seconds is not sat out: TokenIssueThrottledError says when to ask
    again. ``get`` is cheap when a fresh token is held; otherwise the first caller
    starts a renewal task that the manager owns and every caller awaits it, so a caller
    that is cancelled loses nothing: the answer still arrives and is kept for the next.
    """

    def __init__(
        self,
        issue: Callable[[], Awaitable[AccessToken]],
        *,
        store: TokenStore,
        clock: Clock,
        refresh_margin: timedelta = TOKEN_REFRESH_MARGIN,
        min_issue_interval: float = TOKEN_MIN_ISSUE_INTERVAL,
        poll_window: float = TOKEN_POLL_WINDOW,
        max_wait: float | None = None,
    ) -> None:
        self._issue = issue
        self._store = store
        self._clock = clock
        self._margin = refresh_margin
        self._min_interval = min_issue_interval
        self._poll_window = poll_window
        self._max_wait = max_wait
        self._token: AccessToken | None = None
        self._renewal: asyncio.Task[AccessToken] | None = None
        self._rejected: set[str] = set()
        self._registered: set[str] = set()
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
        renewal = self._renewal
        if renewal is None or renewal.done():
            renewal = asyncio.get_running_loop().create_task(self._renew())
            renewal.add_done_callback(_retrieve)
            self._renewal = renewal
        # Shielded: a cancelled caller stops waiting, the renewal goes on for the others.
        return await asyncio.shield(renewal)

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

    async def _renew(self) -> AccessToken:
        async with self._store.issue_lock():
            # The lock holder before us may have issued: its token is in the store.
            token = await self._usable_stored()
            if token is None:
                token = await self._issue_respecting_interval()
                await self._store.save(token)
        self._token = token
        return token

    async def _usable_stored(self) -> AccessToken | None:
        stored = await self._store.load()
        if stored is None or stored.value in self._rejected:
            return None
        if not stored.is_fresh(self._clock.now(), self._margin):
            return None
        if stored.value not in self._registered:
            self._registered.add(stored.value)
            redactor.register(stored.value)
        logger.debug("reusing cached token %s", stored.fingerprint)
        return stored

    async def _wait_for_issue_slot(self) -> None:
        last = await self._store.last_issued()
        if last is None:
            return
        elapsed = (self._clock.now() - last).total_seconds()
        wait = self._min_interval - elapsed
        if wait > 0 and self._max_wait is not None and wait > self._max_wait:
            # Longer than the caller would wait for an answer: fail now, and say when.
            raise TokenIssueThrottledError(
                f"KIS issues one token a minute per app key and one may have been issued "
                f"{elapsed:.0f} s ago; ask again in {wait:.0f} s",
                msg_cd="EGW00133",
            )
        if wait > 0:
            logger.warning(
                "KIS issues one token a minute; waiting %.1f s before asking for another", wait
            )
            await anyio.sleep(wait)

    async def _issue_once(self) -> AccessToken:
        """One tokenP exchange. Only a success stamps the one-a-minute clock: a
        connection that never opened issued nothing, and after a 5xx or a lost answer
        the worst a prompt second request meets is EGW00133, which is handled."""
        self.issue_count += 1
        token = await self._issue()
        self._registered.add(token.value)
        await self._store.note_issued(token.issued_at)
        logger.info(
            "access token %s issued, expires %s", token.fingerprint, token.expires_at.isoformat()
        )
        return token

    async def _poll_store(self) -> AccessToken | None:
        """The winner's token, if it appears in the store within the poll window."""
        deadline = time.monotonic() + self._poll_window
        while True:
            stored = await self._usable_stored()
            if stored is not None or time.monotonic() >= deadline:
                return stored
            await anyio.sleep(_TOKEN_POLL_INTERVAL)

    async def _issue_respecting_interval(self) -> AccessToken:
        await self._wait_for_issue_slot()
        try:
            return await self._issue_once()
        except TokenIssueThrottledError:
            # Someone issued within the minute: another process or host sharing the
            # store, or an earlier request whose answer was lost. The winner saves its
            # token moments after: look for it before any long wait.
            stored = await self._poll_store()
            if stored is not None:
                return stored
            await self._store.note_issued(self._clock.now())
            await self._wait_for_issue_slot()
            return await self._issue_once()


def _retrieve(task: asyncio.Task[AccessToken]) -> None:
    """Mark a renewal's failure as seen: its awaiters got it, or none were left."""
    if not task.cancelled():
        task.exception()

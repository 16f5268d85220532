"""Settings, read from arguments, the environment (``KIS_`` prefix) and ``.env``."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ._constants import (
    DEFAULT_CIRCUIT_FAILURE_THRESHOLD,
    DEFAULT_CIRCUIT_RESET_TIMEOUT,
    DEFAULT_MAX_RETRIES,
    DEFAULT_RATE_LIMIT_COOLDOWN,
    DEFAULT_RATE_LIMITS,
    DEFAULT_RETRY_INITIAL_DELAY,
    DEFAULT_RETRY_MAX_DELAY,
    DEFAULT_TIMEOUT,
    MOCK_BASE_URL,
    RATE_GATE_HEADROOM,
    REAL_BASE_URL,
    TOKEN_MIN_ISSUE_INTERVAL,
    VIRTUAL_BASE_URL,
)
from ._errors import ConfigError

__all__ = ["Env", "KISSettings", "default_token_cache_dir"]

Env = Literal["mock", "virtual", "real"]

_ACCOUNT_RE = re.compile(r"^(\d{8})-?(\d{2})$")
_NONE_WORDS = {"", "none", "off", "false", "0", "no"}


def default_token_cache_dir() -> Path:
    """The per-user cache directory for tokens (XDG on Linux, the platform's elsewhere)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "kis-async" / "tokens"


class KISSettings(BaseSettings):
    """Everything the client needs to know, from arguments, ``KIS_*`` variables or ``.env``.

    ``env`` picks the server: ``"mock"`` (the embedded mock KIS server; the default when
    no credentials are set), ``"virtual"`` (KIS paper trading; the default when they
    are) or ``"real"`` (real money; orders also need ``production_confirmed``).
    """

    model_config = SettingsConfigDict(
        env_prefix="KIS_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    env: Env = "mock"
    app_key: SecretStr | None = None
    app_secret: SecretStr | None = None
    #: "12345678-01" or "1234567801": the 8-digit account and its 2-digit product code.
    account_no: SecretStr | None = None
    #: Override the server address (e.g. a mock served on 127.0.0.1).
    base_url: str | None = None
    #: The account's REST limit in requests per second; default by env (real 18, virtual 1).
    rate_limit: float | None = Field(default=None, gt=0)
    #: Seconds for a whole request (connect is capped at 5 s).
    timeout: float = Field(default=DEFAULT_TIMEOUT, gt=0)
    #: Retries after the first attempt, for requests that are safe to repeat.
    max_retries: int = Field(default=DEFAULT_MAX_RETRIES, ge=0)
    retry_initial_delay: float = Field(default=DEFAULT_RETRY_INITIAL_DELAY, ge=0)
    retry_max_delay: float = Field(default=DEFAULT_RETRY_MAX_DELAY, ge=0)
    #: The client paces itself this fraction below rate_limit, as slack for network
    #: jitter against KIS's one-second window. Raise it on a jittery network.
    rate_limit_headroom: float = Field(default=RATE_GATE_HEADROOM, ge=0, lt=0.5)
    #: Seconds every caller waits after KIS answers EGW00201.
    rate_limit_cooldown: float = Field(default=DEFAULT_RATE_LIMIT_COOLDOWN, ge=0)
    #: Consecutive server or transport failures that open the circuit.
    circuit_failure_threshold: int = Field(default=DEFAULT_CIRCUIT_FAILURE_THRESHOLD, ge=1)
    #: Seconds the circuit stays open before one trial request is let through.
    circuit_reset_timeout: float = Field(default=DEFAULT_CIRCUIT_RESET_TIMEOUT, ge=0)
    #: Where tokens are cached between runs; None keeps them in memory only.
    token_cache_dir: Path | None = Field(default_factory=default_token_cache_dir)
    #: Seconds between token issuances; KIS allows one a minute. Lower only against a mock.
    token_min_issue_interval: float = Field(default=TOKEN_MIN_ISSUE_INTERVAL, ge=0)
    #: Real-money orders are refused unless this is true (KIS_PRODUCTION_CONFIRMED=YES).
    production_confirmed: bool = False
    #: After an order's answer is lost and the order history does not show it, place
    #: it again (True) or raise OrderStateUnknownError (False, the default).
    resend_unconfirmed_orders: bool = False
    #: Seconds to wait for a lost order to appear in the order history.
    order_settle_seconds: float = Field(default=2.0, ge=0)
    #: Seed of the embedded mock server's simulated market.
    mock_seed: int = 0
    #: Override the WebSocket address of the real-time stream (default by env: KIS's
    #: ws://ops.koreainvestment.com:21000 real / :31000 virtual, or the mock's own).
    ws_url: str | None = None
    #: Your HTS ID (the KIS login ID): the key of real-time fill notices.
    hts_id: SecretStr | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_env(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("env") in (None, ""):
            key, secret = bool(data.get("app_key")), bool(data.get("app_secret"))
            if key != secret:
                # Half a set of credentials is a mistake, not a wish for the mock.
                missing = "KIS_APP_SECRET" if key else "KIS_APP_KEY"
                raise ConfigError(f"{missing} is not set (its partner is): set both, or neither")
            data = {**data, "env": "virtual" if key else "mock"}
        return data

    @field_validator("env", mode="before")
    @classmethod
    def _lower_env(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("account_no", mode="before")
    @classmethod
    def _check_account(cls, value: Any) -> Any:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if raw in (None, ""):
            return None
        match = _ACCOUNT_RE.match(str(raw).strip())
        if match is None:
            # Never echo the value: it is an account number.
            raise ConfigError(
                "KIS_ACCOUNT_NO must be 8 digits, a dash and 2 digits ('12345678-01') or 10 digits"
            )
        return SecretStr(f"{match[1]}-{match[2]}")

    @field_validator("token_cache_dir", mode="before")
    @classmethod
    def _none_disables_cache(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and value.strip().lower() in _NONE_WORDS):
            return None
        return Path(value).expanduser()

    @field_validator("production_confirmed", mode="before")
    @classmethod
    def _yes_is_true(cls, value: Any) -> Any:
        return (
            value.strip().lower() in {"yes", "y", "true", "1", "on"}
            if isinstance(value, str)
            else value
        )

    @model_validator(mode="after")
    def _real_host_needs_real_env(self) -> KISSettings:
        # Orders to KIS's real server must go through env "real" and its opt-in, whatever
        # the env is called: the address decides where the money is.
        host = urlsplit(self.base_url or "").hostname or ""
        if self.env != "real" and host == urlsplit(REAL_BASE_URL).hostname:
            raise ConfigError(
                f"KIS_BASE_URL points at KIS's real-money server but env={self.env!r}: "
                "use env='real' (and KIS_PRODUCTION_CONFIRMED=YES to trade)"
            )
        return self

    @model_validator(mode="after")
    def _require_credentials(self) -> KISSettings:
        if self.env != "mock":
            missing = [
                name
                for name, value in (
                    ("KIS_APP_KEY", self.app_key),
                    ("KIS_APP_SECRET", self.app_secret),
                )
                if value is None or not value.get_secret_value()
            ]
            if missing:
                raise ConfigError(
                    f"env={self.env!r} needs credentials: set {' and '.join(missing)} "
                    "(in the environment or .env), or use env='mock'"
                )
        return self

    # Derived values -------------------------------------------------------------

    @property
    def is_virtual(self) -> bool:
        """Whether the client speaks to KIS's paper-trading server (V... tr_ids)."""
        return self.env == "virtual"

    @property
    def effective_base_url(self) -> str:
        if self.base_url:
            return self.base_url.rstrip("/")
        return {"real": REAL_BASE_URL, "virtual": VIRTUAL_BASE_URL, "mock": MOCK_BASE_URL}[self.env]

    @property
    def effective_rate_limit(self) -> float:
        return self.rate_limit if self.rate_limit is not None else DEFAULT_RATE_LIMITS[self.env]

    def account_parts(self) -> tuple[str, str]:
        """``(CANO, ACNT_PRDT_CD)``; raises ConfigError when no account is configured."""
        if self.account_no is None:
            raise ConfigError("this call needs an account: set KIS_ACCOUNT_NO ('12345678-01')")
        cano, product = self.account_no.get_secret_value().split("-")
        return cano, product

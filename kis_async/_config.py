"""Settings, read from arguments, the environment (``KIS_`` prefix) and ``.env``."""

from __future__ import annotations

import ipaddress
import os
import re
import sys
import unicodedata
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ._constants import (
    DEFAULT_CIRCUIT_FAILURE_THRESHOLD,
    DEFAULT_CIRCUIT_RESET_TIMEOUT,
    DEFAULT_MAX_RETRIES,
    DEFAULT_QUEUE_TIMEOUT,
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

__all__ = ["Env", "KISSettings", "default_token_cache_dir", "is_loopback_host", "normalise_host"]

Env = Literal["mock", "virtual", "real"]

# ASCII digits only: \d would also take full-width and other Unicode digits.
_ACCOUNT_RE = re.compile(r"([0-9]{8})-?([0-9]{2})")
_NONE_WORDS = {"", "none", "off", "false", "0", "no"}
_TRUE_WORDS = {"yes", "y", "true", "1", "on"}
_FALSE_WORDS = {"no", "n", "false", "0", "off"}

#: Setting names of another SDK's ``.env`` (seed 004's), read as aliases: alias field
#: -> canonical field. The two base-URL aliases are handled apart (they depend on env).
_ALIASES = {
    "account_number": "account_no",
    "api_rate_limit": "rate_limit",
    "api_circuit_breaker_threshold": "circuit_failure_threshold",
    "api_circuit_breaker_timeout": "circuit_reset_timeout",
}
_URL_ALIASES = {"real": "api_base_url_real", "virtual": "api_base_url_virtual"}


def _variable(field: str) -> str:
    return f"KIS_{field.upper()}"


def _is_set(value: Any) -> bool:
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    return raw is not None and not (isinstance(raw, str) and not raw.strip())


def _same(a: Any, b: Any) -> bool:
    """Whether two raw setting values say the same ("20" and 20.0 do)."""

    def text(value: Any) -> str:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        return str(raw).strip()

    left, right = text(a), text(b)
    if left == right:
        return True
    try:
        return Decimal(left) == Decimal(right)
    except InvalidOperation:
        return False


def normalise_host(host: str) -> str:
    """A host name as DNS compares it: lower case, without the root's trailing dot."""
    return host.strip().lower().rstrip(".")


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` names this machine (localhost, 127.0.0.0/8, ::1).

    Names under ``.localhost`` are not counted: many resolvers (glibc's among them)
    send them to DNS like any other name, so they may lead off the machine.
    """
    name = normalise_host(host).strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _fold_aliases(data: dict[str, Any]) -> dict[str, Any]:
    """Read seed 004's names into the canonical fields; a disagreement is a ConfigError."""
    data = dict(data)
    for alias, canonical in _ALIASES.items():
        value = data.pop(alias, None)
        if not _is_set(value):
            continue
        if _is_set(data.get(canonical)) and not _same(data[canonical], value):
            raise ConfigError(
                f"{_variable(alias)} and {_variable(canonical)} are both set and disagree: "
                f"keep {_variable(canonical)} only"
            )
        data[canonical] = value
    virtual = data.pop("use_virtual_server", None)
    if _is_set(virtual):
        word = str(virtual).strip().lower()
        if word not in _TRUE_WORDS | _FALSE_WORDS:
            raise ConfigError("KIS_USE_VIRTUAL_SERVER must be true or false")
        env = "virtual" if word in _TRUE_WORDS else "real"
        given = data.get("env")
        if _is_set(given) and str(given).strip().lower() != env:
            raise ConfigError(
                f"KIS_USE_VIRTUAL_SERVER={word} means env {env!r} but KIS_ENV is "
                f"{str(given).strip()!r}: keep KIS_ENV only"
            )
        data["env"] = env
    return data


def _apply_url_alias(data: dict[str, Any]) -> dict[str, Any]:
    """KIS_API_BASE_URL_REAL applies with env real, _VIRTUAL with env virtual."""
    data = dict(data)
    urls = {env: data.pop(field, None) for env, field in _URL_ALIASES.items()}
    env = str(data.get("env") or "").strip().lower()
    url = urls.get(env)
    if not _is_set(url):
        return data
    if _is_set(data.get("base_url")) and not _same(data["base_url"], url):
        raise ConfigError(
            f"{_variable(_URL_ALIASES[env])} and KIS_BASE_URL are both set and disagree: "
            "keep KIS_BASE_URL only"
        )
    data["base_url"] = url
    return data


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

    # Aliases: the names seed 004's SDK reads, folded into the fields above when the
    # settings are read (so these stay None). Setting an alias and its canonical name
    # to different values is a ConfigError.
    #: Alias of env: true -> "virtual", false -> "real".
    use_virtual_server: str | None = Field(default=None, exclude=True, repr=False)
    #: Alias of account_no.
    account_number: SecretStr | None = Field(default=None, exclude=True, repr=False)
    #: Alias of rate_limit.
    api_rate_limit: str | None = Field(default=None, exclude=True, repr=False)
    #: Alias of circuit_failure_threshold.
    api_circuit_breaker_threshold: str | None = Field(default=None, exclude=True, repr=False)
    #: Alias of circuit_reset_timeout.
    api_circuit_breaker_timeout: str | None = Field(default=None, exclude=True, repr=False)
    #: Alias of base_url when env is "real" (ignored otherwise).
    api_base_url_real: str | None = Field(default=None, exclude=True, repr=False)
    #: Alias of base_url when env is "virtual" (ignored otherwise).
    api_base_url_virtual: str | None = Field(default=None, exclude=True, repr=False)

    # -- sharing one app key (kis_async.shared) --------------------------------------
    #: Who shares the rate budget: "process" (this process), "machine" (every process
    #: on this machine using the same app key, via a file in the token cache dir) or a
    #: Redis URL ("redis://host:6379/0": every process on every host). Default:
    #: "machine" for the virtual and real servers and a served mock (when a token cache
    #: dir is set), "process" for the in-process mock.
    rate_budget: str | None = None
    #: Seconds a request may wait for its rate-budget slot; beyond that it fails at
    #: once with QueueTimeoutError and is never sent late. None ("none"): wait forever.
    api_queue_timeout: float | None = Field(default=DEFAULT_QUEUE_TIMEOUT, ge=0)
    #: Where tokens are kept: "file" (the token cache dir; the default when it is set),
    #: "memory", or a Redis URL to share one token across hosts.
    token_store: str | None = None
    #: The response cache: "memory" (default), "none", or a Redis URL to share it.
    response_cache: str = "memory"
    #: Prefix of every key kept in Redis (budget, tokens, cache), to share one Redis
    #: between several deployments.
    redis_prefix: str = Field(default="kis-async", min_length=1)
    #: Seconds today's prices / order books / charts that include today are cached.
    #: Default None: never (ask for it explicitly).
    cache_ttl_price: float | None = Field(default=None, gt=0)
    cache_ttl_orderbook: float | None = Field(default=None, gt=0)
    cache_ttl_chart: float | None = Field(default=None, gt=0)
    #: Seconds stock info is cached (default 24 h). Completed bars (a chart range that
    #: ends before today) are kept until evicted.
    cache_ttl_stock_info: float | None = Field(default=86_400.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _default_env(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = _fold_aliases(data)
        if data.get("env") in (None, ""):
            key, secret = bool(data.get("app_key")), bool(data.get("app_secret"))
            if key != secret:
                # Half a set of credentials is a mistake, not a wish for the mock.
                missing = "KIS_APP_SECRET" if key else "KIS_APP_KEY"
                raise ConfigError(f"{missing} is not set (its partner is): set both, or neither")
            data = {**data, "env": "virtual" if key else "mock"}
        return _apply_url_alias(data)

    @field_validator("app_key", "app_secret", "account_no", mode="before")
    @classmethod
    def _no_blanks_in_credentials(cls, value: Any, info: ValidationInfo) -> Any:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if raw == "":
            return None  # "KIS_APP_KEY=" as in a fresh copy of .env.example: not set
        if isinstance(raw, str) and any(
            char.isspace() or unicodedata.category(char).startswith("C") for char in raw
        ):
            # Never echo the value. A CRLF .env read by a shell leaves a trailing "\r",
            # which would otherwise end up whole in an HTTP header error.
            raise ConfigError(
                f"{_variable(info.field_name or '')} contains whitespace or a control "
                "character (a line ending from a Windows .env?): remove it"
            )
        return value

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
        match = _ACCOUNT_RE.fullmatch(str(raw))
        if match is None:
            # Never echo the value: it is an account number.
            raise ConfigError(
                "KIS_ACCOUNT_NO must be 8 ASCII digits, a dash and 2 digits ('12345678-01') "
                "or 10 digits"
            )
        return SecretStr(f"{match[1]}-{match[2]}")

    @field_validator("token_cache_dir", mode="before")
    @classmethod
    def _none_disables_cache(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and value.strip().lower() in _NONE_WORDS):
            return None
        return Path(value).expanduser()

    @field_validator(
        "api_queue_timeout",
        "cache_ttl_price",
        "cache_ttl_orderbook",
        "cache_ttl_chart",
        "cache_ttl_stock_info",
        mode="before",
    )
    @classmethod
    def _none_words(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in _NONE_WORDS:
            return None
        return value

    @field_validator("rate_budget", "token_store", mode="before")
    @classmethod
    def _empty_is_default(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("rate_budget")
    @classmethod
    def _check_budget(cls, value: str | None) -> str | None:
        if value is None:
            return None
        text = value.strip()
        if text.lower() in ("process", "machine"):
            return text.lower()
        if text.lower().startswith(("redis://", "rediss://", "unix://")):
            return text
        raise ConfigError(
            "KIS_RATE_BUDGET must be 'process', 'machine' or a Redis URL (redis://host:6379/0)"
        )

    @field_validator("token_store")
    @classmethod
    def _check_store(cls, value: str | None) -> str | None:
        if value is None:
            return None
        text = value.strip()
        if text.lower() in ("file", "memory"):
            return text.lower()
        if text.lower().startswith(("redis://", "rediss://", "unix://")):
            return text
        raise ConfigError("KIS_TOKEN_STORE must be 'file', 'memory' or a Redis URL")

    @field_validator("response_cache", mode="before")
    @classmethod
    def _check_cache(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.lower() in _NONE_WORDS:
            return "none"
        if text.lower() == "memory":
            return "memory"
        if text.lower().startswith(("redis://", "rediss://", "unix://")):
            return text
        raise ConfigError("KIS_RESPONSE_CACHE must be 'memory', 'none' or a Redis URL")

    def __repr_args__(self) -> Any:
        # A Redis URL may carry a password (redis://:pw@host, ?password=pw): reprs
        # show it hidden, the value itself is intact.
        from .shared._redis import safe_url

        for name, value in super().__repr_args__():
            if name in ("rate_budget", "token_store", "response_cache") and isinstance(value, str):
                value = safe_url(value)
            yield name, value

    @field_validator("production_confirmed", mode="before")
    @classmethod
    def _yes_is_true(cls, value: Any) -> Any:
        return value.strip().lower() in _TRUE_WORDS if isinstance(value, str) else value

    @model_validator(mode="after")
    def _real_host_needs_real_env(self) -> KISSettings:
        # Orders to KIS's real server must go through env "real" and its opt-in, whatever
        # the env is called: the address decides where the money is.
        if self.env != "real" and self.base_host == normalise_host(
            urlsplit(REAL_BASE_URL).hostname or ""
        ):
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
    def base_host(self) -> str:
        """The host of ``base_url``, normalised (lower case, no trailing dot); "" if unset."""
        if not self.base_url:
            return ""
        try:
            # The host as the HTTP client will connect to it: httpx maps the full-width
            # and ideographic full stops ("\u3002") to dots, which urlsplit keeps.
            host = httpx.URL(self.base_url).host
        except (httpx.InvalidURL, ValueError):
            try:
                host = urlsplit(self.base_url).hostname or ""
            except ValueError:
                return ""
        return normalise_host(host)

    @property
    def needs_production_confirmation(self) -> bool:
        """Whether orders need ``production_confirmed``: real-money tr_ids leaving the machine.

        Env "real" always does. Env "mock" sends the same (real) tr_ids, so it does too
        unless they stay in-process (no ``base_url``) or on loopback.
        """
        if self.env == "real":
            return True
        if self.env == "mock":
            return bool(self.base_url) and not is_loopback_host(self.base_host)
        return False

    @property
    def effective_base_url(self) -> str:
        """The server address in use: ``base_url`` (no trailing slash), else the env's server."""
        if self.base_url:
            return self.base_url.rstrip("/")
        return {"real": REAL_BASE_URL, "virtual": VIRTUAL_BASE_URL, "mock": MOCK_BASE_URL}[self.env]

    @property
    def effective_rate_limit(self) -> float:
        """REST requests per second allowed: ``rate_limit``, else 18 (1 on env "virtual")."""
        return self.rate_limit if self.rate_limit is not None else DEFAULT_RATE_LIMITS[self.env]

    def account_parts(self) -> tuple[str, str]:
        """``(CANO, ACNT_PRDT_CD)``; raises ConfigError when no account is configured."""
        if self.account_no is None:
            raise ConfigError("this call needs an account: set KIS_ACCOUNT_NO ('12345678-01')")
        cano, product = self.account_no.get_secret_value().split("-")
        return cano, product

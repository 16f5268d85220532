"""Settings: odd credentials, the .env.example copy, seed 004's names, hosts that mean KIS."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from kis_async import AsyncKISClient, ConfigError, KISSettings
from kis_async.mock import MockKIS

from .helpers import ACCOUNT, APP_KEY, APP_SECRET

EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"


def _settings(**values: Any) -> KISSettings:
    return KISSettings(_env_file=None, **values)


# -- section 5: whitespace and control characters in credentials -------------------------


@pytest.mark.parametrize(
    ("variable", "good", "bad"),
    [
        ("KIS_APP_KEY", APP_KEY, APP_KEY + "\r"),
        ("KIS_APP_SECRET", APP_SECRET, APP_SECRET + "\r"),
        ("KIS_APP_SECRET", APP_SECRET, APP_SECRET[:90] + " " + APP_SECRET[90:]),
        ("KIS_APP_KEY", APP_KEY, "\t" + APP_KEY),
        ("KIS_APP_KEY", APP_KEY, APP_KEY + "\x1b"),
        ("KIS_APP_KEY", APP_KEY, APP_KEY + "\u200b"),  # zero-width space (format char)
        ("KIS_ACCOUNT_NO", ACCOUNT, ACCOUNT + "\r"),
    ],
)
def test_credentials_with_blanks_or_control_characters_are_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, good: str, bad: str
) -> None:
    monkeypatch.setenv("KIS_ENV", "virtual")
    monkeypatch.setenv("KIS_APP_KEY", APP_KEY)
    monkeypatch.setenv("KIS_APP_SECRET", APP_SECRET)
    monkeypatch.setenv(variable, bad)
    with pytest.raises(ConfigError, match=variable) as caught:
        KISSettings(_env_file=None)
    text = str(caught.value)
    assert good not in text
    assert good[:12] not in text
    monkeypatch.setenv(variable, good)
    KISSettings(_env_file=None)  # the clean value is fine


def test_a_crlf_env_file_reads_clean_and_a_quoted_carriage_return_is_refused(
    tmp_path: Path,
) -> None:
    env = tmp_path / ".env"
    env.write_bytes(
        f"KIS_ENV=virtual\r\nKIS_APP_KEY={APP_KEY}\r\nKIS_APP_SECRET={APP_SECRET}\r\n"
        f"KIS_ACCOUNT_NO={ACCOUNT}\r\n".encode()
    )
    settings = KISSettings(_env_file=env)
    assert settings.app_key is not None
    assert settings.app_key.get_secret_value() == APP_KEY
    assert settings.app_secret is not None
    assert settings.app_secret.get_secret_value() == APP_SECRET
    assert settings.account_parts() == tuple(ACCOUNT.split("-"))

    env.write_bytes(
        f'KIS_ENV=virtual\r\nKIS_APP_KEY={APP_KEY}\r\nKIS_APP_SECRET="{APP_SECRET}\r"\r\n'.encode()
    )
    with pytest.raises(ConfigError, match="KIS_APP_SECRET") as caught:
        KISSettings(_env_file=env)
    assert APP_SECRET[:20] not in str(caught.value)


@pytest.mark.parametrize("account", ["１２３４５６７８-０１", "1234567８01", "١٢٣٤٥٦٧٨-٠١"])
def test_account_numbers_take_ascii_digits_only(account: str) -> None:
    with pytest.raises(ConfigError, match="ASCII") as caught:
        _settings(env="mock", account_no=account)
    assert account not in str(caught.value)


# -- section 8: .env.example and seed 004's names -----------------------------------------


def test_a_copy_of_env_example_runs_on_the_mock(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    shutil.copy(EXAMPLE, env)
    settings = KISSettings(_env_file=env)
    assert settings.env == "mock"
    assert settings.app_key is None
    assert settings.account_no is None
    AsyncKISClient(settings)  # constructs on the embedded mock


def test_env_example_documents_every_alias() -> None:
    text = EXAMPLE.read_text()
    for name in (
        "KIS_USE_VIRTUAL_SERVER",
        "KIS_ACCOUNT_NUMBER",
        "KIS_API_RATE_LIMIT",
        "KIS_API_CIRCUIT_BREAKER_THRESHOLD",
        "KIS_API_CIRCUIT_BREAKER_TIMEOUT",
        "KIS_API_BASE_URL_REAL",
        "KIS_API_BASE_URL_VIRTUAL",
    ):
        assert f"# {name}=" in text, name


def test_seed_004_env_file_is_read_through_the_aliases(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(
        f"KIS_APP_KEY={APP_KEY}\nKIS_APP_SECRET={APP_SECRET}\n"
        "KIS_ACCOUNT_NUMBER=8765432101\nKIS_USE_VIRTUAL_SERVER=true\n"
        "KIS_API_BASE_URL_REAL=https://openapi.koreainvestment.com:9443\n"
        "KIS_API_BASE_URL_VIRTUAL=http://127.0.0.1:8123\n"
        "KIS_API_RATE_LIMIT=20\nKIS_API_QUEUE_TIMEOUT=30\n"
        "KIS_API_CIRCUIT_BREAKER_THRESHOLD=7\nKIS_API_CIRCUIT_BREAKER_TIMEOUT=60\n"
    )
    settings = KISSettings(_env_file=env)
    assert settings.env == "virtual"
    assert settings.account_parts() == ("87654321", "01")
    assert settings.base_url == "http://127.0.0.1:8123"  # the virtual one, env is virtual
    assert settings.effective_rate_limit == 20
    assert settings.circuit_failure_threshold == 7
    assert settings.circuit_reset_timeout == 60
    assert settings.use_virtual_server is None  # folded, not kept twice


def test_use_virtual_server_false_means_the_real_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIS_USE_VIRTUAL_SERVER", "false")
    monkeypatch.setenv("KIS_API_BASE_URL_VIRTUAL", "http://127.0.0.1:8123")  # not for real
    settings = _settings(app_key=APP_KEY, app_secret=APP_SECRET)
    assert settings.env == "real"
    assert settings.base_url is None
    assert settings.production_confirmed is False


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"KIS_USE_VIRTUAL_SERVER": "true", "KIS_ENV": "mock"}, "KIS_USE_VIRTUAL_SERVER"),
        ({"KIS_USE_VIRTUAL_SERVER": "maybe"}, "KIS_USE_VIRTUAL_SERVER"),
        ({"KIS_ACCOUNT_NUMBER": "11111111-01", "KIS_ACCOUNT_NO": ACCOUNT}, "KIS_ACCOUNT_NUMBER"),
        ({"KIS_API_RATE_LIMIT": "20", "KIS_RATE_LIMIT": "18"}, "KIS_API_RATE_LIMIT"),
        (
            {"KIS_API_CIRCUIT_BREAKER_THRESHOLD": "5", "KIS_CIRCUIT_FAILURE_THRESHOLD": "6"},
            "KIS_API_CIRCUIT_BREAKER_THRESHOLD",
        ),
        (
            {"KIS_API_CIRCUIT_BREAKER_TIMEOUT": "60", "KIS_CIRCUIT_RESET_TIMEOUT": "30"},
            "KIS_API_CIRCUIT_BREAKER_TIMEOUT",
        ),
        (
            {
                "KIS_ENV": "virtual",
                "KIS_API_BASE_URL_VIRTUAL": "http://127.0.0.1:1",
                "KIS_BASE_URL": "http://127.0.0.1:2",
            },
            "KIS_API_BASE_URL_VIRTUAL",
        ),
    ],
)
def test_an_alias_that_disagrees_with_its_canonical_name_is_an_error(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], named: str
) -> None:
    monkeypatch.setenv("KIS_APP_KEY", APP_KEY)
    monkeypatch.setenv("KIS_APP_SECRET", APP_SECRET)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=named) as caught:
        KISSettings(_env_file=None)
    assert "11111111" not in str(caught.value)


def test_an_alias_that_agrees_with_its_canonical_name_is_fine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KIS_ACCOUNT_NUMBER", ACCOUNT)
    monkeypatch.setenv("KIS_ACCOUNT_NO", ACCOUNT)
    monkeypatch.setenv("KIS_USE_VIRTUAL_SERVER", "true")
    monkeypatch.setenv("KIS_ENV", "Virtual")
    monkeypatch.setenv("KIS_API_RATE_LIMIT", "20")
    settings = _settings(app_key=APP_KEY, app_secret=APP_SECRET, rate_limit=20.0)
    assert settings.env == "virtual"
    assert settings.effective_rate_limit == 20


# -- section 9: hosts that mean KIS's real server, and real tr_ids off the machine -------


@pytest.mark.parametrize(
    "url",
    [
        "https://openapi.koreainvestment.com.:9443",
        "https://OPENAPI.KoreaInvestment.com:9443",
        "https://openapi.koreainvestment.com.",
    ],
)
@pytest.mark.parametrize("env", ["mock", "virtual"])
def test_the_real_host_is_recognised_however_it_is_spelt(env: str, url: str) -> None:
    with pytest.raises(ConfigError, match="real-money server"):
        _settings(env=env, app_key=APP_KEY, app_secret=APP_SECRET, base_url=url)


@pytest.mark.parametrize(
    ("url", "needs"),
    [
        (None, False),
        ("http://127.0.0.1:8000", False),
        ("http://127.3.4.5:8000", False),
        ("http://localhost:8000", False),
        ("http://LOCALHOST.:8000", False),
        ("http://[::1]:8000", False),
        ("http://192.168.0.10:8000", True),
        ("https://kis-proxy.example.com", True),
    ],
)
def test_real_tr_ids_leaving_the_machine_need_the_confirmation(
    url: str | None, needs: bool
) -> None:
    assert _settings(env="mock", base_url=url).needs_production_confirmation is needs
    assert _settings(
        env="real", app_key=APP_KEY, app_secret=APP_SECRET
    ).needs_production_confirmation
    virtual = _settings(env="virtual", app_key=APP_KEY, app_secret=APP_SECRET, base_url=url)
    assert virtual.needs_production_confirmation is False


async def test_an_order_to_a_remote_mock_env_host_is_refused_unconfirmed(mock: MockKIS) -> None:
    from kis_async.mock import DEMO_ACCOUNT_NO, DEMO_APP_KEY, DEMO_APP_SECRET

    settings = _settings(
        env="mock",
        base_url="https://kis-proxy.example.com",
        app_key=DEMO_APP_KEY,
        app_secret=DEMO_APP_SECRET,
        account_no=DEMO_ACCOUNT_NO,
        token_cache_dir=None,
    )
    async with AsyncKISClient(settings, transport=mock.transport, clock=mock.clock) as kis:
        with pytest.raises(ConfigError, match="KIS_PRODUCTION_CONFIRMED"):
            await kis.buy("005930", 1)
    assert mock.orders == []
    assert sum(mock.stats.requests.values()) == 0

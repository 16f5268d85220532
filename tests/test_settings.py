from __future__ import annotations

from pathlib import Path

import pytest

from kis_async import ConfigError, KISSettings


def test_no_credentials_means_the_mock() -> None:
    settings = KISSettings(_env_file=None)
    assert settings.env == "mock"
    assert settings.effective_rate_limit == 18.0
    assert settings.effective_base_url.startswith("http://")


def test_credentials_default_to_the_virtual_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIS_APP_KEY", "key-from-env")
    monkeypatch.setenv("KIS_APP_SECRET", "secret-from-env")
    settings = KISSettings(_env_file=None)
    assert settings.env == "virtual"
    assert settings.effective_rate_limit == 1.0
    assert settings.effective_base_url == "https://openapivts.koreainvestment.com:29443"


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "KIS_ENV=real\nKIS_APP_KEY=k\nKIS_APP_SECRET=s\nKIS_ACCOUNT_NO=1234567801\n"
        "KIS_PRODUCTION_CONFIRMED=YES\nKIS_TOKEN_CACHE_DIR=\n"
    )
    settings = KISSettings(_env_file=env_file)
    assert settings.env == "real"
    assert settings.account_parts() == ("12345678", "01")
    assert settings.production_confirmed is True
    assert settings.token_cache_dir is None
    assert settings.effective_rate_limit == 18.0


@pytest.mark.parametrize(
    ("env", "missing"), [("virtual", "KIS_APP_KEY"), ("real", "KIS_APP_SECRET")]
)
def test_missing_credentials_name_the_variable(env: str, missing: str) -> None:
    with pytest.raises(ConfigError, match=missing):
        KISSettings(
            _env_file=None, env=env, app_key="only-a-key" if missing == "KIS_APP_SECRET" else None
        )


def test_bad_account_number_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as caught:
        KISSettings(_env_file=None, account_no="99-1234")
    assert "99-1234" not in str(caught.value)


def test_missing_account_is_a_config_error_when_needed() -> None:
    with pytest.raises(ConfigError, match="KIS_ACCOUNT_NO"):
        KISSettings(_env_file=None).account_parts()


def test_repr_hides_secrets() -> None:
    settings = KISSettings(
        _env_file=None,
        app_key="APPKEY-VISIBLE?",
        app_secret="SECRET-VISIBLE?",
        account_no="12345678-01",
    )
    text = repr(settings) + str(settings)
    for secret in ("APPKEY-VISIBLE?", "SECRET-VISIBLE?", "12345678"):
        assert secret not in text


def test_production_is_not_confirmed_by_default() -> None:
    assert KISSettings(_env_file=None).production_confirmed is False


def test_env_example_lists_every_setting() -> None:
    example = (Path(__file__).resolve().parents[1] / ".env.example").read_text()
    for name in KISSettings.model_fields:
        assert f"KIS_{name.upper()}" in example, f"KIS_{name.upper()} missing from .env.example"

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from kis_async import KST, AsyncKISClient, KISSettings
from kis_async.mock import MockClock, MockKIS

from .helpers import ACCOUNT, APP_KEY, APP_SECRET, ManualClock


@pytest.fixture(autouse=True)
def _no_kis_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Tests never read the developer's KIS_* variables, .env or token cache."""
    for name in list(os.environ):
        if name.startswith("KIS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))


def make_settings(**overrides: Any) -> KISSettings:
    """Settings for a client under test: fake credentials, no waiting, no disk cache."""
    values: dict[str, Any] = {
        "env": "real",
        "app_key": APP_KEY,
        "app_secret": APP_SECRET,
        "account_no": ACCOUNT,
        "token_cache_dir": None,
        "retry_initial_delay": 0.0,
        "retry_max_delay": 0.0,
        "rate_limit_cooldown": 0.0,
        "rate_limit": 1000.0,
        "production_confirmed": True,
    }
    values.update(overrides)
    return KISSettings(_env_file=None, **values)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def client_factory(clock: ManualClock) -> Callable[..., AsyncKISClient]:
    def factory(**overrides: Any) -> AsyncKISClient:
        return AsyncKISClient(make_settings(**overrides), clock=clock)

    return factory


#: A Friday, mid-session: the moment the client-over-mock tests run at.
MIDDAY = datetime(2026, 11, 20, 11, 0, 0, tzinfo=KST)


@pytest.fixture
def mock_clock() -> MockClock:
    return MockClock(MIDDAY, frozen=True)


@pytest.fixture
def mock(mock_clock: MockClock) -> MockKIS:
    """A mock of KIS's real server with no rate limit, frozen at MIDDAY."""
    return MockKIS(seed=3, clock=mock_clock, rate_limit=float("inf"))


def on(mock: MockKIS, **settings: Any) -> AsyncKISClient:
    """A client wired to ``mock``."""
    return AsyncKISClient.for_mock(mock, **settings)

"""Token manager and token stores."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
import respx

from kis_async import KST, AccessToken, AsyncKISClient, FileTokenStore, MemoryTokenStore
from kis_async._auth import TokenManager, token_cache_key
from kis_async._clock import parse_kst
from kis_async._errors import TokenIssueThrottledError

from .conftest import make_settings
from .fixtures_kis import PRICE_OUTPUT
from .helpers import APP_KEY, APP_SECRET, REAL, ManualClock, envelope, token_body

PRICE = "/uapi/domestic-stock/v1/quotations/inquire-price"


def test_kis_expiry_is_read_as_korea_time() -> None:
    # A peer SDK reads this as UTC and renews nine hours late.
    expires = parse_kst("2023-12-22 08:16:59")
    assert expires.utcoffset() == timedelta(hours=9)
    assert expires.astimezone(KST).hour == 8
    assert expires.isoformat() == "2023-12-22T08:16:59+09:00"


def test_access_token_repr_hides_the_value() -> None:
    token = AccessToken(
        "secret-token-value", datetime(2026, 1, 1, tzinfo=KST), datetime(2026, 1, 1, tzinfo=KST)
    )
    assert "secret-token-value" not in repr(token)
    assert "secret-token-value" not in token.fingerprint


class _Issuer:
    def __init__(self, clock: ManualClock, lifetime: timedelta = timedelta(hours=24)) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.calls = 0

    async def __call__(self) -> AccessToken:
        self.calls += 1
        await asyncio.sleep(0.01)  # long enough for every cold caller to pile up
        now = self.clock.now()
        return AccessToken(f"token-{self.calls}", now + self.lifetime, now)


async def test_hundred_cold_callers_cause_one_issuance(clock: ManualClock) -> None:
    issuer = _Issuer(clock)
    manager = TokenManager(issuer, store=MemoryTokenStore(), clock=clock)
    tokens = await asyncio.gather(*(manager.get() for _ in range(100)))
    assert issuer.calls == 1
    assert {token.value for token in tokens} == {"token-1"}


async def test_token_is_renewed_ahead_of_expiry(clock: ManualClock) -> None:
    issuer = _Issuer(clock)
    manager = TokenManager(
        issuer, store=MemoryTokenStore(), clock=clock, refresh_margin=timedelta(minutes=10)
    )
    first = await manager.get()
    clock.advance(timedelta(hours=23, minutes=49).total_seconds())
    assert (await manager.get()) is first
    clock.advance(120)  # now inside the ten-minute margin
    second = await manager.get()
    assert second.value == "token-2"
    assert issuer.calls == 2


async def test_compare_and_invalidate_keeps_a_newer_token(clock: ManualClock) -> None:
    issuer = _Issuer(clock)
    manager = TokenManager(issuer, store=MemoryTokenStore(), clock=clock, min_issue_interval=0)
    old = await manager.get()
    assert await manager.invalidate(old) is True
    new = await manager.get()
    assert new.value == "token-2"
    # A late expiry answer about the old token must not discard the new one.
    assert await manager.invalidate(old) is False
    assert (await manager.get()) is new
    assert issuer.calls == 2


async def test_never_issues_twice_within_the_minute(
    clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    monkeypatch.setattr("kis_async._auth.anyio.sleep", fake_sleep)
    issuer = _Issuer(clock)
    manager = TokenManager(issuer, store=MemoryTokenStore(), clock=clock, min_issue_interval=60)
    token = await manager.get()
    clock.advance(15)
    await manager.invalidate(token)
    await manager.get()
    assert slept == [pytest.approx(45)]
    assert issuer.calls == 2


async def test_throttled_issuance_reuses_a_token_another_process_stored(clock: ManualClock) -> None:
    store = MemoryTokenStore()
    other = AccessToken("from-another-process", clock.now() + timedelta(days=1), clock.now())

    async def throttled() -> AccessToken:
        await store.save(other)  # the other process won the race and cached its token
        raise TokenIssueThrottledError(
            "접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)", msg_cd="EGW00133"
        )

    manager = TokenManager(throttled, store=store, clock=clock)
    assert (await manager.get()).value == "from-another-process"


async def test_file_store_is_private_atomic_and_holds_no_secret(
    tmp_path: Path, clock: ManualClock
) -> None:
    key = token_cache_key("real", REAL, APP_KEY)
    store = FileTokenStore(tmp_path / "tokens", key)
    token = AccessToken("jwt-value", clock.now() + timedelta(days=1), clock.now())
    await store.save(token)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    text = store.path.read_text()
    assert APP_KEY not in text
    assert APP_SECRET not in text
    assert APP_KEY not in store.path.name
    assert json.loads(text)["access_token"] == "jwt-value"
    assert list(store.path.parent.iterdir()) == [store.path]  # no temporary file left
    assert (await store.load()) == token
    await store.discard(AccessToken("another", token.expires_at, token.issued_at))
    assert (await store.load()) == token  # not the stored one: kept
    await store.discard(token)
    assert (await store.load()) is None


async def test_unreadable_cache_file_is_ignored(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path, "x")
    store.path.write_text("{not json")
    assert (await store.load()) is None


async def test_second_client_on_the_same_cache_dir_requests_no_token(
    tmp_path: Path, clock: ManualClock
) -> None:
    with respx.mock(base_url=REAL) as router:
        tokens = router.post("/oauth2/tokenP").mock(
            return_value=httpx.Response(200, json=token_body(clock.now() + timedelta(days=1)))
        )
        router.get(PRICE).mock(return_value=httpx.Response(200, json=envelope(output=PRICE_OUTPUT)))
        settings = make_settings(token_cache_dir=tmp_path)
        async with AsyncKISClient(settings, clock=clock) as first:
            await first.get_current_price("005930")
        async with AsyncKISClient(settings, clock=clock) as second:
            await second.get_current_price("005930")
            assert second.token_requests == 0
        assert tokens.call_count == 1
    files = list(tmp_path.iterdir())  # noqa: ASYNC240 - a test's own temporary directory
    # The token, the issuance lock and the one-a-minute stamp, all private.
    assert len([f for f in files if f.suffix == ".json"]) == 1
    for file in files:
        assert file.name.startswith("real-")
        assert stat.S_IMODE(file.stat().st_mode) == 0o600


async def test_revoke_forgets_the_token_everywhere(
    tmp_path: Path, clock: ManualClock, client_factory: Callable[..., AsyncKISClient]
) -> None:
    with respx.mock(base_url=REAL) as router:
        router.post("/oauth2/tokenP").mock(
            return_value=httpx.Response(200, json=token_body(clock.now() + timedelta(days=1)))
        )
        revoke = router.post("/oauth2/revokeP").mock(
            return_value=httpx.Response(
                200, json={"code": 200, "message": "접근토큰 폐기에 성공하였습니다"}
            )
        )
        router.get(PRICE).mock(return_value=httpx.Response(200, json=envelope(output=PRICE_OUTPUT)))
        async with client_factory(token_cache_dir=tmp_path) as kis:
            await kis.get_current_price("005930")
            await kis.revoke_token()
            body = json.loads(revoke.calls.last.request.content)
            assert set(body) == {"appkey", "appsecret", "token"}
        # No token left; the issuance lock and the one-a-minute stamp stay.
        assert not list(tmp_path.glob("*.json"))  # noqa: ASYNC240


@pytest.mark.parametrize(
    ("absolute_offset", "expires_in", "expected_offset"),
    [
        (timedelta(hours=24), 86400, timedelta(hours=24)),  # both agree
        (
            timedelta(hours=20),
            86400,
            timedelta(hours=20),
        ),  # re-issue: expires_in did not count down
        (timedelta(hours=24), 3600, timedelta(hours=1)),  # the earlier one wins
        (-timedelta(hours=40), 86400, timedelta(hours=24)),  # server clock far behind ours
    ],
)
async def test_token_expiry_uses_the_earlier_statement_unless_the_clocks_disagree(
    client_factory: Callable[..., AsyncKISClient],
    clock: ManualClock,
    absolute_offset: timedelta,
    expires_in: int,
    expected_offset: timedelta,
) -> None:
    body = token_body(clock.now() + absolute_offset) | {"expires_in": expires_in}
    with respx.mock(base_url=REAL) as router:
        tokens = router.post("/oauth2/tokenP").mock(return_value=httpx.Response(200, json=body))
        router.get(PRICE).mock(return_value=httpx.Response(200, json=envelope(output=PRICE_OUTPUT)))
        async with client_factory() as kis:
            await kis.get_current_price("005930")
            await kis.get_current_price("005930")
            token = kis._tokens.current
        assert tokens.call_count == 1  # never a re-issue loop
    assert token is not None
    assert token.expires_at == clock.now() + expected_offset

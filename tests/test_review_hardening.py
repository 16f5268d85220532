"""Review of the hardening: duplicate and misattributed orders, hosts, leaks."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from kis_async import CircuitOpenError, ConfigError, KISSettings, OrderStateUnknownError, market
from kis_async._auth import FileTokenStore
from kis_async._limits import CircuitBreaker, CircuitState
from kis_async._trading_models import OrderRecord
from kis_async.mock import FaultKind, MockClock, MockKIS

from .conftest import MIDDAY, on
from .helpers import ManualClock
from .test_order_hardening import HISTORY_PATH, ORDER_PATH, RVSECNCL_PATH, _history, _router, _row

# -- revise/cancel: "all that rests" is not a wildcard that claims a sibling's record ----


async def test_a_lost_cancel_all_does_not_claim_an_unresolved_partial_cancel(
    client_factory: Any, clock: ManualClock
) -> None:
    # A partial cancel (3 of 10 shares) whose answer was lost stays unresolved; its record
    # then shows in the history. A cancel of all that rests, whose answer is lost too and
    # which never reached KIS, must not "recover" the 3-share cancel: the caller would
    # believe the order gone while 7 shares still rest.
    original = OrderRecord.model_validate(_row(odno="101"))
    partial = _row(
        odno="0000000202", orgn_odno="0000000101", ord_qty="3", cncl_yn="Y", ord_tmd="110000"
    )
    with _router(clock) as router:
        cancels = router.post(RVSECNCL_PATH).mock(side_effect=httpx.ReadTimeout("lost"))
        history = router.get(HISTORY_PATH).mock(return_value=httpx.Response(200, json=_history()))
        async with client_factory(order_settle_seconds=0, max_retries=0) as kis:
            with pytest.raises(OrderStateUnknownError, match="not found"):
                await kis.cancel_order(original, quantity=3)
            history.return_value = httpx.Response(200, json=_history(partial, _row(odno="101")))
            with pytest.raises(OrderStateUnknownError):
                await kis.cancel_order(original)  # before: the partial cancel, "recovered"
        assert cancels.call_count == 2


async def test_a_lost_revise_of_all_does_not_claim_an_unresolved_revise_of_some(
    client_factory: Any, clock: ManualClock
) -> None:
    original = OrderRecord.model_validate(_row(odno="101"))
    revised = _row(
        odno="0000000202", orgn_odno="101", ord_qty="4", ord_unpr="75900", ord_tmd="110000"
    )
    with _router(clock) as router:
        revises = router.post(RVSECNCL_PATH).mock(side_effect=httpx.ReadTimeout("lost"))
        history = router.get(HISTORY_PATH).mock(return_value=httpx.Response(200, json=_history()))
        async with client_factory(order_settle_seconds=0, max_retries=0) as kis:
            with pytest.raises(OrderStateUnknownError, match="not found"):
                await kis.revise_order(original, quantity=4, price=75_900)
            history.return_value = httpx.Response(200, json=_history(revised, _row(odno="101")))
            with pytest.raises(OrderStateUnknownError):
                await kis.revise_order(original, price=75_900)
        assert revises.call_count == 2


# -- hosts read as the HTTP client reads them ------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://openapi\u3002koreainvestment\u3002com:9443",
        "https://openapi.koreainvestment.com\uff0e:9443",
    ],
)
def test_the_real_host_spelt_with_other_full_stops_is_recognised(url: str) -> None:
    # httpx connects to openapi.koreainvestment.com for both; the settings must see it.
    assert httpx.URL(url).host.rstrip(".") == "openapi.koreainvestment.com"
    with pytest.raises(ConfigError, match="real-money server"):
        KISSettings(_env_file=None, env="mock", base_url=url)


# -- a cache-dir lock held by a stuck process -----------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")
async def test_a_stuck_lock_holder_delays_a_token_no_longer_than_the_timeout(
    tmp_path: Path, mock: MockKIS
) -> None:
    # Another process took the issuance lock and then hung (its loop blocked, stopped in
    # a debugger): this process waits for it no longer than it waits for an answer, then
    # asks KIS itself; before, every call stalled for 30 s.
    import fcntl

    async with on(mock, timeout=0.5, token_cache_dir=tmp_path) as kis:
        store = kis._tokens._store
        assert isinstance(store, FileTokenStore)
        holder = os.open(store._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
            with anyio.fail_after(10):
                await kis.get_current_price("005930")
        finally:
            os.close(holder)
        assert kis.token_requests == 1


# -- an identical order of this client in an unknown state: never a resend ---------------


async def test_no_resend_while_an_identical_order_is_unresolved(mock: MockKIS) -> None:
    # The first buy is cancelled by its caller mid-POST (the order is at KIS); the caller
    # tries again, and that answer is lost. The history is slow to show either order, so
    # nothing is found; with an identical order of this client still unresolved, that
    # proves nothing, and a resend would make it two orders.
    mock.faults.slow_seconds = 0.5
    mock.faults.history_lag = 600.0
    async with on(
        mock, order_settle_seconds=0, max_retries=0, resend_unconfirmed_orders=True
    ) as kis:
        quote = await kis.get_current_price("005930")
        price = quote.lower_limit + quote.tick_size * 3
        mock.faults.schedule("slow", path=ORDER_PATH)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(kis.buy("005930", 1, price), 0.1)
        assert len(mock.orders) == 1
        mock.faults.schedule("timeout", path=ORDER_PATH)
        with pytest.raises(OrderStateUnknownError):
            await kis.buy("005930", 1, price)  # before: resent, a second order
    assert len(mock.orders) == 1


# -- the tax's trade date is a date in Korea ----------------------------------------------


def test_the_tax_rate_reads_an_aware_trade_time_in_korea() -> None:
    # 08:30 KST on 2024-12-27 (an NXT pre-market trade) is still 2024-12-26 in UTC; the
    # trade date, and so 2025's rate, is Korea's.
    fees = market.FeeSchedule()
    at = datetime(2024, 12, 26, 23, 30, tzinfo=UTC)
    assert fees.tax_rate(at) == Decimal("0.0015")
    assert fees.tax(10_000_000, at) == 15_000  # before: 18,000 KRW, 2024's rate
    assert fees.tax_rate(datetime(2024, 12, 26, 15, 0)) == Decimal("0.0018")  # naive: as is


# -- half-open: a trial that hangs or is cancelled ------------------------------------


async def test_half_open_followers_wait_no_longer_than_their_bound() -> None:
    now = [0.0]
    breaker = CircuitBreaker(1, 30, monotonic=lambda: now[0], trial_wait=0.05)
    breaker.record_failure("GET inquire-price to h:1: HTTP 503")
    now[0] = 31
    await breaker.admit()  # the trial, which then hangs
    with anyio.fail_after(5), pytest.raises(CircuitOpenError, match="did not finish"):
        await breaker.admit()
    assert "HTTP 503" in str(breaker.last_failure)


async def test_a_cancelled_trial_hands_the_trial_to_a_follower() -> None:
    now = [0.0]
    breaker = CircuitBreaker(1, 30, monotonic=lambda: now[0], trial_wait=5)
    breaker.record_failure("boom")
    now[0] = 31
    await breaker.admit()  # the trial
    follower = asyncio.ensure_future(breaker.admit())
    await asyncio.sleep(0)
    assert not follower.done()  # it waits for the trial's outcome
    breaker.release()  # the trial's caller was cancelled: no outcome
    with anyio.fail_after(5):
        await follower  # admitted as the next trial, not failed
    breaker.record_success()
    assert breaker.state is CircuitState.CLOSED


@pytest.mark.parametrize(
    ("url", "confirm"),
    [
        ("http://127.0.0.1:8000", False),
        ("http://localhost.:8000", False),
        ("http://[::1]:8000", False),
        # A name under .localhost is resolved like any other by many resolvers (glibc
        # asks DNS): it could lead anywhere, so real tr_ids sent there need the opt-in.
        ("http://kis.localhost:8000", True),
        ("http://mock-kis.example:8000", True),
    ],
)
def test_only_this_machine_spares_the_production_confirmation(url: str, confirm: bool) -> None:
    settings = KISSettings(_env_file=None, env="mock", base_url=url)
    assert settings.needs_production_confirmation is confirm


# -- the client against the mock's order faults --------------------------------------


@pytest.mark.parametrize("fault", ["bad_gateway_after", "gateway_timeout_after"])
async def test_an_order_recorded_then_answered_by_the_gateway_is_recovered_once(
    mock: MockKIS, fault: FaultKind
) -> None:
    async with on(mock, order_settle_seconds=0, resend_unconfirmed_orders=True) as kis:
        quote = await kis.get_current_price("005930")
        price = quote.lower_limit + quote.tick_size * 3
        mock.faults.schedule(fault, path=ORDER_PATH)
        result = await kis.buy("005930", 1, price)
    assert result.recovered is True
    assert [order.order_id for order in mock.orders] == [result.order_id]


async def test_a_lagging_history_is_waited_for_not_answered_with_a_resend() -> None:
    # The order is recorded and its answer lost; the history shows it only after a lag
    # (mock clock, running in real time) shorter than the settle: the polls find it.
    mock = MockKIS(seed=3, clock=MockClock(MIDDAY), rate_limit=float("inf"))
    mock.faults.history_lag = 0.2
    async with on(
        mock, order_settle_seconds=1.0, resend_unconfirmed_orders=True, max_retries=0
    ) as kis:
        quote = await kis.get_current_price("005930")
        price = quote.lower_limit + quote.tick_size * 3
        mock.faults.schedule("timeout_after", path=ORDER_PATH)
        result = await kis.buy("005930", 1, price)
    assert result.recovered is True
    assert [order.order_id for order in mock.orders] == [result.order_id]
    assert mock.stats.requests[ORDER_PATH] == 1

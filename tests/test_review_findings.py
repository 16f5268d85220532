"""Behaviour pinned after review: lost orders, the gate, loops, settings, edge cases."""

from __future__ import annotations

import asyncio
import time
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from kis_async import (
    KST,
    AsyncKISClient,
    ConfigError,
    InvalidRequestError,
    KISError,
    KISResponseError,
    KISServerError,
    KISSettings,
    KISTransportError,
    OrderResult,
    OrderStateUnknownError,
    PriceType,
    market,
)
from kis_async._limits import RateGate
from kis_async._trading_models import OrderRecord
from kis_async.mock import DEMO_ACCOUNT_NO, MockClock, MockKIS

from .conftest import MIDDAY, make_settings, on
from .fixtures_kis import PRICE_OUTPUT
from .helpers import APP_SECRET, REAL, TOKEN_VALUE, ManualClock, envelope, token_body

ORDER_PATH = "/uapi/domestic-stock/v1/trading/order-cash"
HISTORY_PATH = "/uapi/domestic-stock/v1/trading/inquire-daily-ccld"


async def _resting_price(kis: AsyncKISClient, ticker: str = "005930") -> int:
    quote = await kis.get_current_price(ticker)
    return market.round_to_tick(quote.lower_limit + quote.tick_size * 3, "up")


# -- lost orders ---------------------------------------------------------------------


async def test_a_lost_order_is_never_matched_to_an_identical_sibling(mock: MockKIS) -> None:
    # One order never reaches the exchange; its identical sibling is recorded at once but
    # answered late. Looking up the lost one must not claim the sibling's order.
    mock.faults.slow_seconds = 0.3
    mock.faults.schedule("timeout", path=ORDER_PATH)
    mock.faults.schedule("slow", path=ORDER_PATH)
    async with on(mock, order_settle_seconds=0) as kis:
        price = await _resting_price(kis)
        first, second = await asyncio.gather(
            kis.buy("005930", 1, price), kis.buy("005930", 1, price), return_exceptions=True
        )
    outcomes = [first, second]
    assert len(mock.orders) == 1
    accepted = [o for o in outcomes if isinstance(o, OrderResult)]
    assert len(accepted) == 1
    assert accepted[0].recovered is False
    assert accepted[0].order_id == mock.orders[0].order_id
    assert sum(isinstance(o, OrderStateUnknownError) for o in outcomes) == 1


async def test_an_earlier_unknown_order_makes_a_later_identical_one_ambiguous(
    mock: MockKIS,
) -> None:
    mock.faults.schedule("drop_after", count=2, path=ORDER_PATH)
    mock.faults.schedule("error_5xx", count=4, path=HISTORY_PATH)  # the first lookup fails
    async with on(
        mock,
        order_settle_seconds=0,
        max_retries=3,
        circuit_failure_threshold=50,
        retry_initial_delay=0.001,
    ) as kis:
        price = await _resting_price(kis)
        with pytest.raises(OrderStateUnknownError, match="could not be read"):
            await kis.buy("005930", 1, price)
        with pytest.raises(OrderStateUnknownError, match="more than one order") as caught:
            await kis.buy("005930", 1, price)
    assert len(mock.orders) == 2
    assert caught.value.details["lookup"].startswith("the order history shows more than one")


async def test_no_resend_when_the_history_could_not_be_read(mock: MockKIS) -> None:
    mock.faults.schedule("drop_after", path=ORDER_PATH)
    mock.faults.schedule("error_5xx", count=10, path=HISTORY_PATH)
    async with on(
        mock,
        order_settle_seconds=0,
        resend_unconfirmed_orders=True,
        max_retries=2,
        retry_initial_delay=0.001,
    ) as kis:
        price = await _resting_price(kis)
        with pytest.raises(OrderStateUnknownError):
            await kis.buy("005930", 1, price)
    assert len(mock.orders) == 1  # the resend is only for an order the history lacks


async def test_lost_order_is_found_when_this_machine_clock_runs_ahead(mock: MockKIS) -> None:
    ahead = MockClock(MIDDAY + timedelta(seconds=40), frozen=True)
    settings = make_settings(
        env="mock",
        app_key=mock.DEMO_APP_KEY,
        app_secret=mock.DEMO_APP_SECRET,
        account_no=DEMO_ACCOUNT_NO,
        order_settle_seconds=0,
    )
    async with AsyncKISClient(settings, transport=mock.transport, clock=ahead) as kis:
        price = await _resting_price(kis)
        offset = kis.server_clock_offset()
        mock.faults.schedule("drop_after", path=ORDER_PATH)
        result = await kis.buy("005930", 1, price)
    assert offset is not None
    assert abs(offset.total_seconds() + 40) <= 1
    assert result.recovered is True
    assert result.order_id == mock.orders[0].order_id


async def test_a_token_failure_during_an_order_is_not_an_unknown_order(mock: MockKIS) -> None:
    mock.faults.schedule("error_5xx", count=5, path="/oauth2/tokenP")
    async with on(mock, max_retries=0) as kis:
        with pytest.raises(KISServerError) as caught:
            await kis.buy("005930", 1)
    assert caught.value.path == "/oauth2/tokenP"
    assert mock.stats.requests[ORDER_PATH] == 0


async def test_an_unreadable_order_answer_is_settled_by_the_history(
    client_factory: Any, clock: ManualClock
) -> None:
    history = {
        "output1": [
            {
                "ord_dt": "20261120",
                "ord_gno_brno": "06010",
                "odno": "8",  # the history may pad differently from the order answer
                "orgn_odno": "",
                "sll_buy_dvsn_cd": "02",
                "pdno": "005930",
                "ord_qty": "10",
                "ord_unpr": "75800",
                "ord_tmd": "103001",
                "tot_ccld_qty": "0",
                "avg_prvs": "0",
                "tot_ccld_amt": "0",
                "cncl_yn": "N",
                "excg_id_dvsn_cd": "KRX",
            }
        ],
        "output2": {},
        "rt_cd": "0",
        "msg_cd": "KIOK0460",
        "msg1": "",
    }
    with respx.mock(base_url=REAL, assert_all_called=False) as router:
        router.post("/oauth2/tokenP").mock(
            return_value=httpx.Response(200, json=token_body(clock.now() + timedelta(days=1)))
        )
        router.get("/uapi/domestic-stock/v1/quotations/inquire-price").mock(
            return_value=httpx.Response(200, json=envelope(output=PRICE_OUTPUT))
        )
        orders = router.post(ORDER_PATH).mock(
            return_value=httpx.Response(200, text="<html>oops</html>")
        )
        router.get(HISTORY_PATH).mock(return_value=httpx.Response(200, json=history))
        async with client_factory(order_settle_seconds=0) as kis:
            found = await kis.buy("005930", 10, 75_800)
            with pytest.raises(OrderStateUnknownError):  # "0000000008" is claimed already
                await kis.buy("005930", 10, 75_800)
        assert orders.call_count == 2
    assert found.recovered is True
    assert found.order_id == "8"


async def test_cancel_result_says_what_it_is(mock: MockKIS) -> None:
    async with on(mock) as kis:
        price = await _resting_price(kis)
        order = await kis.buy("005930", 4, price)
        cancel = await kis.cancel_order(order)
    assert (order.kind, cancel.kind) == ("new", "cancel")
    assert cancel.quantity is None  # everything still resting
    assert cancel.price == price
    assert cancel.original_order_id == order.order_id


def test_order_record_reads_either_spelling_of_the_exchange_key() -> None:
    base = {
        "ord_dt": "20261120", "ord_gno_brno": "1", "odno": "1", "sll_buy_dvsn_cd": "01",
        "pdno": "005930", "ord_qty": "1", "ord_unpr": "1", "tot_ccld_qty": "0",
        "avg_prvs": "0", "tot_ccld_amt": "0",
    }  # fmt: skip
    assert OrderRecord.model_validate(base | {"excg_id_dvsn_Cd": "NXT"}).exchange == "NXT"
    assert OrderRecord.model_validate(base | {"excg_id_dvsn_cd": "SOR"}).exchange == "SOR"


# -- the rate gate -------------------------------------------------------------------


async def test_a_slow_token_does_not_turn_queued_slots_into_a_burst(mock_clock: MockClock) -> None:
    mock = MockKIS(seed=3, clock=mock_clock, rate_limit=50.0)
    mock.faults.slow_seconds = 1.0
    mock.faults.schedule("slow", path="/oauth2/tokenP")
    async with on(mock) as kis:
        prices = await kis.get_current_prices(mock.tickers[:80])
    assert len(prices) == 80
    assert mock.stats.rate_limited == 0


async def test_a_pause_holds_back_requests_already_queued_in_the_gate() -> None:
    gate = RateGate(100.0)
    passed: list[float] = []

    async def request() -> None:
        await gate.acquire()
        passed.append(time.monotonic())

    tasks = [asyncio.create_task(request()) for _ in range(40)]
    await asyncio.sleep(0.1)  # about ten through
    paused_at = time.monotonic()
    gate.pause(0.3)
    await asyncio.gather(*tasks)
    during = [t for t in passed if paused_at < t < paused_at + 0.29]
    assert during == []
    assert len(passed) == 40


# -- settings, loops, edges ----------------------------------------------------------


def test_half_a_set_of_credentials_is_an_error_not_the_mock() -> None:
    with pytest.raises(ConfigError, match="KIS_APP_SECRET"):
        KISSettings(_env_file=None, app_key="only-the-key")


@pytest.mark.parametrize("env", ["mock", "virtual"])
def test_the_real_money_host_needs_env_real(env: str) -> None:
    with pytest.raises(ConfigError, match="real-money server"):
        KISSettings(
            _env_file=None,
            env=env,
            app_key="k",
            app_secret="s",
            base_url="https://openapi.koreainvestment.com:9443",
        )


def test_one_client_per_event_loop_is_said_clearly() -> None:
    kis = AsyncKISClient(make_settings(env="mock", app_key=None, app_secret=None, account_no=None))
    asyncio.run(kis.get_current_price("005930"))
    with pytest.raises(KISError, match=r"one\s+client per event loop"):
        asyncio.run(kis.get_current_price("005930"))


async def test_a_closed_client_says_so() -> None:
    kis = AsyncKISClient(make_settings(env="mock", app_key=None, app_secret=None, account_no=None))
    await kis.aclose()
    with pytest.raises(KISError, match="closed"):
        await kis.get_current_price("005930")


async def test_transport_errors_keep_no_httpx_error_in_their_chain(
    client_factory: Any, clock: ManualClock
) -> None:
    with respx.mock(base_url=REAL, assert_all_called=False) as router:
        router.post("/oauth2/tokenP").mock(
            return_value=httpx.Response(200, json=token_body(clock.now() + timedelta(days=1)))
        )
        router.get("/uapi/domestic-stock/v1/quotations/inquire-price").mock(
            side_effect=httpx.DecodingError("bad gzip")
        )
        async with client_factory(max_retries=1) as kis:
            with pytest.raises(KISTransportError) as caught:
                await kis.get_current_price("005930")
            assert kis.stats.retries == 1  # an undecodable answer is retried like a drop
    error = caught.value
    assert error.request_sent is True
    assert error.__cause__ is None
    assert error.__context__ is None
    assert "DecodingError" in str(error)
    for secret in (APP_SECRET, TOKEN_VALUE):
        assert secret not in repr(vars(error))


async def test_a_failing_progress_callback_raises_its_own_error(mock: MockKIS) -> None:
    def callback(code: str, price: object) -> None:
        raise ValueError(f"callback broke on {code}")

    async with on(mock) as kis:
        with pytest.raises(ValueError, match="callback broke"):
            await kis.get_current_prices(["005930", "000660"], on_result=callback)


async def test_chart_edges(mock: MockKIS) -> None:
    async with on(mock) as kis:
        years = await kis.get_chart_data("005930", PriceType.YEARLY, count=6000)
        with pytest.raises(InvalidRequestError, match="today's session only"):
            await kis.get_chart_data(
                "005930", PriceType.MINUTE_5, end=datetime(2026, 11, 19, 14, 0, tzinfo=KST)
            )
    assert 1 <= len(years) < 6000
    assert years[0].date >= date(1956, 3, 3)


async def test_paging_that_does_not_advance_is_an_error(
    client_factory: Any, clock: ManualClock
) -> None:
    page = {
        "ctx_area_fk100": "SAME".ljust(100),
        "ctx_area_nk100": "KEYS".ljust(100),
        "output1": [],
        "output2": [
            {"dnca_tot_amt": "0", "tot_evlu_amt": "0", "nass_amt": "0", "pchs_amt_smtl_amt": "0",
             "evlu_amt_smtl_amt": "0", "evlu_pfls_smtl_amt": "0"}
        ],
        "rt_cd": "0",
        "msg_cd": "KIOK0500",
        "msg1": "",
    }  # fmt: skip
    with respx.mock(base_url=REAL, assert_all_called=False) as router:
        router.post("/oauth2/tokenP").mock(
            return_value=httpx.Response(200, json=token_body(clock.now() + timedelta(days=1)))
        )
        route = router.get("/uapi/domestic-stock/v1/trading/inquire-balance").mock(
            return_value=httpx.Response(200, headers={"tr_cont": "M"}, json=page)
        )
        async with client_factory() as kis:
            with pytest.raises(KISResponseError, match="did not advance"):
                await kis.get_balance()
        assert route.call_count == 2


async def test_keyed_locks_never_let_two_holders_of_one_key_overlap() -> None:
    from kis_async._limits import KeyedLocks

    locks = KeyedLocks()
    inside: list[str] = []
    overlaps = 0

    async def hold(key: str, delay: int = 0) -> None:
        nonlocal overlaps
        for _ in range(delay):  # arrivals spread over the moments when others release
            await asyncio.sleep(0)
        async with locks.hold(key):
            overlaps += key in inside
            inside.append(key)
            await asyncio.sleep(0)
            inside.remove(key)

    # Many holders of one key arriving while others release: the race where a released
    # lock looks free for an instant before its next waiter takes it.
    await asyncio.gather(*(hold("a", n % 9) for n in range(50)), *(hold("b") for _ in range(5)))
    assert overlaps == 0
    assert len(locks) == 0  # forgotten once nobody holds or awaits them

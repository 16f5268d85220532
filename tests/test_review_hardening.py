"""Review of the hardening: duplicate and misattributed orders, hosts, leaks."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from kis_async import ConfigError, KISSettings, OrderStateUnknownError
from kis_async._trading_models import OrderRecord

from .helpers import ManualClock
from .test_order_hardening import HISTORY_PATH, RVSECNCL_PATH, _history, _router, _row

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

"""Bad input is refused with InvalidRequestError, typed, before anything is sent.

The property tests call every public method of the client with random arguments (text,
ints, floats, Decimals, bools, None) against the in-process mock: each call either
succeeds or raises InvalidRequestError, and a refused call sends nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kis_async import (
    AsyncKISClient,
    InvalidRequestError,
    KISAPIError,
    OrderRejectedError,
    PriceType,
    Side,
)
from kis_async.mock import MockClock, MockKIS

from .conftest import MIDDAY


class CountingTransport(httpx.AsyncBaseTransport):
    """Passes requests to another transport and keeps them, to count what was sent."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    def sent(self, path_part: str = "/uapi/") -> list[httpx.Request]:
        return [r for r in self.requests if path_part in r.url.path]


def _client(mock: MockKIS, **settings: Any) -> tuple[AsyncKISClient, CountingTransport]:
    from kis_async import KISSettings
    from kis_async.mock import DEMO_ACCOUNT_NO, DEMO_APP_KEY, DEMO_APP_SECRET

    counting = CountingTransport(mock.transport)
    values: dict[str, Any] = {
        "env": "mock",
        "app_key": DEMO_APP_KEY,
        "app_secret": DEMO_APP_SECRET,
        "account_no": DEMO_ACCOUNT_NO,
        "rate_limit": 10_000.0,
        "token_cache_dir": None,
        "order_settle_seconds": 0,
        **settings,
    }
    kis = AsyncKISClient(
        KISSettings(_env_file=None, **values), transport=counting, clock=mock.clock
    )
    return kis, counting


# -- the cases the issue names ----------------------------------------------------------


@pytest.mark.parametrize("ticker", ["00593ſ", "0ﬀ0ﬀ", "００５９３０", "005930\u3000", "q12345６"])
async def test_non_ascii_tickers_are_refused_not_folded(mock: MockKIS, ticker: str) -> None:
    # "00593ſ".upper() == "00593S" and "0ﬀ0ﬀ".upper() == "0FF0FF": both were sent.
    kis, counting = _client(mock)
    async with kis:
        for call in (
            lambda: kis.get_current_price(ticker),
            lambda: kis.get_current_prices([ticker]),
            lambda: kis.buy(ticker, 1),
            lambda: kis.sell(ticker, 1),
            lambda: kis.get_buyable(ticker),
        ):
            with pytest.raises(InvalidRequestError, match="ASCII"):
                await call()
    assert counting.requests == []
    assert mock.orders == []


@pytest.mark.parametrize("tickers", [5930, None, 1.5, Decimal(5930), True])
async def test_get_current_prices_refuses_what_is_not_a_list(mock: MockKIS, tickers: Any) -> None:
    kis, counting = _client(mock)
    async with kis:
        with pytest.raises(InvalidRequestError, match="list of codes"):
            await kis.get_current_prices(tickers)
    assert counting.requests == []


@pytest.mark.parametrize(
    ("side", "filled"),
    [("bogus", None), (1, None), (None, "yes"), (None, []), (None, 1), ("BUY", "no")],
)
async def test_get_orders_refuses_bad_side_and_filled_typed(
    mock: MockKIS, side: Any, filled: Any
) -> None:
    kis, counting = _client(mock)
    async with kis:
        with pytest.raises(InvalidRequestError):
            await kis.get_orders(MIDDAY.date(), MIDDAY.date(), side=side, filled=filled)
    assert counting.requests == []


async def test_get_orders_takes_sides_in_any_case(mock: MockKIS) -> None:
    kis, _ = _client(mock)
    async with kis:
        price = (await kis.get_current_price("005930")).lower_limit
        await kis.buy("005930", 1, price)
        upper = await kis.get_orders(MIDDAY.date(), MIDDAY.date(), side="BUY")
        typed = await kis.get_orders(MIDDAY.date(), MIDDAY.date(), side=Side.BUY)
        sells = await kis.get_orders(MIDDAY.date(), MIDDAY.date(), side=" Sell ")
    assert [r.order_id for r in upper] == [r.order_id for r in typed]
    assert len(upper) == 1
    assert sells == []


@pytest.mark.parametrize("end", ["2026-11-20", 20261120, 1.0, Decimal(1), True, [date(2026, 1, 2)]])
async def test_chart_end_of_the_wrong_type_is_refused(mock: MockKIS, end: Any) -> None:
    kis, counting = _client(mock)
    async with kis:
        with pytest.raises(InvalidRequestError, match="end"):
            await kis.get_chart_data("005930", PriceType.DAILY, 5, end=end)
    assert counting.requests == []


async def test_chart_end_months_ahead_means_today(mock: MockKIS) -> None:
    kis, _ = _client(mock)
    async with kis:
        ahead = await kis.get_chart_data("005930", count=5, end=MIDDAY.date() + timedelta(days=120))
        today = await kis.get_chart_data("005930", count=5)
    assert len(ahead) == 5
    assert ahead == today


async def test_chart_end_before_krx_existed_is_refused(mock: MockKIS) -> None:
    kis, counting = _client(mock)
    async with kis:
        with pytest.raises(InvalidRequestError, match="first records"):
            await kis.get_chart_data("005930", count=5, end=date(1900, 1, 1))
    assert counting.requests == []


# -- properties over every public method --------------------------------------------------

junk = st.one_of(
    st.text(max_size=8),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)
# Mostly junk, sometimes a valid value, so calls that succeed are exercised too.
tickers = st.one_of(junk, st.sampled_from(["005930", "000660", "035720"]))
prices = st.one_of(junk, st.sampled_from([None, 1, 70_000]))
quantities = st.one_of(junk, st.sampled_from([1, 2]))

MethodCall = Callable[[AsyncKISClient], Awaitable[Any]]


def _calls(a: Any, b: Any, c: Any) -> list[tuple[str, MethodCall]]:
    """Every public method of the client, with ``a``, ``b`` and ``c`` in its arguments."""
    return [
        ("get_current_price", lambda k: k.get_current_price(a)),
        ("get_current_price market", lambda k: k.get_current_price("005930", market=a)),
        ("get_current_prices", lambda k: k.get_current_prices(a)),
        ("get_current_prices list", lambda k: k.get_current_prices([a, b])),
        (
            "get_current_prices options",
            lambda k: k.get_current_prices(["005930"], return_exceptions=a, on_result=b),
        ),
        ("get_order_book", lambda k: k.get_order_book(a, market=b)),
        ("get_stock_info", lambda k: k.get_stock_info(a)),
        ("get_chart_data", lambda k: k.get_chart_data(a, b, c)),
        ("get_chart_data end", lambda k: k.get_chart_data("005930", PriceType.DAILY, 3, end=a)),
        (
            "get_chart_data minute",
            lambda k: k.get_chart_data("005930", PriceType.MINUTE_5, b, end=a),
        ),
        ("buy", lambda k: k.buy(a, b, c)),
        ("sell", lambda k: k.sell(a, b, c)),
        ("buy exchange", lambda k: k.buy("005930", 1, None, exchange=a)),
        ("get_buyable", lambda k: k.get_buyable(a, b)),
        ("get_balance", lambda k: k.get_balance()),
        ("revise_order", lambda k: k.revise_order(a, quantity=1, price=70_000)),
        ("cancel_order", lambda k: k.cancel_order(a)),
        ("get_orders", lambda k: k.get_orders(a, b)),
        (
            "get_orders filters",
            lambda k: k.get_orders(MIDDAY.date(), MIDDAY.date(), ticker=a, side=b, filled=c),
        ),
    ]


async def _check_every_call(mock: MockKIS, a: Any, b: Any, c: Any) -> None:
    kis, counting = _client(mock)
    async with kis:
        # Learn today's bands first, so a refused limit price needs no quote either.
        for code in ("005930", "000660", "035720"):
            await kis.get_current_price(code)
        for name, call in _calls(a, b, c):
            before_all, before_orders = len(counting.requests), len(mock.orders)
            judged: KISAPIError | None = None
            try:
                await call(kis)
            except InvalidRequestError:
                assert len(counting.requests) == before_all, f"{name} sent a request, then refused"
                assert len(mock.orders) == before_orders
            except KISAPIError as exc:
                judged = exc
            if judged is None:
                continue
            # Well-formed input that KIS itself judged: an order the broker refused (a sell
            # of shares the account does not hold, more than the cash buys), a well-formed
            # code no stock has (MCA05918). It was sent because the input was valid;
            # nothing a local check should catch was missed.
            assert len(counting.requests) > before_all, f"{name}: {judged!r} without a request"
            assert isinstance(judged, OrderRejectedError) or judged.msg_cd == "MCA05918", (
                f"{name}: {judged!r}"
            )
            # Anything else raised (a TypeError, a KeyError, another error) fails the test.


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=tickers, b=st.one_of(quantities, prices), c=prices)
def test_every_public_method_succeeds_or_refuses_typed(a: Any, b: Any, c: Any) -> None:
    mock = MockKIS(seed=3, clock=MockClock(MIDDAY, frozen=True), rate_limit=float("inf"))
    asyncio.run(_check_every_call(mock, a, b, c))


@settings(max_examples=40, deadline=None)
@given(revise_quantity=quantities, revise_price=prices, cancel_quantity=quantities)
def test_revise_and_cancel_succeed_or_refuse_typed(
    revise_quantity: Any, revise_price: Any, cancel_quantity: Any
) -> None:
    mock = MockKIS(seed=3, clock=MockClock(MIDDAY, frozen=True), rate_limit=float("inf"))

    async def run() -> None:
        kis, counting = _client(mock)
        async with kis:
            quote = await kis.get_current_price("005930")
            order = await kis.buy("005930", 2, quote.lower_limit)
            calls: list[Callable[[], Awaitable[Any]]] = [
                lambda: kis.revise_order(order, quantity=revise_quantity, price=revise_price),
                lambda: kis.cancel_order(order, quantity=cancel_quantity),
            ]
            for call in calls:
                before = len(counting.requests)
                try:
                    await call()
                except InvalidRequestError:
                    assert len(counting.requests) == before
                except OrderRejectedError:
                    pass  # KIS refused a valid request (e.g. nothing left to revise): fine

    asyncio.run(run())

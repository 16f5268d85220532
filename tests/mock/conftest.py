"""Fixtures: a frozen clock at a Tuesday mid-session, a mock server and a client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from kis_async.mock import MockClock, MockKIS

from .kit import KIS, MIDDAY


@pytest.fixture
def clock() -> MockClock:
    return MockClock(MIDDAY, frozen=True)


@pytest.fixture
def mock(clock: MockClock) -> MockKIS:
    return MockKIS(7, clock=clock, rate_limit=float("inf"))


@pytest.fixture
async def client(mock: MockKIS) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=mock.transport, base_url="http://mock") as client:
        yield client


@pytest.fixture
def kis(client: httpx.AsyncClient, mock: MockKIS) -> KIS:
    return KIS(client, mock)

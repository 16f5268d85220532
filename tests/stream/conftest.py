"""Helpers of the stream tests: wait for a condition, take N events (with a safety timeout)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

T = TypeVar("T")

#: A generous bound for a wait that normally takes milliseconds; never a timing claim.
SAFETY = 10.0


async def until(condition: Callable[[], bool], within: float = SAFETY) -> None:
    """Wait until ``condition()`` holds (polling), or fail after ``within`` seconds."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - polls counters, which have no event
            await asyncio.sleep(0.005)


async def take(source: AsyncIterator[T], count: int, within: float = SAFETY) -> list[T]:
    """The next ``count`` items of ``source``."""
    items: list[T] = []
    async with asyncio.timeout(within):
        while len(items) < count:
            items.append(await anext(source))
    return items

"""Helpers of the stream tests: wait for a condition, take N events (with a safety timeout)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

T = TypeVar("T")

#: A generous bound for a wait that normally takes milliseconds; never a timing claim.
SAFETY = 10.0


async def until(condition: Callable[[], bool], timeout: float = SAFETY) -> None:
    """Wait until ``condition()`` holds (polling), or fail after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


async def take(source: AsyncIterator[T], count: int, timeout: float = SAFETY) -> list[T]:
    """The next ``count`` items of ``source``."""
    items: list[T] = []
    async with asyncio.timeout(timeout):
        while len(items) < count:
            items.append(await anext(source))
    return items

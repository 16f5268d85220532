"""Price rules for the simulation's inner loops: fast tick snapping and band checks.

The rules themselves are :mod:`kis_async.market`'s; these are float fast paths over
them, checked against them by the test suite.
"""

from __future__ import annotations

from typing import Literal

from kis_async.market import price_band, tick_size

__all__ = ["clamp_band", "limit_sign", "snap", "within_band"]


def snap(price: float, direction: Literal["down", "up", "nearest"] = "nearest") -> int:
    """``price`` rounded onto the KRX tick grid, as :func:`kis_async.market.round_to_tick`.

    A float fast path for the simulation's inner loops (round_to_tick works in exact
    fractions and costs ~15 us; generating 26 years of history calls this millions of
    times). It takes the tick from :func:`kis_async.market.tick_size`, and the test
    suite checks it against ``round_to_tick`` for every kind of input.
    """
    if price < 1:
        return 1
    floor = int(price)
    tick = tick_size(floor)
    down = floor - floor % tick
    if direction == "down":
        return down
    up = down if (price == floor and floor == down) else down + tick
    if direction == "up":
        return up
    return up if (price - down) >= (up - price) else down


def within_band(price: int, base: int) -> bool:
    # Both limits lie within one tick of ±30%, and for a base of 50 KRW or more one tick
    # is under 2% of the price, so ±28% is inside the band: price_band (slow, exact) is
    # needed only near the limits.
    if base >= 50 and 0.72 * base <= price <= 1.28 * base:
        return True
    lower, upper = price_band(base)
    return lower <= price <= upper


def clamp_band(price: int, base: int) -> int:
    if within_band(price, base):
        return price
    lower, upper = price_band(base)
    return min(max(price, lower), upper)


def limit_sign(price: int, base: int) -> str:
    """KIS's 대비부호 of ``price`` against ``base``.

    ``"1"`` upper limit, ``"2"`` up, ``"3"`` flat, ``"4"`` lower limit, ``"5"`` down.
    """
    if price == base:
        return "3"
    if base >= 50 and 0.72 * base <= price <= 1.28 * base:
        return "2" if price > base else "5"
    lower, upper = price_band(base)
    if price >= upper:
        return "1"
    if price <= lower:
        return "4"
    return "2" if price > base else "5"

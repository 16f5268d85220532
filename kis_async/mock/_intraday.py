"""A session's one-minute bars, drawn to agree exactly with the day's daily bar."""

from __future__ import annotations

import math
import random
from datetime import date

from ._calendar import CONTINUOUS_MINUTES
from ._history import Bar
from ._prices import snap

__all__ = ["DayBars"]


class DayBars:
    """A session's one-minute bars: 380 continuous minutes and the 15:30 auction bar.

    Aggregated they give exactly the day's daily bar. ``cum_*`` and ``run_*`` hold the
    cumulative volume/value and the running high/low at each bar, so a partly elapsed
    session is an O(1) lookup.
    """

    __slots__ = (
        "close",
        "cum_value",
        "cum_volume",
        "day",
        "high",
        "low",
        "open",
        "run_high",
        "run_low",
        "volume",
    )

    def __init__(self, seed: int, code: str, day: date, daily: Bar) -> None:
        self.day = day
        rng = random.Random(f"{seed}:{code}:{day:%Y%m%d}")
        gauss = rng.gauss
        o, h, lo, c = daily.open, daily.high, daily.low, daily.close
        n = CONTINUOUS_MINUTES
        # A Brownian bridge from the open to the close, scaled to the day's range.
        walk = [0.0] * (n + 1)
        acc = 0.0
        for j in range(1, n + 1):
            acc += gauss(0.0, 1.0)
            walk[j] = acc
        bridge = [walk[j] - acc * j / n for j in range(n + 1)]
        line = [o + (c - o) * j / n for j in range(n + 1)]
        # Scale the bridge's two sides apart, so that its peak lands on the day's high and
        # its trough on the low. One scale for both, centred on the open-close line,
        # would flatten the path against whichever limit that line runs close to.
        top = max(range(n + 1), key=bridge.__getitem__)
        bottom = min(range(n + 1), key=bridge.__getitem__)
        up = (h - line[top]) / bridge[top] if bridge[top] > 0 else 0.0
        down = (line[bottom] - lo) / -bridge[bottom] if bridge[bottom] < 0 else 0.0
        path = [line[j] + (up if bridge[j] > 0 else down) * bridge[j] for j in range(n + 1)]
        points = [o] * (n + 1)
        for j in range(1, n):
            points[j] = min(max(snap(min(max(path[j], lo), h)), lo), h)
        points[n] = c
        # The path must touch the day's high and low; the open or close may already.
        top_at = -1
        if h > max(o, c):
            top_at = max(range(1, n), key=path.__getitem__)
            points[top_at] = h
        if lo < min(o, c):
            bottom_at = min((j for j in range(1, n) if j != top_at), key=path.__getitem__)
            points[bottom_at] = lo
        self.open = [*points[:n], c]
        self.close = [*points[1:], c]
        self.high = [max(a, b) for a, b in zip(self.open, self.close, strict=True)]
        self.low = [min(a, b) for a, b in zip(self.open, self.close, strict=True)]
        self.volume = _split_volume(rng, daily.volume)
        cum = 0
        self.cum_volume = []
        for vol in self.volume:
            cum += vol
            self.cum_volume.append(cum)
        self.run_high = []
        self.run_low = []
        hi, low = 0, self.low[0]
        for bar_high, bar_low in zip(self.high, self.low, strict=True):
            hi = max(hi, bar_high)
            low = min(low, bar_low)
            self.run_high.append(hi)
            self.run_low.append(low)
        self.cum_value = self._cumulative_value(daily)

    def _cumulative_value(self, daily: Bar) -> list[int]:
        """Traded value (KRW) up to each bar, ending exactly at the day's value.

        The average price so far (value / volume) follows the bars' own volume-weighted
        closes, drawn steadily (in volume time) towards the day's average, and always
        stays inside the range traded so far; the running total never decreases.
        """
        total_volume = self.cum_volume[-1]
        day_average = daily.value / total_volume
        weighted = 0
        path_average = []
        for vol, price, cum in zip(self.volume, self.close, self.cum_volume, strict=True):
            weighted += vol * price
            path_average.append(weighted / cum if cum else float(price))
        drift = day_average - path_average[-1]
        values = []
        previous = 0
        for k, cum in enumerate(self.cum_volume):
            target = path_average[k] + drift * cum / total_volume
            target = min(max(target, self.run_low[k]), self.run_high[k])
            value = min(max(previous, round(cum * target)), daily.value)
            values.append(value)
            previous = value
        values[-1] = daily.value
        return values

    def aggregate(self, count: int, base: int) -> Bar:
        """The daily bar made of the first ``count`` bars (1 .. SESSION_BARS)."""
        k = count - 1
        return Bar(
            self.day,
            self.open[0],
            self.run_high[k],
            self.run_low[k],
            self.close[k],
            self.cum_volume[k],
            self.cum_value[k],
            base,
        )


def _split_volume(rng: random.Random, volume: int) -> list[int]:
    """Split ``volume`` over the session's bars, U-shaped, summing exactly to it."""
    auction = int(volume * rng.uniform(0.03, 0.08))
    rest = volume - auction
    n = CONTINUOUS_MINUTES
    middle = (n - 1) / 2
    weights = [
        (1.0 + 2.5 * ((j - middle) / middle) ** 2) * math.exp(0.3 * rng.gauss(0.0, 1.0))
        for j in range(n)
    ]
    total = sum(weights)
    exact = [rest * w / total for w in weights]
    parts = [int(e) for e in exact]
    # Largest remainders take the shares lost to flooring.
    short = rest - sum(parts)
    for j in sorted(range(n), key=lambda j: parts[j] - exact[j])[:short]:
        parts[j] += 1
    parts.append(auction)
    return parts

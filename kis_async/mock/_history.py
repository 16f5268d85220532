"""Seeded daily history of one ticker, and the daily bar type.

Prices are whole KRW on the KRX tick grid; volumes are shares; values are KRW.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date

from ._calendar import Calendar
from ._prices import clamp_band, snap
from ._universe import Ticker

__all__ = ["Bar", "History", "Row"]

#: Daily mean reversion of log price towards the reference path.
_KAPPA = 0.01
#: Growth of the reference path: about 7% a year.
_GROWTH_PER_DAY = math.log(1.07) / 365.25
#: AR(1) persistence of the deviation from the reference path.
_PHI = 1.0 - _KAPPA
#: Trading days per independently drawn chunk of history.
_CHUNK = 128
#: Weight of the end-point miss at each row of an AR(1) bridge of _CHUNK steps.
_BRIDGE: tuple[float, ...] = tuple(
    _PHI ** (_CHUNK - j) * (1.0 - _PHI ** (2 * j)) / (1.0 - _PHI ** (2 * _CHUNK))
    for j in range(_CHUNK)
)

#: ``(open, high, low, close, volume, value, base)`` of one day.
Row = tuple[int, int, int, int, int, int, int]


@dataclass(frozen=True, slots=True)
class Bar:
    """One aggregated bar: prices KRW, volume shares, value KRW; ``base`` is the close before it."""

    day: date
    open: int
    high: int
    low: int
    close: int
    volume: int
    value: int
    base: int


class History:
    """Daily bars of one ticker from its first simulated trading day, computed lazily.

    Log price = a reference path growing ~7% a year (equal to the reference price on
    the anchor day) + an AR(1) deviation that reverts towards it (daily sigma 1.5-3%).
    The deviation is drawn in chunks of :data:`_CHUNK` trading days, each an AR(1)
    bridge between seeded knots, so a chunk needs neither the chunks before it nor
    the decades of history before that. Steps are bounded (|z| <= 4), which keeps
    every close far inside the ±30% band of the previous close without clamping.

    Rows are addressed by calendar trading-day index; each is ``(open, high, low,
    close, volume, value, base)`` where ``base`` is the previous close.
    """

    __slots__ = (
        "_anchor_ordinal",
        "_calendar",
        "_chunks",
        "_ends",
        "_key",
        "_knots",
        "_log_ref",
        "_spread",
        "_turnover_shares",
        "first",
        "sigma",
    )

    def __init__(
        self, seed: int, ticker: Ticker, calendar: Calendar, anchor: date, turnover: float
    ) -> None:
        self._key = f"{seed}:{ticker.code}"
        self._calendar = calendar
        self._anchor_ordinal = anchor.toordinal()
        self._log_ref = math.log(ticker.ref_price)
        self.sigma = random.Random(self._key).uniform(0.015, 0.03)
        self._spread = self.sigma / math.sqrt(1.0 - _PHI * _PHI)
        self._turnover_shares = ticker.shares * turnover
        self.first = calendar.index_on_or_after(ticker.listed)
        # The listing day starts on the reference path.
        self._knots: dict[int, float] = {0: 0.0}
        self._chunks: dict[int, tuple[Row, ...]] = {}
        self._ends: dict[int, int] = {}

    def _knot(self, chunk: int) -> float:
        knot = self._knots.get(chunk)
        if knot is None:
            z = random.Random(f"{self._key}:knot:{chunk}").gauss(0.0, 1.0)
            knot = self._spread * min(max(z, -3.0), 3.0)
            self._knots[chunk] = knot
        return knot

    def _path(self, chunk: int) -> tuple[random.Random, list[float]]:
        """The chunk's generator and its log-price deviation for each of its rows."""
        rng = random.Random(f"{self._key}:{chunk}")
        gauss = rng.gauss
        sigma = self.sigma
        free = self._knot(chunk)
        path = [free]
        for _ in range(_CHUNK):
            free = _PHI * free + sigma * min(max(gauss(0.0, 1.0), -4.0), 4.0)
            path.append(free)
        # Condition the free AR(1) path on ending at the next knot.
        miss = self._knot(chunk + 1) - path[_CHUNK]
        return rng, [y + miss * w for y, w in zip(path[:_CHUNK], _BRIDGE, strict=True)]

    def _last_close(self, chunk: int) -> int:
        """The close of the chunk's last row (computing only its path, not its bars)."""
        close = self._ends.get(chunk)
        if close is None:
            if chunk in self._chunks:
                close = self._chunks[chunk][-1][3]
            else:
                _, path = self._path(chunk)
                (ref,) = self._refs((chunk + 1) * _CHUNK - 1, 1)
                close = snap(math.exp(ref + path[-1]))
            self._ends[chunk] = close
        return close

    def bar(self, day_index: int) -> Row:
        """``(open, high, low, close, volume, value, base)`` of trading day ``day_index``."""
        row = day_index - self.first
        if row < 0:
            raise IndexError("before the ticker's first trading day")
        chunk, j = divmod(row, _CHUNK)
        rows = self._chunks.get(chunk)
        if rows is None:
            rows = self._build(chunk)
            self._chunks[chunk] = rows
        return rows[j]

    def _build(self, chunk: int) -> tuple[Row, ...]:
        rng, path = self._path(chunk)
        gauss = rng.gauss
        uniform = rng.random
        sigma = self.sigma
        exp = math.exp
        log = math.log
        first_row = chunk * _CHUNK
        refs = self._refs(first_row, _CHUNK)
        # The listing day's base is the reference price (an offer price, in effect).
        base = snap(exp(refs[0])) if chunk == 0 else self._last_close(chunk - 1)
        wick = 0.5 * sigma
        rows = []
        for ref, deviation in zip(refs, path, strict=True):
            # Bounded steps keep this inside the band; the clamp is a guard only.
            close = clamp_band(snap(exp(ref + deviation)), base)
            open_ = clamp_band(snap(base * exp(0.4 * sigma * gauss(0.0, 1.0))), base)
            top, bottom = max(open_, close), min(open_, close)
            # Wicks beyond the body: exponential, mean half a daily sigma.
            high = snap(top * exp(-wick * log(1.0 - uniform())), "down")
            low = snap(bottom * exp(wick * log(1.0 - uniform())), "up")
            high = clamp_band(max(high, top), base)
            low = clamp_band(min(low, bottom), base)
            move = abs(close - base) / base
            volume = int(self._turnover_shares * exp(0.35 * gauss(0.0, 1.0)) * (1.0 + 8.0 * move))
            volume = max(volume, 1_000)
            # Traded value from a typical price; the minute bars split exactly this.
            value = (volume * (open_ + high + low + 2 * close) + 2) // 5
            rows.append((open_, high, low, close, volume, value, base))
            base = close
        self._ends[chunk] = base
        return tuple(rows)

    def _refs(self, first_row: int, count: int) -> list[float]:
        """Log reference prices of ``count`` rows from ``first_row``."""
        calendar = self._calendar
        calendar.day_at(self.first + first_row + count)  # grow the calendar if needed
        days = calendar.days[self.first + first_row : self.first + first_row + count]
        origin = self._anchor_ordinal
        return [self._log_ref + _GROWTH_PER_DAY * (d.toordinal() - origin) for d in days]

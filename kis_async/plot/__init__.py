"""Candle charts as PNG files (``pip install 'kis-async[plot]'`` for matplotlib).

Korean market colours: a bar that closed above its open is red, below it blue (the
reverse of the US convention). Volume bars below share the colour of their candle.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kis_async._errors import InvalidRequestError
from kis_async._models import Candle

__all__ = ["DOWN_COLOUR", "FLAT_COLOUR", "UP_COLOUR", "plot_candles"]

#: A close above the open (상승): red.
UP_COLOUR = "#d61f26"
#: A close below the open (하락): blue.
DOWN_COLOUR = "#1f5bd6"
#: Open equals close.
FLAT_COLOUR = "#555555"


def plot_candles(
    candles: Sequence[Candle],
    path: str | Path,
    *,
    title: str | None = None,
    width: int = 1200,
    height: int = 700,
    dpi: int = 100,
) -> Path:
    """Draw ``candles`` (oldest first) with volume below and write a PNG to ``path``.

    The image is exactly ``width`` x ``height`` pixels. Bars are placed one per slot
    (no gaps for weekends and holidays), labelled with their dates (or times for
    minute bars). Returns the path written. Raises InvalidRequestError for no candles.
    """
    if not candles:
        raise InvalidRequestError("plot_candles needs at least one candle")
    if width < 100 or height < 100 or dpi <= 0:
        raise InvalidRequestError("width and height must be at least 100 pixels, dpi positive")
    # The object API with an Agg canvas: no pyplot global state, no display needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(2, 1, height_ratios=(3, 1), hspace=0.05)
    prices = figure.add_subplot(grid[0])
    volume = figure.add_subplot(grid[1], sharex=prices)
    xs = list(range(len(candles)))
    colours = [
        UP_COLOUR
        if c.close_price > c.open_price
        else DOWN_COLOUR
        if c.close_price < c.open_price
        else FLAT_COLOUR
        for c in candles
    ]
    prices.vlines(
        xs, [c.low_price for c in candles], [c.high_price for c in candles], colors=colours
    )
    bottoms = [min(c.open_price, c.close_price) for c in candles]
    heights = [max(abs(c.close_price - c.open_price), 0) for c in candles]
    # A doji still shows: a body at least a hair tall.
    span = max(c.high_price for c in candles) - min(c.low_price for c in candles)
    hair = max(span / 500, 1e-9)
    prices.bar(xs, [max(h, hair) for h in heights], 0.7, bottom=bottoms, color=colours)
    volume.bar(xs, [c.volume for c in candles], 0.7, color=colours)
    prices.set_ylabel("KRW")
    volume.set_ylabel("shares")
    prices.grid(alpha=0.3)
    volume.grid(alpha=0.3)
    if title:
        prices.set_title(title)
    labels = [
        c.timestamp.strftime("%H:%M") if c.time is not None else c.date.isoformat() for c in candles
    ]
    step = max(1, len(candles) // 8)
    ticks = xs[::step]
    volume.set_xticks(ticks, [labels[i] for i in ticks])
    prices.tick_params(labelbottom=False)
    volume.set_xlim(-1, len(candles))
    figure.subplots_adjust(left=0.09, right=0.98, top=0.94, bottom=0.08)
    target = Path(path)
    figure.savefig(target, format="png", dpi=dpi)
    return target

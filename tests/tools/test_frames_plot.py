"""Results as records, pandas and polars frames, and candle charts as PNG files."""

from __future__ import annotations

import struct
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

from kis_async import PriceType
from kis_async.frames import to_pandas, to_polars, to_records
from kis_async.mock import MockKIS
from kis_async.plot import plot_candles
from tests.conftest import on


async def test_daily_candles_become_an_int64_frame_with_a_date_index(mock: MockKIS) -> None:
    async with on(mock) as kis:
        candles = await kis.get_chart_data("005930", PriceType.DAILY, 20)
    records = to_records(candles)
    assert records[0] == {
        "date": candles[0].date,
        "open": candles[0].open_price,
        "high": candles[0].high_price,
        "low": candles[0].low_price,
        "close": candles[0].close_price,
        "volume": candles[0].volume,
        "value": candles[0].trading_value,
    }
    frame = to_pandas(candles)
    assert isinstance(frame.index, pd.DatetimeIndex)
    assert frame.index.name == "date"
    assert list(frame.columns) == ["open", "high", "low", "close", "volume", "value"]
    assert all(str(dtype) == "int64" for dtype in frame.dtypes)
    assert frame["close"].iloc[-1] == candles[-1].close_price
    assert frame.index[-1].date() == candles[-1].date
    polars = to_polars(candles)
    assert polars.columns[0] == "date"
    assert polars.schema["date"] == pl.Date
    assert polars.schema["close"] == pl.Int64
    assert polars["volume"].to_list() == [c.volume for c in candles]


async def test_minute_candles_get_a_kst_datetime_index(mock: MockKIS) -> None:
    async with on(mock) as kis:
        candles = await kis.get_chart_data("005930", PriceType.MINUTE_5, 6)
    frame = to_pandas(candles)
    assert frame.index.name == "datetime"
    assert frame.index[0].utcoffset() == timedelta(hours=9)
    assert frame.index[0].time() == candles[0].time
    polars = to_polars(candles)
    assert isinstance(polars.schema["datetime"], pl.Datetime)
    first = polars["datetime"][0]
    assert first == candles[0].timestamp


async def test_fan_out_results_keep_failures_as_text_and_rates_exact(mock: MockKIS) -> None:
    async with on(mock) as kis:
        results = await kis.get_current_prices(["005930", "999990"], return_exceptions=True)
    rows = to_records(results)
    assert [r["ticker"] for r in rows] == ["005930", "999990"]
    assert isinstance(rows[0]["change_rate"], Decimal)
    assert rows[0]["error"] is None
    assert rows[1]["error"].startswith("KISAPIError")
    frame = to_pandas(results)
    assert frame.index.name == "ticker"
    assert frame.loc["005930", "change_rate"] == results["005930"].change_rate  # type: ignore[union-attr]


async def test_balance_and_order_history_frames(mock: MockKIS) -> None:
    async with on(mock) as kis:
        await kis.buy("005930", 7)
        mock.clock.advance(60)
        balance = await kis.get_balance()
        today = mock.clock.now().date()
        orders = await kis.get_orders(today, today)
    holdings = to_pandas(balance)
    assert holdings.loc["005930", "quantity"] == 7
    assert str(holdings["quantity"].dtype) == "int64"
    history = to_pandas(orders)
    assert history.index.name == "ordered_at"
    assert history["ticker"].tolist() == ["005930"]
    assert history["filled_quantity"].tolist() == [7]
    assert to_polars(orders)["side"].to_list() == ["buy"]


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert data.endswith(b"IEND\xaeB`\x82"), "PNG not complete"
    return width, height


async def test_plot_candles_writes_a_png_of_the_requested_size(
    mock: MockKIS, tmp_path: Path
) -> None:
    async with on(mock) as kis:
        candles = await kis.get_chart_data("005930", PriceType.DAILY, 40)
    ups = [c for c in candles if c.close_price > c.open_price]
    downs = [c for c in candles if c.close_price < c.open_price]
    assert ups
    assert downs
    path = plot_candles(candles, tmp_path / "chart.png", width=640, height=400, dpi=80)
    assert _png_size(path) == (640, 400)


def test_plot_candles_refuses_an_empty_chart(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one candle"):
        plot_candles([], tmp_path / "none.png")
    assert not (tmp_path / "none.png").exists()


def test_records_refuse_what_they_do_not_know() -> None:
    with pytest.raises(TypeError):
        to_records([object()])
    assert to_records([]) == []

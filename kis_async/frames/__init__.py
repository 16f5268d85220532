"""Results as plain records, pandas or polars DataFrames.

``to_records(x)`` needs nothing beyond the standard library; ``to_pandas(x)`` and
``to_polars(x)`` import their library on first use (``pip install 'kis-async[pandas]'`` or
``'kis-async[polars]'``). Each accepts:

- a list of :class:`~kis_async.Candle` (a chart): a ``date`` index for daily and longer
  bars, a KST ``datetime`` index for minute bars, columns ``open high low close volume
  value`` (KRW and shares, int64), ready for mplfinance;
- the dict of a price fan-out (``get_current_prices``): one row per ticker, failures as
  an ``error`` text;
- a :class:`~kis_async.Balance`: one row per holding, indexed by ticker;
- order history (a list of :class:`~kis_async.OrderRecord`): indexed by ``ordered_at``;
- backfilled bars (:class:`kis_async.backfill.StoredBar`): indexed by ticker and date.

Money stays exact: KRW and shares are int64, rates and averages stay ``Decimal``
(an object column; ``.astype(float)`` if you want floats).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from kis_async._models import Candle, CurrentPrice
from kis_async._trading_models import Balance, Holding, OrderRecord

if TYPE_CHECKING:
    import pandas
    import polars

__all__ = ["to_pandas", "to_polars", "to_records"]

Record = dict[str, Any]

_PRICE_COLUMNS = ("open", "high", "low", "close", "volume", "value")


def _candle(candle: Candle) -> Record:
    record: Record = {}
    if candle.time is not None:
        record["datetime"] = candle.timestamp
    else:
        record["date"] = candle.date
    record.update(
        open=candle.open_price,
        high=candle.high_price,
        low=candle.low_price,
        close=candle.close_price,
        volume=candle.volume,
        value=candle.trading_value,
    )
    return record


def _price(ticker: str, price: CurrentPrice | BaseException) -> Record:
    if isinstance(price, BaseException):
        return {"ticker": ticker, "error": f"{type(price).__name__}: {price}"}
    return {
        "ticker": ticker,
        "price": price.current_price,
        "change": price.change_price,
        "change_rate": price.change_rate,
        "open": price.open_price,
        "high": price.high_price,
        "low": price.low_price,
        "volume": price.volume,
        "value": price.trading_value,
        "upper_limit": price.upper_limit,
        "lower_limit": price.lower_limit,
        "error": None,
    }


def _holding(holding: Holding) -> Record:
    return {
        "ticker": holding.stock_code,
        "name": holding.stock_name,
        "quantity": holding.quantity,
        "orderable_quantity": holding.orderable_quantity,
        "avg_price": holding.avg_price,
        "purchase_amount": holding.purchase_amount,
        "current_price": holding.current_price,
        "eval_amount": holding.eval_amount,
        "profit_loss": holding.profit_loss,
        "profit_loss_rate": holding.profit_loss_rate,
    }


def _order(order: OrderRecord) -> Record:
    return {
        "ordered_at": order.ordered_at,
        "order_id": order.order_id,
        "ticker": order.ticker,
        "name": order.stock_name,
        "side": order.side.value,
        "quantity": order.quantity,
        "price": order.price,
        "filled_quantity": order.filled_quantity,
        "average_fill_price": order.average_fill_price,
        "filled_amount": order.filled_amount,
        "remaining_quantity": order.remaining_quantity,
        "cancelled": order.cancelled,
    }


def _one(item: Any) -> Record:
    if isinstance(item, Candle):
        return _candle(item)
    if isinstance(item, Holding):
        return _holding(item)
    if isinstance(item, OrderRecord):
        return _order(item)
    to_record = getattr(item, "to_record", None)
    if callable(to_record):
        record = to_record()
        if isinstance(record, dict):
            return record
    raise TypeError(f"no record form for {type(item).__name__}")


def to_records(data: Any) -> list[Record]:
    """Plain dicts, one per row, in the input's order (no third-party import).

    Accepts candles, a price fan-out dict, a Balance, order records, stored bars, or any
    object with a ``to_record()`` method (or an iterable of them).
    """
    if isinstance(data, Balance):
        return [_holding(h) for h in data.holdings]
    if isinstance(data, Mapping):
        return [_price(str(ticker), value) for ticker, value in data.items()]
    if isinstance(data, Iterable) and not isinstance(data, (str, bytes)):
        return [_one(item) for item in data]
    return [_one(data)]


def _index_of(records: list[Record]) -> list[str]:
    if not records:
        return []
    first = records[0]
    if "datetime" in first:
        return ["datetime"]
    if "ticker" in first and "date" in first:
        return ["ticker", "date"]
    if "date" in first:
        return ["date"]
    if "ordered_at" in first:
        return ["ordered_at"]
    if "ticker" in first:
        return ["ticker"]
    return []


def _int_columns(records: list[Record]) -> list[str]:
    if not records:
        return []
    names = [n for n in records[0] if n not in ("date", "datetime", "ordered_at")]
    return [
        name
        for name in names
        if all(isinstance(r.get(name), int) and not isinstance(r.get(name), bool) for r in records)
    ]


def to_pandas(data: Any) -> pandas.DataFrame:
    """A pandas DataFrame of :func:`to_records` (``pip install 'kis-async[pandas]'``).

    Charts get a ``DatetimeIndex`` named ``date`` (daily and longer) or ``datetime``
    (minute bars, KST), so ``mplfinance.plot(df, type="candle", volume=True)`` takes it
    as it is. KRW and share columns are int64; rates stay ``Decimal``.
    """
    import pandas as pd

    records = to_records(data)
    frame = pd.DataFrame.from_records(records)
    for name in _int_columns(records):
        frame[name] = frame[name].astype("int64")
    if "error" in frame.columns and frame["error"].isna().all():
        frame = frame.drop(columns="error")
    index = _index_of(records)
    if index:
        for name in index:
            if name in ("date", "datetime", "ordered_at"):
                frame[name] = pd.to_datetime(frame[name])
        frame = frame.set_index(index if len(index) > 1 else index[0])
    return frame


def to_polars(data: Any) -> polars.DataFrame:
    """A polars DataFrame of :func:`to_records` (``pip install 'kis-async[polars]'``).

    Polars has no index: the key columns (``date``/``datetime``, ``ticker``) come first.
    KRW and share columns are Int64, dates ``Date``, minute bars ``Datetime`` in KST,
    rates ``Decimal``.
    """
    import polars as pl

    records = to_records(data)
    ints = set(_int_columns(records))
    columns: dict[str, Any] = {}
    names = list(records[0]) if records else []
    if "error" in names and all(r.get("error") is None for r in records):
        names.remove("error")
    index = _index_of(records)
    ordered = [*index, *(n for n in names if n not in index)]
    for name in ordered:
        values = [r.get(name) for r in records]
        if name in ints:
            columns[name] = pl.Series(name, values, dtype=pl.Int64)
        elif values and all(isinstance(v, Decimal) for v in values):
            scale = _scale([v for v in values if isinstance(v, Decimal)])
            columns[name] = pl.Series(name, values, dtype=pl.Decimal(scale=scale))
        else:
            columns[name] = pl.Series(name, values)
    return pl.DataFrame(columns)


def _scale(values: list[Decimal]) -> int:
    exponents = [v.as_tuple().exponent for v in values]
    return max([-e for e in exponents if isinstance(e, int)] + [0])

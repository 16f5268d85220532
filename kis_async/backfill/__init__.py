"""Historical bars for many tickers into SQLite or Parquet, resumably.

``await backfill(client, tickers, start, end, store="bars.sqlite")`` fetches every
ticker's bars concurrently through the client's one rate gate; ``kis backfill`` is the
same from the command line. See :func:`backfill` for the resume and incremental rules.
"""

from __future__ import annotations

from ._backfill import BackfillProgress, BackfillReport, backfill, last_complete_day
from ._master import MasterRecord, read_master
from ._stores import BarStore, ParquetStore, SQLiteStore, StoredBar, merge_ranges

__all__ = [
    "BackfillProgress",
    "BackfillReport",
    "BarStore",
    "MasterRecord",
    "ParquetStore",
    "SQLiteStore",
    "StoredBar",
    "backfill",
    "last_complete_day",
    "merge_ranges",
    "read_master",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = __name__
del _name, _obj

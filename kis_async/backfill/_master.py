"""KIS's stock master files (``kospi_code.mst``, ``kosdaq_code.mst``), read from disk.

Each line, in CP949, is a fixed-width record: the short code (9 characters, the
ticker left-aligned), the standard code (12, the ISIN) and the Korean name, followed
by a fixed tail of flags and figures: 228 characters in the KOSPI file, 222 in the
KOSDAQ one. The tail opens with the security group code (``ST`` stock, ``EF`` ETF,
``RT`` REIT, ``MF``, ``IF``, ``DR``, ``EW``, ...). The files are downloaded separately
(KIS publishes them zipped); this module only reads them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["MasterRecord", "read_master"]

_TAIL = {"KOSPI": 228, "KOSDAQ": 222}
_CODE, _ISIN = 9, 12


@dataclass(frozen=True, slots=True)
class MasterRecord:
    """One security of a master file."""

    ticker: str
    isin: str
    name: str
    #: The security group code: "ST" for a stock, "EF" an ETF, "RT" a REIT, ...
    group: str
    market: Literal["KOSPI", "KOSDAQ"]


def read_master(
    path: str | Path,
    *,
    market: Literal["KOSPI", "KOSDAQ"] | None = None,
    groups: Iterable[str] | None = ("ST",),
) -> list[MasterRecord]:
    """The records of a KOSPI or KOSDAQ ``.mst`` file, in file order.

    ``market`` defaults from the file name (one containing "kosdaq" is KOSDAQ).
    ``groups`` keeps only those security groups (default stocks only; None keeps all).
    Raises ValueError on a line too short for the layout.
    """
    source = Path(path)
    kind: Literal["KOSPI", "KOSDAQ"] = market or (
        "KOSDAQ" if "kosdaq" in source.name.lower() else "KOSPI"
    )
    tail = _TAIL[kind]
    wanted = None if groups is None else set(groups)
    records: list[MasterRecord] = []
    text = source.read_bytes().decode("cp949", errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(line) < tail + _CODE + _ISIN:
            raise ValueError(f"{source.name} line {number}: too short for the {kind} layout")
        head, rest = line[:-tail], line[-tail:]
        record = MasterRecord(
            ticker=head[:_CODE].strip(),
            isin=head[_CODE : _CODE + _ISIN].strip(),
            name=head[_CODE + _ISIN :].strip(),
            group=rest[:2],
            market=kind,
        )
        if wanted is None or record.group in wanted:
            records.append(record)
    return records

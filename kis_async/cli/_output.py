"""How the ``kis`` command speaks: rich tables in a terminal, JSON lines otherwise."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import IO, Any

from pydantic import SecretStr

__all__ = ["Output", "jsonable"]


def jsonable(value: Any) -> Any:
    """``value`` with dates as ISO text, Decimals as exact text, enums as their value."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)  # exact: jq's tonumber reads it
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, SecretStr):
        return "***"  # never a secret's value, whatever asked to print it
    return value


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    value = jsonable(value)
    return str(value)


class Output:
    """Where results go: one JSON object per line (``json``), or tables for people."""

    def __init__(self, stdout: IO[str], stderr: IO[str], *, json_mode: bool) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self.json = json_mode
        self._console: Any = None
        self._error_console: Any = None

    def _rich(self, error: bool = False) -> Any:
        try:
            from rich.console import Console
        except ImportError:
            return None
        if error:
            if self._error_console is None:
                self._error_console = Console(file=self.stderr, highlight=False)
            return self._error_console
        if self._console is None:
            self._console = Console(file=self.stdout, highlight=False, width=120)
        return self._console

    def line(self, record: Mapping[str, Any]) -> None:
        """One JSON object on its own line."""
        self.stdout.write(json.dumps(jsonable(record), ensure_ascii=False) + "\n")
        self.stdout.flush()

    def rows(self, title: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """A list of records: JSON lines, or a table."""
        if self.json:
            for row in rows:
                self.line(row)
            return
        columns = list(rows[0]) if rows else []
        console = self._rich()
        if console is None:
            self.stdout.write(title + "\n")
            for row in rows:
                self.stdout.write("  ".join(f"{k}={_text(row[k])}" for k in columns) + "\n")
            return
        from rich.table import Table

        table = Table(title=title)
        for name in columns:
            table.add_column(name, justify="right" if _numeric(rows, name) else "left")
        for row in rows:
            table.add_row(*(_text(row.get(name)) for name in columns))
        console.print(table)

    def record(self, title: str, record: Mapping[str, Any]) -> None:
        """One record: a JSON line, or a two-column table."""
        if self.json:
            self.line(record)
            return
        console = self._rich()
        if console is None:
            self.stdout.write(title + "\n")
            for key, value in record.items():
                self.stdout.write(f"  {key}: {_text(value)}\n")
            return
        from rich.table import Table

        table = Table(title=title, show_header=False)
        table.add_column("field")
        table.add_column("value")
        for key, value in record.items():
            table.add_row(key, _text(value))
        console.print(table)

    def note(self, text: str) -> None:
        """A remark for people (stderr, so it never mixes into JSON on stdout)."""
        self.stderr.write(text + "\n")
        self.stderr.flush()

    @contextmanager
    def progress(self, description: str, total: int) -> Iterator[Any]:
        """A progress bar on stderr for people; in JSON mode a no-op advancer."""
        console = None if self.json else self._rich(error=True)
        if console is None:
            yield lambda n=1: None
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        ) as bar:
            task = bar.add_task(description, total=total)
            yield lambda n=1: bar.advance(task, n)


def _numeric(rows: Sequence[Mapping[str, Any]], name: str) -> bool:
    return all(isinstance(r.get(name), (int, Decimal)) for r in rows if r.get(name) is not None)

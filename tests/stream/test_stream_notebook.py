"""Jupyter: ``async for`` over a stream with top-level await, in a real (headless) kernel."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

SETUP = """
from datetime import datetime
from kis_async import KST, AsyncKISClient
from kis_async.mock import MockClock, MockKIS

mock = MockKIS(seed=3, clock=MockClock(datetime(2026, 11, 20, 11, 0, tzinfo=KST), frozen=True))
kis = AsyncKISClient.for_mock(mock)
"""
STREAM = """
events = []
async with kis.stream() as stream:
    await stream.subscribe_trades(["005930"])
    mock.clock.advance(60)
    async for event in stream:
        events.append(event)
        if len(events) == 4:
            break
print(len(events), events[-1].price == mock.current_price("005930"), stream.closed)
"""


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_top_level_async_for_over_a_stream_in_a_notebook() -> None:
    notebook = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
    cells = [SETUP, STREAM]
    notebook.cells = [nbformat.v4.new_code_cell(c) for c in cells]  # type: ignore[no-untyped-call]
    NotebookClient(notebook, timeout=60, kernel_name="python3").execute()
    outputs = notebook.cells[1].outputs
    assert [o.get("text", "").strip() for o in outputs if o.output_type == "stream"] == [
        "4 True True"
    ]

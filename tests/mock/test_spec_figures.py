"""docs/mock-spec.md states the mock's figures as the code computes them (one source)."""

from __future__ import annotations

from pathlib import Path

from kis_async.mock._spec import BEGIN, END, figures_markdown, rewrite
from kis_async.mock._universe import UNIVERSE

SPEC = Path(__file__).resolve().parents[2] / "docs" / "mock-spec.md"


def test_the_spec_figures_are_the_codes() -> None:
    text = SPEC.read_text(encoding="utf-8")
    section = text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip()
    assert section == figures_markdown(), (
        "docs/mock-spec.md is out of date: python -m kis_async.mock._spec docs/mock-spec.md"
    )
    assert rewrite(text) == text
    stocks = sum(t.kind == "stock" for t in UNIVERSE)
    assert f"Universe: {len(UNIVERSE)} tickers ({stocks} stocks" in section


def test_no_stock_count_is_written_by_hand_outside_the_figures() -> None:
    text = SPEC.read_text(encoding="utf-8")
    prose = text[: text.index(BEGIN)]
    assert f"{len(UNIVERSE)} stocks" not in prose
    assert "66 stocks" not in prose
    assert "at least 30 real KRX stocks" not in prose

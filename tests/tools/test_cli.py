"""The ``kis`` command as a user drives it: output in both modes, exit codes, prompts."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from kis_async import AsyncKISClient
from kis_async.cli import main
from kis_async.mock import MockClock, MockKIS
from tests.conftest import on
from tests.helpers import ACCOUNT, APP_KEY, APP_SECRET


@pytest.fixture
def mock(mock_clock: MockClock) -> MockKIS:
    """Each command is a new client with its own token: no one-a-minute rule here."""
    return MockKIS(seed=3, clock=mock_clock, rate_limit=float("inf"), token_issue_interval=0.0)


class Run:
    def __init__(self, status: int, stdout: str, stderr: str) -> None:
        self.status = status
        self.stdout = stdout
        self.stderr = stderr

    @property
    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines()]


def kis(mock: MockKIS, *argv: str, stdin: str = "", **settings: Any) -> Run:
    out, err = io.StringIO(), io.StringIO()
    status = main(
        list(argv),
        stdin=io.StringIO(stdin),
        stdout=out,
        stderr=err,
        client_factory=lambda: on(mock, **settings),
    )
    return Run(status, out.getvalue(), err.getvalue())


def test_quote_prints_json_lines_off_a_terminal_and_a_table_with_pretty(mock: MockKIS) -> None:
    run = kis(mock, "quote", "005930", "000660")
    assert run.status == 0
    assert [line["ticker"] for line in run.lines] == ["005930", "000660"]
    assert run.lines[0]["price"] == mock.current_price("005930")
    assert isinstance(run.lines[0]["change_rate"], str)  # a Decimal, exact
    table = kis(mock, "quote", "005930", "--pretty")
    assert table.status == 0
    assert "Quotes" in table.stdout
    assert f"{mock.current_price('005930'):,}" in table.stdout
    with pytest.raises(json.JSONDecodeError):
        json.loads(table.stdout.splitlines()[0])


def test_book_chart_and_info_in_both_modes(mock: MockKIS, tmp_path: Path) -> None:
    book = kis(mock, "book", "005930").lines
    assert len(book) == 1
    assert len(book[0]["asks"]) == 10
    assert book[0]["asks"][0][0] > book[0]["bids"][0][0]
    assert "bid" in kis(mock, "book", "005930", "--pretty").stdout
    png = tmp_path / "c.png"
    chart = kis(mock, "chart", "005930", "--count", "12", "--period", "W", "--plot", str(png))
    assert chart.status == 0
    assert len(chart.lines) == 12
    assert set(chart.lines[0]) == {"date", "open", "high", "low", "close", "volume", "value"}
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert f"wrote {png}" in chart.stderr
    table = kis(mock, "chart", "005930", "--count", "5", "--pretty").stdout
    assert "005930 D bars" in table
    assert table.count("2026-") == 5
    assert kis(mock, "chart", "005930", "--period", "2h").status == 2
    info = kis(mock, "info", "005930").lines[0]
    assert (info["stock_code"], info["market"]) == ("005930", "KOSPI")
    assert "Samsung" in kis(mock, "info", "005930", "--pretty").stdout


def test_prices_from_a_file_and_from_the_universe(mock: MockKIS, tmp_path: Path) -> None:
    listing = tmp_path / "tickers.txt"
    listing.write_text("005930\n# a comment\n000660  # SK hynix\n\n", encoding="utf-8")
    run = kis(mock, "prices", "--file", str(listing))
    assert run.status == 0
    assert [line["ticker"] for line in run.lines] == ["005930", "000660"]
    universe = kis(mock, "prices", "--universe")
    assert len(universe.lines) == len(mock.tickers)
    assert kis(mock, "prices", "--universe", "--pretty").stdout.count("\n") > len(mock.tickers)
    missing = kis(mock, "prices", "--file", str(tmp_path / "none.txt"))
    assert missing.status == 1
    assert missing.stderr.startswith("kis: error: cannot read")


def test_buy_asks_first_and_a_refusal_sends_nothing(mock: MockKIS) -> None:
    refused = kis(mock, "buy", "005930", "3", stdin="n\n")
    assert refused.status == 1
    assert "Place this buy order?" in refused.stderr
    assert mock.orders == []
    accepted = kis(mock, "buy", "005930", "3", stdin="y\n")
    shown = kis(mock, "buy", "005930", "1", "--pretty", stdin="n\n")
    assert "Order to place" in shown.stdout
    assert "market" in shown.stdout
    assert accepted.status == 0
    (order,) = mock.orders
    assert accepted.lines[-1]["order_id"].lstrip("0") == str(order.order_id).lstrip("0")
    assert accepted.lines[-1]["quantity"] == 3
    silent = kis(mock, "sell", "005930", "1", "--yes")
    assert silent.status == 0
    assert "?" not in silent.stderr
    assert len(mock.orders) == 2


def test_real_money_needs_the_confirmation_variable_before_any_prompt(mock: MockKIS) -> None:
    run = kis(mock, "buy", "005930", "1", "--yes", env="real", production_confirmed=False)
    assert run.status == 1
    assert "KIS_PRODUCTION_CONFIRMED=YES" in run.stderr
    assert run.stderr.count("\n") == 1
    assert mock.orders == []


def test_cancel_shows_the_order_and_cancels_only_when_confirmed(mock: MockKIS) -> None:
    low = mock.current_price("005930") * 8 // 10 // 100 * 100
    placed = kis(mock, "buy", "005930", "2", str(low), "--yes").lines[-1]
    order_id = placed["order_id"]
    refused = kis(mock, "cancel", order_id, stdin="no\n")
    assert refused.status == 1
    assert order_id in refused.stderr
    assert len(mock.orders) == 1
    done = kis(mock, "cancel", order_id, stdin="yes\n")
    assert done.status == 0
    assert done.lines[-1]["kind"] == "cancel"
    assert len(mock.orders) == 2
    again = kis(mock, "cancel", order_id, "--yes")
    assert again.status == 1
    assert "nothing left to cancel" in again.stderr
    unknown = kis(mock, "cancel", "99999999", "--yes")
    assert unknown.status == 1
    assert "no order 99999999" in unknown.stderr


def test_balance_and_orders(mock: MockKIS) -> None:
    kis(mock, "buy", "005930", "4", "--yes")
    mock.clock.advance(60)
    (balance,) = kis(mock, "balance").lines
    assert balance["holdings"][0]["ticker"] == "005930"
    assert balance["holdings"][0]["quantity"] == 4
    assert balance["summary"]["deposit"] < 100_000_000
    assert "Account (KRW)" in kis(mock, "balance", "--pretty").stdout
    today = mock.clock.now().date().isoformat()
    orders = kis(mock, "orders", "--from", today, "--to", today).lines
    assert [(o["ticker"], o["side"], o["quantity"]) for o in orders] == [("005930", "buy", 4)]
    table = kis(mock, "orders", "--from", today, "--to", today, "--pretty").stdout
    assert "Orders" in table
    assert "005930" in table
    assert kis(mock, "orders", "--from", "yesterday").status == 2


def test_errors_are_one_line_unless_debug(mock: MockKIS) -> None:
    bad = kis(mock, "quote", "12")
    assert bad.status == 1
    assert bad.stdout == ""
    assert bad.stderr.startswith("kis: error: InvalidRequestError: ticker '12'")
    assert bad.stderr.count("\n") == 1
    debug = kis(mock, "quote", "12", "--debug")
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.status == 1
    assert kis(mock, "no-such-command").status == 2


def test_doctor_reports_every_check_and_never_a_secret(mock: MockKIS, tmp_path: Path) -> None:
    mock.add_app(APP_KEY, APP_SECRET, account_no=ACCOUNT)
    secrets = {"app_key": APP_KEY, "app_secret": APP_SECRET, "account_no": ACCOUNT}
    run = kis(mock, "doctor", token_cache_dir=tmp_path / "tokens", **secrets)
    assert run.status == 0, run.stdout + run.stderr
    settings, *checks = run.lines
    assert settings["settings"]["app_key"] == "set (hidden)"
    by_name = {c["check"]: c for c in checks}
    assert set(by_name) >= {"env", "REST", "WebSocket", "token cache", "clock", "rate budget"}
    assert by_name["REST"]["status"] == "ok"
    assert by_name["WebSocket"]["status"] == "ok"
    assert "expires" in by_name["token cache"]["detail"]
    assert "mode 600" in by_name["token cache"]["detail"]
    assert "+0.0 s" in by_name["clock"]["detail"] or "-0.0 s" in by_name["clock"]["detail"]
    pretty = kis(mock, "doctor", "--pretty", token_cache_dir=tmp_path / "tokens", **secrets)
    token = json.loads(next((tmp_path / "tokens").glob("*.json")).read_text())["access_token"]
    for text in (run.stdout, run.stderr, pretty.stdout, pretty.stderr):
        for secret in (APP_KEY, APP_SECRET, ACCOUNT, ACCOUNT.replace("-", ""), token):
            assert secret not in text
    assert "reused, none issued" not in by_name["token cache"]["detail"]
    assert "Doctor" in pretty.stdout


def test_doctor_fails_when_the_server_does_not_answer() -> None:
    out, err = io.StringIO(), io.StringIO()

    def unreachable() -> AsyncKISClient:
        from kis_async import KISSettings

        settings = KISSettings(
            _env_file=None,
            env="mock",
            base_url="http://127.0.0.1:9",  # discard port: nothing listens
            token_cache_dir=None,
            max_retries=0,
            timeout=2.0,
        )
        return AsyncKISClient(settings)

    status = main(["doctor"], stdout=out, stderr=err, client_factory=unreachable)
    assert status == 1
    checks = {c["check"]: c for c in map(json.loads, out.getvalue().splitlines()[1:])}
    assert checks["REST"]["status"] == "FAIL"
    assert checks["WebSocket"]["status"] == "FAIL"
    assert checks["clock"]["status"] == "FAIL"


def test_mock_serve_hands_every_option_to_the_mocks_own_command_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import kis_async.mock.__main__ as mock_cli

    assert main(["mock", "serve", "--help"]) == 0
    assert "--rate-limit" in capsys.readouterr().out
    seen: list[list[str]] = []

    def fake_main(argv: list[str]) -> int:
        seen.append(list(argv))
        return 0

    monkeypatch.setattr(mock_cli, "main", fake_main)
    assert main(["mock", "serve", "--port", "8123", "--some-new-option", "x"]) == 0
    assert seen == [["--port", "8123", "--some-new-option", "x"]]


def _subprocess_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIS_")}
    env["KIS_TOKEN_CACHE_DIR"] = "none"
    return env


def test_python_dash_m_kis_async_runs_over_the_embedded_mock(tmp_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "kis_async", "quote", "005930"],
        capture_output=True, text=True, timeout=60, env=_subprocess_env(), cwd=tmp_path,
        check=False,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    (line,) = ok.stdout.splitlines()
    assert json.loads(line)["ticker"] == "005930"
    bad = subprocess.run(
        [sys.executable, "-m", "kis_async", "book", "ABC"],
        capture_output=True, text=True, timeout=60, env=_subprocess_env(), cwd=tmp_path,
        check=False,
    )  # fmt: skip
    assert bad.returncode == 1
    assert bad.stdout == ""
    assert bad.stderr.startswith("kis: error:")
    assert len(bad.stderr.splitlines()) == 1


def test_backfill_command_writes_json_lines_and_a_summary(mock: MockKIS, tmp_path: Path) -> None:
    store = tmp_path / "bars.sqlite"
    argv = ["backfill", "005930", "000660", "--start", "2026-06-01", "--end", "2026-06-30"]
    run = kis(mock, *argv, "--store", str(store))
    assert run.status == 0
    *tickers, summary = run.lines
    assert sorted(t["ticker"] for t in tickers) == ["000660", "005930"]
    assert {t["status"] for t in tickers} == {"done"}
    assert summary["summary"] is True
    assert summary["bars_written"] > 30
    again = kis(mock, *argv, "--store", str(store), "--pretty")
    assert again.status == 0
    assert "Backfill" in again.stdout


def _ticking(mock: MockKIS) -> tuple[threading.Event, threading.Thread]:
    """Move the mock's market a minute on every 20 ms, from another thread (the
    command runs its own event loop in this one)."""
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(0.02):
            mock.clock.advance(60)

    thread = threading.Thread(target=tick)
    thread.start()
    return stop, thread


def test_stream_prints_trades_and_books_and_stops_after_count(mock: MockKIS) -> None:
    stop, thread = _ticking(mock)
    try:
        run = kis(mock, "stream", "005930", "000660", "--book", "--count", "12", "--seconds", "20")
        pretty = kis(mock, "stream", "005930", "--count", "2", "--seconds", "20", "--pretty")
    finally:
        stop.set()
        thread.join()
    assert run.status == 0, run.stderr
    assert len(run.lines) == 12
    assert {line["type"] for line in run.lines} == {"trade", "book"}
    assert {line["ticker"] for line in run.lines} == {"005930", "000660"}
    trade = next(line for line in run.lines if line["type"] == "trade")
    assert isinstance(trade["price"], int)
    assert pretty.status == 0
    assert len(pretty.stdout.splitlines()) == 2
    assert "005930" in pretty.stdout
    assert "KRW" in pretty.stdout
    assert kis(mock, "stream", "005930", "--count", "0").status == 2


# -- kis engine ----------------------------------------------------------------------------

ORDER_CASH = "/uapi/domestic-stock/v1/trading/order-cash"


@pytest.fixture
def engine_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Engine settings as a user sets them: no waiting for fills, no take-profit, and a
    stop so tight that a fresh position (its cost includes the commission) is past it."""
    monkeypatch.setenv("KIS_ENGINE_FILL_TIMEOUT", "0")
    monkeypatch.setenv("KIS_ENGINE_TAKE_PROFIT", "")
    monkeypatch.setenv("KIS_ENGINE_STOP_LOSS", "-0.0001")


def engine(mock: MockKIS, ledger: Path, *argv: str, stdin: str = "", **settings: Any) -> Run:
    return kis(
        mock, "engine", *argv, "--ledger", str(ledger), stdin=stdin, order_settle_seconds=0,
        **settings,
    )  # fmt: skip


def posts(mock: MockKIS) -> int:
    return mock.stats.requests[ORDER_CASH]


@pytest.mark.usefixtures("engine_env")
def test_engine_buy_asks_first_and_positions_and_portfolio_show_it(
    mock: MockKIS, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.db"
    refused = engine(mock, ledger, "buy", "005930", "1000000", stdin="n\n")
    assert refused.status == 1
    assert "Place this buy?" in refused.stderr
    assert "'amount_krw': 1000000" in refused.stderr  # the plan, shown before asking
    assert refused.stdout == ""
    assert posts(mock) == 0
    shown = engine(mock, ledger, "buy", "005930", "1000000", "--pretty", stdin="\n")
    assert shown.status == 1
    assert "Engine buy" in shown.stdout
    assert "about_shares" in shown.stdout
    assert posts(mock) == 0
    bought = engine(mock, ledger, "buy", "005930", "1000000", stdin="y\n")
    assert bought.status == 0, bought.stderr
    assert posts(mock) == 1
    (trade,) = bought.lines
    assert (trade["ticker"], trade["side"], trade["status"]) == ("005930", "buy", "filled")
    assert trade["filled"] * int(trade["average_price"]) + trade["commission"] <= 1_000_000
    assert trade["cash_flow"] == -(trade["amount"] + trade["commission"])
    (position,) = engine(mock, ledger, "positions").lines
    assert (position["ticker"], position["quantity"]) == ("005930", trade["filled"])
    assert position["last_price"] == mock.current_price("005930")
    assert "Engine positions" in engine(mock, ledger, "positions", "--pretty").stdout
    (summary,) = engine(mock, ledger, "portfolio").lines
    assert summary["cash"] == 100_000_000 + trade["cash_flow"]
    assert summary["fees_paid"] == trade["commission"]
    assert [p["ticker"] for p in summary["positions"]] == ["005930"]
    pretty = engine(mock, ledger, "portfolio", "--pretty")
    assert pretty.status == 0
    assert "Portfolio" in pretty.stdout
    assert f"{summary['cash']:,}" in pretty.stdout
    assert posts(mock) == 1
    small = engine(mock, ledger, "buy", "005930", "1000", "--yes")
    assert small.status == 1
    assert "does not buy one share" in small.stderr
    assert engine(mock, ledger, "buy", "005930", "0").status == 2
    assert posts(mock) == 1


@pytest.mark.usefixtures("engine_env")
def test_engine_sell_asks_first_and_refuses_what_is_not_held(mock: MockKIS, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.db"
    none = engine(mock, ledger, "sell", "005930", "--yes")
    assert none.status == 1
    assert none.stderr.endswith("kis: error: no open position in 005930; nothing was sent\n")
    held = engine(mock, ledger, "buy", "005930", "1000000", "--yes").lines[0]["filled"]
    assert posts(mock) == 1
    refused = engine(mock, ledger, "sell", "005930", "2", stdin="no\n")
    assert refused.status == 1
    assert "Place this sell?" in refused.stderr
    assert posts(mock) == 1
    too_many = engine(mock, ledger, "sell", "005930", str(held + 1), "--yes")
    assert too_many.status == 1
    assert f"{held:,} held" in too_many.stderr
    part = engine(mock, ledger, "sell", "005930", "2", stdin="yes\n")
    assert part.status == 0, part.stderr
    assert posts(mock) == 2
    assert (part.lines[0]["side"], part.lines[0]["filled"]) == ("sell", 2)
    rest = engine(mock, ledger, "sell", "005930", "--yes", "--pretty")
    assert rest.status == 0
    assert "Engine sold" in rest.stdout
    assert posts(mock) == 3
    assert engine(mock, ledger, "positions").lines == []
    assert sum(o.quantity for o in mock.orders if o.side == "sell") == held


@pytest.mark.usefixtures("engine_env")
def test_engine_check_exits_asks_before_selling_and_dry_run_sends_nothing(
    mock: MockKIS, tmp_path: Path
) -> None:
    ledger, dry = tmp_path / "ledger.db", tmp_path / "dry.db"
    quiet = engine(mock, ledger, "check-exits")
    assert (quiet.status, quiet.stdout) == (0, "")
    assert "no position is past an exit rule" in quiet.stderr
    simulated = engine(mock, dry, "buy", "000660", "1000000", "--dry-run", "--yes")
    assert simulated.lines[0]["simulated"] is True
    exits = engine(mock, dry, "check-exits", "--dry-run")
    assert exits.status == 0
    assert "?" not in exits.stderr  # a dry run does not ask
    (decision,) = exits.lines
    assert (decision["ticker"], decision["reason"]) == ("000660", "stop_loss")
    assert decision["sold"] == simulated.lines[0]["filled"]
    assert posts(mock) == 0  # nothing of the dry run reached the broker
    engine(mock, ledger, "buy", "005930", "1000000", "--yes")
    assert posts(mock) == 1
    refused = engine(mock, ledger, "check-exits", stdin="n\n")
    assert refused.status == 1
    assert "stop_loss" in refused.stderr
    assert "Sell 1 position(s)?" in refused.stderr
    assert posts(mock) == 1
    sold = engine(mock, ledger, "check-exits", "--pretty", stdin="y\n")
    assert sold.status == 0, sold.stderr
    assert "Exits" in sold.stdout
    assert "stop_loss" in sold.stdout
    assert posts(mock) == 2
    assert engine(mock, ledger, "positions").lines == []


@pytest.mark.usefixtures("engine_env")
def test_engine_reconcile_prints_what_differed_in_both_modes(mock: MockKIS, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.db"
    (clean,) = engine(mock, ledger, "reconcile").lines
    assert clean["in_agreement"] is True
    assert clean["differences"] == []
    kis(mock, "buy", "005930", "3", "--yes")  # outside the engine: its ledger never saw it
    mock.clock.advance(60)
    drift = engine(mock, ledger, "reconcile")
    assert drift.status == 0
    (report,) = drift.lines
    assert report["in_agreement"] is False
    kinds = {(d["kind"], d["ticker"]) for d in report["differences"]}
    assert ("position", "005930") in kinds
    position = next(d for d in report["differences"] if d["kind"] == "position")
    assert (position["ledger"], position["broker"]) == (0, 3)
    (again,) = engine(mock, ledger, "reconcile").lines
    assert again["in_agreement"] is True
    pretty = engine(mock, ledger, "reconcile", "--pretty")
    assert "Reconcile" in pretty.stdout
    assert "the ledger agrees with the broker" in pretty.stderr


@pytest.mark.usefixtures("engine_env")
def test_engine_run_reports_each_round_and_the_exits_it_made(mock: MockKIS, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.db"
    engine(mock, ledger, "buy", "005930", "1000000", "--yes")
    run = engine(mock, ledger, "run", "--interval", "0", "--rounds", "2")
    assert run.status == 0, run.stderr
    trade, first, second = run.lines
    assert (trade["type"], trade["round"], trade["side"]) == ("trade", 1, "sell")
    assert trade["reason"] == "stop_loss"
    assert (first["type"], first["round"], first["trades"]) == ("round", 1, 1)
    assert first["prices"] == {"005930": mock.current_price("005930")}
    assert (second["round"], second["trades"], second["prices"]) == (2, 0, {})
    assert posts(mock) == 2
    pretty = engine(mock, ledger, "run", "--interval", "0", "--rounds", "1", "--pretty")
    assert pretty.stdout == "round 1: no positions (KRW)\n"
    assert engine(mock, ledger, "run", "--rounds", "1").status == 2  # --interval is required


def test_engine_orders_on_real_money_need_the_confirmation_variable(
    mock: MockKIS, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.db"
    for argv in (("buy", "005930", "100000"), ("sell", "005930"), ("check-exits",)):
        run = engine(mock, ledger, *argv, "--yes", env="real", production_confirmed=False)
        assert run.status == 1
        assert run.stderr.count("\n") == 1
        assert "KIS_PRODUCTION_CONFIRMED=YES" in run.stderr
    assert not ledger.exists()
    assert posts(mock) == 0


def test_engine_run_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    import signal

    ledger = tmp_path / "ledger.db"
    with subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "kis_async", "engine", "run", "--interval", "0.05",
         "--ledger", str(ledger)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_subprocess_env(),
        cwd=tmp_path,
    ) as process:  # fmt: skip
        assert process.stdout is not None
        first = json.loads(process.stdout.readline())  # the loop is running
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    assert (first["type"], first["round"]) == ("round", 1)
    assert process.returncode == 130
    assert stderr.endswith("kis: interrupted\n")
    assert "Traceback" not in stderr
    assert all(json.loads(line)["type"] == "round" for line in stdout.splitlines())
    assert ledger.exists()
    assert not Path(f"{ledger}-wal").exists() or Path(f"{ledger}-wal").stat().st_size == 0

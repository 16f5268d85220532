"""Real-time stream: trade ticks parsed and delivered per second, and send-to-receive latency.

    python benchmarks/stream.py [--frames 25000] [--minutes 300] [--tickers 40]

1. Parse only: ``parse_data_frame`` + ``parse_records`` over the mock's own H0STCNT0
   frames (4 records each), no socket, no queue. Records per second on one core.
2. Delivered: the mock feed bursts ``--frames`` frames (4 trade records each) on a
   40-subscription session over the in-memory WebSocket; one consumer reads them with
   ``async for``. Trade ticks per second from the burst to the last tick consumed,
   mock and client sharing one core and one event loop. Target: >= 50,000 ticks/s.
3. Latency: the mock clock walks ``--minutes`` minute bars for ``--tickers`` tickers,
   so the feed sends frames as a session would; for every tick, the time from the
   mock's send (``SentFrame.at``) to the consumer's receive, median and p99.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import datetime

from kis_async import KST, AsyncKISClient, TradeTick
from kis_async.mock import MockClock, MockKIS
from kis_async.stream._frames import parse_data_frame, parse_records

#: A Friday, just after the open: a whole session of bars ahead.
SESSION = datetime(2026, 11, 20, 9, 0, tzinfo=KST)
TARGET = 50_000.0


def _mock() -> MockKIS:
    return MockKIS(seed=0, clock=MockClock(SESSION, frozen=True), rate_limit=float("inf"))


async def _frames(count: int) -> list[str]:
    """``count`` H0STCNT0 frames as the mock sends them (first 380 distinct bars, repeated)."""
    mock = _mock()
    texts: list[str] = []
    async with AsyncKISClient.for_mock(mock) as kis, kis.stream() as stream:
        await stream.subscribe_trades(["005930"])
        mock.clock.advance(6 * 3600)
        while sum(mock.stream.stats.frames.values()) < 1:  # noqa: ASYNC110 - a counter
            await asyncio.sleep(0.01)
    for frame in mock.stream.sent:
        for start in range(0, len(frame.records), 4):
            chunk = frame.records[start : start + 4]
            texts.append(f"0|H0STCNT0|{len(chunk):03d}|{'^'.join(chunk)}")
    return [texts[i % len(texts)] for i in range(count)]


def parse_only(frames: list[str], rounds: int) -> float:
    records = sum(int(text.split("|", 3)[2]) for text in frames)
    best = 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        for text in frames:
            frame = parse_data_frame(text)
            parse_records(frame.tr_id, frame.count, frame.payload)
        best = max(best, records / (time.perf_counter() - started))
    return best


async def delivered(frames: int) -> tuple[float, int]:
    mock = _mock()
    async with (
        AsyncKISClient.for_mock(mock) as kis,
        kis.stream(queue_size=frames * 4 + 10) as stream,
    ):
        await stream.subscribe_trades(list(mock.tickers[:40]))
        total = frames * mock.stream.trades_per_bar
        done = asyncio.Event()
        seen = 0

        async def consume() -> None:
            nonlocal seen
            async for event in stream:
                if isinstance(event, TradeTick):
                    seen += 1
                    if seen == total:
                        done.set()
                        return

        consumer = asyncio.create_task(consume())
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        mock.stream.burst(frames)
        await done.wait()
        elapsed = time.perf_counter() - started
        consumer.cancel()
    return total / elapsed, stream.stats.dropped


async def latency(minutes: int, tickers: int) -> tuple[float, float, int]:
    mock = _mock()
    received: list[tuple[str, str, float]] = []
    async with AsyncKISClient.for_mock(mock) as kis, kis.stream(queue_size=1_000_000) as stream:
        codes = list(mock.tickers[:tickers])
        await stream.subscribe_trades(codes)

        async def consume() -> None:
            async for event in stream:
                if isinstance(event, TradeTick):
                    received.append((event.ticker, f"{event.time:%H%M%S}", time.perf_counter()))

        consumer = asyncio.create_task(consume())
        expected = minutes * tickers * mock.stream.trades_per_bar
        for _ in range(minutes):
            mock.clock.advance(60)
            await asyncio.sleep(mock.stream.pump_interval)
        while len(received) < expected:  # noqa: ASYNC110 - a counter
            await asyncio.sleep(0.01)
        consumer.cancel()
    sent_at: dict[tuple[str, str], float] = {}
    for frame in mock.stream.sent:
        for record in frame.records:
            fields = record.split("^", 2)
            sent_at[(fields[0], fields[1])] = frame.at
    lags = sorted(at - sent_at[(code, hhmmss)] for code, hhmmss, at in received)
    median = statistics.median(lags)
    p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
    return median, p99, len(lags)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=25_000)
    parser.add_argument("--minutes", type=int, default=300)
    parser.add_argument("--tickers", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    frames = asyncio.run(_frames(args.frames))
    rate = parse_only(frames, args.rounds)
    print(f"parse only: {rate:,.0f} trade records/s (best of {args.rounds})")
    ticks, dropped = asyncio.run(delivered(args.frames))
    print(
        f"delivered: {ticks:,.0f} trade ticks/s from the mock feed to one consumer "
        f"({args.frames * 4:,} ticks, {dropped} dropped; target >= {TARGET:,.0f})"
    )
    median, p99, count = asyncio.run(latency(args.minutes, args.tickers))
    print(
        f"latency mock send -> consumer receive over {count:,} ticks "
        f"({args.tickers} tickers x {args.minutes} bars): "
        f"median {median * 1e6:,.0f} us, p99 {p99 * 1e6:,.0f} us"
    )
    ok = ticks >= TARGET
    print("target met" if ok else "TARGET MISSED")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()

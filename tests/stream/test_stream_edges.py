"""Edges of the stream: the cap under concurrent subscribes, a notice right behind its ack,
secrets in a notice's repr."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from kis_async import (
    AsyncKISClient,
    FillNotice,
    SubscriptionLimitError,
    SubscriptionTimeoutError,
)
from kis_async.mock import DEMO_HTS_ID, MockKIS
from kis_async.mock._stream import encrypt_payload
from kis_async.stream import StreamProtocolError
from kis_async.stream._columns import FILL_COLUMNS, TRADE_COLUMNS
from kis_async.stream._frames import decrypt, parse_data_frame, parse_records
from kis_async.stream._transport import ConnectionEnded

from .conftest import SAFETY, take, until


async def test_concurrent_subscribes_cannot_pass_the_cap_together(mock: MockKIS) -> None:
    codes = list(mock.tickers[:60])
    async with AsyncKISClient.for_mock(mock) as kis, kis.stream() as stream:
        results = await asyncio.gather(
            stream.subscribe_trades(codes[:30]),
            stream.subscribe_trades(codes[30:60]),
            return_exceptions=True,
        )
        refused = [r for r in results if isinstance(r, BaseException)]
        assert len(refused) == 1
        assert isinstance(refused[0], SubscriptionLimitError)
        assert refused[0].msg_cd == ""  # refused here, not by the server
        # Nothing beyond the cap reached the server.
        assert mock.stream.stats.acks["OPSP0008"] == 0
        assert sum(mock.stream.stats.acks.values()) == 30
        assert len(stream.subscriptions) == 30


def _notice_record(hts_id: str) -> str:
    values = dict.fromkeys(FILL_COLUMNS, "")
    values.update(
        CUST_ID=hts_id,
        ACNT_NO="5000000001",
        ODER_NO="0000000042",
        SELN_BYOV_CLS="02",
        RCTF_CLS="0",
        STCK_SHRN_ISCD="005930",
        CNTG_QTY="3",
        CNTG_UNPR="73100",
        STCK_CNTG_HOUR="101501",
        RFUS_YN="0",
        CNTG_YN="2",
        ACPT_YN="2",
        ODER_QTY="3",
        ORD_COND_PRC="0",
        ODER_PRC="73100",
    )
    return "^".join(values[c] for c in FILL_COLUMNS)


class _Conn:
    """A server that answers a fill subscription with its ack and, in the same breath,
    an encrypted notice (as a fill that happens on subscribe would come)."""

    def __init__(self, key: str, iv: str, hts_id: str) -> None:
        self.key, self.iv, self.hts_id = key, iv, hts_id
        self.inbox: asyncio.Queue[str | None] = asyncio.Queue()

    async def send(self, text: str) -> None:
        request = json.loads(text)["body"]["input"]
        tr_id, tr_key = request["tr_id"], request["tr_key"]
        ack = {
            "header": {"tr_id": tr_id, "tr_key": tr_key, "encrypt": "Y"},
            "body": {
                "rt_cd": "0",
                "msg_cd": "OPSP0000",
                "msg1": "SUBSCRIBE SUCCESS",
                "output": {"iv": self.iv, "key": self.key},
            },
        }
        self.inbox.put_nowait(json.dumps(ack))
        cipher = encrypt_payload(_notice_record(self.hts_id), self.key, self.iv)
        self.inbox.put_nowait(f"1|{tr_id}|001|{cipher}")

    async def recv(self) -> str:
        text = await self.inbox.get()
        if text is None:
            raise ConnectionEnded(1011, "dropped")
        return text

    async def pong(self, data: str) -> None:
        return None

    async def close(self) -> None:
        self.inbox.put_nowait(None)


class _Transport:
    def __init__(self, hts_id: str) -> None:
        self.hts_id = hts_id
        self.conns: list[_Conn] = []

    async def connect(self, url: str, *, open_timeout: float) -> _Conn:
        # Every session has its own key and IV, as KIS's acks do.
        n = len(self.conns)
        conn = _Conn(chr(ord("a") + n) * 32, str(n) * 16, self.hts_id)
        self.conns.append(conn)
        return conn


async def test_a_notice_right_behind_its_ack_decrypts_on_every_session(mock: MockKIS) -> None:
    transport = _Transport("mockdemo")
    async with (
        AsyncKISClient.for_mock(mock) as kis,
        kis.stream(transport=transport, backoff_initial=0.01, backoff_max=0.02) as stream,
    ):
        fills = stream.fills()
        await stream.subscribe_fills()
        (first,) = await take(fills, 1)
        # A new session hands out a new key: its first notice must use it, not the old one.
        await transport.conns[0].close()
        await until(lambda: stream.stats.reconnects == 1)
        (second,) = await take(fills, 1)
    assert stream.stats.bad_frames == 0
    assert (first.order_no, first.quantity, first.price) == ("0000000042", 3, 73100)
    assert (second.order_no, second.quantity) == ("0000000042", 3)


def test_a_notice_repr_hides_the_hts_id_and_account() -> None:
    (notice,) = parse_records("H0STCNI0", 1, _notice_record("myhtsid7"))
    assert isinstance(notice, FillNotice)
    assert notice.customer_id == "myhtsid7"
    for text in (repr(notice), str(notice)):
        assert "myhtsid7" not in text
        assert "5000000001" not in text


async def test_a_fill_notice_from_the_mock_shows_no_hts_id(mock: MockKIS) -> None:
    async with AsyncKISClient.for_mock(mock) as kis, kis.stream() as stream:
        fills = stream.fills()
        await stream.subscribe_fills()
        await kis.buy("005930", 1)
        (notice,) = await take(fills, 1)
    assert notice.customer_id == DEMO_HTS_ID
    assert DEMO_HTS_ID not in repr(notice)


def _trade_record(**fields: str) -> str:
    values = dict.fromkeys(TRADE_COLUMNS, "0")
    values.update(
        MKSC_SHRN_ISCD="005930",
        STCK_CNTG_HOUR="093015",
        STCK_PRPR="73100",
        BSOP_DATE="20261120",
        PRDY_VRSS_SIGN="2",
        OPRC_VRSS_PRPR_SIGN="2",
        HGPR_VRSS_PRPR_SIGN="3",
        LWPR_VRSS_PRPR_SIGN="2",
    )
    values.update(fields)
    return "^".join(values[c] for c in TRADE_COLUMNS)


@pytest.mark.parametrize(
    "fields",
    [
        {"STCK_CNTG_HOUR": "256000"},  # no such hour
        {"BSOP_DATE": "20261340"},  # no such month
        {"STCK_PRPR": "NaN"},
        {"STCK_PRPR": "Infinity"},
    ],
)
def test_an_impossible_value_is_a_protocol_error(fields: dict[str, str]) -> None:
    with pytest.raises(StreamProtocolError):
        parse_records("H0STCNT0", 1, _trade_record(**fields))


def test_a_frame_count_that_is_no_number_is_a_protocol_error() -> None:
    with pytest.raises(StreamProtocolError):
        parse_data_frame("0|H0STCNT0|\u00b2|x")  # a digit to str.isdigit, not to int()


class _TradeConn(_Conn):
    """Answers a trade subscription with its ack, a record with an impossible time, then
    a good record."""

    async def send(self, text: str) -> None:
        request = json.loads(text)["body"]["input"]
        tr_id, tr_key = request["tr_id"], request["tr_key"]
        ack = {
            "header": {"tr_id": tr_id, "tr_key": tr_key, "encrypt": "N"},
            "body": {"rt_cd": "0", "msg_cd": "OPSP0000", "msg1": "SUBSCRIBE SUCCESS"},
        }
        self.inbox.put_nowait(json.dumps(ack))
        self.inbox.put_nowait(f"0|{tr_id}|001|{_trade_record(STCK_CNTG_HOUR='256000')}")
        self.inbox.put_nowait(f"0|{tr_id}|001|{_trade_record()}")


class _TradeTransport(_Transport):
    async def connect(self, url: str, *, open_timeout: float) -> _Conn:
        conn = _TradeConn("k" * 32, "0" * 16, self.hts_id)
        self.conns.append(conn)
        return conn


async def test_a_record_with_an_impossible_value_is_skipped_not_a_reconnect(
    mock: MockKIS,
) -> None:
    transport = _TradeTransport("")
    async with (
        AsyncKISClient.for_mock(mock) as kis,
        kis.stream(transport=transport, backoff_initial=0.01) as stream,
    ):
        ticks = stream.trades()
        await stream.subscribe_trades(["005930"])
        (tick,) = await take(ticks, 1)
        assert stream.stats.bad_frames == 1
        assert stream.stats.connection_attempts == 1
        assert stream.stats.disconnects == 0
    assert tick.price == 73100


class _LateConn(_Conn):
    """Leaves the first subscribe unanswered; answers it late (a refusal) just before
    the answer to the next one."""

    def __init__(self) -> None:
        super().__init__("k" * 32, "0" * 16, "")
        self.requests: list[tuple[str, str]] = []

    def _answer(self, tr_id: str, tr_key: str, rt_cd: str, msg_cd: str) -> str:
        header = {"tr_id": tr_id, "tr_key": tr_key, "encrypt": "N"}
        return json.dumps({"header": header, "body": {"rt_cd": rt_cd, "msg_cd": msg_cd}})

    async def send(self, text: str) -> None:
        request = json.loads(text)["body"]["input"]
        self.requests.append((request["tr_id"], request["tr_key"]))
        if len(self.requests) == 1:
            return
        first, this = self.requests[0], self.requests[-1]
        self.inbox.put_nowait(self._answer(*first, "1", "OPSP0007"))
        self.inbox.put_nowait(self._answer(*this, "0", "OPSP0000"))


class _LateTransport(_Transport):
    async def connect(self, url: str, *, open_timeout: float) -> _Conn:
        conn = _LateConn()
        self.conns.append(conn)
        return conn


async def test_a_late_answer_to_one_request_is_not_taken_for_another(mock: MockKIS) -> None:
    transport = _LateTransport("")
    async with (
        AsyncKISClient.for_mock(mock) as kis,
        kis.stream(transport=transport, ack_timeout=0.05) as stream,
    ):
        with pytest.raises(SubscriptionTimeoutError):
            await stream.subscribe_trades(["005930"])
        (book,) = await stream.subscribe_order_book(["000660"])
        assert stream.subscriptions == (book,)


@pytest.mark.parametrize(
    ("settings", "url"),
    [
        (
            {"env": "real", "base_url": "https://openapi.koreainvestment.com:9443"},
            "ws://ops.koreainvestment.com:21000/tryitout",
        ),
        (
            {"env": "real", "api_base_url_real": "https://openapi.koreainvestment.com:9443/"},
            "ws://ops.koreainvestment.com:21000/tryitout",
        ),
        (
            {"env": "virtual", "base_url": "https://openapivts.koreainvestment.com:29443"},
            "ws://ops.koreainvestment.com:31000/tryitout",
        ),
    ],
)
def test_kis_own_rest_address_as_base_url_still_streams_from_kis(
    settings: dict[str, str], url: str
) -> None:
    mock = MockKIS(seed=1)
    kis = AsyncKISClient.for_mock(
        mock, app_key=mock.DEMO_APP_KEY, app_secret=mock.DEMO_APP_SECRET, **settings
    )
    assert kis.stream().url == url


def test_virtual_notices_two_wider_records_decrypt_and_stay_aligned() -> None:
    key, iv = "iuheqrmvfxoceaxeyqgjwesozgizmmgx", "d59d91fcf9fd0044"
    # KIS grew notices before (23 to 26 columns): here each record has a 27th field.
    first = _notice_record("myhtsid7") + "^new0"
    second = _notice_record("myhtsid7").replace("0000000042", "0000000043") + "^new1"
    frame = parse_data_frame(f"1|H0STCNI9|002|{encrypt_payload(first + '^' + second, key, iv)}")
    notices = [
        n
        for n in parse_records(frame.tr_id, frame.count, decrypt(frame.payload, key, iv))
        if isinstance(n, FillNotice)
    ]
    assert [(n.tr_id, n.order_no, n.extra) for n in notices] == [
        ("H0STCNI9", "0000000042", ("new0",)),
        ("H0STCNI9", "0000000043", ("new1",)),
    ]
    assert [n.quantity for n in notices] == [3, 3]


def test_decryption_padding_edges() -> None:
    key, iv = "k" * 32, "i" * 16
    for size in (0, 1, 15, 16, 17, 32):  # 16 and 32: a whole block of padding follows
        text = "가" * size if size % 2 else "x" * size
        assert decrypt(encrypt_payload(text, key, iv), key, iv) == text
    cipher = encrypt_payload("x" * 20, key, iv)
    raw = base64.b64decode(cipher)
    for bad in (raw[:-1], raw[:-16] + bytes(16)):  # not whole blocks; padding destroyed
        with pytest.raises(StreamProtocolError):
            decrypt(base64.b64encode(bad).decode(), key, iv)
    with pytest.raises(StreamProtocolError):
        decrypt(cipher, key, "short-iv")


async def test_a_cancel_while_closing_still_closes_and_is_not_swallowed(mock: MockKIS) -> None:
    async with AsyncKISClient.for_mock(mock) as kis:
        stream = kis.stream()
        await stream.open()
        await stream.subscribe_trades(["005930"])
        closing = asyncio.create_task(stream.aclose())
        await asyncio.sleep(0)  # aclose now waits for the supervisor to wind down
        closing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await closing
        await until(lambda: mock.stream.open_sessions == 0)
        assert stream.closed


async def test_two_tasks_reading_one_stream_share_it_and_both_end_at_close(
    mock: MockKIS,
) -> None:
    got: dict[str, int] = {"a": 0, "b": 0}
    async with AsyncKISClient.for_mock(mock) as kis:
        stream = kis.stream()
        await stream.open()
        await stream.subscribe_trades(["005930"])

        async def worker(name: str) -> None:
            async for _ in stream:
                got[name] += 1
                await asyncio.sleep(0.005)

        workers = [asyncio.create_task(worker(n)) for n in got]
        await asyncio.sleep(0.01)  # both wait on the empty queue
        for minute in range(1, 4):
            mock.clock.advance(60)
            await until(lambda: sum(got.values()) == minute * mock.stream.trades_per_bar)  # noqa: B023
        await stream.aclose()
        async with asyncio.timeout(SAFETY):
            await asyncio.gather(*workers)  # both end their async for
    assert got["a"] > 0
    assert got["b"] > 0


async def test_closing_a_view_ends_the_task_reading_it(mock: MockKIS) -> None:
    async with AsyncKISClient.for_mock(mock) as kis, kis.stream() as stream:
        await stream.subscribe_trades(["005930"])
        view = stream.trades("005930")
        seen: list[object] = []

        async def read() -> None:
            async for tick in view:
                seen.append(tick)

        reader = asyncio.create_task(read())
        mock.clock.advance(60)
        await until(lambda: len(seen) == mock.stream.trades_per_bar)
        view.close()
        async with asyncio.timeout(SAFETY):
            await reader  # its async for ends, the stream still open
        assert not stream.closed

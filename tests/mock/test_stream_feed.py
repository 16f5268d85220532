"""The mock's WebSocket feed at the protocol level: raw JSON in, raw frames out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kis_async.mock import DEMO_APP_KEY, DEMO_HTS_ID, MockClock, MockKIS
from kis_async.mock._calendar import SESSION_BARS
from kis_async.mock._stream import encrypt_payload
from kis_async.stream._frames import decrypt
from kis_async.stream._transport import ConnectionEnded

from .kit import MIDDAY


def _mock() -> MockKIS:
    return MockKIS(7, clock=MockClock(MIDDAY, frozen=True))


def _approval(mock: MockKIS) -> str:
    reply = mock.oauth.approve(
        json.dumps(
            {
                "grant_type": "client_credentials",
                "appkey": DEMO_APP_KEY,
                "secretkey": mock.DEMO_APP_SECRET,
            }
        ).encode()
    )
    key: str = reply.body["approval_key"]
    return key


def _request(approval: str, tr_id: str, tr_key: str, tr_type: str = "1") -> str:
    return json.dumps(
        {
            "header": {
                "approval_key": approval,
                "custtype": "P",
                "tr_type": tr_type,
                "content-type": "utf-8",
            },
            "body": {"input": {"tr_id": tr_id, "tr_key": tr_key}},
        }
    )


async def _answer(conn: Any) -> dict[str, Any]:
    reply: dict[str, Any] = json.loads(await conn.recv())
    return reply


@pytest.mark.parametrize("path", ["/tryitout", "/", "/tryitout/H0STCNT0"])
async def test_both_path_forms_serve_the_feed(path: str) -> None:
    mock = _mock()
    conn = await mock.ws_transport.connect(f"ws://mock-kis.invalid{path}")
    await conn.send(_request(_approval(mock), "H0STCNT0", "005930"))
    ack = await _answer(conn)
    assert ack["header"] == {"tr_id": "H0STCNT0", "tr_key": "005930", "encrypt": "N"}
    assert ack["body"]["msg_cd"] == "OPSP0000"
    assert ack["body"]["msg1"] == "SUBSCRIBE SUCCESS"
    assert len(ack["body"]["output"]["key"]) == 32
    assert len(ack["body"]["output"]["iv"]) == 16
    await conn.close()


async def test_other_paths_are_refused_at_the_handshake() -> None:
    with pytest.raises(ConnectionRefusedError):
        await _mock().ws_transport.connect("ws://mock-kis.invalid/elsewhere")


async def test_control_errors_use_kis_codes() -> None:
    mock = _mock()
    conn = await mock.ws_transport.connect("ws://mock-kis.invalid/tryitout")
    await conn.send("{not json")
    assert (await _answer(conn))["body"]["msg_cd"] == "OPSP0007"
    await conn.send(_request("no-such-key", "H0STCNT0", "005930"))
    unknown = await _answer(conn)
    assert unknown["body"]["rt_cd"] == "9"
    approval = _approval(mock)
    await conn.send(_request(approval, "H0STCNT0", "005930", tr_type="2"))
    assert (await _answer(conn))["body"]["msg_cd"] == "OPSP0003"
    await conn.send(_request(approval, "H0XXXXX0", "005930"))
    assert (await _answer(conn))["body"]["msg_cd"] == "OPSP8991"
    # PINGPONG echoed as text (python-kis's form) is accepted silently, and counted.
    await conn.send('{"header":{"tr_id":"PINGPONG","datetime":"20261120110000"}}')
    await conn.pong("PINGPONG")  # the official samples' pong frame
    await conn.send(_request(approval, "H0STASP0", "005930"))
    assert (await _answer(conn))["body"]["msg_cd"] == "OPSP0000"
    assert mock.stream.stats.pong_texts == 1
    assert mock.stream.stats.pongs == 1
    await conn.close()


async def test_a_second_session_of_the_app_key_is_refused_and_closed() -> None:
    mock = _mock()
    approval = _approval(mock)
    first = await mock.ws_transport.connect("ws://mock-kis.invalid/tryitout")
    await first.send(_request(approval, "H0STCNT0", "005930"))
    await _answer(first)
    second = await mock.ws_transport.connect("ws://mock-kis.invalid/tryitout")
    await second.send(_request(approval, "H0STCNT0", "000660"))
    refused = await _answer(second)
    assert (refused["body"]["msg_cd"], refused["body"]["msg1"]) == (
        "OPSP8996",
        "ALREADY IN USE appkey",
    )
    with pytest.raises(ConnectionEnded):
        await second.recv()
    assert mock.stream.stats.refused_in_use == 1
    await first.close()


async def test_fill_notices_are_encrypted_with_the_key_of_their_ack() -> None:
    mock = _mock()
    conn = await mock.ws_transport.connect("ws://mock-kis.invalid/tryitout")
    await conn.send(_request(_approval(mock), "H0STCNI0", DEMO_HTS_ID))
    ack = await _answer(conn)
    assert ack["header"]["encrypt"] == "Y"
    key, iv = ack["body"]["output"]["key"], ack["body"]["output"]["iv"]
    account = mock.account(mock.DEMO_ACCOUNT_NO)
    mock.exchange.place(account, "005930", "buy", "market", 2, 0, "KRX", mock.clock.now())
    frame = await conn.recv()
    flag, tr_id, count, payload = frame.split("|", 3)
    assert (flag, tr_id, count) == ("1", "H0STCNI0", "001")
    fields = decrypt(payload, key, iv).split("^")
    assert len(fields) == 26
    order = mock.orders[0]
    assert (fields[0], fields[2], fields[13], fields[16]) == (DEMO_HTS_ID, order.order_id, "1", "2")
    assert encrypt_payload(decrypt(payload, key, iv), key, iv) == payload
    await conn.close()


async def test_faults_and_counters_of_what_was_sent() -> None:
    mock = _mock()
    conn = await mock.ws_transport.connect("ws://mock-kis.invalid/tryitout")
    await conn.send(_request(_approval(mock), "H0STCNT0", "005930"))
    await _answer(conn)
    mock.stream.burst(3)
    mock.stream.send_garbage(2)
    frames = [await conn.recv() for _ in range(5)]
    assert [f[:11] for f in frames[:3]] == ["0|H0STCNT0|"] * 3
    assert mock.stream.stats.frames["H0STCNT0"] == 3
    assert mock.stream.stats.records["H0STCNT0"] == 3 * mock.stream.trades_per_bar
    assert mock.stream.stats.garbage == 2
    assert mock.stream.drop() == 1
    with pytest.raises(ConnectionEnded) as ended:
        await conn.recv()
    assert ended.value.code == 1011
    await conn.close()  # waits for the server's side to finish
    assert mock.stream.open_sessions == 0


def test_auction_bars_print_at_the_auction_not_before_the_open() -> None:
    mock = _mock()
    day = MIDDAY.date()
    opening = mock.stream._trade_records("005930", day, 0)
    closing = mock.stream._trade_records("005930", day, SESSION_BARS - 1)
    continuous = mock.stream._trade_records("005930", day, 1)
    # No trade prints during a call auction: the opening and closing prints carry their time.
    assert {r.split("^")[1] for r in opening} == {"090000"}
    assert {r.split("^")[1] for r in closing} == {"153000"}
    assert [r.split("^")[1] for r in continuous] == ["090015", "090030", "090045", "090100"]

"""Frames of KIS's real-time WebSocket: control messages and ``^``-joined data records.

A data frame is ``<flag>|<tr_id>|<count>|<payload>`` (kis-api.md §8.3): flag ``0``
plain, ``1`` AES-256-CBC encrypted (base64, PKCS7), ``count`` records concatenated in
one ``^``-joined payload. Records are split by count (not by the known column count),
so a record wider than the columns we know keeps its extra fields instead of shifting
every later record.

Parsing is the hot path of a 40-subscription session, so each record is converted by
hand, by column name, into the model's own types and the model is built without a
second validation pass (the values already have their final types).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any, Final, TypeVar

from pydantic import BaseModel, SecretStr

from kis_async._clock import KST
from kis_async._models import ChangeSign
from kis_async._trading_models import Side

from ._columns import (
    BOOK_COLUMNS,
    BOOK_TR_IDS,
    FILL_COLUMNS,
    FILL_TR_IDS,
    MID_PRICE_COLUMNS,
    TRADE_COLUMNS,
    TRADE_TR_IDS,
)
from ._errors import StreamProtocolError
from ._models import FillNotice, NoticeKind, OrderBookUpdate, StreamEvent, TradeTick

__all__ = [
    "COLUMNS_BY_TR_ID",
    "ControlMessage",
    "DataFrame",
    "decrypt",
    "parse_control",
    "parse_data_frame",
    "parse_records",
    "split_records",
]

M = TypeVar("M", bound=BaseModel)


# -- values ---------------------------------------------------------------------------


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        text = text.strip()
        if text in ("", "-", "+"):
            return 0
        try:
            return int(Decimal(text))
        except (InvalidOperation, ValueError, OverflowError):
            # NaN and Infinity are Decimals but no integers.
            raise StreamProtocolError(f"not a number in a real-time record: {text!r}") from None


_ZERO = Decimal(0)


def _dec(text: str) -> Decimal:
    if not text or text.isspace():
        return _ZERO
    try:
        return Decimal(text)
    except InvalidOperation:
        raise StreamProtocolError(f"not a number in a real-time record: {text!r}") from None


# Times and dates repeat across records (every record of a second shares its time):
# a cache turns most conversions into one dict lookup.
_TIMES: dict[str, time] = {}
_DATES: dict[str, date] = {}
_MIDNIGHT = time(0, 0)


def _time(text: str) -> time:
    value = _TIMES.get(text)
    if value is None:
        digits = text.strip()
        if len(digits) != 6 or not digits.isdigit():
            value = _MIDNIGHT if not digits.strip("0") else None
            if value is None:
                raise StreamProtocolError(f"not an HHMMSS time: {text!r}")
        else:
            try:
                value = time(int(digits[:2]), int(digits[2:4]), int(digits[4:]))
            except ValueError:
                raise StreamProtocolError(f"not an HHMMSS time: {text!r}") from None
        if len(_TIMES) > 100_000:
            _TIMES.clear()
        _TIMES[text] = value
    return value


def _date(text: str) -> date:
    value = _DATES.get(text)
    if value is None:
        digits = text.strip()
        if len(digits) != 8 or not digits.isdigit():
            raise StreamProtocolError(f"not a YYYYMMDD date: {text!r}")
        try:
            value = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        except ValueError:
            raise StreamProtocolError(f"not a YYYYMMDD date: {text!r}") from None
        if len(_DATES) > 10_000:
            _DATES.clear()
        _DATES[text] = value
    return value


_SIGNS: Final = {sign.value: sign for sign in ChangeSign}


def _sign(text: str) -> ChangeSign:
    try:
        return _SIGNS[text.strip() or "3"]
    except KeyError:
        raise StreamProtocolError(f"not a change sign (1-5): {text!r}") from None


def _str(text: str) -> str:
    return text.strip()


def _yes(text: str) -> bool:
    return text.strip().upper() == "Y"


def _build(model: type[M], values: dict[str, Any]) -> M:
    """``model`` over ``values`` that already have their field types (no re-validation).

    This is what ``model_construct`` does, minus its per-field default handling, at a
    tenth of its cost; every field of the stream models is always given.
    """
    obj = model.__new__(model)
    setattr_ = object.__setattr__
    setattr_(obj, "__dict__", values)
    setattr_(obj, "__pydantic_fields_set__", set(values))
    setattr_(obj, "__pydantic_extra__", None)
    setattr_(obj, "__pydantic_private__", None)
    return obj


def _slow(
    converters: Sequence[tuple[str, Callable[[str], Any]]], fields: Sequence[str]
) -> dict[str, Any]:
    """Each field through its converter (blank and odd values handled, errors typed)."""
    return {name: convert(text) for (name, convert), text in zip(converters, fields, strict=False)}


#: The expression each converter has in a compiled record reader: builtins called
#: directly, without a Python function call per field. A value they cannot take
#: (a blank, a stray sign) raises one of _FAST_MISSES and the record is read again
#: through the converters themselves.
_FAST: Final[dict[Callable[[str], Any], str]] = {
    _int: "int(f[{0}])",
    _dec: "Decimal(f[{0}])",
    _str: "f[{0}].strip()",
    _time: "(_TIMES.get(f[{0}]) or _time(f[{0}]))",
    _date: "(_DATES.get(f[{0}]) or _date(f[{0}]))",
    _sign: "_SIGNS[f[{0}]]",
    _yes: "(f[{0}].strip().upper() == 'Y')",
}
_FAST_MISSES = (ValueError, KeyError, ArithmeticError)


def _compile(
    name: str, spec: Sequence[tuple[str, str, Callable[[str], Any]]]
) -> Callable[[Sequence[str]], dict[str, Any]]:
    """A reader of one record of ``spec``'s columns into a dict of typed field values."""
    namespace: dict[str, Any] = {
        "Decimal": Decimal,
        "_TIMES": _TIMES,
        "_time": _time,
        "_DATES": _DATES,
        "_date": _date,
        "_SIGNS": _SIGNS,
    }
    items = []
    for index, (_, field, convert) in enumerate(spec):
        template = _FAST.get(convert)
        if template is None:
            namespace[f"_c{index}"] = convert
            template = f"_c{index}(f[{{0}}])"
        items.append(f"{field!r}: {template.format(index)}")
    source = f"def {name}(f):\n    return {{{', '.join(items)}}}\n"
    # Generated from the column spec above, as dataclasses generates __init__.
    exec(source, namespace)  # noqa: S102
    reader: Callable[[Sequence[str]], dict[str, Any]] = namespace[name]
    return reader


# -- trade ticks ----------------------------------------------------------------------

#: (column, field, converter) for every trade column, in wire order.
TRADE_SPEC: Final[tuple[tuple[str, str, Callable[[str], Any]], ...]] = (
    ("MKSC_SHRN_ISCD", "ticker", _str),
    ("STCK_CNTG_HOUR", "time", _time),
    ("STCK_PRPR", "price", _int),
    ("PRDY_VRSS_SIGN", "change_sign", _sign),
    ("PRDY_VRSS", "change", _int),
    ("PRDY_CTRT", "change_rate", _dec),
    ("WGHN_AVRG_STCK_PRC", "weighted_average_price", _dec),
    ("STCK_OPRC", "open", _int),
    ("STCK_HGPR", "high", _int),
    ("STCK_LWPR", "low", _int),
    ("ASKP1", "ask1", _int),
    ("BIDP1", "bid1", _int),
    ("CNTG_VOL", "volume", _int),
    ("ACML_VOL", "accumulated_volume", _int),
    ("ACML_TR_PBMN", "accumulated_value", _int),
    ("SELN_CNTG_CSNU", "sell_trade_count", _int),
    ("SHNU_CNTG_CSNU", "buy_trade_count", _int),
    ("NTBY_CNTG_CSNU", "net_buy_trade_count", _int),
    ("CTTR", "strength", _dec),
    ("SELN_CNTG_SMTN", "sell_volume_total", _int),
    ("SHNU_CNTG_SMTN", "buy_volume_total", _int),
    ("CCLD_DVSN", "trade_side", _str),
    ("SHNU_RATE", "buy_rate", _dec),
    ("PRDY_VOL_VRSS_ACML_VOL_RATE", "volume_vs_previous_day_rate", _dec),
    ("OPRC_HOUR", "open_time", _time),
    ("OPRC_VRSS_PRPR_SIGN", "open_vs_price_sign", _sign),
    ("OPRC_VRSS_PRPR", "open_vs_price", _int),
    ("HGPR_HOUR", "high_time", _time),
    ("HGPR_VRSS_PRPR_SIGN", "high_vs_price_sign", _sign),
    ("HGPR_VRSS_PRPR", "high_vs_price", _int),
    ("LWPR_HOUR", "low_time", _time),
    ("LWPR_VRSS_PRPR_SIGN", "low_vs_price_sign", _sign),
    ("LWPR_VRSS_PRPR", "low_vs_price", _int),
    ("BSOP_DATE", "business_date", _date),
    ("NEW_MKOP_CLS_CODE", "market_phase_code", _str),
    ("TRHT_YN", "halted", _yes),
    ("ASKP_RSQN1", "ask1_quantity", _int),
    ("BIDP_RSQN1", "bid1_quantity", _int),
    ("TOTAL_ASKP_RSQN", "total_ask_quantity", _int),
    ("TOTAL_BIDP_RSQN", "total_bid_quantity", _int),
    ("VOL_TNRT", "turnover_rate", _dec),
    ("PRDY_SMNS_HOUR_ACML_VOL", "previous_day_same_time_volume", _int),
    ("PRDY_SMNS_HOUR_ACML_VOL_RATE", "previous_day_same_time_volume_rate", _dec),
    ("HOUR_CLS_CODE", "hour_class_code", _str),
    ("MRKT_TRTM_CLS_CODE", "market_termination_code", _str),
    ("VI_STND_PRC", "vi_standard_price", _int),
)
_TRADE_FIELDS = tuple((field, convert) for _, field, convert in TRADE_SPEC)
_fast_trade = _compile("_fast_trade", TRADE_SPEC)
_TRADE_TIME = TRADE_COLUMNS.index("STCK_CNTG_HOUR")
_TRADE_DATE = TRADE_COLUMNS.index("BSOP_DATE")


def _trade(tr_id: str, fields: Sequence[str], extra: tuple[str, ...]) -> TradeTick:
    try:
        values = _fast_trade(fields)
    except _FAST_MISSES:
        values = _slow(_TRADE_FIELDS, fields)
    values["tr_id"] = tr_id
    values["extra"] = extra
    values["traded_at"] = datetime.combine(values["business_date"], values["time"], KST)
    return _build(TradeTick, values)


# -- order books ----------------------------------------------------------------------

_B = {name: i for i, name in enumerate(BOOK_COLUMNS)}
_ASK, _BID = _B["ASKP1"], _B["BIDP1"]
_ASK_Q, _BID_Q = _B["ASKP_RSQN1"], _B["BIDP_RSQN1"]
#: (column, field, converter) of the scalar book columns; the 4 x 10 levels are apart.
BOOK_SCALARS: Final[tuple[tuple[str, str, Callable[[str], Any]], ...]] = (
    ("MKSC_SHRN_ISCD", "ticker", _str),
    ("BSOP_HOUR", "time", _time),
    ("HOUR_CLS_CODE", "hour_class_code", _str),
    ("TOTAL_ASKP_RSQN", "total_ask_quantity", _int),
    ("TOTAL_BIDP_RSQN", "total_bid_quantity", _int),
    ("OVTM_TOTAL_ASKP_RSQN", "overtime_total_ask_quantity", _int),
    ("OVTM_TOTAL_BIDP_RSQN", "overtime_total_bid_quantity", _int),
    ("ANTC_CNPR", "expected_price", _int),
    ("ANTC_CNQN", "expected_quantity", _int),
    ("ANTC_VOL", "expected_volume", _int),
    ("ANTC_CNTG_VRSS", "expected_change", _int),
    ("ANTC_CNTG_VRSS_SIGN", "expected_change_sign", _sign),
    ("ANTC_CNTG_PRDY_CTRT", "expected_change_rate", _dec),
    ("ACML_VOL", "accumulated_volume", _int),
    ("TOTAL_ASKP_RSQN_ICDC", "total_ask_quantity_change", _int),
    ("TOTAL_BIDP_RSQN_ICDC", "total_bid_quantity_change", _int),
    ("OVTM_TOTAL_ASKP_ICDC", "overtime_total_ask_change", _int),
    ("OVTM_TOTAL_BIDP_ICDC", "overtime_total_bid_change", _int),
    ("STCK_DEAL_CLS_CODE", "deal_class_code", _str),
)
_BOOK_FIELDS = tuple((_B[column], name, convert) for column, name, convert in BOOK_SCALARS)
#: (column, field, converter) of the 6 mid-price columns of H0NXASP0 / H0UNASP0.
MID_SPEC: Final[tuple[tuple[str, str, Callable[[str], Any]], ...]] = (
    ("KMID_PRC", "krx_mid_price", _int),
    ("KMID_TOTAL_RSQN", "krx_mid_total_quantity", _int),
    ("KMID_CLS_CODE", "krx_mid_class_code", _str),
    ("NMID_PRC", "nxt_mid_price", _int),
    ("NMID_TOTAL_RSQN", "nxt_mid_total_quantity", _int),
    ("NMID_CLS_CODE", "nxt_mid_class_code", _str),
)


def _book(
    tr_id: str, fields: Sequence[str], extra: tuple[str, ...], with_mid: bool
) -> OrderBookUpdate:
    values: dict[str, Any] = {"tr_id": tr_id, "extra": extra}
    for index, name, convert in _BOOK_FIELDS:
        values[name] = convert(fields[index])
    values["asks"] = tuple(_int(v) for v in fields[_ASK : _ASK + 10])
    values["bids"] = tuple(_int(v) for v in fields[_BID : _BID + 10])
    values["ask_quantities"] = tuple(_int(v) for v in fields[_ASK_Q : _ASK_Q + 10])
    values["bid_quantities"] = tuple(_int(v) for v in fields[_BID_Q : _BID_Q + 10])
    start = len(BOOK_COLUMNS)
    for offset, (_, name, convert) in enumerate(MID_SPEC):
        values[name] = convert(fields[start + offset]) if with_mid else None
    return _build(OrderBookUpdate, values)


# -- fill notices ---------------------------------------------------------------------


def _side(text: str) -> Side:
    try:
        return Side.from_code(text)
    except KeyError:
        raise StreamProtocolError(f"not a side code (01/02): {text!r}") from None


#: (column, field, converter) for every fill-notice column, in wire order.
FILL_SPEC: Final[tuple[tuple[str, str, Callable[[str], Any]], ...]] = (
    ("CUST_ID", "customer_id", _str),
    ("ACNT_NO", "account_no", lambda text: SecretStr(text.strip())),
    ("ODER_NO", "order_no", _str),
    ("OODER_NO", "original_order_no", _str),
    ("SELN_BYOV_CLS", "side", _side),
    ("RCTF_CLS", "revise_cancel_code", _str),
    ("ODER_KIND", "order_kind", _str),
    ("ODER_COND", "order_condition", _str),
    ("STCK_SHRN_ISCD", "ticker", _str),
    ("CNTG_QTY", "quantity", _int),
    ("CNTG_UNPR", "price", _int),
    ("STCK_CNTG_HOUR", "time", _time),
    ("RFUS_YN", "rejected", lambda text: text.strip() == "1"),
    ("CNTG_YN", "is_fill", lambda text: text.strip() == "2"),
    ("ACPT_YN", "acceptance_code", _str),
    ("BRNC_NO", "branch_no", _str),
    ("ODER_QTY", "order_quantity", _int),
    ("ACNT_NAME", "account_name", _str),
    ("ORD_COND_PRC", "order_condition_price", _int),
    ("ORD_EXG_GB", "exchange_code", _str),
    ("POPUP_YN", "popup", _str),
    ("FILLER", "filler", _str),
    ("CRDT_CLS", "credit_class", _str),
    ("CRDT_LOAN_DATE", "credit_loan_date", _str),
    ("CNTG_ISNM40", "ticker_name", _str),
    ("ODER_PRC", "order_price", _int),
)
_FILL_FIELDS = tuple((field, convert) for _, field, convert in FILL_SPEC)


def _notice(tr_id: str, fields: Sequence[str], extra: tuple[str, ...]) -> FillNotice:
    values = _slow(_FILL_FIELDS, fields)
    values["tr_id"] = tr_id
    values["extra"] = extra
    # CNTG_YN tells a fill (2) from an order notice (1); an order notice is a
    # rejection, a revise, a cancel or a plain acceptance, in that order of precedence.
    if values["is_fill"]:
        kind = NoticeKind.FILL
    elif values["rejected"]:
        kind = NoticeKind.REJECTED
    elif values["revise_cancel_code"] == "1":
        kind = NoticeKind.REVISED
    elif values["revise_cancel_code"] == "2":
        kind = NoticeKind.CANCELLED
    else:
        kind = NoticeKind.ACCEPTED
    values["kind"] = kind
    return _build(FillNotice, values)


# -- records --------------------------------------------------------------------------

#: The known columns of every tr_id the stream parses.
COLUMNS_BY_TR_ID: Final[dict[str, tuple[str, ...]]] = {
    **dict.fromkeys(TRADE_TR_IDS.values(), TRADE_COLUMNS),
    BOOK_TR_IDS["KRX"]: BOOK_COLUMNS,
    BOOK_TR_IDS["NXT"]: (*BOOK_COLUMNS, *MID_PRICE_COLUMNS),
    BOOK_TR_IDS["UN"]: (*BOOK_COLUMNS, *MID_PRICE_COLUMNS),
    **dict.fromkeys(FILL_TR_IDS.values(), FILL_COLUMNS),
}
_TRADES = frozenset(TRADE_TR_IDS.values())
_BOOKS = frozenset(BOOK_TR_IDS.values())
_FILLS = frozenset(FILL_TR_IDS.values())


def split_records(tr_id: str, count: int, payload: str) -> list[list[str]]:
    """The ``count`` records of ``payload``, each a list of its fields.

    A record may be wider than the known columns (its extra fields are kept); a
    payload that cannot be cut into ``count`` records of at least the known width is
    a :class:`StreamProtocolError`.
    """
    fields = payload.split("^")
    known = len(COLUMNS_BY_TR_ID.get(tr_id, ()))
    if count <= 0:
        raise StreamProtocolError(f"{tr_id} frame with a record count of {count}")
    width, rest = divmod(len(fields), count)
    if rest or (known and width < known):
        raise StreamProtocolError(
            f"{tr_id} frame: {len(fields)} fields do not make {count} records of {known} columns"
        )
    if count == 1:
        return [fields]
    return [fields[i : i + width] for i in range(0, len(fields), width)]


def parse_records(tr_id: str, count: int, payload: str) -> list[StreamEvent]:
    """The typed events of one plain payload of ``tr_id`` (N records give N events)."""
    known = len(COLUMNS_BY_TR_ID.get(tr_id, ()))
    if not known:
        raise StreamProtocolError(f"no known columns for tr_id {tr_id!r}")
    events: list[StreamEvent] = []
    for fields in split_records(tr_id, count, payload):
        extra = tuple(fields[known:]) if len(fields) > known else ()
        if tr_id in _TRADES:
            events.append(_trade(tr_id, fields, extra))
        elif tr_id in _BOOKS:
            events.append(_book(tr_id, fields, extra, with_mid=known > len(BOOK_COLUMNS)))
        else:
            events.append(_notice(tr_id, fields, extra))
    return events


# -- frames ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DataFrame:
    """A data frame's header and (possibly encrypted) payload."""

    encrypted: bool
    tr_id: str
    count: int
    payload: str


def parse_data_frame(text: str) -> DataFrame:
    """The parts of ``0|tr_id|NNN|payload`` (or ``1|...`` encrypted)."""
    parts = text.split("|", 3)
    if (
        len(parts) != 4
        or parts[0] not in ("0", "1")
        or not (parts[2].isascii() and parts[2].isdigit())
    ):
        raise StreamProtocolError(f"not a real-time data frame: {text[:60]!r}")
    return DataFrame(parts[0] == "1", parts[1], int(parts[2]), parts[3])


@dataclass(frozen=True, slots=True)
class ControlMessage:
    """A JSON message from the server: an ack, a refusal or a PINGPONG.

    ``key``/``iv`` are the AES key and IV an ack carries for encrypted tr_ids.
    """

    tr_id: str
    tr_key: str
    rt_cd: str
    msg_cd: str
    msg1: str
    key: str | None
    iv: str | None
    encrypt: bool
    raw: str

    @property
    def is_pingpong(self) -> bool:
        """Whether this is the server's PINGPONG heartbeat."""
        return self.tr_id == "PINGPONG"

    @property
    def ok(self) -> bool:
        """Whether the server accepted the request (``rt_cd`` "0")."""
        return self.rt_cd == "0"


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_control(text: str) -> ControlMessage:
    """The JSON control message ``text`` (kis-api.md §8.2)."""
    try:
        data = json.loads(text)
    except ValueError:
        raise StreamProtocolError(f"not a JSON control message: {text[:60]!r}") from None
    if not isinstance(data, dict):
        raise StreamProtocolError(f"not a JSON control message: {text[:60]!r}")
    header = _object(data.get("header"))
    body = _object(data.get("body"))
    output = _object(body.get("output"))
    key, iv = output.get("key"), output.get("iv")
    return ControlMessage(
        tr_id=str(header.get("tr_id", "")),
        tr_key=str(header.get("tr_key", "")),
        rt_cd=str(body.get("rt_cd", "")),
        msg_cd=str(body.get("msg_cd", "")),
        msg1=str(body.get("msg1", "")).strip(),
        key=key if isinstance(key, str) and key else None,
        iv=iv if isinstance(iv, str) and iv else None,
        encrypt=str(header.get("encrypt", "N")).upper() == "Y",
        raw=text,
    )


# -- AES ------------------------------------------------------------------------------


def decrypt(payload: str, key: str, iv: str) -> str:
    """The plain text of an encrypted payload: base64, AES-256-CBC, PKCS7 (kis-api.md §8.3)."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    try:
        data = base64.b64decode(payload, validate=False)
        decryptor = Cipher(algorithms.AES(key.encode()), modes.CBC(iv.encode())).decryptor()
        padded = decryptor.update(data) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return (unpadder.update(padded) + unpadder.finalize()).decode("utf-8")
    except ValueError as exc:
        # Never echo the key, the IV or the cipher text: a notice names an account.
        raise StreamProtocolError(f"could not decrypt an encrypted frame ({exc})") from None

"""KIS operations as data.

Each row says how to call one operation: method, path, the tr_id on the real and on
the virtual (paper-trading) server, and whether repeating it is safe. The request
pipeline in ``_client.py`` reads these rows; adding an operation is a row, a model and
a thin method, never a new request loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ._errors import ConfigError

__all__ = [
    "APPROVAL",
    "HASHKEY",
    "INQUIRE_ASKING_PRICE",
    "INQUIRE_BALANCE",
    "INQUIRE_DAILY_CCLD",
    "INQUIRE_DAILY_CHART",
    "INQUIRE_PRICE",
    "INQUIRE_PSBL_ORDER",
    "INQUIRE_TIME_CHART",
    "ORDER_CASH_BUY",
    "ORDER_CASH_SELL",
    "ORDER_RVSECNCL",
    "REVOKE_TOKEN",
    "SEARCH_STOCK_INFO",
    "TOKEN",
    "CacheKind",
    "Endpoint",
]

_QUOTATIONS = "/uapi/domestic-stock/v1/quotations"
_TRADING = "/uapi/domestic-stock/v1/trading"


#: What kind of data an answer is, for the response cache (``kis_async.shared``): its
#: policy says how long each kind may be kept. Rows without one are never cached.
CacheKind = Literal["price", "orderbook", "chart", "stock_info"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One KIS operation.

    ``idempotent`` marks operations that may be repeated after an ambiguous failure
    (a timeout, a dropped connection, a 5xx). Orders are not: an order is repeated only
    when it provably never reached KIS.
    """

    name: str
    method: Literal["GET", "POST"]
    path: str
    tr_id_real: str = ""
    #: None: KIS offers the operation on the real server only.
    tr_id_virtual: str | None = ""
    idempotent: bool = True
    #: The kind of data it answers, for the response cache; None: never cached
    #: (orders, balance, order history and every other account query).
    cache: CacheKind | None = None

    def tr_id(self, *, virtual: bool) -> str:
        """The tr_id for the server in use; ConfigError when virtual lacks the operation."""
        if not virtual:
            return self.tr_id_real
        if self.tr_id_virtual is None:
            raise ConfigError(
                f"{self.name} is offered on KIS's real server only, not on the virtual "
                "(paper-trading) server"
            )
        return self.tr_id_virtual


# -- OAuth (no tr_id; their own body shapes) -------------------------------------------
TOKEN = Endpoint("token", "POST", "/oauth2/tokenP")
REVOKE_TOKEN = Endpoint("revoke token", "POST", "/oauth2/revokeP")
APPROVAL = Endpoint("websocket approval key", "POST", "/oauth2/Approval")
HASHKEY = Endpoint("hashkey", "POST", "/uapi/hashkey")

# -- quotations (same tr_id on both servers) -------------------------------------------
INQUIRE_PRICE = Endpoint(
    "inquire-price",
    "GET",
    f"{_QUOTATIONS}/inquire-price",
    "FHKST01010100",
    "FHKST01010100",
    cache="price",
)
INQUIRE_ASKING_PRICE = Endpoint(
    "inquire-asking-price-exp-ccn",
    "GET",
    f"{_QUOTATIONS}/inquire-asking-price-exp-ccn",
    "FHKST01010200",
    "FHKST01010200",
    cache="orderbook",
)
INQUIRE_DAILY_CHART = Endpoint(
    "inquire-daily-itemchartprice",
    "GET",
    f"{_QUOTATIONS}/inquire-daily-itemchartprice",
    "FHKST03010100",
    "FHKST03010100",
    cache="chart",
)
INQUIRE_TIME_CHART = Endpoint(
    "inquire-time-itemchartprice",
    "GET",
    f"{_QUOTATIONS}/inquire-time-itemchartprice",
    "FHKST03010200",
    "FHKST03010200",
    cache="chart",
)
SEARCH_STOCK_INFO = Endpoint(
    "search-stock-info",
    "GET",
    f"{_QUOTATIONS}/search-stock-info",
    "CTPF1002R",
    None,
    cache="stock_info",
)

# -- trading (T... real, V... virtual; the 2025 tr_ids) --------------------------------
ORDER_CASH_BUY = Endpoint(
    "order-cash (buy)", "POST", f"{_TRADING}/order-cash", "TTTC0012U", "VTTC0012U", False
)
ORDER_CASH_SELL = Endpoint(
    "order-cash (sell)", "POST", f"{_TRADING}/order-cash", "TTTC0011U", "VTTC0011U", False
)
ORDER_RVSECNCL = Endpoint(
    "order-rvsecncl", "POST", f"{_TRADING}/order-rvsecncl", "TTTC0013U", "VTTC0013U", False
)
INQUIRE_BALANCE = Endpoint(
    "inquire-balance", "GET", f"{_TRADING}/inquire-balance", "TTTC8434R", "VTTC8434R"
)
INQUIRE_PSBL_ORDER = Endpoint(
    "inquire-psbl-order", "GET", f"{_TRADING}/inquire-psbl-order", "TTTC8908R", "VTTC8908R"
)
INQUIRE_DAILY_CCLD = Endpoint(
    "inquire-daily-ccld", "GET", f"{_TRADING}/inquire-daily-ccld", "TTTC0081R", "VTTC0081R"
)

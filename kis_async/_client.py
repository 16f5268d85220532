"""The public client."""

from __future__ import annotations

from ._quotations import FanOutMixin
from ._trading import TradingMixin

__all__ = ["AsyncKISClient"]


class AsyncKISClient(FanOutMixin, TradingMixin):
    """An asyncio client for the KIS Open API.

    ``AsyncKISClient()`` reads ``KIS_*`` settings from the environment and ``.env``;
    with no credentials it runs on the embedded mock KIS server. Use it as
    ``async with AsyncKISClient() as kis: ...`` or call ``await kis.aclose()``.

    Nothing is sent at construction: the first call issues (or loads) a token.
    ``transport`` plugs in any httpx transport (for example ``MockKIS().transport``);
    ``http_client`` shares an ``httpx.AsyncClient`` you own and close yourself.
    """

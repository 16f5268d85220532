"""The public client."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ._config import KISSettings
from ._quotations import FanOutMixin
from ._trading import TradingMixin

if TYPE_CHECKING:
    from .mock import MockKIS
    from .stream import KISStream

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

    #: The WebSocket transport :meth:`stream` uses when none is given (set by for_mock).
    _ws_transport: Any = None

    @classmethod
    def for_mock(cls, mock: MockKIS, **settings: Any) -> AsyncKISClient:
        """A client wired to ``mock``: its transport, clock, demo credentials and limit.

        A mock of the real server gives env "mock"; a mock of the virtual server gives
        env "virtual" (V... tr_ids). ``settings`` override any field, e.g.
        ``env="real", production_confirmed=True`` to exercise the real-money path.
        """
        from .mock import DEMO_ACCOUNT_NO, DEMO_APP_KEY, DEMO_APP_SECRET, DEMO_HTS_ID

        limit = mock.rate_limit
        values: dict[str, Any] = {
            "env": "mock" if mock.server == "real" else "virtual",
            "app_key": DEMO_APP_KEY,
            "app_secret": DEMO_APP_SECRET,
            "account_no": DEMO_ACCOUNT_NO,
            # An unlimited mock needs no pacing; a limited one is paced to its limit.
            "rate_limit": limit if math.isfinite(limit) else 10_000.0,
            "token_cache_dir": None,
            "hts_id": DEMO_HTS_ID,
        }
        values.update(settings)
        client = cls(
            KISSettings(_env_file=None, **values), transport=mock.transport, clock=mock.clock
        )
        # The stream's counterpart of mock.transport: the mock's WebSocket, in memory.
        client._ws_transport = mock.ws_transport
        return client

    def stream(self, **options: Any) -> KISStream:
        """A real-time WebSocket session: ``async with kis.stream() as stream: ...``.

        Needs the ``stream`` extra (``pip install 'kis-async[stream]'``). ``options``
        are :class:`kis_async.KISStream`'s (timeouts, queue size, back-off, transport).
        """
        from .stream import KISStream

        return KISStream(self, **options)

"""Several app keys, one fan-out: read-only queries spread over several clients.

KIS's rate limit is per app key. A user with several keys (several accounts) can
spread a fan-out of quotations over all of them, each client keeping its own budget,
so 100 tickers over 3 keys take about a third of the time. Orders never go through
the pool: an order goes through the client of the account it is for
(:meth:`AppKeyPool.for_account`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, TypeVar

import anyio

from kis_async._errors import ConfigError
from kis_async._validation import check_tickers

if TYPE_CHECKING:
    from kis_async._client import AsyncKISClient
    from kis_async._models import CurrentPrice

__all__ = ["AppKeyPool"]

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


class AppKeyPool:
    """Read-only queries spread over ``clients`` (each with its own app key and budget).

    Work is dealt in proportion to each client's rate limit, so a key with a higher
    limit takes more of it. The pool does not own the clients: close them yourself (or
    use ``async with`` on the pool, which closes them).
    """

    def __init__(self, clients: Sequence[AsyncKISClient]) -> None:
        if not clients:
            raise ConfigError("an AppKeyPool needs at least one client")
        keys = [client.settings.app_key for client in clients]
        values = [key.get_secret_value() if key is not None else "" for key in keys]
        if len(set(values)) != len(values):
            # Two clients on one key share KIS's limit: pooling them gains nothing.
            raise ConfigError("every client in an AppKeyPool must use a different app key")
        self.clients: tuple[AsyncKISClient, ...] = tuple(clients)

    def for_account(self, account_no: str) -> AsyncKISClient:
        """The client whose own account is ``account_no`` ("12345678-01"): orders go there."""
        wanted = account_no.replace("-", "").strip()
        for client in self.clients:
            own = client.settings.account_no
            if own is not None and own.get_secret_value().replace("-", "") == wanted:
                return client
        raise ConfigError("no client in this pool trades that account")  # never echo it

    async def map(
        self,
        call: Callable[[AsyncKISClient, ItemT], Awaitable[ResultT]],
        items: Iterable[ItemT],
    ) -> list[ResultT]:
        """``call(client, item)`` for every item, spread over the clients, results in order.

        Items are dealt to the clients in proportion to their rate limits (a weighted
        round robin), and each client runs its share concurrently behind its own budget.
        The first error cancels the rest and is raised.
        """
        todo = list(items)
        rates = [client.settings.effective_rate_limit for client in self.clients]
        shares: list[list[int]] = [[] for _ in self.clients]
        credit = [0.0] * len(self.clients)
        total = sum(rates)
        for index in range(len(todo)):
            # Smooth weighted round robin: everyone earns its rate, the richest takes one.
            for k, rate in enumerate(rates):
                credit[k] += rate
            chosen = max(range(len(rates)), key=credit.__getitem__)
            credit[chosen] -= total
            shares[chosen].append(index)
        results: dict[int, ResultT] = {}

        async def one(client: AsyncKISClient, index: int) -> None:
            results[index] = await call(client, todo[index])

        async with anyio.create_task_group() as group:
            for client, indices in zip(self.clients, shares, strict=True):
                for index in indices:
                    group.start_soon(one, client, index)
        return [results[index] for index in range(len(todo))]

    async def get_current_prices(self, tickers: Iterable[str]) -> dict[str, CurrentPrice]:
        """Current prices of many tickers over every key, in the order given."""
        codes = check_tickers(tickers)
        prices = await self.map(lambda client, code: client.get_current_price(code), codes)
        return dict(zip(codes, prices, strict=True))

    async def aclose(self) -> None:
        """Close every client of the pool."""
        for client in self.clients:
            await client.aclose()

    async def __aenter__(self) -> AppKeyPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AppKeyPool({len(self.clients)} clients)"

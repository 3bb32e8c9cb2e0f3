"""Per-request DataLoaders: a page of conversations with their bots and last messages costs a fixed
number of queries whatever its size. Built per request (never module-level: they cache, per tenant)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from app.models import Bot, Branch, Conversation, Message, Order, OrderLine, Restaurant, table_of
from app.services import bots, catalog, conversations, opening, order_history, orders, restaurants

T = TypeVar("T")
V = TypeVar("V")
D = TypeVar("D")


class Run(Protocol):
    """The operation's way to use its one session (OperationContext.run)."""

    def __call__(self, fn: Callable[[AsyncSession], Awaitable[T]], /) -> Awaitable[T]: ...


MessagesKey = tuple[str, int, datetime | None, str | None]  # conversation, last, before (at, id)
OrdersKey = tuple[str, int, datetime | None, str | None]  # conversation, first, after (at, id)

# The newest N messages of each conversation, each one an index range scan backwards (LATERAL), so a
# conversation with a long history costs what a short one costs.
_COLUMNS = ", ".join(f'm."{c.name}"' for c in table_of(Message).columns)
_LATEST = text(
    f"""
    SELECT {_COLUMNS} FROM unnest(CAST(:ids AS text[])) AS c(id)
    CROSS JOIN LATERAL (
        SELECT * FROM message
        WHERE restaurant_id = :r AND conversation_id = c.id
          AND (CAST(:before_at AS timestamptz) IS NULL
               OR (created_at, id) < (CAST(:before_at AS timestamptz), CAST(:before_id AS text)))
        ORDER BY created_at DESC, id DESC
        LIMIT :n
    ) m
    """
).columns(*table_of(Message).columns)


class Loaders:
    def __init__(self, *, run: Run, restaurant: Callable[[], Awaitable[str]]) -> None:
        self._run = run
        self._restaurant = restaurant  # the caller's restaurant
        self.bot: DataLoader[str, Bot | None] = DataLoader(self._bots)
        self.branch: DataLoader[str, Branch | None] = DataLoader(self._branches)
        self.conversation: DataLoader[str, Conversation | None] = DataLoader(self._conversations)
        self.order_lines: DataLoader[str, list[OrderLine]] = DataLoader(self._order_lines)
        self.option_groups: DataLoader[str, list[catalog.OptionGroup]] = DataLoader(self._option_groups)
        self.last_message: DataLoader[str, Message | None] = DataLoader(self._last_messages)
        self.messages: DataLoader[MessagesKey, list[Message]] = DataLoader(self._messages)
        self.restaurant: DataLoader[str, Restaurant | None] = DataLoader(self._restaurants)
        # a conversation's orders: a page (one more row than asked: is there a next one?) and the count
        self.conversation_orders: DataLoader[OrdersKey, list[Order]] = DataLoader(self._conversation_orders)
        self.conversation_order_count: DataLoader[str, int] = DataLoader(self._conversation_order_counts)
        self.schedule: DataLoader[str, opening.Schedule] = DataLoader(self._schedules)

    async def _by_id(
        self,
        fetch: Callable[[AsyncSession, str, list[str]], Awaitable[dict[str, V]]],
        ids: list[str],
        missing: D,
    ) -> list[V | D]:
        """One query for a batch of keys of the caller's restaurant, answered in key order."""
        restaurant_id = await self._restaurant()
        found = await self._run(lambda session: fetch(session, restaurant_id, list(ids)))
        return [found.get(i, missing) for i in ids]

    async def _bots(self, ids: list[str]) -> list[Bot | None]:
        return await self._by_id(
            lambda s, r, keys: bots.get_many(s, restaurant_id=r, ids=keys), ids, missing=None
        )

    async def _branches(self, ids: list[str]) -> list[Branch | None]:
        return await self._by_id(
            lambda s, r, keys: catalog.get_branches(s, restaurant_id=r, ids=keys), ids, missing=None
        )

    async def _conversations(self, ids: list[str]) -> list[Conversation | None]:
        return await self._by_id(
            lambda s, r, keys: conversations.get_many(s, restaurant_id=r, ids=keys), ids, missing=None
        )

    async def _restaurants(self, ids: list[str]) -> list[Restaurant | None]:
        return await self._by_id(
            lambda s, r, keys: restaurants.get_many(s, restaurant_id=r, ids=keys), ids, missing=None
        )

    async def _conversation_orders(self, keys: list[OrdersKey]) -> list[list[Order]]:
        """Pages of conversations' orders; keys sharing (first, after) are fetched together."""
        restaurant_id = await self._restaurant()
        groups: dict[tuple[int, datetime | None, str | None], list[str]] = defaultdict(list)
        for conversation_id, first, at, row_id in keys:
            groups[(first, at, row_id)].append(conversation_id)
        found: dict[OrdersKey, list[Order]] = {}
        for (first, at, row_id), ids in groups.items():
            after = (at, row_id) if at is not None and row_id is not None else None
            page = await self._orders_of(restaurant_id, ids, first + 1, after)
            for conversation_id in ids:
                found[(conversation_id, first, at, row_id)] = page.get(conversation_id, [])
        return [found[key] for key in keys]

    async def _orders_of(
        self, restaurant_id: str, ids: list[str], limit: int, after: tuple[datetime, str] | None
    ) -> dict[str, list[Order]]:
        return await self._run(
            lambda s: order_history.of_conversations(
                s, restaurant_id=restaurant_id, conversation_ids=ids, limit=limit, after=after
            )
        )

    async def _conversation_order_counts(self, conversation_ids: list[str]) -> list[int]:
        return await self._by_id(
            lambda s, r, keys: order_history.count_of_conversations(
                s, restaurant_id=r, conversation_ids=keys
            ),
            conversation_ids,
            missing=0,
        )

    async def _order_lines(self, order_ids: list[str]) -> list[list[OrderLine]]:
        return await self._by_id(
            lambda s, r, keys: orders.lines_of(s, restaurant_id=r, order_ids=keys), order_ids, missing=[]
        )

    async def _schedules(self, restaurant_ids: list[str]) -> list[opening.Schedule]:
        """Opening hours by restaurant. The keys are restaurants the caller was shown (a `restaurants`
        answer, an event of its restaurant), so they are not narrowed to the caller's one here."""
        found = await self._run(lambda s: opening.schedules(s, restaurant_ids=list(restaurant_ids)))
        return [found[r] for r in restaurant_ids]

    async def _option_groups(self, item_ids: list[str]) -> list[list[catalog.OptionGroup]]:
        """A menu's items with their option groups and options: two queries whatever its size."""
        return await self._by_id(
            lambda s, r, keys: catalog.option_groups(s, restaurant_id=r, item_ids=keys), item_ids, missing=[]
        )

    async def _latest(
        self, conversation_ids: list[str], n: int, before: tuple[datetime, str] | None
    ) -> dict[str, list[Message]]:
        restaurant_id = await self._restaurant()

        async def load(session: AsyncSession) -> dict[str, list[Message]]:
            rows = await session.execute(
                select(Message).from_statement(_LATEST),
                {
                    "ids": conversation_ids,
                    "r": restaurant_id,
                    "n": n,
                    "before_at": before[0] if before else None,
                    "before_id": before[1] if before else None,
                },
            )
            grouped: dict[str, list[Message]] = defaultdict(list)
            for row in rows.scalars():
                grouped[row.conversation_id].append(row)
            return grouped

        return await self._run(load)

    async def _last_messages(self, conversation_ids: list[str]) -> list[Message | None]:
        latest = await self._latest(list(conversation_ids), 1, None)
        return [latest[c][0] if latest.get(c) else None for c in conversation_ids]

    async def _messages(self, keys: list[MessagesKey]) -> list[list[Message]]:
        """Pages of history; keys sharing (last, before) are fetched together."""
        groups: dict[tuple[int, datetime | None, str | None], list[str]] = defaultdict(list)
        for conversation_id, last, at, row_id in keys:
            groups[(last, at, row_id)].append(conversation_id)
        pages: dict[MessagesKey, list[Message]] = {}
        for (last, at, row_id), ids in groups.items():
            before = (at, row_id) if at is not None and row_id is not None else None
            latest = await self._latest(ids, last + 1, before)  # one extra: is there an older page?
            for conversation_id in ids:
                pages[(conversation_id, last, at, row_id)] = latest.get(conversation_id, [])
        return [pages[key] for key in keys]

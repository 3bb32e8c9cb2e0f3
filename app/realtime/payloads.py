"""Which row each event kind names, loaded in one query per batch and kind."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.realtime import events
from app.realtime.hub import PayloadLoader
from app.services import bots, conversations, notifications, orders, restaurants


async def _messages(session: AsyncSession, restaurant_id: str, ids: list[str]) -> dict[str, Any]:
    return await conversations.get_messages(session, restaurant_id=restaurant_id, ids=ids)


async def _conversations(session: AsyncSession, restaurant_id: str, ids: list[str]) -> dict[str, Any]:
    return await conversations.get_many(session, restaurant_id=restaurant_id, ids=ids)


async def _restaurants(session: AsyncSession, restaurant_id: str, ids: list[str]) -> dict[str, Any]:
    return await restaurants.get_many(session, restaurant_id=restaurant_id, ids=ids)


async def _bots(session: AsyncSession, restaurant_id: str, ids: list[str]) -> dict[str, Any]:
    return await bots.get_many(session, restaurant_id=restaurant_id, ids=ids)


async def _notifications(session: AsyncSession, restaurant_id: str, ids: list[str]) -> dict[str, Any]:
    return await notifications.get_many(session, restaurant_id=restaurant_id, ids=ids)


async def _orders(session: AsyncSession, restaurant_id: str, ids: list[str]) -> dict[str, Any]:
    return await orders.get_many(session, restaurant_id=restaurant_id, ids=ids)


LOADERS: dict[str, PayloadLoader] = {
    events.ORDER_UPDATED: _orders,
    events.MESSAGE_CREATED: _messages,
    events.MESSAGE_UPDATED: _messages,
    events.CONVERSATION_UPDATED: _conversations,
    events.RESTAURANT_UPDATED: _restaurants,
    events.BOT_UPDATED: _bots,
    events.NOTIFICATION_CREATED: _notifications,
}

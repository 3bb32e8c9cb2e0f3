"""Restaurants: the tenants."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.errors import NotFound, ValidationFailed
from app.ids import new_id
from app.models import Restaurant
from app.realtime import events
from app.realtime.events import Change


async def create(
    session: AsyncSession, *, name: str, restaurant_id: str | None = None, currency: str = "SAR"
) -> Restaurant:
    """Create a restaurant; an explicit `restaurant_id` that already exists returns that restaurant."""
    name = name.strip()
    if not name:
        raise ValidationFailed("name is required", field="name")
    if restaurant_id is not None and not restaurant_id.strip():
        raise ValidationFailed("restaurantId must not be blank", field="restaurantId")
    restaurant_id = restaurant_id or new_id("rst")
    await session.execute(
        insert(Restaurant)
        .values(id=restaurant_id, name=name, currency=currency.upper())
        .on_conflict_do_nothing(index_elements=["id"])
    )
    return await get(session, restaurant_id=restaurant_id)


async def get(session: AsyncSession, *, restaurant_id: str) -> Restaurant:
    row = await session.get(Restaurant, restaurant_id)
    if row is None:
        raise NotFound("restaurant not found")
    return row


async def list_all(
    session: AsyncSession, *, restaurant_ids: frozenset[str] | None = None
) -> list[Restaurant]:
    """All restaurants, or only those in `restaurant_ids` (a scoped token's view)."""
    stmt = select(Restaurant).order_by(col(Restaurant.created_at), col(Restaurant.id))
    if restaurant_ids is not None:
        stmt = stmt.where(col(Restaurant.id).in_(restaurant_ids))
    return list((await session.execute(stmt)).scalars())


async def change(session: AsyncSession, *, restaurant_id: str, **values: object) -> Restaurant:
    """Store already-checked column values of a restaurant (none: only mark it changed) and tell its
    dashboards (`restaurant.updated`): every restaurant setting is written through here."""
    row = (
        await session.execute(
            update(Restaurant)
            .where(col(Restaurant.id) == restaurant_id)
            .values(**values, updated_at=func.now())
            .returning(Restaurant)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("restaurant not found")
    await events.record(
        session, restaurant_id=restaurant_id, changes=[Change(events.RESTAURANT_UPDATED, restaurant_id)]
    )
    return row


async def set_bot_enabled(session: AsyncSession, *, restaurant_id: str, enabled: bool) -> Restaurant:
    """The restaurant-wide bot switch: when off, no conversation of the restaurant gets bot replies."""
    return await change(session, restaurant_id=restaurant_id, bot_enabled=enabled)


async def get_many(session: AsyncSession, *, restaurant_id: str, ids: list[str]) -> dict[str, Restaurant]:
    row = await session.get(Restaurant, restaurant_id)
    return {row.id: row} if row is not None and row.id in ids else {}

"""What the bot knows and remembers about one conversation, read and written in the caller's
transaction: its `TurnContext` (menu, branches, latest order), its `State`, and the per-conversation
lock. Two writers use it: the runner (a customer's turn) and the orders service (a status change the
customer is told about). Both take the same lock, so a notice never races a turn over the state.

It does not read orders itself (the caller passes the latest one): the orders service sits above
this module, and the runner reads orders through that service.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.bot import flow
from app.models import Bot, BotState, Conversation, Order, Restaurant
from app.services import catalog, conversations, opening

_KEY = "hashtextextended(:r || '/' || :c, 7411)"  # one conversation's lock, whoever takes it
_TRY_LOCK = text(f"SELECT pg_try_advisory_xact_lock({_KEY})")
_LOCK = text(f"SELECT pg_advisory_xact_lock({_KEY})")


@dataclass(frozen=True, slots=True)
class Loaded:
    """What a turn starts from: the conversation, its restaurant and bot, the bot's memory of it."""

    conversation: Conversation
    restaurant: Restaurant | None
    bot: Bot
    state: flow.State


async def load(session: AsyncSession, *, restaurant_id: str, conversation_id: str) -> Loaded:
    """The conversation with its restaurant, bot and state (take the conversation's lock first)."""
    conversation = await conversations.get(
        session, restaurant_id=restaurant_id, conversation_id=conversation_id
    )
    restaurant = await session.get(Restaurant, restaurant_id)
    bot = (
        await session.execute(
            select(Bot).where(col(Bot.restaurant_id) == restaurant_id, col(Bot.id) == conversation.bot_id)
        )
    ).scalar_one()
    state = await load_state(session, restaurant_id=restaurant_id, conversation_id=conversation_id)
    return Loaded(conversation, restaurant, bot, state)


async def try_lock(session: AsyncSession, *, restaurant_id: str, conversation_id: str) -> bool:
    """Take the conversation's lock for this transaction unless someone holds it; False if they do."""
    return bool((await session.execute(_TRY_LOCK, {"r": restaurant_id, "c": conversation_id})).scalar())


async def lock(session: AsyncSession, *, restaurant_id: str, conversation_id: str) -> None:
    """Take the conversation's lock for this transaction, waiting for whoever holds it."""
    await session.execute(_LOCK, {"r": restaurant_id, "c": conversation_id})


async def turn_context(
    session: AsyncSession,
    *,
    restaurant: Restaurant | None,
    bot: Bot,
    latest: Order | None,
    customer_name: str | None = None,
) -> flow.TurnContext:
    """Everything the bot may know for this customer: their name, the menu, branches, latest order,
    whether the restaurant is open."""
    assert restaurant is not None
    menu = await catalog.menu(session, restaurant_id=restaurant.id, include_inactive=False)
    now = datetime.now(UTC)
    judged = await opening.status(session, restaurant_id=restaurant.id, restaurant=restaurant, now=now)
    return flow.TurnContext(
        restaurant_name=bot.restaurant_name or restaurant.name,
        customer_name=customer_name,
        currency=restaurant.currency,
        min_delivery_total=restaurant.min_delivery_total,
        payment_link=bot.payment_link,
        branches=tuple(
            flow.Branch(
                b.id,
                b.name_ar,
                b.name_en,
                b.address,
                b.latitude,
                b.longitude,
                b.delivery_radius_km,
                is_default=b.is_default,
            )
            for b in menu.branches
        ),
        categories=tuple(flow.Category(c.id, c.name_ar, c.name_en) for c in menu.categories),
        items=tuple(
            flow.Item(
                i.id,
                i.category_id,
                i.name_ar,
                i.name_en,
                i.price,
                i.available,
                i.max_quantity,
                image_url=i.image_url or None,
                description_ar=i.description_ar or None,
                description_en=i.description_en or None,
                option_groups=tuple(
                    flow.OptionGroup(
                        g.group.id,
                        g.group.name_ar,
                        g.group.name_en,
                        g.group.min_select,
                        g.group.max_select,
                        tuple(
                            flow.ItemOption(o.id, o.name_ar, o.name_en, o.price_delta)
                            for o in g.options
                            if o.available
                        ),
                    )
                    for g in menu.option_groups.get(i.id, [])
                    # a group with nothing available left is not asked (a required one makes the
                    # item unorderable: see flow._orderable)
                    if g.group.min_select > 0 or any(o.available for o in g.options)
                ),
                price_before=i.price_before,
            )
            for i in menu.items
        ),
        latest_order=latest_order(latest) if latest else None,
        hours=flow.Hours(
            status=judged.status,
            opens_at=judged.next_opens_at.replace(tzinfo=None) if judged.next_opens_at else None,
            today=now.astimezone(ZoneInfo(restaurant.timezone)).date(),
            orders_for_later=restaurant.accepts_orders_when_closed,
        ),
        app_link=restaurant.app_link,
    )


def latest_order(order: Order) -> flow.LatestOrder:
    """An order as the bot sees it."""
    return flow.LatestOrder(
        id=order.id,
        reference=order.reference,
        status=order.status,
        order_type=order.order_type,
        rated=order.rating is not None,
    )


def with_latest(ctx: flow.TurnContext, order: Order) -> flow.TurnContext:
    """The context once `order` is the customer's latest (just placed)."""
    return replace(ctx, latest_order=latest_order(order))


async def load_state(session: AsyncSession, *, restaurant_id: str, conversation_id: str) -> flow.State:
    """The conversation's bot state (a fresh one when it has none)."""
    data = await session.scalar(
        select(col(BotState.state)).where(
            col(BotState.restaurant_id) == restaurant_id, col(BotState.conversation_id) == conversation_id
        )
    )
    return flow.State.from_json(data)


async def save_state(
    session: AsyncSession, *, restaurant_id: str, conversation_id: str, state: flow.State
) -> None:
    """Store the conversation's bot state (insert or replace)."""
    stmt = insert(BotState).values(
        restaurant_id=restaurant_id, conversation_id=conversation_id, state=state.to_json()
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["restaurant_id", "conversation_id"],
            set_={"state": stmt.excluded.state, "updated_at": func.now()},
        )
    )

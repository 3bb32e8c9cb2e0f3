"""Runs the bot's turns: claims inbound messages from the database, feeds them to the pure state
machine (`flow.step`) and applies its actions in the transaction that stores the new state and
marks the message handled. So each inbound message gets its turn exactly once, in arrival order per
conversation, however many processes run this and whenever one of them dies.

Claiming: a transaction takes `pg_try_advisory_xact_lock` on the conversation, then re-reads that
conversation's pending messages. Another process skips a conversation that is locked and moves on;
the lock ends with the transaction, commit or crash alike.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.bot import flow
from app.bot.texts import t
from app.db.engine import Database
from app.models import Bot, BotState, Conversation, Message, Order, Restaurant
from app.services import catalog, conversations, orders, outbound

log = logging.getLogger("sufrah.bot")

_CANDIDATES = text(
    "SELECT DISTINCT restaurant_id, conversation_id FROM ("
    " SELECT restaurant_id, conversation_id FROM message WHERE bot_turn = 'pending'"
    " ORDER BY created_at LIMIT :n) AS pending"
)
_TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(hashtextextended(:r || '/' || :c, 7411))")
_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:r || '/' || :c, 7411))")


class BotRunner:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def run_pending(self, *, max_conversations: int = 1000) -> int:
        """Give every claimable pending message its turn; returns how many messages were handled."""
        handled = 0
        for _ in range(max_conversations):
            count = await self._one_conversation()
            if count is None:
                break
            handled += count
        return handled

    async def _one_conversation(self) -> int | None:
        async with self.db.session() as session:
            candidates = (await session.execute(_CANDIDATES, {"n": 50})).all()
            for restaurant_id, conversation_id in candidates:
                if not (
                    await session.execute(_TRY_LOCK, {"r": restaurant_id, "c": conversation_id})
                ).scalar():
                    continue  # another process is answering this customer right now
                count = await self._turns(session, restaurant_id, conversation_id)
                await session.commit()
                return count
            await session.rollback()
        return None

    async def _turns(self, session: AsyncSession, restaurant_id: str, conversation_id: str) -> int:
        pending = list(
            (
                await session.execute(
                    select(Message)
                    .where(
                        Message.restaurant_id == restaurant_id,
                        Message.conversation_id == conversation_id,
                        Message.bot_turn == "pending",
                    )
                    .order_by(Message.created_at, Message.id)
                )
            ).scalars()
        )
        if not pending:
            return 0
        conversation = await conversations.get(
            session, restaurant_id=restaurant_id, conversation_id=conversation_id
        )
        restaurant = await session.get(Restaurant, restaurant_id)
        bot = (
            await session.execute(
                select(Bot).where(Bot.restaurant_id == restaurant_id, Bot.id == conversation.bot_id)
            )
        ).scalar_one()
        state = await load_state(session, restaurant_id=restaurant_id, conversation_id=conversation_id)
        ctx: flow.Context | None = None
        for message in pending:
            bot_on = (
                conversation.is_bot_active
                and restaurant is not None
                and restaurant.bot_enabled
                and bot.is_active
                and bot.deleted_at is None
            )
            if not bot_on:
                await _mark(session, message, "skipped")
                continue
            ctx = ctx or await build_context(
                session, restaurant=restaurant, bot=bot, conversation=conversation
            )
            state, actions = flow.step(state, inbound_of(message), ctx)
            state, ctx, conversation = await self._apply(session, state, actions, ctx, conversation)
            await _mark(session, message, "done")
        await save_state(session, restaurant_id=restaurant_id, conversation_id=conversation_id, state=state)
        return len(pending)

    async def _apply(
        self,
        session: AsyncSession,
        state: flow.State,
        actions: list[Any],
        ctx: flow.Context,
        conversation: Conversation,
    ) -> tuple[flow.State, flow.Context, Conversation]:
        restaurant_id = conversation.restaurant_id
        for action in actions:
            if isinstance(action, flow.Reply):
                await outbound.queue(
                    session,
                    restaurant_id=restaurant_id,
                    conversation_id=conversation.id,
                    body=action.text,
                    author="bot",
                    enforce_window=False,
                )
            elif isinstance(action, flow.PlaceOrder):
                order = await orders.create(
                    session,
                    restaurant_id=restaurant_id,
                    conversation=conversation,
                    order_type=action.order_type,
                    branch_id=action.branch_id,
                    lines=[
                        orders.NewLine(
                            line.item_id, line.name_ar, line.name_en, line.unit_price, line.quantity
                        )
                        for line in action.lines
                    ],
                    currency=action.currency,
                    payment_method=action.payment_method,
                    delivery_address=action.delivery_address,
                    delivery_latitude=action.delivery_latitude,
                    delivery_longitude=action.delivery_longitude,
                    lang=action.lang,
                )
                ctx = _with_latest(ctx, order)
                state, more = flow.order_placed(
                    state, reference=order.reference, payment_method=action.payment_method, ctx=ctx
                )
                state, ctx, conversation = await self._apply(session, state, more, ctx, conversation)
            elif isinstance(action, flow.Handoff):
                conversation = await conversations.set_bot_active(
                    session, restaurant_id=restaurant_id, conversation_id=conversation.id, active=False
                )
            elif isinstance(action, flow.RateOrder):
                await orders.rate(
                    session,
                    restaurant_id=restaurant_id,
                    order_id=action.order_id,
                    rating=action.rating,
                    comment=action.comment,
                )
        return state, ctx, conversation


async def notify_order_status(session: AsyncSession, *, order: Order) -> None:
    """Tell the customer their order moved (in the caller's transaction), and let the bot ask for
    a rating after delivery. Waits for the conversation's lock so it never races a bot turn."""
    await session.execute(_LOCK, {"r": order.restaurant_id, "c": order.conversation_id})
    conversation = await conversations.get(
        session, restaurant_id=order.restaurant_id, conversation_id=order.conversation_id
    )
    restaurant = await session.get(Restaurant, order.restaurant_id)
    bot = (
        await session.execute(
            select(Bot).where(Bot.restaurant_id == order.restaurant_id, Bot.id == conversation.bot_id)
        )
    ).scalar_one()
    state = await load_state(
        session, restaurant_id=order.restaurant_id, conversation_id=order.conversation_id
    )
    ctx = await build_context(session, restaurant=restaurant, bot=bot, conversation=conversation)
    state, actions = flow.order_status_changed(state, order=_latest(order), ctx=ctx)
    for action in actions:
        if isinstance(action, flow.Reply):
            await outbound.queue(
                session,
                restaurant_id=order.restaurant_id,
                conversation_id=order.conversation_id,
                body=action.text,
                author="bot",
                enforce_window=False,
                fallback=outbound.TemplateFallback(
                    "order_status", {"1": order.reference, "2": t(f"status_word_{order.status}", order.lang)}
                ),
            )
    await save_state(
        session, restaurant_id=order.restaurant_id, conversation_id=order.conversation_id, state=state
    )


def inbound_of(message: Message) -> flow.Inbound:
    meta = message.meta or {}
    location = meta.get("location") or {}
    button = meta.get("button") or {}
    return flow.Inbound(
        text=message.content or "",
        button_payload=button.get("payload"),
        button_text=button.get("text"),
        list_id=(meta.get("listReply") or {}).get("id"),
        latitude=location.get("latitude"),
        longitude=location.get("longitude"),
        address=location.get("address"),
        label=location.get("label"),
        message_type=message.message_type,
    )


async def build_context(
    session: AsyncSession, *, restaurant: Restaurant | None, bot: Bot, conversation: Conversation
) -> flow.Context:
    """Everything the bot may know for this customer: the menu, branches, and their latest order."""
    assert restaurant is not None
    menu = await catalog.menu(session, restaurant_id=restaurant.id, include_inactive=False)
    latest = await orders.latest_for_conversation(
        session, restaurant_id=restaurant.id, conversation_id=conversation.id
    )
    return flow.Context(
        restaurant_name=bot.restaurant_name or restaurant.name,
        currency=restaurant.currency,
        min_delivery_total=restaurant.min_delivery_total,
        payment_link=bot.payment_link,
        branches=tuple(
            flow.Branch(b.id, b.name_ar, b.name_en, b.address, b.latitude, b.longitude, b.delivery_radius_km)
            for b in menu.branches
        ),
        categories=tuple(flow.Category(c.id, c.name_ar, c.name_en) for c in menu.categories),
        items=tuple(
            flow.Item(i.id, i.category_id, i.name_ar, i.name_en, i.price, i.available, i.max_quantity)
            for i in menu.items
        ),
        latest_order=_latest(latest) if latest else None,
    )


def _latest(order: Order) -> flow.LatestOrder:
    return flow.LatestOrder(
        id=order.id,
        reference=order.reference,
        status=order.status,
        order_type=order.order_type,
        rated=order.rating is not None,
    )


def _with_latest(ctx: flow.Context, order: Order) -> flow.Context:
    from dataclasses import replace

    return replace(ctx, latest_order=_latest(order))


async def load_state(session: AsyncSession, *, restaurant_id: str, conversation_id: str) -> flow.State:
    data = await session.scalar(
        select(BotState.state).where(
            BotState.restaurant_id == restaurant_id, BotState.conversation_id == conversation_id
        )
    )
    return flow.State.from_json(data)


async def save_state(
    session: AsyncSession, *, restaurant_id: str, conversation_id: str, state: flow.State
) -> None:
    from sqlalchemy import func

    stmt = insert(BotState).values(
        restaurant_id=restaurant_id, conversation_id=conversation_id, state=state.to_json()
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["restaurant_id", "conversation_id"],
            set_={"state": stmt.excluded.state, "updated_at": func.now()},
        )
    )


async def _mark(session: AsyncSession, message: Message, outcome: str) -> None:
    await session.execute(
        update(Message)
        .where(Message.restaurant_id == message.restaurant_id, Message.id == message.id)
        .values(bot_turn=outcome)
    )

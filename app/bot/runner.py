"""Runs the bot's turns: claims inbound messages from the database, feeds them to the pure state
machine (`flow.step`) and applies its actions in the transaction that stores the new state and
marks the message handled. So each inbound message gets its turn exactly once, in arrival order per
conversation, however many processes run this and whenever one of them dies.

Claiming: a transaction takes `pg_try_advisory_xact_lock` on the conversation, then re-reads that
conversation's pending messages. Another process skips a conversation that is locked and moves on;
the lock ends with the transaction, commit or crash alike (app/bot/memory.py; an order status
notice from the orders service waits for the same lock).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.bot import flow, memory
from app.channels.sufrah import SufrahPlatform
from app.db.engine import Database
from app.models import Bot, Conversation, Message, Restaurant
from app.services import conversations, merchant, merchant_orders, orders, outbound, usage

log = logging.getLogger("sufrah.bot")

_CANDIDATES = text(
    "SELECT DISTINCT restaurant_id, conversation_id FROM ("
    " SELECT restaurant_id, conversation_id FROM message WHERE bot_turn = 'pending'"
    " ORDER BY created_at LIMIT :n) AS pending"
)


# The steps whose handlers take a shared location as the delivery address (flow's _on_order_type,
# _on_location, _on_out_of_range): only there is the platform asked about its coverage.
_WHERE_A_LOCATION_COUNTS = frozenset({"order_type", "location", "out_of_range"})


class BotRunner:
    def __init__(self, db: Database, *, platform: SufrahPlatform | None = None) -> None:
        """platform: the Sufrah merchant platform, asked for delivery coverage of its restaurants."""
        self.db = db
        self.platform = platform

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
                if not await memory.try_lock(
                    session, restaurant_id=restaurant_id, conversation_id=conversation_id
                ):
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
                        col(Message.restaurant_id) == restaurant_id,
                        col(Message.conversation_id) == conversation_id,
                        col(Message.bot_turn) == "pending",
                    )
                    .order_by(col(Message.created_at), col(Message.id))
                )
            ).scalars()
        )
        if not pending:
            return 0
        loaded = await memory.load(session, restaurant_id=restaurant_id, conversation_id=conversation_id)
        conversation, restaurant, bot, state = (
            loaded.conversation,
            loaded.restaurant,
            loaded.bot,
            loaded.state,
        )
        ctx: flow.TurnContext | None = None
        # Past the month's allowance the restaurant may pause the bot's extras (app/services/usage.py)
        allowed = restaurant is not None and await usage.allows(
            session,
            restaurant_id=restaurant_id,
            restaurant=restaurant,
            conversation=conversation,
            purpose="bot_turn",
        )
        for message in pending:
            bot_on = (
                allowed
                and conversation.is_bot_active
                and restaurant is not None
                and restaurant.bot_enabled
                and bot.is_active
                and bot.deleted_at is None
            )
            if not bot_on:
                await _mark(session, message, "skipped")
                continue
            ctx = ctx or await _context(session, restaurant=restaurant, bot=bot, conversation=conversation)
            inbound = inbound_of(message)
            if merchant.is_platform(restaurant):
                assert restaurant is not None
                ctx = await self._platform_context(session, restaurant, ctx, state, inbound)
            state, actions = flow.step(state, inbound, ctx)
            state, ctx, conversation = await self._apply(session, state, actions, ctx, conversation)
            await _mark(session, message, "done")
        await memory.save_state(
            session, restaurant_id=restaurant_id, conversation_id=conversation_id, state=state
        )
        return len(pending)

    async def _apply(
        self,
        session: AsyncSession,
        state: flow.State,
        actions: list[Any],
        ctx: flow.TurnContext,
        conversation: Conversation,
    ) -> tuple[flow.State, flow.TurnContext, Conversation]:
        restaurant_id = conversation.restaurant_id
        for action in actions:
            if isinstance(action, flow.Reply):
                await outbound.queue_reply(
                    session,
                    restaurant_id=restaurant_id,
                    conversation_id=conversation.id,
                    reply=action,
                    lang=state.lang,
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
                            line.item_id,
                            line.name_ar,
                            line.name_en,
                            line.unit_price,
                            line.quantity,
                            options=tuple(o.snapshot() for o in line.options),
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
                if merchant.is_platform(await session.get(Restaurant, restaurant_id)):
                    await merchant_orders.queue_submission(
                        session, restaurant_id=restaurant_id, order_id=order.id
                    )
                ctx = memory.with_latest(ctx, order)
                state, more = flow.order_placed(
                    state, reference=order.reference, payment_method=action.payment_method, ctx=ctx
                )
                state, ctx, conversation = await self._apply(session, state, more, ctx, conversation)
            elif isinstance(action, flow.Handoff):
                conversation = await conversations.request_staff(
                    session, restaurant_id=restaurant_id, conversation_id=conversation.id
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

    async def _platform_context(
        self,
        session: AsyncSession,
        restaurant: Restaurant,
        ctx: flow.TurnContext,
        state: flow.State,
        inbound: flow.Inbound,
    ) -> flow.TurnContext:
        """A Sufrah-platform restaurant's turn: its menu at the customer's branch, the platform's
        coverage for a shared location (asked here: the flow does no I/O), and no fixed payment link
        (the platform sends one per order)."""
        ctx = replace(ctx, payment_link=None, online_payment=True, coverage=None)
        if state.branch_id:
            ctx = await merchant.for_branch(
                session, restaurant_id=restaurant.id, ctx=ctx, branch_id=state.branch_id
            )
        asks = state.step in _WHERE_A_LOCATION_COUNTS
        if (
            asks
            and self.platform is not None
            and inbound.latitude is not None
            and inbound.longitude is not None
        ):
            cover = await merchant.coverage(
                self.platform,
                restaurant_id=restaurant.id,
                merchant_id=str(restaurant.merchant_id),
                latitude=inbound.latitude,
                longitude=inbound.longitude,
            )
            ctx = replace(ctx, coverage=cover)
        return ctx


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


async def _context(
    session: AsyncSession, *, restaurant: Restaurant | None, bot: Bot, conversation: Conversation
) -> flow.TurnContext:
    latest = await orders.latest_for_conversation(
        session, restaurant_id=conversation.restaurant_id, conversation_id=conversation.id
    )
    return await memory.turn_context(
        session, restaurant=restaurant, bot=bot, latest=latest, customer_name=conversation.customer_name
    )


async def _mark(session: AsyncSession, message: Message, outcome: str) -> None:
    await session.execute(
        update(Message)
        .where(col(Message.restaurant_id) == message.restaurant_id, col(Message.id) == message.id)
        .values(bot_turn=outcome)
    )

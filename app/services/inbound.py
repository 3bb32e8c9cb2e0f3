"""Storing what Twilio delivers: inbound messages (idempotent by MessageSid) and delivery statuses."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.twilio.inbound import InboundMessage, StatusCallback
from app.ids import new_id
from app.models import Conversation, Message
from app.realtime import events
from app.realtime.events import Change

# How far along a delivery status is. A callback may only move a message forward, so a late or
# duplicated "sent" never overwrites "delivered", and "read" is final.
STATUS_RANK = {
    "accepted": 0, "scheduled": 0, "queued": 0, "sending": 1, "sent": 2,
    "failed": 3, "undelivered": 3, "canceled": 3, "delivered": 4, "read": 5,
}


@dataclass(frozen=True, slots=True)
class Ingested:
    created: bool  # False when this MessageSid was already stored (a redelivery)
    restaurant_id: str
    conversation_id: str
    message_id: str | None


async def ingest(session: AsyncSession, *, restaurant_id: str, bot_id: str, inbound: InboundMessage) -> Ingested:
    """Store one inbound message in the caller's transaction. Safe under redelivery and races:

    - the conversation is found or created by (restaurant, bot, customer) with one upsert, so two
      first messages arriving at once make one conversation;
    - the message insert is a no-op when the MessageSid is already stored, and only a new message
      moves the conversation's counters, which are updated in SQL, never read-modify-written.
    """
    conversation_id = (
        await session.execute(
            insert(Conversation)
            .values(
                restaurant_id=restaurant_id,
                id=new_id("cnv"),
                bot_id=bot_id,
                customer_phone=inbound.from_phone,
                customer_name=inbound.profile_name,
            )
            .on_conflict_do_update(
                constraint="conversation_customer_key",
                # A no-op write that locks the row: redeliveries of one message serialize here.
                set_={"bot_id": Conversation.__table__.c.bot_id},
            )
            .returning(Conversation.id)
        )
    ).scalar_one()

    message_id = (
        await session.execute(
            insert(Message)
            .values(
                restaurant_id=restaurant_id,
                id=new_id("msg"),
                conversation_id=conversation_id,
                direction="IN",
                author="customer",
                bot_turn="pending",
                # Taken after the conversation row lock: one customer's messages are ordered as they
                # were stored, which is the order the bot answers them in.
                created_at=func.clock_timestamp(),
                message_type=inbound.message_type,
                content=inbound.body,
                media_urls=[url for url, _ in inbound.media],
                wa_sid=inbound.message_sid,
                delivery_status="received",
                meta=inbound.metadata(),
            )
            .on_conflict_do_nothing(constraint="message_wa_sid_key")
            .returning(Message.id)
        )
    ).scalar_one_or_none()
    if message_id is None:
        return Ingested(False, restaurant_id, conversation_id, None)

    await session.execute(
        update(Conversation)
        .where(Conversation.restaurant_id == restaurant_id, Conversation.id == conversation_id)
        .values(
            last_message_at=func.now(),
            last_inbound_at=func.now(),
            unread_count=Conversation.unread_count + 1,
            status="active",  # a closed conversation reopens when the customer writes again
            customer_name=func.coalesce(literal(inbound.profile_name), Conversation.customer_name),
            updated_at=func.now(),
        )
    )
    await events.record(
        session,
        restaurant_id=restaurant_id,
        changes=[
            Change(events.MESSAGE_CREATED, message_id, conversation_id),
            Change(events.CONVERSATION_UPDATED, conversation_id, conversation_id),
        ],
    )
    return Ingested(True, restaurant_id, conversation_id, message_id)


def _rank(column):  # type: ignore[no-untyped-def]
    return case(*((column == status, rank) for status, rank in STATUS_RANK.items()), else_=-1)


async def apply_status(
    session: AsyncSession, *, restaurant_id: str, callback: StatusCallback, message_id: str | None = None
) -> Message | None:
    """Record a delivery status on the outbound message it names, if that moves it forward.

    `message_id` is our id, carried in the status callback URL: it links a message whose send
    outcome we never learned (a timeout, a crash mid-send) to the waSid Twilio gave it, so the
    outbox knows Twilio has it and never sends it again.
    Returns the updated message, or None when nothing changed (unknown sid, duplicate, stale)."""
    if message_id:
        await session.execute(
            update(Message)
            .where(Message.restaurant_id == restaurant_id, Message.id == message_id, Message.direction == "OUT",
                   Message.wa_sid.is_(None))
            .values(wa_sid=callback.message_sid, send_state="sent", sent_at=func.coalesce(Message.sent_at, func.now()),
                    next_attempt_at=None, error_message=None)
        )
    if callback.status not in STATUS_RANK:
        return None
    values: dict[str, object] = {"delivery_status": callback.status, "updated_at": func.now()}
    if callback.error_code:
        values["error_code"] = callback.error_code
    if callback.error_message:
        values["error_message"] = callback.error_message
    result = await session.execute(
        update(Message)
        .where(
            Message.restaurant_id == restaurant_id,
            Message.wa_sid == callback.message_sid,
            Message.direction == "OUT",
            _rank(Message.delivery_status) < STATUS_RANK[callback.status],
        )
        .values(**values)
        .returning(Message)
    )
    message = result.scalar_one_or_none()
    if message is not None:
        await events.record(
            session,
            restaurant_id=restaurant_id,
            changes=[Change(events.MESSAGE_UPDATED, message.id, message.conversation_id)],
        )
    return message


async def message_exists(session: AsyncSession, *, restaurant_id: str, wa_sid: str) -> bool:
    stmt = select(Message.id).where(Message.restaurant_id == restaurant_id, Message.wa_sid == wa_sid)
    return (await session.execute(stmt)).first() is not None

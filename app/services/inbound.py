"""Storing what Twilio delivers: inbound messages (idempotent by MessageSid) and delivery statuses."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.twilio.inbound import InboundMessage, StatusCallback, parse_inbound, parse_status
from app.db.engine import Database, on_driver
from app.errors import NotFound
from app.ids import new_id
from app.models import Message
from app.realtime import events
from app.realtime.events import Change
from app.services import media
from app.spool import Spooled

# How far along a delivery status is. A callback may only move a message forward, so a late or
# duplicated "sent" never overwrites "delivered", and "read" is final.
STATUS_RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 0,
    "sending": 1,
    "sent": 2,
    "failed": 3,
    "undelivered": 3,
    "canceled": 3,
    "delivered": 4,
    "read": 5,
}


@dataclass(frozen=True, slots=True)
class Ingested:
    created: bool  # False when this MessageSid was already stored (a redelivery)
    restaurant_id: str
    conversation_id: str
    message_id: str | None


# One round trip (the SQL function from migration 0004_ingest_function):
# - the conversation is found or created by (restaurant, bot, customer) with one upsert, so two
#   first messages arriving at once make one conversation;
# - the message insert is a no-op when the MessageSid is already stored, and only a new message moves
#   the conversation's counters (in SQL, never read-modify-written) and appends to the event log.
_ARGUMENTS = (
    "r",
    "b",
    "conversation_id",
    "message_id",
    "phone",
    "name",
    "kind",
    "content",
    "media",
    "sid",
    "meta",
)
_JSONB = {"media", "meta"}
_INGEST_CALL = "SELECT conversation_id, message_id, bot_live FROM sufrah_ingest({})"
_INGEST = text(
    _INGEST_CALL.format(", ".join(f"CAST(:{a} AS jsonb)" if a in _JSONB else f":{a}" for a in _ARGUMENTS))
)
# the same call for asyncpg itself (the webhook's path)
_INGEST_DRIVER = _INGEST_CALL.format(
    ", ".join(f"${i}::jsonb" if a in _JSONB else f"${i}::text" for i, a in enumerate(_ARGUMENTS, 1))
)


def _params(restaurant_id: str, bot_id: str, inbound: InboundMessage) -> dict[str, object]:
    return {
        "r": restaurant_id,
        "b": bot_id,
        "conversation_id": new_id("cnv"),
        "message_id": new_id("msg"),
        "phone": inbound.from_phone,
        "name": inbound.profile_name,
        "kind": inbound.message_type,
        "content": inbound.body,
        "media": json.dumps([url for url, _ in inbound.media]),
        "sid": inbound.message_sid,
        "meta": json.dumps(inbound.metadata(), ensure_ascii=False),
    }


def _result(restaurant_id: str, row: Mapping[str, Any]) -> Ingested:
    if not row["bot_live"]:
        raise NotFound("no bot is registered for this number")
    return Ingested(row["message_id"] is not None, restaurant_id, row["conversation_id"], row["message_id"])


async def ingest(
    session: AsyncSession, *, restaurant_id: str, bot_id: str, inbound: InboundMessage
) -> Ingested:
    """Store one inbound message in the caller's transaction. Safe under redelivery and races."""
    result = _result(
        restaurant_id,
        (await session.execute(_INGEST, _params(restaurant_id, bot_id, inbound))).one()._mapping,
    )
    if result.created:
        session.info.setdefault(events.TOUCHED, set()).add(restaurant_id)
        if inbound.media:  # its attachments' download jobs, in the message's transaction
            await media.record_inbound(
                session, restaurant_id=restaurant_id, message_id=result.message_id or "", media=inbound.media
            )
    return result


async def ingest_now(db: Database, *, restaurant_id: str, bot_id: str, inbound: InboundMessage) -> Ingested:
    """The webhook's hot path: the same, as one autocommitted statement (one round trip); a message
    with attachments takes a transaction, so its media rows commit with it."""
    if inbound.media:
        async with db.session() as session:
            result = await ingest(session, restaurant_id=restaurant_id, bot_id=bot_id, inbound=inbound)
            await session.commit()
        return result
    params = _params(restaurant_id, bot_id, inbound)
    async with db.engine.connect() as conn:
        row = await on_driver(
            conn, lambda driver: driver.fetchrow(_INGEST_DRIVER, *(params[a] for a in _ARGUMENTS))
        )
    result = _result(restaurant_id, row)
    if result.created:
        db.committed({restaurant_id})
    return result


async def apply_spooled(db: Database, *, entry: Spooled) -> None:
    """Apply a webhook kept in the outage spool (app/spool.py), in a transaction of its own. Safe to
    repeat (MessageSid keys inbound messages, statuses only move forward); raises NotFound when its
    bot is gone and ValidationFailed when it doesn't parse: the spool keeps such an entry aside."""
    async with db.session() as session:
        if entry.kind == "inbound":
            await ingest(
                session,
                restaurant_id=entry.restaurant_id,
                bot_id=entry.bot_id,
                inbound=parse_inbound(entry.params),
            )
        else:
            await apply_status(
                session,
                restaurant_id=entry.restaurant_id,
                callback=parse_status(entry.params),
                message_id=entry.query.get("m"),
            )
        await session.commit()


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
            .where(
                Message.restaurant_id == restaurant_id,
                Message.id == message_id,
                Message.direction == "OUT",
                Message.wa_sid.is_(None),
            )
            .values(
                wa_sid=callback.message_sid,
                send_state="sent",
                sent_at=func.coalesce(Message.sent_at, func.now()),
                next_attempt_at=None,
                error_message=None,
            )
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

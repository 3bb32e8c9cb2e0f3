"""Outgoing messages. Every message to a customer is first a row (the outbox): it shows in the
conversation at once, and a sender delivers it through Twilio after the transaction commits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, not_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.errors import NotFound, OutsideCustomerWindow, ValidationFailed
from app.ids import new_id
from app.models import Bot, Conversation, Message, Restaurant
from app.phone import to_whatsapp
from app.realtime import events
from app.realtime.events import Change
from app.services import conversations

CUSTOMER_WINDOW = timedelta(hours=24)
MAX_BODY = 4096  # WhatsApp's limit for a text message body


def _in_sql(expr: ColumnElement[Any]) -> Any:
    """A SQL expression as a new row's column value: the ORM writes it into the INSERT, which
    SQLModel's constructor, typed for Python values only, cannot say."""
    return expr


def _check_media_url(media_url: str) -> None:
    if not media_url.startswith(("https://", "http://")) or len(media_url) > 2048:
        raise ValidationFailed("mediaUrl must be an http(s) URL", field="mediaUrl")


def _bot_after_staff_reply(restaurant_id: str) -> ColumnElement[bool]:
    paused = select(Restaurant.pause_bot_on_staff_reply).where(Restaurant.id == restaurant_id)
    return and_(Conversation.is_bot_active, not_(paused.scalar_subquery()))


async def queue(
    session: AsyncSession,
    *,
    restaurant_id: str,
    conversation_id: str,
    body: str,
    media_url: str | None = None,
    author: str,
    bot_id: str | None = None,
    enforce_window: bool = True,
) -> Message:
    """Store an outgoing message as `queued` in the caller's transaction.

    Free-form messages may only reach a customer within 24 hours of their last message (WhatsApp's
    customer service window); outside it they are refused with OutsideCustomerWindow. `bot_id` narrows
    like `conversations.scope` (a caller that named one sender may only write to its conversations)."""
    body = body.strip() if body else ""
    if not body and not media_url:
        raise ValidationFailed("a message needs a body or a mediaUrl", field="body")
    if len(body) > MAX_BODY:
        raise ValidationFailed(f"body is longer than {MAX_BODY} characters", field="body")
    if media_url:
        _check_media_url(media_url)
    conversation = (
        await session.execute(
            select(Conversation)
            .where(*conversations.in_scope(restaurant_id=restaurant_id, bot_id=bot_id))
            .where(col(Conversation.id) == conversation_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if conversation is None:
        raise NotFound("conversation not found")
    if enforce_window:
        now = (await session.execute(select(func.now()))).scalar_one()
        if conversation.last_inbound_at is None or now - conversation.last_inbound_at > CUSTOMER_WINDOW:
            raise OutsideCustomerWindow(
                "the customer's last message is more than 24 hours old; WhatsApp only allows a "
                "template message now"
            )
    from_number = await session.scalar(
        select(col(Bot.whatsapp_number)).where(
            col(Bot.restaurant_id) == restaurant_id, col(Bot.id) == conversation.bot_id
        )
    )
    message = Message(
        restaurant_id=restaurant_id,
        id=new_id("msg"),
        conversation_id=conversation_id,
        direction="OUT",
        author=author,
        message_type="image" if media_url and not body else ("media" if media_url else "text"),
        content=body,
        media_urls=[media_url] if media_url else [],
        delivery_status="queued",
        bot_id=conversation.bot_id,
        send_state="pending",
        next_attempt_at=_in_sql(func.now()),
        created_at=_in_sql(func.clock_timestamp()),  # distinct and ordered within one transaction
        meta={
            "fromPhone": to_whatsapp(from_number) if from_number else None,
            "toPhone": to_whatsapp(conversation.customer_phone),
            "botId": conversation.bot_id,
            "author": author,
        },
    )
    session.add(message)
    await session.flush()
    await session.execute(
        update(Conversation)
        .where(col(Conversation.restaurant_id) == restaurant_id, col(Conversation.id) == conversation_id)
        # A staff reply means staff have read the conversation, and (the restaurant's setting, on by
        # default) that staff took it over: the bot pauses for it.
        .values(
            last_message_at=func.now(),
            updated_at=func.now(),
            **(
                {"unread_count": 0, "is_bot_active": _bot_after_staff_reply(restaurant_id)}
                if author == "staff"
                else {}
            ),
        )
    )
    await events.record(
        session,
        restaurant_id=restaurant_id,
        changes=[
            Change(events.MESSAGE_CREATED, message.id, conversation_id),
            Change(events.CONVERSATION_UPDATED, conversation_id, conversation_id),
        ],
    )
    await session.refresh(message)
    return message

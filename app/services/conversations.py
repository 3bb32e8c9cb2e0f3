"""Conversations and their messages: reads for the dashboards and the staff's actions on them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFound, ValidationFailed
from app.models import CONVERSATION_STATUSES, Conversation, Message

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class Stats:
    total_conversations: int
    active_conversations: int
    total_unread: int


def _check_status(status: str | None) -> None:
    if status is not None and status not in CONVERSATION_STATUSES:
        raise ValidationFailed("status must be 'active' or 'closed'", field="status")


async def list_page(
    session: AsyncSession,
    *,
    restaurant_id: str,
    bot_id: str | None = None,
    status: str | None = None,
    search: str | None = None,
    limit: int = 50,
    offset: int = 0,
    after: tuple[datetime, str] | None = None,
) -> list[Conversation]:
    """Conversations, newest activity first. `after` is a keyset position (last_message_at, id): a
    page deep in the list costs what the first page costs. Returns up to `limit` rows."""
    _check_status(status)
    if not 0 < limit <= MAX_PAGE:
        raise ValidationFailed(f"limit must be from 1 to {MAX_PAGE}", field="limit")
    if offset < 0:
        raise ValidationFailed("offset must not be negative", field="offset")
    stmt = select(Conversation).where(Conversation.restaurant_id == restaurant_id)
    if bot_id is not None:
        stmt = stmt.where(Conversation.bot_id == bot_id)
    if status is not None:
        stmt = stmt.where(Conversation.status == status)
    if search:
        stmt = stmt.where(_matches(restaurant_id, search))
    if after is not None:
        stmt = stmt.where(tuple_(Conversation.last_message_at, Conversation.id) < tuple_(*after))
    stmt = stmt.order_by(Conversation.last_message_at.desc(), Conversation.id.desc()).offset(offset).limit(limit)
    return list((await session.execute(stmt)).scalars())


def _matches(restaurant_id: str, search: str):  # type: ignore[no-untyped-def]
    pattern = "%" + search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    in_messages = (
        select(Message.id)
        .where(
            Message.restaurant_id == restaurant_id,
            Message.conversation_id == Conversation.id,
            Message.content.ilike(pattern),
        )
        .exists()
    )
    return or_(Conversation.customer_name.ilike(pattern), Conversation.customer_phone.ilike(pattern), in_messages)


async def count(
    session: AsyncSession,
    *,
    restaurant_id: str,
    bot_id: str | None = None,
    status: str | None = None,
    search: str | None = None,
) -> int:
    _check_status(status)
    stmt = select(func.count()).select_from(Conversation).where(Conversation.restaurant_id == restaurant_id)
    if bot_id is not None:
        stmt = stmt.where(Conversation.bot_id == bot_id)
    if status is not None:
        stmt = stmt.where(Conversation.status == status)
    if search:
        stmt = stmt.where(_matches(restaurant_id, search))
    return int(await session.scalar(stmt) or 0)


async def get(session: AsyncSession, *, restaurant_id: str, conversation_id: str) -> Conversation:
    """One conversation of this restaurant; NotFound for a missing one and for another tenant's."""
    row = (
        await session.execute(
            select(Conversation).where(
                Conversation.restaurant_id == restaurant_id, Conversation.id == conversation_id
            )
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("conversation not found")
    return row


async def stats(session: AsyncSession, *, restaurant_id: str, bot_id: str | None = None) -> Stats:
    stmt = select(
        func.count(),
        func.count().filter(Conversation.status == "active"),
        func.coalesce(func.sum(Conversation.unread_count), 0),
    ).where(Conversation.restaurant_id == restaurant_id)
    if bot_id is not None:
        stmt = stmt.where(Conversation.bot_id == bot_id)
    total, active, unread = (await session.execute(stmt)).one()
    return Stats(total_conversations=total, active_conversations=active, total_unread=int(unread))


async def list_messages(
    session: AsyncSession,
    *,
    restaurant_id: str,
    conversation_id: str,
    limit: int = 100,
    offset: int = 0,
    before: datetime | tuple[datetime, str] | None = None,
) -> list[Message]:
    """The newest `limit` messages before `before` (a time, or a keyset position), oldest first."""
    if not 0 < limit <= MAX_PAGE * 5:
        raise ValidationFailed(f"limit must be from 1 to {MAX_PAGE * 5}", field="limit")
    if offset < 0:
        raise ValidationFailed("offset must not be negative", field="offset")
    stmt = select(Message).where(
        Message.restaurant_id == restaurant_id, Message.conversation_id == conversation_id
    )
    if isinstance(before, tuple):
        stmt = stmt.where(tuple_(Message.created_at, Message.id) < tuple_(*before))
    elif before is not None:
        stmt = stmt.where(Message.created_at < before)
    stmt = stmt.order_by(Message.created_at.desc(), Message.id.desc()).offset(offset).limit(limit)
    rows = list((await session.execute(stmt)).scalars())
    rows.reverse()
    return rows


async def _update(session: AsyncSession, restaurant_id: str, conversation_id: str, **values: object) -> Conversation:
    row = (
        await session.execute(
            update(Conversation)
            .where(and_(Conversation.restaurant_id == restaurant_id, Conversation.id == conversation_id))
            .values(**values, updated_at=func.now())
            .returning(Conversation)
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("conversation not found")
    return row


async def mark_read(session: AsyncSession, *, restaurant_id: str, conversation_id: str) -> Conversation:
    """Clear the unread badge."""
    return await _update(session, restaurant_id, conversation_id, unread_count=0)


async def set_status(
    session: AsyncSession, *, restaurant_id: str, conversation_id: str, status: str
) -> Conversation:
    """Close or reopen a conversation (a new customer message reopens it too)."""
    _check_status(status)
    return await _update(session, restaurant_id, conversation_id, status=status)


async def set_bot_active(
    session: AsyncSession, *, restaurant_id: str, conversation_id: str, active: bool
) -> Conversation:
    """Turn the bot on or off for one conversation (off = staff answer by hand)."""
    return await _update(session, restaurant_id, conversation_id, is_bot_active=active)

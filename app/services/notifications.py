"""Staff notifications: what staff must notice now (a new order, a customer asking for staff, a new
conversation), stored per restaurant with a read state and delivered live through the event log.

Each is raised in the transaction of what caused it, so there is never an order without its
notification nor a notification of a rolled-back order. The one raised from SQL is
`conversation_started`: the webhook's hot path stores a message in one statement (the ingest
function, migration 0009), and the notification commits there with the conversation's first message.
The others are raised here, with their wording.

The rows keep the earlier backend's shape (kind as its `type`, title, body, metadata with
conversationId and orderId, read state, createdAt), so its REST contract can be served from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db import in_sql, rowcount
from app.errors import ValidationFailed
from app.ids import new_id
from app.models import NOTIFICATION_KINDS, Conversation, Notification, Order
from app.realtime import events
from app.realtime.events import Change
from app.services.pages import MAX_PAGE

MAX_IDS = 500  # ids one "mark read" may name


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[Notification]  # newest first
    has_next_page: bool
    unread_count: int


async def create(
    session: AsyncSession,
    *,
    restaurant_id: str,
    kind: str,
    title: str,
    body: str,
    conversation_id: str | None = None,
    order_id: str | None = None,
    **metadata: Any,
) -> Notification:
    """Raise a notification in the caller's transaction; subscribers hear of it after the commit."""
    if kind not in NOTIFICATION_KINDS:
        raise ValidationFailed(f"unknown notification kind {kind}", field="kind")
    row = Notification(
        restaurant_id=restaurant_id,
        id=new_id("ntf"),
        kind=kind,
        title=title,
        body=body,
        meta={"conversationId": conversation_id, "orderId": order_id, **metadata},
        created_at=in_sql(func.clock_timestamp()),  # distinct and ordered within one transaction
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    await events.record(
        session,
        restaurant_id=restaurant_id,
        changes=[Change(events.NOTIFICATION_CREATED, row.id, conversation_id)],
    )
    return row


def _who(name: str | None, phone: str) -> str:
    return f"{name} ({phone})" if name else phone


async def order_created(session: AsyncSession, *, restaurant_id: str, order: Order) -> Notification:
    """A new order."""
    kind = "delivery" if order.order_type == "delivery" else "pickup"
    return await create(
        session,
        restaurant_id=restaurant_id,
        kind="order_created",
        title=f"New order {order.reference}",
        body=f"{_who(order.customer_name, order.customer_phone)} · {kind}",
        conversation_id=order.conversation_id,
        order_id=order.id,
        reference=order.reference,
        total=order.total,
        currency=order.currency,
        branchId=order.branch_id,
    )


async def handoff_requested(
    session: AsyncSession, *, restaurant_id: str, conversation: Conversation
) -> Notification:
    """A customer asked to talk to staff."""
    return await create(
        session,
        restaurant_id=restaurant_id,
        kind="handoff_requested",
        title="A customer asks for staff",
        body=_who(conversation.customer_name, conversation.customer_phone),
        conversation_id=conversation.id,
        customerPhone=conversation.customer_phone,
        customerName=conversation.customer_name,
    )


async def list_page(
    session: AsyncSession,
    *,
    restaurant_id: str,
    limit: int = 20,
    after: tuple[datetime, str] | None = None,
    unread_only: bool = False,
) -> Page:
    """Notifications newest first (keyset pages of `limit`), with the restaurant's unread count."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(f"first must be from 1 to {MAX_PAGE}", field="first")
    stmt = select(Notification).where(col(Notification.restaurant_id) == restaurant_id)
    if unread_only:
        stmt = stmt.where(col(Notification.read_at).is_(None))
    if after is not None:
        stmt = stmt.where(tuple_(col(Notification.created_at), col(Notification.id)) < tuple_(*after))
    stmt = stmt.order_by(col(Notification.created_at).desc(), col(Notification.id).desc()).limit(limit + 1)
    rows = list((await session.execute(stmt)).scalars())
    return Page(
        rows=rows[:limit],
        has_next_page=len(rows) > limit,
        unread_count=await unread_count(session, restaurant_id=restaurant_id),
    )


async def unread_count(session: AsyncSession, *, restaurant_id: str) -> int:
    """How many notifications of the restaurant no one has read."""
    stmt = select(func.count()).where(
        col(Notification.restaurant_id) == restaurant_id, col(Notification.read_at).is_(None)
    )
    return int(await session.scalar(stmt) or 0)


async def mark_read(
    session: AsyncSession, *, restaurant_id: str, ids: list[str] | None = None, all: bool = False
) -> int:
    """Mark the named notifications (or all) of the restaurant read; returns how many changed.
    Another restaurant's ids are not found, so they change nothing."""
    if all == (ids is not None):
        raise ValidationFailed("name the notifications (ids) or pass all: true, not both", field="ids")
    stmt = update(Notification).where(
        col(Notification.restaurant_id) == restaurant_id, col(Notification.read_at).is_(None)
    )
    if ids is not None:
        if len(ids) > MAX_IDS:
            raise ValidationFailed(f"at most {MAX_IDS} ids at once", field="ids")
        stmt = stmt.where(col(Notification.id).in_(ids))
    result = await session.execute(stmt.values(read_at=func.now()))
    return rowcount(result)


async def get_many(session: AsyncSession, *, restaurant_id: str, ids: list[str]) -> dict[str, Notification]:
    stmt = select(Notification).where(
        col(Notification.restaurant_id) == restaurant_id, col(Notification.id).in_(ids)
    )
    return {row.id: row for row in (await session.execute(stmt)).scalars()}

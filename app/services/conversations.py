"""Conversations and their messages: reads for the dashboards and the staff's actions on them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, FromClause, and_, func, or_, select, text, tuple_, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.errors import NotFound, ValidationFailed
from app.ids import new_id
from app.models import CONVERSATION_STATUSES, Conversation, Message, table_of
from app.realtime import events
from app.realtime.events import Change
from app.services import notifications, pages


def scope(*, restaurant_id: str, bot_id: str | None) -> dict[str, str]:
    """The conversations a caller sees, as the columns they must equal: its restaurant's, and only its
    bot's when it named one (a token used with a bot id as its tenant). Every read of conversations,
    plain or compiled (app.graphql.fast), narrows by exactly these."""
    return (
        {"restaurant_id": restaurant_id}
        if bot_id is None
        else {"restaurant_id": restaurant_id, "bot_id": bot_id}
    )


def in_scope(*, restaurant_id: str, bot_id: str | None) -> list[ColumnElement[bool]]:
    """`scope` as WHERE terms over the conversation table."""
    return [
        getattr(Conversation, column) == value
        for column, value in scope(restaurant_id=restaurant_id, bot_id=bot_id).items()
    ]


@dataclass(frozen=True, slots=True)
class Stats:
    total_conversations: int
    active_conversations: int
    total_unread: int
    waiting_for_staff: int = 0


@dataclass(frozen=True, slots=True)
class ActivityStats:
    messages_today: int  # since midnight in the restaurant's time zone
    median_first_response_seconds: float | None  # staff, over the last 7 days


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
    # a full page and one more row, to tell whether there is a next page
    pages.page_size(limit, field="limit", high=pages.MAX_PAGE + 1)
    pages.offset(offset, high=pages.LEGACY_MAX_OFFSET)
    stmt = select(Conversation).where(*in_scope(restaurant_id=restaurant_id, bot_id=bot_id))
    if status is not None:
        stmt = stmt.where(col(Conversation.status) == status)
    if search:
        stmt = stmt.where(_matches(restaurant_id, search))
    if after is not None:
        stmt = stmt.where(tuple_(Conversation.last_message_at, Conversation.id) < tuple_(*after))
    stmt = (
        stmt.order_by(col(Conversation.last_message_at).desc(), col(Conversation.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


def _matches(restaurant_id: str, search: str) -> ColumnElement[bool]:
    pattern = "%" + search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    in_messages = (
        select(col(Message.id))
        .where(
            col(Message.restaurant_id) == restaurant_id,
            col(Message.conversation_id) == Conversation.id,
            col(Message.content).ilike(pattern),
        )
        .exists()
    )
    return or_(
        col(Conversation.customer_name).ilike(pattern),
        col(Conversation.customer_phone).ilike(pattern),
        in_messages,
    )


async def count(
    session: AsyncSession,
    *,
    restaurant_id: str,
    bot_id: str | None = None,
    status: str | None = None,
    search: str | None = None,
) -> int:
    """How many conversations `list_page` would page through with these filters."""
    _check_status(status)
    stmt = (
        select(func.count())
        .select_from(Conversation)
        .where(*in_scope(restaurant_id=restaurant_id, bot_id=bot_id))
    )
    if status is not None:
        stmt = stmt.where(col(Conversation.status) == status)
    if search:
        stmt = stmt.where(_matches(restaurant_id, search))
    return int(await session.scalar(stmt) or 0)


async def get(
    session: AsyncSession, *, restaurant_id: str, conversation_id: str, bot_id: str | None = None
) -> Conversation:
    """One conversation of this restaurant (of this bot, for a caller narrowed to one bot, see
    `scope`); NotFound for a missing one and for another tenant's or another bot's."""
    row = (
        await session.execute(
            select(Conversation).where(
                *in_scope(restaurant_id=restaurant_id, bot_id=bot_id), col(Conversation.id) == conversation_id
            )
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("conversation not found")
    return row


async def get_many(session: AsyncSession, *, restaurant_id: str, ids: list[str]) -> dict[str, Conversation]:
    stmt = select(Conversation).where(
        col(Conversation.restaurant_id) == restaurant_id, col(Conversation.id).in_(ids)
    )
    return {row.id: row for row in (await session.execute(stmt)).scalars()}


async def get_messages(session: AsyncSession, *, restaurant_id: str, ids: list[str]) -> dict[str, Message]:
    stmt = select(Message).where(col(Message.restaurant_id) == restaurant_id, col(Message.id).in_(ids))
    return {row.id: row for row in (await session.execute(stmt)).scalars()}


async def stats(session: AsyncSession, *, restaurant_id: str, bot_id: str | None = None) -> Stats:
    """The dashboard's counters over the conversations the caller sees (see `scope`)."""
    stmt = select(
        func.count(),
        func.count().filter(col(Conversation.status) == "active"),
        func.coalesce(func.sum(Conversation.unread_count), 0),
        func.count().filter(WAITING_FOR_STAFF),
    ).where(*in_scope(restaurant_id=restaurant_id, bot_id=bot_id))
    total, active, unread, waiting = (await session.execute(stmt)).one()
    return Stats(
        total_conversations=total,
        active_conversations=active,
        total_unread=int(unread),
        waiting_for_staff=waiting,
    )


def waiting_clause(conversation: FromClause) -> ColumnElement[bool]:
    """The rule "waiting for staff" over `conversation` (the table or an alias of it): the bot is off
    for the conversation, it is open, and the customer spoke last or asked for staff ("talk to
    staff", `request_staff`) after the last message sent, so a person must answer.
    `waiting_for_staff` is the same rule for a row in hand; tests hold the two to each other."""
    c = conversation.c
    return and_(
        c.status == "active",
        c.is_bot_active.is_(False),
        or_(
            and_(c.last_inbound_at.is_not(None), c.last_inbound_at >= c.last_message_at),
            and_(c.staff_requested_at.is_not(None), c.staff_requested_at >= c.last_message_at),
        ),
    )


def waiting_for_staff(row: Conversation) -> bool:
    """`waiting_clause` for a conversation already read."""
    return (
        row.status == "active"
        and not row.is_bot_active
        and any(
            at is not None and at >= row.last_message_at
            for at in (row.last_inbound_at, row.staff_requested_at)
        )
    )


def waiting_sql(alias: str) -> str:
    """`waiting_clause` as SQL text over the row alias `alias` (for statements written as text)."""
    clause = waiting_clause(table_of(Conversation).alias(alias))
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy's dialects are untyped
    return f"({clause.compile(dialect=dialect, compile_kwargs={'literal_binds': True})})"


WAITING_FOR_STAFF = waiting_clause(table_of(Conversation))


# Messages since midnight in the restaurant's time zone.
MESSAGES_TODAY = """
    SELECT count(*) FROM message m, restaurant r
    WHERE r.id = :r AND m.restaurant_id = :r
      AND m.created_at >= (date_trunc('day', now() AT TIME ZONE r.timezone) AT TIME ZONE r.timezone)"""


def staff_answers(since: str, until: str) -> str:
    """SQL: one row per staff reply sent from `since` to `until` (SQL expressions; `until`
    excluded) that answered a customer, with `waited_from`, the first customer message it answers (the
    oldest one since the previous staff reply in that conversation), and `answered_at`. Each reply's
    two lookups run once (LATERAL), on the staff replies' own index (migration 0006) and the
    conversation's history. The median first response and the overview's SLA breaches both read it."""
    return f"""
    SELECT s.conversation_id, first_in.at AS waited_from, s.created_at AS answered_at
    FROM message s
    CROSS JOIN LATERAL (
        SELECT max(p.created_at) AS at FROM message p
        WHERE p.restaurant_id = :r AND p.conversation_id = s.conversation_id
          AND p.author = 'staff' AND p.created_at < s.created_at
    ) previous
    CROSS JOIN LATERAL (
        SELECT min(i.created_at) AS at FROM message i
        WHERE i.restaurant_id = :r AND i.conversation_id = s.conversation_id AND i.direction = 'IN'
          AND i.created_at < s.created_at AND i.created_at > coalesce(previous.at, '-infinity')
    ) first_in
    WHERE s.restaurant_id = :r AND s.author = 'staff' AND s.created_at >= {since} AND s.created_at < {until}
      AND first_in.at IS NOT NULL"""


def median_wait(answers: str) -> str:
    """SQL: the median wait in seconds over `answers`, rows of `staff_answers` (a subquery in
    parentheses, or the name of a CTE holding them)."""
    return f"""
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM a.answered_at - a.waited_from))
    FROM {answers} a"""


def median_first_response(since: str, until: str) -> str:
    """SQL: how long customers waited for staff, the median over `staff_answers(since, until)`."""
    return median_wait(f"({staff_answers(since, until)})")


# The dashboard's figure: over the staff replies of the last 7 days.
MEDIAN_FIRST_RESPONSE = median_first_response("now() - interval '7 days'", "'infinity'")

_ACTIVITY = text(f"SELECT ({MESSAGES_TODAY}), ({MEDIAN_FIRST_RESPONSE})")


async def activity(session: AsyncSession, *, restaurant_id: str) -> ActivityStats:
    """What an owner looks at first: today's message count and how fast staff answer."""
    today, median = (await session.execute(_ACTIVITY, {"r": restaurant_id})).one()
    return ActivityStats(
        messages_today=int(today or 0),
        median_first_response_seconds=float(median) if median is not None else None,
    )


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
    pages.page_size(limit, field="limit", high=pages.LEGACY_MAX_MESSAGES)
    pages.offset(offset, high=pages.LEGACY_MAX_OFFSET)
    stmt = select(Message).where(
        col(Message.restaurant_id) == restaurant_id, col(Message.conversation_id) == conversation_id
    )
    if isinstance(before, tuple):
        stmt = stmt.where(tuple_(Message.created_at, Message.id) < tuple_(*before))
    elif before is not None:
        stmt = stmt.where(col(Message.created_at) < before)
    stmt = stmt.order_by(col(Message.created_at).desc(), col(Message.id).desc()).offset(offset).limit(limit)
    rows = list((await session.execute(stmt)).scalars())
    rows.reverse()
    return rows


async def _update(
    session: AsyncSession, restaurant_id: str, bot_id: str | None, conversation_id: str, **values: object
) -> Conversation:
    row = (
        await session.execute(
            update(Conversation)
            .where(
                *in_scope(restaurant_id=restaurant_id, bot_id=bot_id), col(Conversation.id) == conversation_id
            )
            .values(**values, updated_at=func.now())
            .returning(Conversation)
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("conversation not found")
    await events.record(
        session, restaurant_id=restaurant_id, changes=[Change(events.CONVERSATION_UPDATED, row.id, row.id)]
    )
    return row


async def mark_read(
    session: AsyncSession, *, restaurant_id: str, bot_id: str | None, conversation_id: str
) -> Conversation:
    """Clear the unread badge. `bot_id` narrows like `scope` (None: any of the restaurant's bots)."""
    return await _update(session, restaurant_id, bot_id, conversation_id, unread_count=0)


async def set_status(
    session: AsyncSession, *, restaurant_id: str, bot_id: str | None, conversation_id: str, status: str
) -> Conversation:
    """Close or reopen a conversation (a new customer message reopens it too)."""
    _check_status(status)
    return await _update(session, restaurant_id, bot_id, conversation_id, status=status)


async def set_bot_active(
    session: AsyncSession, *, restaurant_id: str, bot_id: str | None, conversation_id: str, active: bool
) -> Conversation:
    """Turn the bot on or off for one conversation (off = staff answer by hand)."""
    return await _update(session, restaurant_id, bot_id, conversation_id, is_bot_active=active)


async def request_staff(session: AsyncSession, *, restaurant_id: str, conversation_id: str) -> Conversation:
    """The customer asked for staff: the bot stops, the conversation waits for staff from now (not
    from the customer's next message: the bot's "someone will answer" must not count as the answer,
    see `waiting_clause`), and staff are notified."""
    # now() is the transaction's time, the same the bot's reply in this turn wrote to last_message_at.
    row = await _update(
        session,
        restaurant_id,
        None,
        conversation_id,
        is_bot_active=False,
        staff_requested_at=func.greatest(func.now(), Conversation.last_message_at),
    )
    await notifications.handoff_requested(session, restaurant_id=restaurant_id, conversation=row)
    return row


async def find_or_create(
    session: AsyncSession,
    *,
    restaurant_id: str,
    bot_id: str,
    customer_phone: str,
    customer_name: str | None,
    bot_active: bool = True,
) -> Conversation:
    """The conversation of this bot with this number, created when there is none (as a first
    inbound message would create it: the same key, so the number's replies land in it)."""
    await session.execute(
        postgresql.insert(Conversation)
        .values(
            restaurant_id=restaurant_id,
            id=new_id("cnv"),
            bot_id=bot_id,
            customer_phone=customer_phone,
            customer_name=customer_name,
            is_bot_active=bot_active,
        )
        .on_conflict_do_nothing(constraint="conversation_customer_key")
    )
    return (
        await session.execute(
            # the conversation key (conversation_customer_key), not a caller's scope
            select(Conversation).filter_by(
                restaurant_id=restaurant_id, bot_id=bot_id, customer_phone=customer_phone
            )
        )
    ).scalar_one()

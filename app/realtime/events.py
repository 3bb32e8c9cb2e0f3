"""The durable event log, written inside the transaction that makes the change.

Why a per-restaurant counter (see shared/spec/event-log-notes.md): a bigserial id is taken at insert
but becomes visible at commit, so "after id N" skips a slower writer's N-1. Taking the next number
from the restaurant's `event_counter` row locks that row until commit, so one restaurant's events
become visible strictly in number order and "after N" is gapless. The price, serialized writes per
restaurant, is paid already: every write of a conversation locks that conversation's row anyway.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import rowcount
from app.errors import ValidationFailed

MESSAGE_CREATED = "message.created"
MESSAGE_UPDATED = "message.updated"
CONVERSATION_UPDATED = "conversation.updated"
RESTAURANT_UPDATED = "restaurant.updated"
BOT_UPDATED = "bot.status.updated"
ORDER_UPDATED = "order.updated"
NOTIFICATION_CREATED = "notification.created"

TOUCHED = "sufrah.touched_restaurants"  # session.info key: restaurants whose log grew in this transaction


@dataclass(frozen=True, slots=True)
class Change:
    kind: str
    entity_id: str
    conversation_id: str | None = None


@dataclass(frozen=True, slots=True)
class EventRow:
    restaurant_id: str
    seq: int
    kind: str
    entity_id: str
    conversation_id: str | None


_RECORD = text(
    """
    WITH counter AS (
        INSERT INTO event_counter AS ec (restaurant_id, last_seq) VALUES (:r, :n)
        ON CONFLICT (restaurant_id) DO UPDATE SET last_seq = ec.last_seq + :n
        RETURNING last_seq
    )
    INSERT INTO event (restaurant_id, seq, kind, entity_id, conversation_id)
    SELECT :r, counter.last_seq - :n + e.ord, e.kind, e.entity_id, e.conversation_id
    FROM counter,
         unnest(CAST(:kinds AS text[]), CAST(:entities AS text[]), CAST(:conversations AS text[]))
             WITH ORDINALITY AS e(kind, entity_id, conversation_id, ord)
    """
)


async def record(session: AsyncSession, *, restaurant_id: str, changes: Sequence[Change]) -> None:
    """Append changes to the restaurant's log in the caller's transaction; subscribers are woken
    after it commits (see Database's after-commit hook)."""
    if not changes:
        return
    await session.execute(
        _RECORD,
        {
            "r": restaurant_id,
            "n": len(changes),
            "kinds": [c.kind for c in changes],
            "entities": [c.entity_id for c in changes],
            "conversations": [c.conversation_id for c in changes],
        },
    )
    session.info.setdefault(TOUCHED, set()).add(restaurant_id)


async def read(session: AsyncSession, *, restaurant_id: str, after: int, limit: int = 500) -> list[EventRow]:
    rows = await session.execute(
        text(
            "SELECT seq, kind, entity_id, conversation_id FROM event"
            " WHERE restaurant_id = :r AND seq > :after ORDER BY seq LIMIT :limit"
        ),
        {"r": restaurant_id, "after": after, "limit": limit},
    )
    return [EventRow(restaurant_id, r.seq, r.kind, r.entity_id, r.conversation_id) for r in rows]


async def last_seq(session: AsyncSession, *, restaurant_id: str) -> int:
    value = await session.scalar(
        text("SELECT last_seq FROM event_counter WHERE restaurant_id = :r"), {"r": restaurant_id}
    )
    return int(value or 0)


async def pruned_after(session: AsyncSession, *, restaurant_id: str, after: int) -> bool:
    """Whether events after position `after` were written but are gone (pruned), for a reader that
    found none after it. One statement, so one snapshot: the counter and the events it counted
    commit together, so a counter past `after` without event `after + 1` means it was pruned, not
    that it is still being written."""
    return bool(
        await session.scalar(
            text(
                "SELECT COALESCE((SELECT last_seq FROM event_counter WHERE restaurant_id = :r), 0) > :after"
                " AND NOT EXISTS (SELECT 1 FROM event WHERE restaurant_id = :r AND seq = :after + 1)"
            ),
            {"r": restaurant_id, "after": after},
        )
    )


async def prune(session: AsyncSession, *, older_than_days: int) -> int:
    """Drop events older than the retention window (a client further behind reloads from queries;
    resuming from a pruned position is refused, see Hub.subscribe)."""
    result = await session.execute(
        text("DELETE FROM event WHERE created_at < now() - make_interval(days => :d)"), {"d": older_than_days}
    )
    return rowcount(result)


def encode_cursor(restaurant_id: str, seq: int) -> str:
    return base64.urlsafe_b64encode(f"ev:{restaurant_id}:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *, restaurant_id: str) -> int:
    """The position a cursor names; ValidationFailed when it is malformed or another restaurant's."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("ev:"):
            raise ValueError(raw)
        owner, _, seq = raw[3:].rpartition(":")
        value = int(seq)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise ValidationFailed("malformed event cursor", field="after") from None
    if owner != restaurant_id or value < 0:
        raise ValidationFailed("this cursor belongs to another stream", field="after")
    return value

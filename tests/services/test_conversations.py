"""`waiting for staff` has one home (app/services/conversations.py): the SQL rule and the Python one
agree on every combination of the columns it reads, as PostgreSQL evaluates it (the customer's last
message and their asking for staff, issue #15, each against the last message sent)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.db.engine import Database
from app.models import Conversation
from app.services import conversations
from tests.support import Factory


async def test_waiting_for_staff_is_the_same_rule_in_sql_and_in_python(
    db: Database, factory: Factory
) -> None:
    handle = await factory.bot()
    bot = handle.bot
    now = datetime.now(UTC)
    rows = []
    async with db.session() as s:
        for n, (status, bot_on, inbound, requested) in enumerate(
            itertools.product(["active", "closed"], [True, False], [None, -1, 0, 1], [None, -1, 0, 1])
        ):
            row = Conversation(
                restaurant_id=bot.restaurant_id,
                id=f"cnv_w{n}",
                bot_id=bot.id,
                customer_phone=f"+96655000{n:04d}",
                status=status,
                is_bot_active=bot_on,
                last_message_at=now,
                last_inbound_at=None if inbound is None else now + timedelta(seconds=inbound),
                staff_requested_at=None if requested is None else now + timedelta(seconds=requested),
            )
            s.add(row)
            rows.append(row)
        await s.commit()
        clause = conversations.waiting_clause(Conversation.__table__)  # type: ignore[arg-type]
        in_sql = dict(
            (
                await s.execute(
                    select(Conversation.id, clause).where(Conversation.restaurant_id == bot.restaurant_id)
                )
            ).all()
        )
        stored = (
            await s.execute(select(Conversation).where(Conversation.restaurant_id == bot.restaurant_id))
        ).scalars()
        in_python = {row.id: conversations.waiting_for_staff(row) for row in stored}
    assert in_sql == in_python
    # open, bot off, and the customer spoke or asked for staff last (or at the same time): of the 16
    # combinations of those two, all but the 4 where both are missing or older than the last message
    assert sum(in_python.values()) == 12

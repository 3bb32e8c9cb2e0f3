"""How many more messages a sender may start now: the quota `/api/whatsapp/send` answers 429 with.

Two limits, and the first one used up is the answer (`check`, the one function callers use; it keeps
the earlier backend's quota fields, `planName` and `resetDate`):
- the restaurant's plan allowance: WhatsApp sessions this month against plan + adjustments
  (app/services/usage.py), reset on the first of next month in the restaurant's time zone; a
  restaurant without a plan has none;
- the sender's own daily limit (`bot.max_messages_per_day`, the limit the outbox paces sends by),
  counted over the last 24 hours of outgoing messages, queued ones included.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.models import Bot, Message
from app.services import usage

WINDOW = timedelta(days=1)
PLAN_NAME = "sender daily limit"


@dataclass(frozen=True, slots=True)
class Allowance:
    used: int
    limit: int
    reset_at: datetime  # when the oldest counted message leaves the window
    now: datetime
    plan_name: str = PLAN_NAME

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    @property
    def allowed(self) -> bool:
        return self.used < self.limit

    @property
    def days_until_reset(self) -> int:
        return max(math.ceil((self.reset_at - self.now) / timedelta(days=1)), 0)


async def check(session: AsyncSession, *, restaurant_id: str, bot: Bot) -> Allowance:
    """What `bot` of `restaurant_id` has used of its allowance, and when it frees up again: the plan's
    monthly allowance once it is used up, else the sender's daily limit."""
    now = (await session.execute(select(func.now()))).scalar_one()
    month = await usage.get(session, restaurant_id=restaurant_id)
    allowance = month.allowance
    if month.plan is not None and allowance is not None and month.over_limit:
        timezone = month.restaurant.timezone
        return Allowance(
            used=month.sessions,
            limit=allowance,
            reset_at=usage.month_period(month.month, timezone=timezone).end,
            now=now,
            plan_name=month.plan.name,
        )
    used, oldest = (
        await session.execute(
            select(func.count(), func.min(col(Message.created_at))).where(
                col(Message.restaurant_id) == restaurant_id,  # message_by_restaurant_time
                col(Message.created_at) > now - WINDOW,
                col(Message.bot_id) == bot.id,
                col(Message.direction) == "OUT",
            )
        )
    ).one()
    return Allowance(used=used, limit=bot.max_messages_per_day, reset_at=(oldest or now) + WINDOW, now=now)

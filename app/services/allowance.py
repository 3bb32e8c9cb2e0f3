"""How many more messages a sender may start now: the quota `/api/whatsapp/send` answers 429 with.

Today that is the sender's own daily limit (`bot.max_messages_per_day`, the limit the outbox paces
sends by), counted over the last 24 hours of outgoing messages, queued ones included. The plan
allowance (monthly conversations per plan) is meant to replace it here, in `check`, the one function
callers use; its answer keeps the earlier backend's quota fields (`planName`, `resetDate`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.models import Bot, Message

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
    """What `bot` of `restaurant_id` has used of its allowance, and when it frees up again."""
    now = (await session.execute(select(func.now()))).scalar_one()
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

"""Usage and plans: WhatsApp's 24-hour conversation sessions, counted per restaurant and month and
held against the restaurant's plan.

Sessions. WhatsApp bills a conversation per 24 hours from the message that opened it. A message, in
or out, opens a session when its conversation has none open: none yet, or the latest opened 24 hours
ago or more. So the first message after 24 h of silence always opens one, and a chat lasting longer
than a day opens the next when the window closes. Inbound counts too: the customer's message is what
the bot answers, and we never drop it, so its session is spent either way. The session is recorded
in the message's transaction by SQL (`sufrah_open_session`, migration 0013): from the ingest
function (the webhook's one statement; the conversation upsert returns `session_started_at`, so an
open session costs no extra read) and from outbound.queue. The month is the restaurant's, in its time
zone, and `usage_month` keeps its count, so reading usage is O(1); the daily breakdown groups the
month's sessions by local day.

Allowance. A restaurant's plan gives `monthly_sessions`; admins add (or take) sessions for one month
with a reason (`usage_adjustment`). allowance = plan + adjustments (never below 0); remaining =
allowance - sessions. Without a plan there is no allowance: nothing is counted against a limit.
Staff get a notification once a month when sessions reach the restaurant's near-limit percent (80 by
default) and once when the allowance is used up.

At the limit (the restaurant's `usage_limit_action`):
- WARN (default): only the notifications and the usage page's warning.
- PAUSE_BOT_EXTRAS: a session opened once the allowance was used up (`over_allowance`) gets no bot
  turns: the customer's messages are stored and shown to staff as always (never dropped), the bot
  says nothing in that session (rather than a half-answer it could not finish), and staff can reply.
  Essential messages always go: staff replies and templates, and order notices (status changes of
  an order the customer placed). A session opened within the allowance keeps its bot to the end,
  order confirmation included: it is paid for already. Whether the bot answers is decided when the
  session opens, so it never goes quiet in the middle of one. The seam is `allows`.

Plans are global (admin-managed, like bots' number directory); their functions take no
`restaurant_id`. The edges check that the caller is an admin.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.errors import NotFound, ValidationFailed
from app.ids import new_id
from app.models import (
    USAGE_LIMIT_ACTIONS,
    Conversation,
    ConversationSession,
    Plan,
    Restaurant,
    UsageAdjustment,
    UsageMonth,
    table_of,
)
from app.services import restaurants
from app.services.pages import MAX_PAGE
from app.services.periods import Period

SESSION_WINDOW = timedelta(hours=24)
MAX_SESSIONS = 10_000_000  # the largest allowance or adjustment we accept
MAX_REASON = 500

# What a message is for, as `allows` sees it: a bot's turn is an extra; the others are essential.
Purpose = Literal["bot_turn", "order_notice", "staff_reply"]
ESSENTIAL: frozenset[Purpose] = frozenset({"order_notice", "staff_reply"})

_OPEN = text("SELECT sufrah_open_session(:r, :c, :b, :m, :d)")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def opens_session(started_at: datetime | None, now: datetime) -> bool:
    """A message at `now` opens a session when the conversation's current one (opened at
    `started_at`) is none or 24 hours old or more (the ingest function's rule, written once in SQL)."""
    return started_at is None or now - started_at >= SESSION_WINDOW


async def open_session(
    session: AsyncSession,
    *,
    restaurant_id: str,
    conversation_id: str,
    bot_id: str,
    message_id: str,
    direction: str,
) -> bool:
    """Record the session `message_id` opens, in the caller's transaction (the caller sets the
    conversation's `session_started_at`); True when it opened over the allowance."""
    over = await session.scalar(
        _OPEN, {"r": restaurant_id, "c": conversation_id, "b": bot_id, "m": message_id, "d": direction}
    )
    return bool(over)


async def allows(
    session: AsyncSession,
    *,
    restaurant_id: str,
    restaurant: Restaurant,
    conversation: Conversation,
    purpose: Purpose,
) -> bool:
    """Whether a message for `purpose` may go in the conversation's current session (see the module
    docstring: only a bot's turn in a session opened over the allowance, under PAUSE_BOT_EXTRAS, may
    not). No query unless the restaurant pauses its bot's extras."""
    if purpose in ESSENTIAL or restaurant.usage_limit_action != "PAUSE_BOT_EXTRAS":
        return True
    if conversation.session_started_at is None:
        return True
    over = await session.scalar(
        select(col(ConversationSession.over_allowance)).where(
            col(ConversationSession.restaurant_id) == restaurant_id,
            col(ConversationSession.conversation_id) == conversation.id,
            col(ConversationSession.started_at) == conversation.session_started_at,
        )
    )
    return not over


# -- months ----------------------------------------------------------------------------------------


def parse_month(value: str) -> date:
    """ "2026-12" -> 2026-12-01; ValidationFailed naming `month` otherwise."""
    match = _MONTH.match(value.strip())
    if match is None or not 2000 <= int(match[1]) <= 2100 or not 1 <= int(match[2]) <= 12:
        raise ValidationFailed("month must be YYYY-MM", field="month")
    return date(int(match[1]), int(match[2]), 1)


def this_month(timezone: str, *, now: datetime | None = None) -> date:
    """The first day of the current month in `timezone`."""
    local = (now or datetime.now(ZoneInfo(timezone))).astimezone(ZoneInfo(timezone))
    return local.date().replace(day=1)


def month_period(month: date, *, timezone: str) -> Period:
    """The month's days, in the restaurant's time zone."""
    following = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return Period.of(month, following - timedelta(days=1), timezone=timezone)


# -- reading usage ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Usage:
    """One restaurant's month against its allowance."""

    restaurant: Restaurant
    month: date
    sessions: int
    plan: Plan | None
    adjustments: list[UsageAdjustment] = field(default_factory=list)

    @property
    def adjusted_by(self) -> int:
        return sum(a.sessions for a in self.adjustments)

    @property
    def allowance(self) -> int | None:
        """Plan + adjustments, at least 0; None without a plan (no limit)."""
        return None if self.plan is None else max(0, self.plan.monthly_sessions + self.adjusted_by)

    @property
    def remaining(self) -> int | None:
        allowance = self.allowance
        return None if allowance is None else max(0, allowance - self.sessions)

    @property
    def percent(self) -> float | None:
        """Sessions as a percent of the allowance (100 for a used-up allowance of 0)."""
        allowance = self.allowance
        if allowance is None:
            return None
        if allowance == 0:
            return 100.0
        return round(100 * self.sessions / allowance, 1)

    @property
    def over_limit(self) -> bool:
        """The allowance is used up: sessions opened from now on are over it."""
        allowance = self.allowance
        return allowance is not None and self.sessions >= allowance

    @property
    def near_limit(self) -> bool:
        """At or past the restaurant's near-limit percent (over the limit included)."""
        percent = self.percent
        return percent is not None and percent >= self.restaurant.usage_near_limit_percent


async def get(session: AsyncSession, *, restaurant_id: str, month: date | None = None) -> Usage:
    """The restaurant's usage for `month` (default: this month, in its time zone)."""
    restaurant = await _restaurant(session, restaurant_id)
    month = month or this_month(restaurant.timezone)
    sessions = await session.scalar(
        select(col(UsageMonth.sessions)).where(
            col(UsageMonth.restaurant_id) == restaurant_id, col(UsageMonth.month) == month
        )
    )
    plan = await session.get(Plan, restaurant.plan_id) if restaurant.plan_id else None
    adjustments = await _adjustments(session, [restaurant_id], [month])
    return Usage(restaurant, month, int(sessions or 0), plan, adjustments.get((restaurant_id, month), []))


async def daily(
    session: AsyncSession, *, restaurant_id: str, month: date, timezone: str
) -> list[tuple[date, int]]:
    """Sessions opened on each day of the month (the restaurant's days), zeros included."""
    period = month_period(month, timezone=timezone)
    started = table_of(ConversationSession).c.started_at
    day = period.local_day(started)
    rows = await session.execute(
        select(day, func.count())
        .where(
            col(ConversationSession.restaurant_id) == restaurant_id,
            period.contains(started),
        )
        .group_by(day)
    )
    counts = {d: int(n) for d, n in rows.all()}
    return [(d, counts.get(d, 0)) for d in period.days()]


async def overview(
    session: AsyncSession,
    *,
    month: date | None = None,
    near_limit_only: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Usage], int]:
    """Every restaurant's usage (admins), fullest first (percent, then sessions); each restaurant's
    own current month unless `month` is given. Returns one page and the total count. Four queries,
    whatever the page: the cost grows with the number of restaurants (rows of a few columns), not
    with their traffic."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(f"first must be from 1 to {MAX_PAGE}", field="first")
    if not 0 <= offset <= 100_000:
        raise ValidationFailed("offset must be from 0 to 100000", field="offset")
    restaurants = list((await session.execute(select(Restaurant).order_by(col(Restaurant.id)))).scalars())
    months = {r.id: month or this_month(r.timezone) for r in restaurants}
    counted = await session.execute(select(UsageMonth).where(col(UsageMonth.month).in_(set(months.values()))))
    sessions = {(u.restaurant_id, u.month): u.sessions for u in counted.scalars()}
    plans = {p.id: p for p in (await session.execute(select(Plan))).scalars()}
    adjustments = await _adjustments(session, None, list(set(months.values())))
    rows = [
        Usage(
            r,
            months[r.id],
            sessions.get((r.id, months[r.id]), 0),
            plans.get(r.plan_id) if r.plan_id else None,
            adjustments.get((r.id, months[r.id]), []),
        )
        for r in restaurants
    ]
    if near_limit_only:
        rows = [u for u in rows if u.near_limit]
    rows.sort(key=lambda u: (u.percent is None, -(u.percent or 0), -u.sessions, u.restaurant.id))
    return rows[offset : offset + limit], len(rows)


async def _restaurant(session: AsyncSession, restaurant_id: str) -> Restaurant:
    restaurant = await session.get(Restaurant, restaurant_id)
    if restaurant is None:
        raise NotFound("restaurant not found")
    return restaurant


async def _adjustments(
    session: AsyncSession, restaurant_ids: Sequence[str] | None, months: Sequence[date]
) -> dict[tuple[str, date], list[UsageAdjustment]]:
    stmt = select(UsageAdjustment).where(col(UsageAdjustment.month).in_(months))
    if restaurant_ids is not None:
        stmt = stmt.where(col(UsageAdjustment.restaurant_id).in_(restaurant_ids))
    found: dict[tuple[str, date], list[UsageAdjustment]] = {}
    for row in (await session.execute(stmt.order_by(col(UsageAdjustment.created_at)))).scalars():
        found.setdefault((row.restaurant_id, row.month), []).append(row)
    return found


# -- changing it -----------------------------------------------------------------------------------


async def update_settings(
    session: AsyncSession,
    *,
    restaurant_id: str,
    limit_action: str | None = None,
    near_limit_percent: int | None = None,
) -> Restaurant:
    """The restaurant's choice of what happens at the limit, and when staff are warned."""
    values: dict[str, object] = {}
    if limit_action is not None:
        if limit_action not in USAGE_LIMIT_ACTIONS:
            raise ValidationFailed(
                f"limitAction must be one of {', '.join(USAGE_LIMIT_ACTIONS)}", field="limitAction"
            )
        values["usage_limit_action"] = limit_action
    if near_limit_percent is not None:
        if not 1 <= near_limit_percent <= 100:
            raise ValidationFailed("nearLimitPercent must be from 1 to 100", field="nearLimitPercent")
        values["usage_near_limit_percent"] = near_limit_percent
    return await _update_restaurant(session, restaurant_id, values)


async def assign_plan(session: AsyncSession, *, restaurant_id: str, plan_id: str | None) -> Restaurant:
    """Put the restaurant on a plan (None: no plan, no allowance). Admins only (the edge checks)."""
    if plan_id is not None and await session.get(Plan, plan_id) is None:
        raise NotFound("plan not found")
    return await _update_restaurant(session, restaurant_id, {"plan_id": plan_id})


async def _update_restaurant(
    session: AsyncSession, restaurant_id: str, values: dict[str, object]
) -> Restaurant:
    return await restaurants.change(session, restaurant_id=restaurant_id, **values)


async def adjust(
    session: AsyncSession, *, restaurant_id: str, month: date, sessions: int, reason: str, created_by: str
) -> UsageAdjustment:
    """Add `sessions` (negative: take them) to the restaurant's allowance for `month`, with a reason.
    Admins only (the edge checks)."""
    reason = reason.strip()
    if sessions == 0 or abs(sessions) > MAX_SESSIONS:
        raise ValidationFailed(
            f"sessions must be from -{MAX_SESSIONS} to {MAX_SESSIONS}, not 0", field="sessions"
        )
    if not reason or len(reason) > MAX_REASON:
        raise ValidationFailed(f"a reason of 1 to {MAX_REASON} characters is required", field="reason")
    await _restaurant(session, restaurant_id)
    row = UsageAdjustment(
        restaurant_id=restaurant_id,
        id=new_id("adj"),
        month=month,
        sessions=sessions,
        reason=reason,
        created_by=created_by,
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return row


# -- plans (global) --------------------------------------------------------------------------------


async def list_plans(session: AsyncSession) -> list[Plan]:
    """Every plan, smallest allowance first."""
    return list(
        (await session.execute(select(Plan).order_by(col(Plan.monthly_sessions), col(Plan.name)))).scalars()
    )


def _plan_values(
    name: str | None, monthly_sessions: int | None, price: int | None, currency: str | None
) -> dict[str, object]:
    values: dict[str, object] = {}
    if name is not None:
        if not name.strip() or len(name.strip()) > 100:
            raise ValidationFailed("a plan's name is 1 to 100 characters", field="name")
        values["name"] = name.strip()
    if monthly_sessions is not None:
        if not 0 <= monthly_sessions <= MAX_SESSIONS:
            raise ValidationFailed(
                f"monthlySessions must be from 0 to {MAX_SESSIONS}", field="monthlySessions"
            )
        values["monthly_sessions"] = monthly_sessions
    if price is not None:
        if not 0 <= price <= 2**31 - 1:
            raise ValidationFailed("price must be 0 or more (minor units)", field="price")
        values["price"] = price
    if currency is not None:
        if not re.fullmatch(r"[A-Za-z]{3}", currency):
            raise ValidationFailed("currency is a 3-letter code", field="currency")
        values["currency"] = currency.upper()
    return values


async def _name_taken(session: AsyncSession, name: object, plan_id: str | None = None) -> None:
    stmt = select(col(Plan.id)).where(col(Plan.name) == name)
    if plan_id is not None:
        stmt = stmt.where(col(Plan.id) != plan_id)
    if await session.scalar(stmt) is not None:
        raise ValidationFailed("another plan has this name", field="name")


async def create_plan(
    session: AsyncSession, *, name: str, monthly_sessions: int, price: int = 0, currency: str = "SAR"
) -> Plan:
    """A new plan. Admins only (the edge checks)."""
    _plan_values(name, monthly_sessions, price, currency)
    await _name_taken(session, name.strip())
    plan = Plan(
        id=new_id("pln"),
        name=name.strip(),
        monthly_sessions=monthly_sessions,
        price=price,
        currency=currency.upper(),
    )
    session.add(plan)
    try:
        await session.flush()
    except IntegrityError:  # the same name, created by another admin just now
        raise ValidationFailed("another plan has this name", field="name") from None
    await session.refresh(plan)
    return plan


async def update_plan(
    session: AsyncSession,
    *,
    plan_id: str,
    name: str | None = None,
    monthly_sessions: int | None = None,
    price: int | None = None,
    currency: str | None = None,
) -> Plan:
    """Change a plan; its restaurants' allowances follow (new sessions are counted against it)."""
    values = _plan_values(name, monthly_sessions, price, currency)
    if "name" in values:
        await _name_taken(session, values["name"], plan_id)
    plan = await session.get(Plan, plan_id)
    if plan is None:
        raise NotFound("plan not found")
    if values:
        await session.execute(
            update(Plan).where(col(Plan.id) == plan_id).values(**values, updated_at=func.now())
        )
        await session.refresh(plan)
    return plan

"""The overview an owner opens first: how the restaurant is doing now and over a period.

"Now" figures are counts at the time of the request: active conversations, those waiting for staff
(`conversations.WAITING_FOR_STAFF`), open orders (`orders.OPEN_STATUSES`) and the SLA breaches
going on. Period figures cover whole days in the restaurant's time zone (`periods.Period`): orders
and revenue (counted orders only, `orders.COUNTED`; money in the restaurant's minor units) in total
and per local day, zeros included; the average order value; the median first staff response
(`conversations.median_first_response`); the SLA breaches; the top items; the average rating and
its trend against the period of the same length just before.

SLA breaches. A restaurant sets `sla_minutes` (1..1440, 15 by default): how long a customer may
wait for a person. A wait starts at the first customer message since the last staff reply, the
rule the median first response already uses (`conversations.staff_answers`), and it is a breach when
- it was answered later than `sla_minutes`: counted in the period its staff reply falls in, like
  the median; or
- it is still unanswered: the conversation is waiting for staff now (`waiting_clause`) since longer
  than `sla_minutes`, counted in the period the wait began in. Such a wait began at the first
  customer message after the last message sent to them (bot or staff), or at their staff request
  when that came first ("talk to staff": the bot's reply to it is not an answer).
`breaches_now` counts the second kind alone, whatever the period: who is waiting too long right now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.errors import ValidationFailed
from app.models import Order, OrderLine, Restaurant, table_of
from app.services import conversations, orders, pages, ratings, restaurants
from app.services.periods import Period

DEFAULT_DAYS = 30  # the period when none is given: the last 30 days up to today
MAX_TOP_ITEMS = 50
SLA_MINUTES = (1, 1440)
_PLACED_AT = table_of(Order).c.created_at  # a typed column, for the period's tests


@dataclass(frozen=True, slots=True)
class Day:
    day: date  # the restaurant's local day
    orders: int
    revenue: int  # minor units


@dataclass(frozen=True, slots=True)
class TopItem:
    item_id: str
    name_ar: str
    name_en: str
    quantity: int
    revenue: int  # minor units: the lines' unit price times quantity


@dataclass(frozen=True, slots=True)
class Overview:
    period: Period
    currency: str
    active_conversations: int
    waiting_for_staff: int
    open_orders: int
    orders: int
    revenue: int
    average_order_value: int | None  # minor units, rounded; None without orders
    days: list[Day]
    median_first_response_seconds: float | None
    sla_minutes: int
    breaches_now: int
    breaches: int
    top_items: list[TopItem]
    rating_average: float | None
    previous_rating_average: float | None

    @property
    def rating_trend(self) -> float | None:
        """The average rating minus the previous period's (None when either has no ratings)."""
        if self.rating_average is None or self.previous_rating_average is None:
            return None
        return self.rating_average - self.previous_rating_average


def period_for(
    restaurant: Restaurant, first_day: date | None, last_day: date | None, *, now: datetime | None = None
) -> Period:
    """The report period a caller asked for, in the restaurant's time zone: `first_day`..`last_day`;
    without them, the last DEFAULT_DAYS days up to today (one given: DEFAULT_DAYS days from or to it)."""
    zone = restaurant.timezone
    if first_day is None and last_day is None:
        return Period.ending_today(DEFAULT_DAYS, timezone=zone, now=now)
    if first_day is None:
        assert last_day is not None
        first_day = last_day - timedelta(days=DEFAULT_DAYS - 1)
    if last_day is None:
        last_day = first_day + timedelta(days=DEFAULT_DAYS - 1)
    return Period.of(first_day, last_day, timezone=zone)


def previous(period: Period) -> Period:
    """The period of the same length just before `period` (a trend compares the two)."""
    length = timedelta(days=len(period.days()))
    return Period.of(period.first_day - length, period.last_day - length, timezone=period.timezone)


# Conversations waiting for staff now, with when their wait began (see the module's docstring).
_WAITING = f"""
    SELECT least(
        first_in.at, CASE WHEN c.staff_requested_at >= c.last_message_at THEN c.staff_requested_at END
    ) AS since
    FROM conversation c
    CROSS JOIN LATERAL (
        SELECT max(o.created_at) AS at FROM message o
        WHERE o.restaurant_id = :r AND o.conversation_id = c.id AND o.direction = 'OUT'
    ) sent
    CROSS JOIN LATERAL (
        SELECT min(i.created_at) AS at FROM message i
        WHERE i.restaurant_id = :r AND i.conversation_id = c.id AND i.direction = 'IN'
          AND i.created_at > coalesce(sent.at, '-infinity')
    ) first_in
    WHERE c.restaurant_id = :r AND {conversations.waiting_sql("c")}"""

_SINCE, _UNTIL = "CAST(:since AS timestamptz)", "CAST(:until AS timestamptz)"
_LATE = "make_interval(mins => CAST(:sla AS int))"
_RESPONSES = text(
    f"""
    WITH answers AS ({conversations.staff_answers(_SINCE, _UNTIL)}),
         waiting AS ({_WAITING})
    SELECT
        ({conversations.median_wait("answers")}),
        (SELECT count(*) FROM answers WHERE answered_at - waited_from > {_LATE}),
        (SELECT count(*) FROM waiting WHERE since < now() - {_LATE}
           AND since >= {_SINCE} AND since < {_UNTIL}),
        (SELECT count(*) FROM waiting WHERE since < now() - {_LATE})"""
)


async def overview(session: AsyncSession, *, restaurant_id: str, period: Period, top: int = 10) -> Overview:
    """The overview of `period` (see the module's docstring for each figure); `top` items at most
    (1..MAX_TOP_ITEMS)."""
    pages.page_size(top, field="first", high=MAX_TOP_ITEMS)
    restaurant = await restaurants.get(session, restaurant_id=restaurant_id)
    now = await conversations.stats(session, restaurant_id=restaurant_id)
    open_orders = await session.scalar(
        select(func.count())
        .select_from(Order)
        .where(col(Order.restaurant_id) == restaurant_id, col(Order.status).in_(orders.OPEN_STATUSES))
    )
    days = await _days(session, restaurant_id, period)
    count = sum(d.orders for d in days)
    revenue = sum(d.revenue for d in days)
    median, late, unanswered, breaches_now = (
        await session.execute(
            _RESPONSES,
            {"r": restaurant_id, "since": period.start, "until": period.end, "sla": restaurant.sla_minutes},
        )
    ).one()
    return Overview(
        period=period,
        currency=restaurant.currency,
        active_conversations=now.active_conversations,
        waiting_for_staff=now.waiting_for_staff,
        open_orders=int(open_orders or 0),
        orders=count,
        revenue=revenue,
        average_order_value=(revenue + count // 2) // count if count else None,
        days=days,
        median_first_response_seconds=float(median) if median is not None else None,
        sla_minutes=restaurant.sla_minutes,
        breaches_now=int(breaches_now),
        breaches=int(late) + int(unanswered),
        top_items=await _top_items(session, restaurant_id, period, top),
        rating_average=await ratings.average(session, restaurant_id=restaurant_id, period=period),
        previous_rating_average=await ratings.average(
            session, restaurant_id=restaurant_id, period=previous(period)
        ),
    )


async def _days(session: AsyncSession, restaurant_id: str, period: Period) -> list[Day]:
    """Counted orders and their revenue per local day of `period`, one entry per day."""
    day = period.local_day(_PLACED_AT).label("day")
    stmt = (
        select(day, func.count(), func.coalesce(func.sum(col(Order.total)), 0))
        .where(col(Order.restaurant_id) == restaurant_id, orders.COUNTED, period.contains(_PLACED_AT))
        .group_by(day)
    )
    found = {d: (int(n), int(total)) for d, n, total in (await session.execute(stmt)).all()}
    return [Day(d, *found.get(d, (0, 0))) for d in period.days()]


async def _top_items(session: AsyncSession, restaurant_id: str, period: Period, top: int) -> list[TopItem]:
    """The items sold most (by quantity) in the counted orders of `period`. An item renamed in the
    period is listed once, under the greatest of its names."""
    quantity = func.sum(col(OrderLine.quantity))
    revenue = func.sum(col(OrderLine.unit_price) * col(OrderLine.quantity))
    stmt = (
        select(
            col(OrderLine.item_id),
            func.max(col(OrderLine.name_ar)),
            func.max(col(OrderLine.name_en)),
            quantity,
            revenue,
        )
        .join(
            Order,
            (col(Order.restaurant_id) == col(OrderLine.restaurant_id))
            & (col(Order.id) == col(OrderLine.order_id)),
        )
        .where(
            col(Order.restaurant_id) == restaurant_id,
            col(OrderLine.restaurant_id) == restaurant_id,
            orders.COUNTED,
            period.contains(_PLACED_AT),
        )
        .group_by(col(OrderLine.item_id))
        .order_by(quantity.desc(), revenue.desc(), col(OrderLine.item_id))
        .limit(top)
    )
    return [
        TopItem(item_id, name_ar, name_en, int(q), int(r))
        for item_id, name_ar, name_en, q, r in (await session.execute(stmt)).all()
    ]


async def update_inbox_settings(session: AsyncSession, *, restaurant_id: str, sla_minutes: int) -> Restaurant:
    """Set how long a customer may wait for staff before it counts as an SLA breach (1..1440 minutes)."""
    low, high = SLA_MINUTES
    if not low <= sla_minutes <= high:
        raise ValidationFailed(f"slaMinutes must be from {low} to {high}", field="slaMinutes")
    return await restaurants.change(session, restaurant_id=restaurant_id, sla_minutes=sla_minutes)

"""The order history an owner opens: orders filtered, paged newest first, counted and summed, and
the alerts an order raises (late against the kitchen's preparation time, awaiting payment).

One `Filter` says which orders: a set of statuses, a period (whole days in the restaurant's time
zone, app.services.periods), a branch, an order type, a search, an alert. The page, its total and
its KPIs read the same WHERE, so the numbers an owner sees always describe the list beside them.
Each filter rides an index of customer_order (migrations 0003 and 0011): the period and the keyset
the time index (restaurant_id, created_at DESC, id DESC), a status set the status one, a branch the
branch one; a reference is one number (the unique key). A name or phone search is a substring
test on the rows the other filters leave, at most a restaurant's orders of one period.

An alert is a rule over one order, written twice beside each other: in Python for the order
shown (`alerts_of`), in SQL for the list filtered by it (`_alert_sql`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, false, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.errors import ValidationFailed
from app.models import ORDER_STATUSES, Order, Restaurant, table_of
from app.services import pages, restaurants
from app.services.conversations import scope
from app.services.orders import COUNTED
from app.services.periods import Period

ORDER_TYPES = ("delivery", "pickup")
ALERTS = ("LATE", "AWAITING_PAYMENT")
# An order is late while the kitchen still has it: READY, OUT_FOR_DELIVERY and DELIVERED are past
# the kitchen, CANCELLED is over.
KITCHEN_STATUSES = ("CONFIRMED", "PREPARING")
MIN_PREPARATION_MINUTES, MAX_PREPARATION_MINUTES = 1, 24 * 60
MAX_SEARCH = 200  # characters


@dataclass(frozen=True, slots=True)
class Filter:
    statuses: tuple[str, ...] = ()  # none: every status
    period: Period | None = None  # none: all time
    branch_id: str | None = None
    order_type: str | None = None  # "delivery" or "pickup"
    search: str | None = None  # a reference ("#1042", "1042"), a customer's name or phone digits
    alert: str | None = None  # one of ALERTS: only the orders raising it


@dataclass(frozen=True, slots=True)
class Kpis:
    count: int  # counted orders (orders.COUNTED: not cancelled)
    revenue: int  # the sum of their totals, minor units
    average_order_value: int  # revenue / count, rounded half up (0 without orders)
    currency: str


def alerts_of(
    *,
    status: str,
    payment_method: str,
    paid_at: datetime | None,
    created_at: datetime,
    preparation_minutes: int,
    now: datetime,
) -> list[str]:
    """The alerts an order with these values raises at `now`, in ALERTS order."""
    found = []
    if status in KITCHEN_STATUSES and created_at < now - timedelta(minutes=preparation_minutes):
        found.append("LATE")
    if payment_method == "online" and paid_at is None and status != "CANCELLED":
        found.append("AWAITING_PAYMENT")
    return found


def _alert_sql(alert: str, *, preparation_minutes: int) -> ColumnElement[bool]:
    """`alerts_of`'s rule for `alert`, in SQL (now: the transaction's time)."""
    if alert == "LATE":
        return and_(
            col(Order.status).in_(KITCHEN_STATUSES),
            col(Order.created_at) < func.now() - timedelta(minutes=preparation_minutes),
        )
    return and_(
        col(Order.payment_method) == "online", col(Order.paid_at).is_(None), col(Order.status) != "CANCELLED"
    )


async def period(
    session: AsyncSession, *, restaurant_id: str, first_day: date | None, last_day: date | None
) -> Period | None:
    """The days `first_day`..`last_day` in the restaurant's time zone (None: neither given, all
    time); ValidationFailed when only one is given, they are reversed, or they span over 366 days."""
    if first_day is None and last_day is None:
        return None
    if first_day is None or last_day is None:
        raise ValidationFailed("from and to are given together", field="from" if first_day is None else "to")
    restaurant = await restaurants.get(session, restaurant_id=restaurant_id)
    return Period.of(first_day, last_day, timezone=restaurant.timezone)


def check(f: Filter) -> Filter:
    """`f` when every value in it is one the history knows; ValidationFailed naming the field."""
    for status in f.statuses:
        if status not in ORDER_STATUSES:
            raise ValidationFailed(f"unknown order status {status}", field="status")
    if f.order_type is not None and f.order_type not in ORDER_TYPES:
        raise ValidationFailed("orderType must be delivery or pickup", field="orderType")
    if f.alert is not None and f.alert not in ALERTS:
        raise ValidationFailed(f"unknown order alert {f.alert}", field="alert")
    if f.search is not None and len(f.search) > MAX_SEARCH:
        raise ValidationFailed(f"search is longer than {MAX_SEARCH} characters", field="search")
    return f


def _matches(search: str) -> ColumnElement[bool] | None:
    """A reference ("#1042", that alone; or "1042"), part of the customer's name (any case), or of
    their phone number's digits (a leading 0 or 00 dropped, so "0551234567" finds +966551234567)."""
    text = search.strip()
    if not text:
        return None
    reference = text.removeprefix("#").strip()
    is_number = reference.isdigit() and len(reference) <= 9  # an int4
    if text.startswith("#"):  # only a reference: one row of the unique key
        return col(Order.number) == int(reference) if is_number else false()
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    terms: list[ColumnElement[bool]] = [col(Order.customer_name).ilike(f"%{escaped}%")]
    if is_number:
        terms.append(col(Order.number) == int(reference))
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 3 and len(digits) * 2 >= len(text.replace(" ", "")):  # mostly digits: a phone
        terms.append(col(Order.customer_phone).contains(digits.lstrip("0") or digits))
    return or_(*terms)


async def _preparation_minutes(session: AsyncSession, restaurant_id: str) -> int:
    return (await restaurants.get(session, restaurant_id=restaurant_id)).preparation_minutes


async def _where(
    session: AsyncSession, restaurant_id: str, bot_id: str | None, f: Filter
) -> list[ColumnElement[bool]]:
    """The WHERE terms of `f` for the caller (its restaurant's orders, its bot's when it named one)."""
    check(f)
    terms: list[ColumnElement[bool]] = [
        getattr(Order, column) == value
        for column, value in scope(restaurant_id=restaurant_id, bot_id=bot_id).items()
    ]
    if f.statuses:
        terms.append(col(Order.status).in_(list(f.statuses)))
    if f.period is not None:
        terms.append(f.period.contains(table_of(Order).c.created_at))
    if f.branch_id is not None:
        terms.append(col(Order.branch_id) == f.branch_id)
    if f.order_type is not None:
        terms.append(col(Order.order_type) == f.order_type)
    if f.search:
        matches = _matches(f.search)
        if matches is not None:
            terms.append(matches)
    if f.alert is not None:
        minutes = await _preparation_minutes(session, restaurant_id)
        terms.append(_alert_sql(f.alert, preparation_minutes=minutes))
    return terms


async def list_page(
    session: AsyncSession,
    *,
    restaurant_id: str,
    bot_id: str | None = None,
    filter: Filter = Filter(),
    limit: int = 50,
    after: tuple[datetime, str] | None = None,
) -> list[Order]:
    """Orders matching `filter`, newest first, up to `limit` after the keyset position `after`
    (created_at, id): a page deep in the history costs what the first costs."""
    pages.page_size(limit, field="limit", high=pages.MAX_PAGE + 1)  # a page and one more row
    stmt = select(Order).where(*await _where(session, restaurant_id, bot_id, filter))
    if after is not None:
        stmt = stmt.where(tuple_(Order.created_at, Order.id) < tuple_(*after))
    stmt = stmt.order_by(col(Order.created_at).desc(), col(Order.id).desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def count(
    session: AsyncSession, *, restaurant_id: str, bot_id: str | None = None, filter: Filter = Filter()
) -> int:
    """How many orders `list_page` pages through with this filter."""
    stmt = (
        select(func.count()).select_from(Order).where(*await _where(session, restaurant_id, bot_id, filter))
    )
    return int(await session.scalar(stmt) or 0)


async def kpis(
    session: AsyncSession, *, restaurant_id: str, bot_id: str | None = None, filter: Filter = Filter()
) -> Kpis:
    """Count, revenue and average order value of the counted orders (not cancelled) matching `filter`."""
    terms = await _where(session, restaurant_id, bot_id, filter)
    stmt = select(func.count(), func.coalesce(func.sum(col(Order.total)), 0)).where(*terms, COUNTED)
    counted, revenue = (await session.execute(stmt)).one()
    restaurant = await restaurants.get(session, restaurant_id=restaurant_id)
    average = (2 * int(revenue) + counted) // (2 * counted) if counted else 0
    return Kpis(
        count=counted, revenue=int(revenue), average_order_value=average, currency=restaurant.currency
    )


async def of_conversations(
    session: AsyncSession,
    *,
    restaurant_id: str,
    conversation_ids: Sequence[str],
    limit: int,
    after: tuple[datetime, str] | None = None,
) -> dict[str, list[Order]]:
    """Each conversation's orders, newest first, up to `limit` after `after`: one query for them all
    (a window over customer_order_by_conversation)."""
    stmt = select(Order).where(
        col(Order.restaurant_id) == restaurant_id, col(Order.conversation_id).in_(list(conversation_ids))
    )
    if after is not None:
        stmt = stmt.where(tuple_(Order.created_at, Order.id) < tuple_(*after))
    rank = (
        func.row_number()
        .over(
            partition_by=col(Order.conversation_id),
            order_by=(col(Order.created_at).desc(), col(Order.id).desc()),
        )
        .label("k")
    )
    ranked = stmt.add_columns(rank).subquery()
    page = (
        select(Order)
        .join(ranked, and_(col(Order.restaurant_id) == ranked.c.restaurant_id, col(Order.id) == ranked.c.id))
        .where(ranked.c.k <= limit)
        .order_by(col(Order.created_at).desc(), col(Order.id).desc())
    )
    grouped: dict[str, list[Order]] = {c: [] for c in conversation_ids}
    for row in (await session.execute(page)).scalars():
        grouped[row.conversation_id].append(row)
    return grouped


async def count_of_conversations(
    session: AsyncSession, *, restaurant_id: str, conversation_ids: Sequence[str]
) -> dict[str, int]:
    """How many orders each conversation has (all of them: a conversation's list has no filter)."""
    stmt = (
        select(col(Order.conversation_id), func.count())
        .where(
            col(Order.restaurant_id) == restaurant_id, col(Order.conversation_id).in_(list(conversation_ids))
        )
        .group_by(col(Order.conversation_id))
    )
    found = {conversation_id: int(n) for conversation_id, n in (await session.execute(stmt)).all()}
    return {c: found.get(c, 0) for c in conversation_ids}


async def set_preparation_minutes(session: AsyncSession, *, restaurant_id: str, minutes: int) -> Restaurant:
    """How long the kitchen takes (1..1440 minutes): an order still with it after that is late."""
    if not MIN_PREPARATION_MINUTES <= minutes <= MAX_PREPARATION_MINUTES:
        raise ValidationFailed(
            f"preparationMinutes must be from {MIN_PREPARATION_MINUTES} to {MAX_PREPARATION_MINUTES}",
            field="preparationMinutes",
        )
    return await restaurants.change(session, restaurant_id=restaurant_id, preparation_minutes=minutes)

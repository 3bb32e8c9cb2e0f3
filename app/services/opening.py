"""When a restaurant takes orders: its weekly opening hours, dated exceptions (holidays) and the
busy/closed switch, stored here and judged by the pure rules of app.services.hours.

Every change records the restaurant's `restaurant.updated` event, so dashboards show the new state
live (the inbox header reads `isOpenNow`, `nextOpensAt` from the restaurant).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db import rowcount
from app.errors import NotFound, ValidationFailed
from app.models import ORDERING_STATES, OpeningException, OpeningHours, Restaurant
from app.services import hours, restaurants

MAX_INTERVALS_PER_DAY = 6
MAX_NOTE = 100
MAX_AHEAD_DAYS = 366  # exceptions and "closed until" reach at most a year ahead
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True, slots=True)
class Schedule:
    """A restaurant's week and its exceptions from yesterday on (yesterday's night may run into today)."""

    hours: list[OpeningHours]
    exceptions: list[OpeningException]


@dataclass(frozen=True, slots=True)
class NewInterval:
    weekday: int  # 0 = Monday
    opens: str  # "HH:MM"
    closes: str  # "HH:MM"; at or before `opens`: the next day


def parse_time(raw: str, *, field: str) -> time:
    """ "9:30" or "18:00" -> a time; anything else is a ValidationFailed naming `field`."""
    match = _TIME.match(raw.strip()) if isinstance(raw, str) else None
    if match is None:
        raise ValidationFailed(f"{field} must be a time such as 09:30 or 18:00", field=field)
    return time(int(match.group(1)), int(match.group(2)))


def _minutes(at: time) -> int:
    return at.hour * 60 + at.minute


def _week_spans(intervals: Iterable[hours.Interval]) -> list[tuple[int, int, hours.Interval]]:
    """Each interval as minutes of the week (Monday 00:00 = 0), its copy a week later included, so
    Sunday night running into Monday is compared with Monday."""
    week = 7 * 24 * 60
    spans = []
    for interval in intervals:
        start = interval.weekday * 24 * 60 + _minutes(interval.opens)
        end = start + int(hours.length(interval.opens, interval.closes).total_seconds()) // 60
        spans += [(start, end, interval), (start + week, end + week, interval)]
    return sorted(spans, key=lambda span: span[:2])


_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def check_week(intervals: Sequence[NewInterval]) -> list[hours.Interval]:
    """The week's intervals, validated: real times, no two overlapping (midnight crossing included)."""
    parsed = []
    for n, raw in enumerate(intervals):
        if not isinstance(raw.weekday, int) or not 0 <= raw.weekday <= 6:
            raise ValidationFailed("weekday must be 0 (Monday) to 6 (Sunday)", field=f"hours.{n}.weekday")
        parsed.append(
            hours.Interval(
                raw.weekday,
                parse_time(raw.opens, field=f"hours.{n}.opens"),
                parse_time(raw.closes, field=f"hours.{n}.closes"),
            )
        )
    for day in range(7):
        if sum(1 for i in parsed if i.weekday == day) > MAX_INTERVALS_PER_DAY:
            raise ValidationFailed(
                f"at most {MAX_INTERVALS_PER_DAY} intervals on {_DAYS[day]}", field="hours"
            )
    spans = _week_spans(parsed)
    for (_s1, end, first), (start, _e2, second) in pairwise(spans):
        if start < end:
            raise ValidationFailed(
                f"{_DAYS[first.weekday]} {first.opens:%H:%M}–{first.closes:%H:%M} overlaps "
                f"{_DAYS[second.weekday]} {second.opens:%H:%M}–{second.closes:%H:%M}",
                field="hours",
            )
    return parsed


async def _touched(session: AsyncSession, *, restaurant_id: str) -> Restaurant:
    """Mark the restaurant changed and tell its dashboards."""
    return await restaurants.change(session, restaurant_id=restaurant_id)


async def set_week(
    session: AsyncSession, *, restaurant_id: str, intervals: Sequence[NewInterval]
) -> Restaurant:
    """Replace the weekly opening hours; an empty week means always open."""
    week = check_week(intervals)
    restaurant = await _touched(session, restaurant_id=restaurant_id)
    await session.execute(delete(OpeningHours).where(col(OpeningHours.restaurant_id) == restaurant_id))
    if week:
        await session.execute(
            insert(OpeningHours).values(
                [
                    {
                        "restaurant_id": restaurant_id,
                        "weekday": i.weekday,
                        "opens": i.opens,
                        "closes": i.closes,
                    }
                    for i in week
                ]
            )
        )
    return restaurant


def _today(restaurant: Restaurant, now: datetime) -> date:
    return now.astimezone(ZoneInfo(restaurant.timezone)).date()


async def add_exception(
    session: AsyncSession,
    *,
    restaurant_id: str,
    day: date,
    opens: str | None = None,
    closes: str | None = None,
    note: str = "",
    now: datetime | None = None,
) -> Restaurant:
    """Give a date its own hours (both times) or close it all day (neither); replaces that date's."""
    if (opens is None) != (closes is None):
        raise ValidationFailed("give both opens and closes, or neither for closed all day", field="opens")
    opens_at = parse_time(opens, field="opens") if opens is not None else None
    closes_at = parse_time(closes, field="closes") if closes is not None else None
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise ValidationFailed(f"note must be at most {MAX_NOTE} characters", field="note")
    current = await session.get(Restaurant, restaurant_id)
    if current is None:
        raise NotFound("restaurant not found")
    today = _today(current, now or datetime.now(UTC))
    if not today - timedelta(days=1) <= day <= today + timedelta(days=MAX_AHEAD_DAYS):
        raise ValidationFailed(f"date must be from today to {MAX_AHEAD_DAYS} days ahead", field="date")
    restaurant = await _touched(session, restaurant_id=restaurant_id)
    values = {"opens": opens_at, "closes": closes_at, "note": note}
    stmt = insert(OpeningException).values(restaurant_id=restaurant_id, day=day, **values)
    await session.execute(stmt.on_conflict_do_update(index_elements=["restaurant_id", "day"], set_=values))
    return restaurant


async def remove_exception(session: AsyncSession, *, restaurant_id: str, day: date) -> Restaurant:
    """Drop a date's exception: the week's hours apply to it again."""
    result = await session.execute(
        delete(OpeningException).where(
            col(OpeningException.restaurant_id) == restaurant_id, col(OpeningException.day) == day
        )
    )
    if rowcount(result) == 0:
        raise NotFound("no exception on that date")
    return await _touched(session, restaurant_id=restaurant_id)


async def set_ordering_state(
    session: AsyncSession,
    *,
    restaurant_id: str,
    state: str,
    until: datetime | None = None,
    now: datetime | None = None,
) -> Restaurant:
    """The busy/closed switch: OPEN follows the hours; BUSY or CLOSED until `until` (None: until
    switched back)."""
    if state not in ORDERING_STATES:
        raise ValidationFailed("state must be OPEN, BUSY or CLOSED", field="state")
    now = now or datetime.now(UTC)
    if until is not None:
        if state == "OPEN":
            raise ValidationFailed("until goes with BUSY or CLOSED", field="until")
        if until.tzinfo is None:
            raise ValidationFailed("until must carry a time zone offset", field="until")
        if not now < until <= now + timedelta(days=MAX_AHEAD_DAYS):
            raise ValidationFailed(f"until must be in the next {MAX_AHEAD_DAYS} days", field="until")
    return await restaurants.change(
        session, restaurant_id=restaurant_id, ordering_state=state, ordering_state_until=until
    )


async def schedules(
    session: AsyncSession, *, restaurant_ids: Sequence[str], now: datetime | None = None
) -> dict[str, Schedule]:
    """The schedules of several restaurants (the caller has checked it may see them): two queries."""
    # Yesterday in any zone is at most two UTC days back; later exceptions all count.
    since = (now or datetime.now(UTC)).date() - timedelta(days=2)
    found = {r: Schedule([], []) for r in restaurant_ids}
    week = await session.execute(
        select(OpeningHours)
        .where(col(OpeningHours.restaurant_id).in_(list(restaurant_ids)))
        .order_by(col(OpeningHours.weekday), col(OpeningHours.opens))
    )
    for interval in week.scalars():
        found[interval.restaurant_id].hours.append(interval)
    days = await session.execute(
        select(OpeningException)
        .where(
            col(OpeningException.restaurant_id).in_(list(restaurant_ids)),
            col(OpeningException.day) >= since,
        )
        .order_by(col(OpeningException.day))
    )
    for exception in days.scalars():
        found[exception.restaurant_id].exceptions.append(exception)
    return found


async def schedule(session: AsyncSession, *, restaurant_id: str, now: datetime | None = None) -> Schedule:
    return (await schedules(session, restaurant_ids=[restaurant_id], now=now))[restaurant_id]


def judge(
    found: Schedule, *, timezone: str, state: str, until: datetime | None, now: datetime
) -> hours.Opening:
    """Open, busy or closed at `now`, by a restaurant's schedule, zone and switch (`state`, `until`)."""
    switch: hours.ManualState = "BUSY" if state == "BUSY" else "CLOSED" if state == "CLOSED" else "OPEN"
    return hours.opening(
        hours=[hours.Interval(i.weekday, i.opens, i.closes) for i in found.hours],
        exceptions=[hours.SpecialDay(e.day, e.opens, e.closes, e.note) for e in found.exceptions],
        manual=hours.Manual(switch, until),
        now=now,
        timezone=timezone,
    )


async def status(
    session: AsyncSession, *, restaurant_id: str, restaurant: Restaurant, now: datetime | None = None
) -> hours.Opening:
    """Whether `restaurant` takes orders at `now` (default: this instant), and until / from when."""
    now = now or datetime.now(UTC)
    found = await schedule(session, restaurant_id=restaurant_id, now=now)
    return judge(
        found,
        timezone=restaurant.timezone,
        state=restaurant.ordering_state,
        until=restaurant.ordering_state_until,
        now=now,
    )

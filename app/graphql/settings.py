"""GraphQL of the restaurant's settings (app/services/opening.py, catalog.update_settings): the
profile input, the weekly opening hours and dated exceptions, the busy/closed switch, and the
restaurant's opening state now (`openStatus`, `isOpenNow`, `nextOpensAt`) the inbox header shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import strawberry

from app.services import hours, opening

if TYPE_CHECKING:
    from app.graphql.context import OperationContext


@strawberry.enum(description="The busy/closed switch. OPEN follows the opening hours.")
class OrderingState(Enum):
    OPEN = "OPEN"
    BUSY = "BUSY"
    CLOSED = "CLOSED"


@strawberry.enum(description="Whether the restaurant takes orders now (the hours and the switch).")
class OpenStatus(Enum):
    OPEN = "open"
    BUSY = "busy"
    CLOSED = "closed"


@strawberry.enum
class Weekday(Enum):
    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6


@strawberry.type(description="Open from `opens` to `closes` (the next day when closes <= opens).")
class OpeningInterval:
    weekday: Weekday
    opens: str = strawberry.field(description="HH:MM, restaurant time")
    closes: str = strawberry.field(description="HH:MM; at or before opens means the next day")


@strawberry.type(description="A date with its own hours: closed all day, or one special interval.")
class OpeningException:
    date: date
    closed_all_day: bool
    opens: str | None
    closes: str | None
    note: str


@strawberry.input
class OpeningIntervalInput:
    weekday: Weekday
    opens: str = strawberry.field(description="HH:MM")
    closes: str = strawberry.field(description="HH:MM; at or before opens means the next day")


@strawberry.input(description='The restaurant\'s profile; "" clears a field, null leaves it.')
class RestaurantProfileInput:
    name: str | None = None
    description: str | None = None
    address: str | None = None
    phone: str | None = strawberry.field(default=None, description="E.164, e.g. +966501234567")
    logo_url: str | None = strawberry.field(default=None, description="http(s)")
    app_link: str | None = strawberry.field(default=None, description="http(s): the restaurant's app")
    accepts_orders_when_closed: bool | None = strawberry.field(
        default=None, description="Outside the hours the bot takes orders, prepared at the opening."
    )


def _clock(at: object) -> str:
    return f"{at:%H:%M}"


def intervals(found: opening.Schedule) -> list[OpeningInterval]:
    return [
        OpeningInterval(weekday=Weekday(i.weekday), opens=_clock(i.opens), closes=_clock(i.closes))
        for i in found.hours
    ]


def exceptions(found: opening.Schedule, *, timezone: str) -> list[OpeningException]:
    """The exceptions from today (restaurant time) on."""
    today = datetime.now(UTC).astimezone(ZoneInfo(timezone)).date()
    return [
        OpeningException(
            date=e.day,
            closed_all_day=e.opens is None,
            opens=_clock(e.opens) if e.opens is not None else None,
            closes=_clock(e.closes) if e.closes is not None else None,
            note=e.note,
        )
        for e in found.exceptions
        if e.day >= today
    ]


@dataclass(frozen=True, slots=True)
class Switch:
    """What a Restaurant object knows of itself that judging its opening needs."""

    id: str
    timezone: str
    state: str
    until: datetime | None


async def schedule(info: strawberry.Info[OperationContext], restaurant_id: str) -> opening.Schedule:
    return await info.context.loaders.schedule.load(restaurant_id)


async def judged(info: strawberry.Info[OperationContext], switch: Switch) -> hours.Opening:
    found = await schedule(info, switch.id)
    return opening.judge(
        found, timezone=switch.timezone, state=switch.state, until=switch.until, now=datetime.now(UTC)
    )

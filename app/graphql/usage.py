"""GraphQL of usage and plans (app/services/usage.py): a restaurant's WhatsApp sessions this month
against its allowance, with a daily breakdown; and, for admins, the plans and everyone's usage."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Annotated

import strawberry

from app import models
from app.graphql.results import ForbiddenError, NotFoundError, ValidationError
from app.services import usage


@strawberry.enum(description="What happens once the month's allowance is used up.")
class UsageLimitAction(Enum):
    WARN = "WARN"
    PAUSE_BOT_EXTRAS = "PAUSE_BOT_EXTRAS"


@strawberry.type(description="A plan: how many WhatsApp sessions a month it includes (admin-managed).")
class Plan:
    id: strawberry.ID
    name: str
    monthly_sessions: int
    price: int = strawberry.field(description="A month's price in minor units of `currency`.")
    currency: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: models.Plan) -> Plan:
        return cls(
            id=strawberry.ID(row.id),
            name=row.name,
            monthly_sessions=row.monthly_sessions,
            price=row.price,
            currency=row.currency,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.type(description="Sessions an admin added to (or took from) one month's allowance.")
class UsageAdjustment:
    id: strawberry.ID
    month: str
    sessions: int
    reason: str
    created_by: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: models.UsageAdjustment) -> UsageAdjustment:
        return cls(
            id=strawberry.ID(row.id),
            month=_month(row.month),
            sessions=row.sessions,
            reason=row.reason,
            created_by=row.created_by,
            created_at=row.created_at,
        )


@strawberry.type
class UsageDay:
    date: date = strawberry.field(description="A day in the restaurant's time zone.")
    sessions: int = strawberry.field(description="Sessions opened that day.")


@strawberry.type(description="One restaurant's WhatsApp sessions in a month against its allowance.")
class UsageSummary:
    restaurant_id: strawberry.ID
    restaurant_name: str
    month: str = strawberry.field(description="YYYY-MM, the restaurant's month (its time zone).")
    sessions: int = strawberry.field(description="24-hour conversation sessions opened this month.")
    allowance: int | None = strawberry.field(description="Plan + adjustments; null without a plan.")
    adjusted_by: int = strawberry.field(description="The month's adjustments added up.")
    remaining: int | None
    percent: float | None = strawberry.field(description="Sessions as a percent of the allowance.")
    plan: Plan | None
    limit_action: UsageLimitAction
    near_limit_percent: int
    near_limit: bool = strawberry.field(description="percent ≥ nearLimitPercent (over the limit too).")
    over_limit: bool = strawberry.field(description="The allowance is used up: new sessions are over it.")
    adjustments: list[UsageAdjustment]


@strawberry.type
class Usage(UsageSummary):
    daily: list[UsageDay] = strawberry.field(description="Sessions opened on each day of the month.")


@strawberry.type
class UsageOverview:
    total_count: int
    nodes: list[UsageSummary]


def _month(value: date) -> str:
    return value.strftime("%Y-%m")


def _fields(u: usage.Usage) -> dict[str, object]:
    return dict(
        restaurant_id=strawberry.ID(u.restaurant.id),
        restaurant_name=u.restaurant.name,
        month=_month(u.month),
        sessions=u.sessions,
        allowance=u.allowance,
        adjusted_by=u.adjusted_by,
        remaining=u.remaining,
        percent=u.percent,
        plan=Plan.from_row(u.plan) if u.plan else None,
        limit_action=UsageLimitAction(u.restaurant.usage_limit_action),
        near_limit_percent=u.restaurant.usage_near_limit_percent,
        near_limit=u.near_limit,
        over_limit=u.over_limit,
        adjustments=[UsageAdjustment.from_row(a) for a in u.adjustments],
    )


def summary_of(u: usage.Usage) -> UsageSummary:
    return UsageSummary(**_fields(u))  # type: ignore[arg-type]


def usage_of(u: usage.Usage, days: list[tuple[date, int]]) -> Usage:
    return Usage(**_fields(u), daily=[UsageDay(date=d, sessions=n) for d, n in days])  # type: ignore[arg-type]


@strawberry.input(description="A plan; on update, omitted fields stay as they are.")
class PlanInput:
    name: str | None = None
    monthly_sessions: int | None = None
    price: int | None = None
    currency: str | None = None


PlanResult = Annotated[
    Plan | NotFoundError | ForbiddenError | ValidationError, strawberry.union("PlanResult")
]
UsageResult = Annotated[
    Usage | NotFoundError | ForbiddenError | ValidationError, strawberry.union("UsageResult")
]

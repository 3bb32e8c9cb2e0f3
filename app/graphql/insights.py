"""GraphQL of the overview (app/services/insights.py): the owner's figures for now and for a period,
and the inbox settings they depend on (the SLA)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry

from app.graphql.cost import bounded
from app.graphql.results import NotFoundError, ValidationError
from app.graphql.types import RESTAURANT, Restaurant
from app.models import Restaurant as RestaurantRow
from app.services import insights
from app.services.periods import MAX_DAYS


@strawberry.type(description="An amount in the currency's minor units (halalas for SAR).")
class Money:
    amount: int
    currency: str


@strawberry.type(description="One day of the period, in the restaurant's time zone.")
class OverviewDay:
    day: date
    orders: int = strawberry.field(description="Counted orders (all but cancelled) placed that day.")
    revenue: Money


@strawberry.type
class TopItem:
    item_id: strawberry.ID
    name_ar: str
    name_en: str
    quantity: int
    revenue: Money = strawberry.field(description="Unit price times quantity over the period's lines.")


@strawberry.type(
    description=(
        "Customers waiting for staff longer than the restaurant's slaMinutes. A wait starts at the first "
        "customer message since the last staff reply. breaches: waits of the period answered later than "
        "slaMinutes (counted on the day of the reply) plus waits begun in the period and still unanswered "
        "after slaMinutes (the conversation waits for staff now). breachesNow: conversations waiting for "
        "staff now, since longer than slaMinutes."
    )
)
class Sla:
    minutes: int
    breaches_now: int
    breaches: int


@strawberry.type(description="The average rating of the period, and of the period of the same length before.")
class RatingTrend:
    average: float | None
    previous_average: float | None
    trend: float | None = strawberry.field(description="average - previousAverage (null when either is).")


@strawberry.type(
    description=(
        "How the restaurant is doing: counts at the time of the request (activeConversations, waitingForStaff, "
        "openOrders, sla.breachesNow) and figures of the period (whole days in the restaurant's time zone)."
    )
)
class Overview:
    from_: date = strawberry.field(name="from")
    to: date
    timezone: str
    currency: str
    active_conversations: int
    waiting_for_staff: int
    open_orders: int
    orders: int = strawberry.field(description="Orders placed in the period, cancelled ones excluded.")
    revenue: Money
    average_order_value: Money | None = strawberry.field(description="Revenue / orders; null without orders.")
    days: list[OverviewDay] = strawberry.field(
        description="One entry per day of the period, zeros included.", metadata=bounded(MAX_DAYS)
    )
    median_first_response_seconds: float | None = strawberry.field(
        description="Median time customers waited for a staff reply sent in the period."
    )
    sla: Sla
    top_items: list[TopItem] = strawberry.field(
        description="By quantity sold, most first.", metadata=bounded(insights.MAX_TOP_ITEMS)
    )
    rating: RatingTrend


def overview(row: insights.Overview) -> Overview:
    def money(amount: int) -> Money:
        return Money(amount=amount, currency=row.currency)

    return Overview(
        from_=row.period.first_day,
        to=row.period.last_day,
        timezone=row.period.timezone,
        currency=row.currency,
        active_conversations=row.active_conversations,
        waiting_for_staff=row.waiting_for_staff,
        open_orders=row.open_orders,
        orders=row.orders,
        revenue=money(row.revenue),
        average_order_value=money(row.average_order_value) if row.average_order_value is not None else None,
        days=[OverviewDay(day=d.day, orders=d.orders, revenue=money(d.revenue)) for d in row.days],
        median_first_response_seconds=row.median_first_response_seconds,
        sla=Sla(minutes=row.sla_minutes, breaches_now=row.breaches_now, breaches=row.breaches),
        top_items=[
            TopItem(
                item_id=strawberry.ID(t.item_id),
                name_ar=t.name_ar,
                name_en=t.name_en,
                quantity=t.quantity,
                revenue=money(t.revenue),
            )
            for t in row.top_items
        ],
        rating=RatingTrend(
            average=row.rating_average, previous_average=row.previous_rating_average, trend=row.rating_trend
        ),
    )


@strawberry.type(description="The inbox's settings of the restaurant.")
class InboxSettings:
    sla_minutes: int = strawberry.field(
        description="A customer waiting for staff longer than this (1..1440 minutes) is an SLA breach."
    )
    restaurant: Restaurant


def inbox_settings(row: RestaurantRow) -> InboxSettings:
    return InboxSettings(sla_minutes=row.sla_minutes, restaurant=RESTAURANT.from_row(row))


InboxSettingsResult = Annotated[
    InboxSettings | ValidationError | NotFoundError, strawberry.union("InboxSettingsResult")
]

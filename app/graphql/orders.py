"""GraphQL for the order history (#16): its alerts, its KPIs and the kitchen's preparation time.

The order itself, its connection and its filters' enums are app.graphql.types'; this module holds
what only the history adds, so those types can use it without importing the schema.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import strawberry

from app.graphql.results import NotFoundError, ValidationError


@strawberry.enum(
    description=(
        "Why an order needs a look. LATE: still CONFIRMED or PREPARING after the restaurant's preparation "
        "time. AWAITING_PAYMENT: paid online, and staff haven't marked it paid yet."
    )
)
class OrderAlert(Enum):
    LATE = "LATE"
    AWAITING_PAYMENT = "AWAITING_PAYMENT"


@strawberry.type(description="The counted orders (not cancelled) of a period and filter.")
class OrderKpis:
    count: int
    revenue: int = strawberry.field(description="The sum of their totals, in minor units.")
    average_order_value: int = strawberry.field(description="Revenue / count, rounded (0 without orders).")
    currency: str


@strawberry.type
class OrderSettings:
    preparation_minutes: int = strawberry.field(
        description="An order still CONFIRMED or PREPARING after this many minutes is late."
    )


OrderSettingsResult = Annotated[
    OrderSettings | NotFoundError | ValidationError, strawberry.union("OrderSettingsResult")
]

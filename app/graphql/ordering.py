"""GraphQL for the ordering side: the menu and branches, restaurant settings, orders."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from app import models

if TYPE_CHECKING:
    from app.graphql.context import Context


@strawberry.enum
class OrderStatus(Enum):
    CONFIRMED = "CONFIRMED"
    PREPARING = "PREPARING"
    OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
    READY = "READY"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"


@strawberry.enum
class OrderType(Enum):
    DELIVERY = "delivery"
    PICKUP = "pickup"


@strawberry.enum
class PaymentMethod(Enum):
    CASH = "cash"
    ONLINE = "online"


@strawberry.type
class Branch:
    id: strawberry.ID
    name_ar: str
    name_en: str
    address: str
    latitude: float
    longitude: float
    delivery_radius_km: float
    is_active: bool
    sort_order: int

    @classmethod
    def from_row(cls, row: models.Branch) -> Branch:
        return cls(
            id=strawberry.ID(row.id),
            name_ar=row.name_ar,
            name_en=row.name_en,
            address=row.address,
            latitude=row.latitude,
            longitude=row.longitude,
            delivery_radius_km=row.delivery_radius_km,
            is_active=row.is_active,
            sort_order=row.sort_order,
        )


@strawberry.type
class MenuItem:
    id: strawberry.ID
    category_id: strawberry.ID
    name_ar: str
    name_en: str
    price: int = strawberry.field(description="In minor units (halalas for SAR).")
    currency: str
    available: bool
    max_quantity: int
    sort_order: int

    @classmethod
    def from_row(cls, row: models.MenuItem) -> MenuItem:
        return cls(
            id=strawberry.ID(row.id),
            category_id=strawberry.ID(row.category_id),
            name_ar=row.name_ar,
            name_en=row.name_en,
            price=row.price,
            currency=row.currency,
            available=row.available,
            max_quantity=row.max_quantity,
            sort_order=row.sort_order,
        )


@strawberry.type
class MenuCategory:
    id: strawberry.ID
    name_ar: str
    name_en: str
    is_active: bool
    sort_order: int
    items: list[MenuItem]

    @classmethod
    def from_row(cls, row: models.MenuCategory, items: list[models.MenuItem]) -> MenuCategory:
        return cls(
            id=strawberry.ID(row.id),
            name_ar=row.name_ar,
            name_en=row.name_en,
            is_active=row.is_active,
            sort_order=row.sort_order,
            items=[MenuItem.from_row(i) for i in items if i.category_id == row.id],
        )


@strawberry.type
class Menu:
    branches: list[Branch]
    categories: list[MenuCategory]
    min_delivery_total: int
    currency: str


@strawberry.type
class OrderLine:
    line_no: int
    item_id: strawberry.ID
    name_ar: str
    name_en: str
    unit_price: int
    quantity: int

    @strawberry.field
    def line_total(self) -> int:
        return self.unit_price * self.quantity


@strawberry.type
class Order:
    id: strawberry.ID
    reference: str = strawberry.field(description='The short per-restaurant reference, e.g. "#1042".')
    number: int
    conversation_id: strawberry.ID
    bot_id: strawberry.ID
    customer_phone: str
    customer_name: str | None
    order_type: OrderType
    branch_id: strawberry.ID | None
    delivery_address: str | None
    delivery_latitude: float | None
    delivery_longitude: float | None
    payment_method: PaymentMethod
    subtotal: int
    total: int
    currency: str
    status: OrderStatus
    rating: int | None
    rating_comment: str | None
    created_at: datetime
    updated_at: datetime
    cursor: str | None = None

    @strawberry.field
    async def lines(self, info: strawberry.Info[Context]) -> list[OrderLine]:
        rows = await info.context.loaders.order_lines.load(str(self.id))
        return [
            OrderLine(
                line_no=r.line_no,
                item_id=strawberry.ID(r.item_id),
                name_ar=r.name_ar,
                name_en=r.name_en,
                unit_price=r.unit_price,
                quantity=r.quantity,
            )
            for r in rows
        ]

    @strawberry.field(description="The statuses staff may move this order to next.")
    def next_statuses(self) -> list[OrderStatus]:
        from app.services.orders import NEXT

        allowed = NEXT[self.status.value]
        wrong_kind = "READY" if self.order_type is OrderType.DELIVERY else "OUT_FOR_DELIVERY"
        return [OrderStatus(s) for s in models.ORDER_STATUSES if s in allowed and s != wrong_kind]

    @classmethod
    def from_row(cls, row: models.Order, cursor: str | None = None) -> Order:
        return cls(
            id=strawberry.ID(row.id),
            reference=row.reference,
            number=row.number,
            conversation_id=strawberry.ID(row.conversation_id),
            bot_id=strawberry.ID(row.bot_id),
            customer_phone=row.customer_phone,
            customer_name=row.customer_name,
            order_type=OrderType(row.order_type),
            branch_id=strawberry.ID(row.branch_id) if row.branch_id else None,
            delivery_address=row.delivery_address,
            delivery_latitude=row.delivery_latitude,
            delivery_longitude=row.delivery_longitude,
            payment_method=PaymentMethod(row.payment_method),
            subtotal=row.subtotal,
            total=row.total,
            currency=row.currency,
            status=OrderStatus(row.status),
            rating=row.rating,
            rating_comment=row.rating_comment,
            created_at=row.created_at,
            updated_at=row.updated_at,
            cursor=cursor,
        )


@strawberry.type
class OrderEdge:
    cursor: str
    node: Order


@strawberry.type
class OrderConnection:
    edges: list[OrderEdge]
    has_next_page: bool
    end_cursor: str | None

    @strawberry.field
    def nodes(self) -> list[Order]:
        return [edge.node for edge in self.edges]


@strawberry.input
class BranchInput:
    name_ar: str | None = None
    name_en: str | None = None
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    delivery_radius_km: float | None = None
    is_active: bool | None = None
    sort_order: int | None = None


@strawberry.input
class CategoryInput:
    name_ar: str | None = None
    name_en: str | None = None
    is_active: bool | None = None
    sort_order: int | None = None


@strawberry.input
class MenuItemInput:
    category_id: strawberry.ID | None = None
    name_ar: str | None = None
    name_en: str | None = None
    price: int | None = None
    available: bool | None = None
    max_quantity: int | None = None
    sort_order: int | None = None


@strawberry.input
class RestaurantSettingsInput:
    name: str | None = None
    currency: str | None = None
    timezone: str | None = None
    min_delivery_total: int | None = None
    bot_enabled: bool | None = None


@strawberry.type
class Deleted:
    id: strawberry.ID


from app.graphql.types import ForbiddenError, NotFoundError, ValidationError  # noqa: E402  (after the types)

BranchResult = Annotated[Branch | NotFoundError | ValidationError, strawberry.union("BranchResult")]
CategoryResult = Annotated[MenuCategory | NotFoundError | ValidationError, strawberry.union("CategoryResult")]
MenuItemResult = Annotated[MenuItem | NotFoundError | ValidationError, strawberry.union("MenuItemResult")]
DeleteResult = Annotated[Deleted | NotFoundError, strawberry.union("DeleteResult")]
OrderResult = Annotated[
    Order | NotFoundError | ForbiddenError | ValidationError, strawberry.union("OrderResult")
]

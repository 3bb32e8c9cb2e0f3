"""GraphQL for the ordering side: the menu and branches, restaurant settings, orders."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from app import models
from app.graphql import cursors
from app.graphql.options import MenuOptionGroup, OrderLineOption, line_options, option_group
from app.graphql.orders import OrderAlert
from app.graphql.projection import Derived, Projection
from app.graphql.results import ForbiddenError, NotFoundError, ValidationError
from app.graphql.types import CONVERSATION, Conversation, PageInfo
from app.services import order_history
from app.services.orders import NEXT

if TYPE_CHECKING:
    from app.graphql.context import OperationContext


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
    is_default: bool = strawberry.field(description="Delivers orders to a typed address (no coordinates).")
    alert_phone: str | None = strawberry.field(
        description="E.164 number that gets a WhatsApp alert for each new order of this branch."
    )


BRANCH = Projection(Branch, models.Branch)


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
    image_url: str | None = strawberry.field(description="A photo the bot sends when it shows the item.")
    description_ar: str | None = strawberry.field(description="Shown with the item (its photo's caption).")
    description_en: str | None = None

    @strawberry.field(description="Asked by the bot in this order after the item is picked.")
    async def option_groups(self, info: strawberry.Info[OperationContext]) -> list[MenuOptionGroup]:
        groups = await info.context.loaders.option_groups.load(str(self.id))
        return [option_group(g.group, g.options) for g in groups]


MENU_ITEM = Projection(MenuItem, models.MenuItem, resolved={"option_groups"})


@strawberry.type
class MenuCategory:
    id: strawberry.ID
    name_ar: str
    name_en: str
    is_active: bool
    sort_order: int
    items: list[MenuItem]


# `items`: the category's menu items, given by the caller (`from_row(row, items=...)`).
MENU_CATEGORY = Projection(MenuCategory, models.MenuCategory, absent={"items"})


def menu_category(row: models.MenuCategory, items: list[models.MenuItem]) -> MenuCategory:
    """A category with those of `items` that belong to it."""
    return MENU_CATEGORY.from_row(
        row, items=[MENU_ITEM.from_row(i) for i in items if i.category_id == row.id]
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
    unit_price: int = strawberry.field(description="The item's price plus its options' price deltas.")
    quantity: int
    options: list[OrderLineOption] = strawberry.field(
        description="The chosen options as they were when ordered (a later menu change leaves them)."
    )

    @strawberry.field
    def line_total(self) -> int:
        return self.unit_price * self.quantity


# `options`: the line's snapshot, read from its `options` column by `order_line`.
ORDER_LINE = Projection(OrderLine, models.OrderLine, resolved={"line_total"}, absent={"options"})


def order_line(row: models.OrderLine) -> OrderLine:
    return ORDER_LINE.from_row(row, options=line_options(row.options))


@strawberry.type
class Order:
    id: strawberry.ID
    reference: str = strawberry.field(
        description='The short per-restaurant reference, e.g. "#1042" (the Sufrah platform\'s number once it has one).'
    )
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
    # The Sufrah merchant platform (#17): null for the orders of a local catalog.
    external_order_number: str | None = strawberry.field(description="The platform's order number.")
    external_payment_link: str | None = strawberry.field(description="The platform's payment link (online).")
    external_status: str | None = strawberry.field(description="The platform's last status, as it said it.")
    external_payment_status: str | None = strawberry.field(
        description='The platform\'s payment status ("Paid").'
    )
    external_submit_state: str | None = strawberry.field(
        description="Sending the order to the platform: pending, submitted or failed (see externalError)."
    )
    external_error: str | None = strawberry.field(description="The platform's last refusal or failure.")
    cursor: str | None = None
    paid_at: datetime | None = strawberry.field(
        default=None, description="When staff marked it paid (null: not yet)."
    )

    @strawberry.field(description="What needs a look: late against the preparation time, awaiting payment.")
    async def alerts(self, info: strawberry.Info[OperationContext]) -> list[OrderAlert]:
        restaurant = await info.context.loaders.restaurant.load(
            (await info.context.authenticate()).restaurant_id
        )
        found = order_history.alerts_of(
            status=self.status.value,
            payment_method=self.payment_method.value,
            paid_at=self.paid_at,
            created_at=self.created_at,
            preparation_minutes=restaurant.preparation_minutes if restaurant else 30,
            now=datetime.now(UTC),
        )
        return [OrderAlert(a) for a in found]

    @strawberry.field(description="The WhatsApp conversation the order was placed in.")
    async def conversation(self, info: strawberry.Info[OperationContext]) -> Conversation | None:
        row = await info.context.loaders.conversation.load(str(self.conversation_id))
        return CONVERSATION.from_row(row) if row is not None else None

    @strawberry.field(description="The branch that prepares the order (null: none left to assign).")
    async def branch(self, info: strawberry.Info[OperationContext]) -> Branch | None:
        if self.branch_id is None:
            return None
        row = await info.context.loaders.branch.load(str(self.branch_id))
        return BRANCH.from_row(row) if row is not None else None

    @strawberry.field
    async def lines(self, info: strawberry.Info[OperationContext]) -> list[OrderLine]:
        rows = await info.context.loaders.order_lines.load(str(self.id))
        return [order_line(r) for r in rows]

    @strawberry.field(description="The statuses staff may move this order to next.")
    def next_statuses(self) -> list[OrderStatus]:
        allowed = NEXT[self.status.value]
        wrong_kind = "READY" if self.order_type is OrderType.DELIVERY else "OUT_FOR_DELIVERY"
        return [OrderStatus(s) for s in models.ORDER_STATUSES if s in allowed and s != wrong_kind]


ORDER = Projection(
    Order,
    models.Order,
    derived={
        "reference": Derived(
            python=lambda o: o.reference,
            sql=lambda r: f"('#' || coalesce({r}.external_order_number, {r}.number::text))",
        )
    },
    resolved={"branch", "lines", "next_statuses", "alerts", "conversation"},
    absent={"cursor"},
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
    page_info: PageInfo
    total_count: int = strawberry.field(description="Orders matching the filter, on every page.")

    @strawberry.field
    def nodes(self) -> list[Order]:
        return [edge.node for edge in self.edges]

    @classmethod
    def from_rows(
        cls, rows: list[models.Order], first: int, *, total_count: int, after: str | None
    ) -> OrderConnection:
        """`rows` newest first, possibly one more than `first` (then there is a next page)."""
        edges = [
            OrderEdge(cursor=cursors.encode(r.created_at, r.id), node=ORDER.from_row(r)) for r in rows[:first]
        ]
        end_cursor = edges[-1].cursor if edges else None
        has_next = len(rows) > first
        return cls(
            edges=edges,
            has_next_page=has_next,
            end_cursor=end_cursor,
            total_count=total_count,
            page_info=PageInfo(
                has_next_page=has_next,
                has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=end_cursor,
            ),
        )


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
    is_default: bool | None = strawberry.field(
        default=None, description="true: this branch becomes the restaurant's default (the others stop)."
    )


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
    image_url: str | None = strawberry.field(
        default=None, description='A public http(s) photo URL; "" removes the photo.'
    )
    description_ar: str | None = strawberry.field(
        default=None, description='At most 500 characters; "" removes it.'
    )
    description_en: str | None = None


@strawberry.input
class RestaurantSettingsInput:
    name: str | None = None
    currency: str | None = None
    timezone: str | None = None
    min_delivery_total: int | None = None
    bot_enabled: bool | None = None
    pause_bot_on_staff_reply: bool | None = None


@strawberry.type
class Deleted:
    id: strawberry.ID


BranchResult = Annotated[Branch | NotFoundError | ValidationError, strawberry.union("BranchResult")]
CategoryResult = Annotated[MenuCategory | NotFoundError | ValidationError, strawberry.union("CategoryResult")]
MenuItemResult = Annotated[MenuItem | NotFoundError | ValidationError, strawberry.union("MenuItemResult")]
DeleteResult = Annotated[Deleted | NotFoundError, strawberry.union("DeleteResult")]
OrderResult = Annotated[
    Order | NotFoundError | ForbiddenError | ValidationError, strawberry.union("OrderResult")
]

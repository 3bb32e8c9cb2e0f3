"""GraphQL for the ordering side: the menu, restaurant settings, and the inputs and results of their
mutations (branches and orders are in app.graphql.types, beside the conversations they refer to)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from app import models
from app.graphql.options import MenuOptionGroup, option_group
from app.graphql.projection import Projection
from app.graphql.results import ForbiddenError, NotFoundError, ValidationError
from app.graphql.types import Branch, Order

if TYPE_CHECKING:
    from app.graphql.context import OperationContext


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

"""GraphQL of item options (#16): a menu item's option groups ("Size": exactly one; "Add-ons": up to
N) with their options and price deltas, the mutations that manage them (app/services/catalog.py
holds the rules), and the snapshot of the chosen options an order line keeps."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from app import models
from app.graphql.projection import Projection
from app.graphql.results import NotFoundError, ValidationError


@strawberry.type
class MenuOption:
    id: strawberry.ID
    group_id: strawberry.ID
    name_ar: str
    name_en: str
    price_delta: int = strawberry.field(description="Added to the item's price, in minor units (≥ 0).")
    available: bool
    sort_order: int


MENU_OPTION = Projection(MenuOption, models.MenuOption)


@strawberry.type(description="Asked by the bot after the item is picked, in sortOrder.")
class MenuOptionGroup:
    id: strawberry.ID
    item_id: strawberry.ID
    name_ar: str
    name_en: str
    min_select: int = strawberry.field(description="At least this many options (0: optional).")
    max_select: int = strawberry.field(description="At most this many (1 with minSelect 1: exactly one).")
    sort_order: int
    options: list[MenuOption] = strawberry.field(description="In display order, unavailable ones too.")


# `options`: the group's options, given by the caller.
MENU_OPTION_GROUP = Projection(MenuOptionGroup, models.MenuOptionGroup, absent={"options"})


def option_group(row: models.MenuOptionGroup, options: list[models.MenuOption]) -> MenuOptionGroup:
    return MENU_OPTION_GROUP.from_row(row, options=[MENU_OPTION.from_row(o) for o in options])


@strawberry.type(description="An option chosen for an order line, as it was when ordered.")
class OrderLineOption:
    group_ar: str
    group_en: str
    name_ar: str
    name_en: str
    price_delta: int = strawberry.field(description="Included in the line's unitPrice.")


def line_options(snapshot: list[dict[str, Any]]) -> list[OrderLineOption]:
    """An order line's `options` column as GraphQL objects (missing keys read as empty)."""
    return [
        OrderLineOption(
            group_ar=str(o.get("group_ar", "")),
            group_en=str(o.get("group_en", "")),
            name_ar=str(o.get("name_ar", "")),
            name_en=str(o.get("name_en", "")),
            price_delta=int(o.get("price_delta", 0)),
        )
        for o in snapshot
    ]


@strawberry.input
class OptionGroupInput:
    item_id: strawberry.ID | None = strawberry.field(default=None, description="Required to create.")
    name_ar: str | None = None
    name_en: str | None = None
    min_select: int | None = strawberry.field(default=None, description="Default 0.")
    max_select: int | None = strawberry.field(
        default=None, description="Default 1; at most the group's number of options."
    )
    sort_order: int | None = None


@strawberry.input
class OptionInput:
    group_id: strawberry.ID | None = strawberry.field(default=None, description="Required to create.")
    name_ar: str | None = None
    name_en: str | None = None
    price_delta: int | None = strawberry.field(default=None, description="Minor units, ≥ 0 (default 0).")
    available: bool | None = None
    sort_order: int | None = None


OptionGroupResult = Annotated[
    MenuOptionGroup | NotFoundError | ValidationError, strawberry.union("OptionGroupResult")
]
OptionResult = Annotated[MenuOption | NotFoundError | ValidationError, strawberry.union("OptionResult")]

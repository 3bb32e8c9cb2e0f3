"""Branches and the menu: managed by staff, read by the bot and the dashboards."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db import rowcount
from app.errors import Conflict, NotFound, ValidationFailed
from app.ids import new_id
from app.models import Branch, MenuCategory, MenuItem, MenuOption, MenuOptionGroup, Restaurant
from app.phone import to_e164
from app.services import restaurants

# One of the catalog's tables, which share restaurant_id, id, sort_order and created_at.
_Row = TypeVar("_Row", Branch, MenuCategory, MenuItem, MenuOptionGroup, MenuOption)

# An item's option groups and a group's options are short lists shown whole (by the bot, in the
# menu query): these caps keep them so (the GraphQL cost estimate counts an unpaged list as 20).
MAX_OPTION_GROUPS = 10  # per item
MAX_OPTIONS = 20  # per group
# And per restaurant: one response holds at most this many of each (app.graphql.cost.TOTALS).
MAX_RESTAURANT_OPTION_GROUPS = 1000
MAX_RESTAURANT_OPTIONS = 4000


@dataclass(frozen=True, slots=True)
class OptionGroup:
    """An option group with its options, both in display order."""

    group: MenuOptionGroup
    options: list[MenuOption]


@dataclass(frozen=True, slots=True)
class Menu:
    branches: list[Branch]
    categories: list[MenuCategory]
    items: list[MenuItem]
    option_groups: dict[str, list[OptionGroup]] = dataclass_field(default_factory=dict)  # by item id


async def menu(
    session: AsyncSession, *, restaurant_id: str, include_inactive: bool = True, options: bool = True
) -> Menu:
    """Branches, categories and items in display order; with `options`, the items' option groups."""

    def ordered(model: type[_Row]) -> Select[_Row]:
        stmt = select(model).where(col(model.restaurant_id) == restaurant_id)
        return stmt.order_by(col(model.sort_order), col(model.created_at), col(model.id))

    branches = list((await session.execute(ordered(Branch))).scalars())
    categories = list((await session.execute(ordered(MenuCategory))).scalars())
    items = list((await session.execute(ordered(MenuItem))).scalars())
    if not include_inactive:
        branches = [b for b in branches if b.is_active]
        categories = [c for c in categories if c.is_active]
        live = {c.id for c in categories}
        items = [i for i in items if i.category_id in live]
    groups = await option_groups(session, restaurant_id=restaurant_id, item_ids=None) if options else {}
    return Menu(branches=branches, categories=categories, items=items, option_groups=groups)


async def option_groups(
    session: AsyncSession, *, restaurant_id: str, item_ids: list[str] | None
) -> dict[str, list[OptionGroup]]:
    """The option groups (with their options) of the items named, or of every item: two queries."""
    groups_stmt = select(MenuOptionGroup).where(col(MenuOptionGroup.restaurant_id) == restaurant_id)
    if item_ids is not None:
        groups_stmt = groups_stmt.where(col(MenuOptionGroup.item_id).in_(item_ids))
    groups = list(
        (
            await session.execute(
                groups_stmt.order_by(
                    col(MenuOptionGroup.sort_order), col(MenuOptionGroup.created_at), col(MenuOptionGroup.id)
                )
            )
        ).scalars()
    )
    if not groups:
        return {}
    options_stmt = select(MenuOption).where(
        col(MenuOption.restaurant_id) == restaurant_id, col(MenuOption.group_id).in_([g.id for g in groups])
    )
    by_group: dict[str, list[MenuOption]] = {g.id: [] for g in groups}
    ordered_options = options_stmt.order_by(
        col(MenuOption.sort_order), col(MenuOption.created_at), col(MenuOption.id)
    )
    for option in (await session.execute(ordered_options)).scalars():
        by_group[option.group_id].append(option)
    result: dict[str, list[OptionGroup]] = {}
    for group in groups:
        result.setdefault(group.item_id, []).append(OptionGroup(group, by_group[group.id]))
    return result


def _require_text(values: dict[str, Any], *names: str) -> None:
    for name in names:
        value = values.get(name)
        if not isinstance(value, str) or not value.strip():
            raise ValidationFailed(f"{name} is required", field=name)


def _check_ranges(values: dict[str, Any]) -> None:
    checks = {
        "latitude": (-90, 90),
        "longitude": (-180, 180),
        "delivery_radius_km": (0, 500),
        "price": (0, 100_000_000),
        "max_quantity": (1, 1000),
        "sort_order": (-10_000, 10_000),
        "min_select": (0, MAX_OPTIONS),
        "max_select": (1, MAX_OPTIONS),
        "price_delta": (0, 100_000_000),
    }
    for name, (low, high) in checks.items():
        if name in values and values[name] is not None:
            value = values[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
                raise ValidationFailed(f"{name} must be a number from {low} to {high}", field=name)


async def _upsert(
    session: AsyncSession,
    model: type[_Row],
    *,
    restaurant_id: str,
    row_id: str | None,
    values: dict[str, Any],
    prefix: str,
) -> _Row:
    values = {k: v for k, v in values.items() if v is not None}
    _check_ranges(values)
    if row_id is None:
        new = model(restaurant_id=restaurant_id, id=new_id(prefix), **values)
        try:
            async with session.begin_nested():
                session.add(new)
        except IntegrityError as exc:
            raise NotFound("category not found") from exc
        await session.refresh(new)
        return new
    try:
        async with session.begin_nested():
            row = (
                await session.execute(
                    update(model)
                    .where(col(model.restaurant_id) == restaurant_id, col(model.id) == row_id)
                    .values(**values, updated_at=func.now())
                    .returning(model)
                )
            ).scalar_one_or_none()
    except IntegrityError as exc:
        raise NotFound("category not found") from exc
    if row is None:
        raise NotFound(f"{model.__tablename__.replace('_', ' ')} not found")
    return row


async def save_branch(
    session: AsyncSession, *, restaurant_id: str, branch_id: str | None = None, **values: Any
) -> Branch:
    """Create (no id) or change a branch; `is_default=True` makes it the restaurant's only default."""
    if branch_id is None:
        _require_text(values, "name_ar", "name_en")
        for name in ("latitude", "longitude"):
            if values.get(name) is None:
                raise ValidationFailed(f"{name} is required", field=name)
    if values.get("is_default"):
        others = update(Branch).where(col(Branch.restaurant_id) == restaurant_id, col(Branch.is_default))
        if branch_id is not None:
            others = others.where(col(Branch.id) != branch_id)
        await session.execute(others.values(is_default=False, updated_at=func.now()))
    return await _upsert(
        session, Branch, restaurant_id=restaurant_id, row_id=branch_id, values=values, prefix="brn"
    )


async def set_branch_alert_phone(
    session: AsyncSession, *, restaurant_id: str, branch_id: str, phone: str | None
) -> Branch:
    """The number that gets a WhatsApp alert for each new order of the branch (None: no alerts)."""
    value = to_e164(phone, field="alertPhone") if phone and phone.strip() else None
    row = (
        await session.execute(
            update(Branch)
            .where(col(Branch.restaurant_id) == restaurant_id, col(Branch.id) == branch_id)
            .values(alert_phone=value, updated_at=func.now())
            .returning(Branch)
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("branch not found")
    return row


async def get_branches(session: AsyncSession, *, restaurant_id: str, ids: list[str]) -> dict[str, Branch]:
    stmt = select(Branch).where(col(Branch.restaurant_id) == restaurant_id, col(Branch.id).in_(ids))
    return {row.id: row for row in (await session.execute(stmt)).scalars()}


async def save_category(
    session: AsyncSession, *, restaurant_id: str, category_id: str | None = None, **values: Any
) -> MenuCategory:
    if category_id is None:
        _require_text(values, "name_ar", "name_en")
    return await _upsert(
        session, MenuCategory, restaurant_id=restaurant_id, row_id=category_id, values=values, prefix="cat"
    )


def _image_url(raw: object) -> str:
    """A menu item's photo: a public http(s) URL WhatsApp can fetch; "" removes the photo."""
    url = raw.strip() if isinstance(raw, str) else None
    if url is None or (url and (not url.startswith(("https://", "http://")) or len(url) > 2048)):
        raise ValidationFailed("imageUrl must be an http(s) URL", field="imageUrl")
    return url


MAX_DESCRIPTION = 500  # leaves room in WhatsApp's 1,024-character caption for the name and price


def _description(raw: object, *, field: str) -> str:
    """A menu item's description; "" (or only spaces) removes it."""
    text = raw.strip() if isinstance(raw, str) else None
    if text is None or len(text) > MAX_DESCRIPTION:
        raise ValidationFailed(f"{field} must be text of at most {MAX_DESCRIPTION} characters", field=field)
    return text


async def save_item(
    session: AsyncSession, *, restaurant_id: str, item_id: str | None = None, **values: Any
) -> MenuItem:
    if values.get("image_url") is not None:
        values["image_url"] = _image_url(values["image_url"])
    for key, field in (("description_ar", "descriptionAr"), ("description_en", "descriptionEn")):
        if values.get(key) is not None:
            values[key] = _description(values[key], field=field)
    if item_id is None:
        _require_text(values, "name_ar", "name_en", "category_id")
        if values.get("price") is None:
            raise ValidationFailed("price is required", field="price")
        if values.get("currency") is None:
            restaurant = await session.get(Restaurant, restaurant_id)
            values["currency"] = restaurant.currency if restaurant else "SAR"
    return await _upsert(
        session, MenuItem, restaurant_id=restaurant_id, row_id=item_id, values=values, prefix="itm"
    )


async def _count(session: AsyncSession, model: type[_Row], *where: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def save_option_group(
    session: AsyncSession, *, restaurant_id: str, group_id: str | None = None, **values: Any
) -> MenuOptionGroup:
    """Create (no id, with `item_id`) or change an item's option group. `min_select`..`max_select`
    options are chosen: 1..1 is "exactly one" (a size), 0..N "up to N" (add-ons)."""
    values = {k: v for k, v in values.items() if v is not None}
    _check_ranges(values)
    if group_id is None:
        _require_text(values, "name_ar", "name_en", "item_id")
        item = await session.get(MenuItem, (restaurant_id, values["item_id"]))
        if item is None:
            raise NotFound("menu item not found")
        existing = await _count(
            session,
            MenuOptionGroup,
            col(MenuOptionGroup.restaurant_id) == restaurant_id,
            col(MenuOptionGroup.item_id) == item.id,
        )
        if existing >= MAX_OPTION_GROUPS:
            raise ValidationFailed(f"an item has at most {MAX_OPTION_GROUPS} option groups", field="itemId")
        everywhere = await _count(
            session, MenuOptionGroup, col(MenuOptionGroup.restaurant_id) == restaurant_id
        )
        if everywhere >= MAX_RESTAURANT_OPTION_GROUPS:
            raise ValidationFailed(
                f"a restaurant has at most {MAX_RESTAURANT_OPTION_GROUPS} option groups", field="itemId"
            )
        low, high = values.get("min_select", 0), values.get("max_select", 1)
        _check_selection(low, high, options=None)
        return await _upsert(
            session, MenuOptionGroup, restaurant_id=restaurant_id, row_id=None, values=values, prefix="opg"
        )
    if "item_id" in values:
        raise ValidationFailed("an option group stays with its item", field="itemId")
    for name in ("name_ar", "name_en"):
        if name in values:
            _require_text(values, name)
    current = await session.get(MenuOptionGroup, (restaurant_id, group_id))
    if current is None:
        raise NotFound("option group not found")
    options = await _count(
        session,
        MenuOption,
        col(MenuOption.restaurant_id) == restaurant_id,
        col(MenuOption.group_id) == group_id,
    )
    _check_selection(
        values.get("min_select", current.min_select), values.get("max_select", current.max_select), options
    )
    return await _upsert(
        session, MenuOptionGroup, restaurant_id=restaurant_id, row_id=group_id, values=values, prefix="opg"
    )


def _check_selection(low: int, high: int, options: int | None) -> None:
    """min ≤ max, and (once the group has options) max ≤ how many it has."""
    if low > high:
        raise ValidationFailed("minSelect must not be more than maxSelect", field="minSelect")
    if options and high > options:
        raise ValidationFailed(
            f"maxSelect must not be more than the number of options ({options})", field="maxSelect"
        )


async def save_option(
    session: AsyncSession, *, restaurant_id: str, option_id: str | None = None, **values: Any
) -> MenuOption:
    """Create (no id, with `group_id`) or change an option; `price_delta` (minor units, ≥ 0) is what
    it adds to the item's price."""
    values = {k: v for k, v in values.items() if v is not None}
    if option_id is None:
        _require_text(values, "name_ar", "name_en", "group_id")
        group = await session.get(MenuOptionGroup, (restaurant_id, values["group_id"]))
        if group is None:
            raise NotFound("option group not found")
        existing = await _count(
            session,
            MenuOption,
            col(MenuOption.restaurant_id) == restaurant_id,
            col(MenuOption.group_id) == group.id,
        )
        if existing >= MAX_OPTIONS:
            raise ValidationFailed(f"an option group has at most {MAX_OPTIONS} options", field="groupId")
        everywhere = await _count(session, MenuOption, col(MenuOption.restaurant_id) == restaurant_id)
        if everywhere >= MAX_RESTAURANT_OPTIONS:
            raise ValidationFailed(
                f"a restaurant has at most {MAX_RESTAURANT_OPTIONS} options", field="groupId"
            )
    else:
        if "group_id" in values:
            raise ValidationFailed("an option stays in its group", field="groupId")
        for name in ("name_ar", "name_en"):
            if name in values:
                _require_text(values, name)
    return await _upsert(
        session, MenuOption, restaurant_id=restaurant_id, row_id=option_id, values=values, prefix="opt"
    )


async def remove(session: AsyncSession, *, restaurant_id: str, kind: str, row_id: str) -> None:
    """Delete a branch, a category (and its items), an item (and its options), an option group (and
    its options) or an option. Past orders keep their copied lines, options included."""
    tables: dict[
        str, type[Branch] | type[MenuCategory] | type[MenuItem] | type[MenuOptionGroup] | type[MenuOption]
    ]
    tables = {
        "branch": Branch,
        "category": MenuCategory,
        "item": MenuItem,
        "option_group": MenuOptionGroup,
        "option": MenuOption,
    }
    model = tables[kind]
    if kind == "category":
        await session.execute(
            delete(MenuItem).where(
                col(MenuItem.restaurant_id) == restaurant_id, col(MenuItem.category_id) == row_id
            )
        )
    result = await session.execute(
        delete(model).where(col(model.restaurant_id) == restaurant_id, col(model.id) == row_id)
    )
    if rowcount(result) == 0:
        raise NotFound(f"{kind} not found")


MAX_PROFILE_TEXT = {"description": 1000, "address": 300}


def _web_link(raw: object, *, field: str) -> str | None:
    """A public http(s) URL (a logo, the restaurant's app); "" removes it."""
    url = raw.strip() if isinstance(raw, str) else None
    if url == "":
        return None
    if url is None or not re.match(r"^https?://[^\s/]+\.[^\s]*$", url) or len(url) > 2048:
        raise ValidationFailed(f"{field} must be an http(s) URL", field=field)
    return url


def _profile(values: dict[str, Any]) -> None:
    """The profile fields checked and tidied in place: "" clears a field (stored as null)."""
    for key, field in (("description", "description"), ("address", "address")):
        if key in values:
            text = str(values[key]).strip()
            if len(text) > MAX_PROFILE_TEXT[key]:
                raise ValidationFailed(
                    f"{field} must be at most {MAX_PROFILE_TEXT[key]} characters", field=field
                )
            values[key] = text or None
    if "phone" in values:
        values["phone"] = to_e164(values["phone"], field="phone") if str(values["phone"]).strip() else None
    for key, field in (("logo_url", "logoUrl"), ("app_link", "appLink")):
        if key in values:
            values[key] = _web_link(values[key], field=field)


async def update_settings(session: AsyncSession, *, restaurant_id: str, **values: Any) -> Restaurant:
    """Restaurant settings: name, currency, time zone, minimum delivery order, bot switch, and the
    profile (description, address, phone, logo, app link, ordering while closed). Dashboards are told."""
    values = {k: v for k, v in values.items() if v is not None}
    _profile(values)
    if "currency" in values:
        currency = str(values["currency"]).strip().upper()
        if len(currency) != 3 or not currency.isalpha():
            raise ValidationFailed("currency must be a 3-letter ISO code such as SAR", field="currency")
        values["currency"] = currency
    if "min_delivery_total" in values and not 0 <= values["min_delivery_total"] <= 100_000_000:
        raise ValidationFailed("minDeliveryTotal must be from 0 to 100000000", field="minDeliveryTotal")
    if "name" in values and not str(values["name"]).strip():
        raise ValidationFailed("name must not be empty", field="name")
    if "timezone" in values:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(values["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationFailed(
                "timezone must be an IANA zone such as Asia/Riyadh", field="timezone"
            ) from None
    if not values:
        return await restaurants.get(session, restaurant_id=restaurant_id)
    return await restaurants.change(session, restaurant_id=restaurant_id, **values)


MENU_FILE_HELP = """{
  "minDeliveryTotal": 2000, "currency": "SAR",
  "branches": [{"id": "olaya", "nameAr": "العليا", "nameEn": "Olaya", "address": "...",
                "latitude": 24.69, "longitude": 46.68, "deliveryRadiusKm": 8}],
  "categories": [{"id": "grills", "nameAr": "مشويات", "nameEn": "Grills",
                  "items": [{"id": "shish", "nameAr": "شيش طاووق", "nameEn": "Shish Tawook",
                             "price": 2500, "available": true, "maxQuantity": 10,
                             "optionGroups": [
                               {"id": "shish-size", "nameAr": "الحجم", "nameEn": "Size",
                                "minSelect": 1, "maxSelect": 1,
                                "options": [{"id": "shish-regular", "nameAr": "عادي", "nameEn": "Regular"},
                                            {"id": "shish-large", "nameAr": "كبير", "nameEn": "Large",
                                             "priceDelta": 500}]},
                               {"nameAr": "إضافات", "nameEn": "Add-ons", "minSelect": 0, "maxSelect": 2,
                                "options": [{"nameAr": "ثوم", "nameEn": "Garlic", "priceDelta": 100,
                                             "available": true}]}]}]}]
}
optionGroups (optional) are asked in order after the item is picked; minSelect..maxSelect options are
chosen (default 0..1; 1..1: exactly one). priceDelta (minor units, >= 0, default 0) is added to the
item's price. Without ids, a group is "<item id>-<n>" and an option "<group id>-<n>" (n from 1)."""


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


async def load_menu(session: AsyncSession, *, restaurant_id: str, data: dict[str, Any]) -> Menu:
    """Replace a restaurant's branches and menu with the JSON document `data` (see MENU_FILE_HELP).
    Ids in the file are kept (prefixed with nothing), so loading the same file twice changes nothing."""
    if not isinstance(data, dict):
        raise ValidationFailed("the menu file must hold a JSON object")
    settings = {k: data[k] for k in ("minDeliveryTotal", "currency") if k in data}
    if settings:
        await update_settings(
            session, restaurant_id=restaurant_id, **{_snake(k): v for k, v in settings.items()}
        )
    groups = [
        group
        for category in _listed(data.get("categories"))
        for item in _listed(category.get("items") if isinstance(category, dict) else None)
        for group in _listed(item.get("optionGroups") if isinstance(item, dict) else None)
    ]
    options = sum(len(g.get("options") or []) for g in groups if isinstance(g, dict))
    if len(groups) > MAX_RESTAURANT_OPTION_GROUPS or options > MAX_RESTAURANT_OPTIONS:
        raise ValidationFailed(
            f"a restaurant has at most {MAX_RESTAURANT_OPTION_GROUPS} option groups and "
            f"{MAX_RESTAURANT_OPTIONS} options; the file has {len(groups)} and {options}"
        )
    for model in (MenuOption, MenuOptionGroup, MenuItem, MenuCategory, Branch):
        await session.execute(delete(model).where(col(model.restaurant_id) == restaurant_id))
    allowed_branch = {f.name for f in fields(_BranchFields)}
    seen: set[str] = set()  # the option groups' and options' ids so far
    for order, raw in enumerate(data.get("branches", [])):
        values = {_snake(k): v for k, v in raw.items() if _snake(k) in allowed_branch}
        await _insert(session, Branch, restaurant_id, raw.get("id"), "brn", sort_order=order, **values)
    for c_order, raw in enumerate(data.get("categories", [])):
        category = await _insert(
            session,
            MenuCategory,
            restaurant_id,
            raw.get("id"),
            "cat",
            sort_order=c_order,
            name_ar=raw.get("nameAr"),
            name_en=raw.get("nameEn"),
        )
        for i_order, item in enumerate(raw.get("items", [])):
            row = await _insert(
                session,
                MenuItem,
                restaurant_id,
                item.get("id"),
                "itm",
                sort_order=i_order,
                category_id=category.id,
                name_ar=item.get("nameAr"),
                name_en=item.get("nameEn"),
                price=item.get("price"),
                available=item.get("available", True),
                max_quantity=item.get("maxQuantity", 10),
                image_url=_image_url(item["imageUrl"]) or None if item.get("imageUrl") else None,
                description_ar=_description(item.get("descriptionAr") or "", field="descriptionAr") or None,
                description_en=_description(item.get("descriptionEn") or "", field="descriptionEn") or None,
                currency=(data.get("currency") or "SAR").upper(),
            )
            await _load_option_groups(session, restaurant_id, row, item.get("optionGroups"), seen)
    return await menu(session, restaurant_id=restaurant_id)


def _unseen(seen: set[str], row_id: object) -> object:
    """An option group's or option's id, refused when the file used it already."""
    if isinstance(row_id, str):
        if row_id in seen:
            raise ValidationFailed(f"duplicate id {row_id} in the menu file", field="id")
        seen.add(row_id)
    return row_id


def _whole(raw: dict[str, Any], key: str, default: int) -> int:
    """A whole number of the menu file (absent or null: `default`)."""
    value = raw.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(f"{key} must be a whole number", field=key)
    return value


def _listed(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


async def _load_option_groups(
    session: AsyncSession, restaurant_id: str, item: MenuItem, raw: Any, seen: set[str]
) -> None:
    """An item's optionGroups from the menu file; a bad one is refused naming the item and group."""
    if raw is None:
        return
    where = f"item {item.id} ({item.name_en})"
    if not isinstance(raw, list) or len(raw) > MAX_OPTION_GROUPS:
        raise ValidationFailed(f"{where}: optionGroups must be a list of at most {MAX_OPTION_GROUPS} groups")
    for g_order, group in enumerate(raw, start=1):
        if not isinstance(group, dict):
            raise ValidationFailed(f"{where}: option group {g_order} must be an object")
        options = group.get("options")
        label = f"{where}, option group {group.get('nameEn') or g_order}"
        if not isinstance(options, list) or not options or len(options) > MAX_OPTIONS:
            raise ValidationFailed(f"{label}: options must be a list of 1 to {MAX_OPTIONS} options")
        try:
            low, high = _whole(group, "minSelect", 0), _whole(group, "maxSelect", 1)
            _check_ranges({"min_select": low, "max_select": high})
            _check_selection(low, high, len(options))
            group_id = _unseen(seen, group.get("id") or f"{item.id}-{g_order}")
            row = await _insert(
                session,
                MenuOptionGroup,
                restaurant_id,
                group_id,
                "opg",
                sort_order=g_order,
                item_id=item.id,
                name_ar=group.get("nameAr"),
                name_en=group.get("nameEn"),
                min_select=low,
                max_select=high,
            )
            for o_order, option in enumerate(options, start=1):
                if not isinstance(option, dict):
                    raise ValidationFailed(f"option {o_order} must be an object")
                available = option.get("available", True)
                if not isinstance(available, bool):
                    raise ValidationFailed("available must be true or false", field="available")
                await _insert(
                    session,
                    MenuOption,
                    restaurant_id,
                    _unseen(seen, option.get("id") or f"{row.id}-{o_order}"),
                    "opt",
                    sort_order=o_order,
                    group_id=row.id,
                    name_ar=option.get("nameAr"),
                    name_en=option.get("nameEn"),
                    price_delta=_whole(option, "priceDelta", 0),
                    available=available,
                )
        except ValidationFailed as exc:
            raise ValidationFailed(f"{label}: {exc}", field=exc.field) from None


@dataclass
class _BranchFields:
    name_ar: str
    name_en: str
    address: str
    latitude: float
    longitude: float
    delivery_radius_km: float


async def _insert(
    session: AsyncSession, model: type[_Row], restaurant_id: str, row_id: Any, prefix: str, **values: Any
) -> _Row:
    if row_id is not None and (not isinstance(row_id, str) or not row_id.strip()):
        raise ValidationFailed(f"{model.__tablename__} ids must be non-empty strings", field="id")
    required = [k for k in ("name_ar", "name_en") if k in values or model is not MenuItem]
    _require_text(values, *required)
    _check_ranges(values)
    try:
        async with session.begin_nested():
            row = model(restaurant_id=restaurant_id, id=row_id or new_id(prefix), **values)
            session.add(row)
    except IntegrityError as exc:
        raise Conflict(f"duplicate id {row_id} in the menu file") from exc
    return row


def read_menu_file(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    except (OSError, ValueError) as exc:
        raise ValidationFailed(f"cannot read the menu file: {exc}") from None


DEMO_MENU: dict[str, Any] = {
    "minDeliveryTotal": 2000,
    "currency": "SAR",
    "branches": [
        {
            "id": "demo-olaya",
            "nameAr": "فرع العليا",
            "nameEn": "Olaya branch",
            "address": "Olaya St, Riyadh",
            "latitude": 24.6905,
            "longitude": 46.6853,
            "deliveryRadiusKm": 8,
        },
        {
            "id": "demo-malqa",
            "nameAr": "فرع الملقا",
            "nameEn": "Al Malqa branch",
            "address": "Anas Ibn Malik Rd, Riyadh",
            "latitude": 24.8125,
            "longitude": 46.6027,
            "deliveryRadiusKm": 6,
        },
    ],
    "categories": [
        {
            "id": "demo-grills",
            "nameAr": "مشويات",
            "nameEn": "Grills",
            "items": [
                {"id": "demo-shish", "nameAr": "شيش طاووق", "nameEn": "Shish Tawook", "price": 2800},
                {"id": "demo-kebab", "nameAr": "كباب لحم", "nameEn": "Lamb Kebab", "price": 3400},
                {
                    "id": "demo-mixed",
                    "nameAr": "مشاوي مشكلة",
                    "nameEn": "Mixed Grill",
                    "price": 5900,
                    "maxQuantity": 5,
                    "optionGroups": [
                        {
                            "id": "demo-mixed-size",
                            "nameAr": "الحجم",
                            "nameEn": "Size",
                            "minSelect": 1,
                            "maxSelect": 1,
                            "options": [
                                {"id": "demo-mixed-regular", "nameAr": "عادي", "nameEn": "Regular"},
                                {
                                    "id": "demo-mixed-family",
                                    "nameAr": "عائلي",
                                    "nameEn": "Family",
                                    "priceDelta": 4000,
                                },
                            ],
                        },
                        {
                            "id": "demo-mixed-sides",
                            "nameAr": "إضافات",
                            "nameEn": "Sides",
                            "minSelect": 0,
                            "maxSelect": 2,
                            "options": [
                                {
                                    "id": "demo-mixed-fries",
                                    "nameAr": "بطاطس",
                                    "nameEn": "Fries",
                                    "priceDelta": 500,
                                },
                                {
                                    "id": "demo-mixed-hummus",
                                    "nameAr": "حمص",
                                    "nameEn": "Hummus",
                                    "priceDelta": 700,
                                },
                                {"id": "demo-mixed-garlic", "nameAr": "ثومية", "nameEn": "Garlic sauce"},
                            ],
                        },
                    ],
                },
            ],
        },
        {
            "id": "demo-sandwiches",
            "nameAr": "سندويتشات",
            "nameEn": "Sandwiches",
            "items": [
                {"id": "demo-shawarma", "nameAr": "شاورما دجاج", "nameEn": "Chicken Shawarma", "price": 1200},
                {"id": "demo-falafel", "nameAr": "فلافل", "nameEn": "Falafel Wrap", "price": 800},
            ],
        },
        {
            "id": "demo-drinks",
            "nameAr": "مشروبات",
            "nameEn": "Drinks",
            "items": [
                {"id": "demo-laban", "nameAr": "لبن", "nameEn": "Laban", "price": 400},
                {
                    "id": "demo-juice",
                    "nameAr": "عصير برتقال",
                    "nameEn": "Orange Juice",
                    "price": 900,
                    "available": False,
                },
            ],
        },
    ],
}


async def load_demo_menu(session: AsyncSession, *, restaurant_id: str) -> Menu:
    """The demo restaurant's branches and small menu."""
    return await load_menu(session, restaurant_id=restaurant_id, data=DEMO_MENU)


__all__ = ["Menu", "insert"]

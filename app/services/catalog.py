"""Branches and the menu: managed by staff, read by the bot and the dashboards."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
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
from app.models import Branch, MenuCategory, MenuItem, Restaurant
from app.phone import to_e164
from app.realtime import events

# One of the catalog's tables, which share restaurant_id, id, sort_order and created_at.
_Row = TypeVar("_Row", Branch, MenuCategory, MenuItem)


@dataclass(frozen=True, slots=True)
class Menu:
    branches: list[Branch]
    categories: list[MenuCategory]
    items: list[MenuItem]


async def menu(session: AsyncSession, *, restaurant_id: str, include_inactive: bool = True) -> Menu:
    """Branches, categories and items in display order."""

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
    return Menu(branches=branches, categories=categories, items=items)


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


async def remove(session: AsyncSession, *, restaurant_id: str, kind: str, row_id: str) -> None:
    """Delete a branch, a category (and its items) or an item. Past orders keep their copied lines."""
    tables: dict[str, type[Branch] | type[MenuCategory] | type[MenuItem]]
    tables = {"branch": Branch, "category": MenuCategory, "item": MenuItem}
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
    bot_enabled = values.pop("bot_enabled", None)
    row = None
    if values:
        row = (
            await session.execute(
                update(Restaurant)
                .where(col(Restaurant.id) == restaurant_id)
                .values(**values, updated_at=func.now())
                .returning(Restaurant)
            )
        ).scalar_one_or_none()
        if row is None:
            raise NotFound("restaurant not found")
        if bot_enabled is None:  # set_bot_enabled records it otherwise
            await events.record(
                session,
                restaurant_id=restaurant_id,
                changes=[events.Change(events.RESTAURANT_UPDATED, restaurant_id)],
            )
    if bot_enabled is not None:
        from app.services import restaurants

        row = await restaurants.set_bot_enabled(session, restaurant_id=restaurant_id, enabled=bot_enabled)
    if row is None:
        row = await session.get(Restaurant, restaurant_id)
        if row is None:
            raise NotFound("restaurant not found")
    return row


MENU_FILE_HELP = """{
  "minDeliveryTotal": 2000, "currency": "SAR",
  "branches": [{"id": "olaya", "nameAr": "العليا", "nameEn": "Olaya", "address": "...",
                "latitude": 24.69, "longitude": 46.68, "deliveryRadiusKm": 8}],
  "categories": [{"id": "grills", "nameAr": "مشويات", "nameEn": "Grills",
                  "items": [{"id": "shish", "nameAr": "شيش طاووق", "nameEn": "Shish Tawook",
                             "price": 2500, "available": true, "maxQuantity": 10}]}]
}"""


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
    for model in (MenuItem, MenuCategory, Branch):
        await session.execute(delete(model).where(col(model.restaurant_id) == restaurant_id))
    allowed_branch = {f.name for f in fields(_BranchFields)}
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
            await _insert(
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
    return await menu(session, restaurant_id=restaurant_id)


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

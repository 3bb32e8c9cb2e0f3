"""A restaurant's catalog provider, and the menu sync from the Sufrah merchant platform.

    catalog_provider = 'local'  (the default) branches and menu are kept here, edited by staff
    catalog_provider = 'sufrah' with merchant_id: they come from the platform (app/channels/sufrah),
                                 synced every SUFRAH_MENU_SYNC_MINUTES (app/workers/merchant.py) and
                                 on demand (GraphQL `syncMenu`, `sufrah menu sync`); its orders go to
                                 the platform (app/services/merchant_orders.py)

A sync reads the whole menu first (no transaction open during the platform's calls), then writes it
in one transaction: the platform's ids are our ids (keys are (restaurant_id, id), so two restaurants
never clash), branches, categories and items are upserted, and what the platform no longer lists
becomes inactive or unavailable, never deleted (orders point at items). Products are listed per
branch, each with its own price and availability: `menu_item_branch` keeps them, and the bot applies
the customer's branch once it is known (`for_branch`); the item row itself carries the first branch's
price and is available when any branch has it. A discount (`priceAfter` below `price`) makes `price`
the discounted one and `price_before` the old one.

`menu_sync` records the last attempt, success, error and counts for the dashboard, and is the
worker's queue: a claim moves `next_sync_at` a LEASE ahead, so a process dying mid-sync leaves the
restaurant to be claimed again.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.bot import flow
from app.channels.sufrah import PlatformBranch, PlatformCategory, PlatformProduct, SufrahPlatform
from app.errors import Conflict, NotFound, PlatformFailed, ValidationFailed
from app.models import Branch, MenuCategory, MenuItem, MenuItemBranch, MenuSync, Restaurant, table_of
from app.phone import to_e164

log = logging.getLogger("sufrah.merchant")

PROVIDERS = ("local", "sufrah")
LEASE = timedelta(minutes=10)
RETRY = timedelta(minutes=5)
# Bounded cost per sync: a menu bigger than this is refused, not half-synced.
MAX_BRANCHES = 50
MAX_CATEGORIES = 200
MAX_ITEMS = 5000
CONCURRENCY = 4  # platform calls in flight at once (categories x branches product lists)
MAX_DESCRIPTION = 500
_MERCHANT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")


# ── the provider ────────────────────────────────────────────────────────────────────────────────
async def set_provider(
    session: AsyncSession, *, restaurant_id: str, provider: str, merchant_id: str | None
) -> Restaurant:
    """Choose where the restaurant's menu comes from; a 'sufrah' one is synced at once (by the worker)."""
    if provider not in PROVIDERS:
        raise ValidationFailed("provider must be local or sufrah", field="provider")
    merchant = (merchant_id or "").strip() or None
    if provider == "sufrah" and merchant is None:
        raise ValidationFailed("a sufrah catalog needs the platform's merchantId", field="merchantId")
    if merchant is not None and not _MERCHANT_ID.match(merchant):
        raise ValidationFailed(
            "merchantId must be the platform's merchant id (letters, digits, -)", field="merchantId"
        )
    if merchant is not None:
        taken = await session.scalar(
            select(col(Restaurant.id)).where(
                col(Restaurant.merchant_id) == merchant, col(Restaurant.id) != restaurant_id
            )
        )
        if taken is not None:
            raise Conflict("another restaurant is linked to this merchantId")
    restaurant = (
        await session.execute(
            update(Restaurant)
            .where(col(Restaurant.id) == restaurant_id)
            .values(catalog_provider=provider, merchant_id=merchant, updated_at=func.now())
            .returning(Restaurant)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if restaurant is None:
        raise NotFound("restaurant not found")
    stmt = insert(MenuSync).values(
        restaurant_id=restaurant_id, next_sync_at=func.now() if provider == "sufrah" else None
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["restaurant_id"],
            set_={"next_sync_at": stmt.excluded.next_sync_at, "updated_at": func.now()},
        )
    )
    return restaurant


def is_platform(restaurant: Restaurant | None) -> bool:
    """Does this restaurant's menu (and do its orders) live on the Sufrah platform?"""
    return restaurant is not None and restaurant.catalog_provider == "sufrah" and bool(restaurant.merchant_id)


async def sync_status(session: AsyncSession, *, restaurant_id: str) -> MenuSync | None:
    """The restaurant's last menu sync (None: never a platform restaurant)."""
    return await session.get(MenuSync, restaurant_id, populate_existing=True)


# ── the sync ────────────────────────────────────────────────────────────────────────────────────
@dataclass(frozen=True, slots=True)
class PlatformMenu:
    """The platform's whole menu for one merchant, as read before writing anything."""

    branches: list[PlatformBranch]
    categories: list[PlatformCategory]
    listed: dict[tuple[str, str], list[PlatformProduct]]  # (category id, branch id) -> products


async def fetch_menu(platform: SufrahPlatform, *, restaurant_id: str, merchant_id: str) -> PlatformMenu:
    """Read the merchant's branches, categories and each category's products at each branch."""
    branches = (await platform.branches(merchant_id))[: MAX_BRANCHES + 1]
    categories = (await platform.categories(merchant_id))[: MAX_CATEGORIES + 1]
    if len(branches) > MAX_BRANCHES or len(categories) > MAX_CATEGORIES:
        raise PlatformFailed(
            f"the merchant has more than {MAX_BRANCHES} branches or {MAX_CATEGORIES} categories",
            retryable=False,
        )
    gate = asyncio.Semaphore(CONCURRENCY)

    async def listed(category: PlatformCategory, branch: PlatformBranch) -> list[PlatformProduct]:
        async with gate:
            return await platform.products(category.id, branch_id=branch.id)

    pairs = [(c, b) for c in categories for b in branches]
    results = await asyncio.gather(*(listed(c, b) for c, b in pairs))
    return PlatformMenu(
        branches=branches,
        categories=categories,
        listed={(c.id, b.id): rows for (c, b), rows in zip(pairs, results, strict=True)},
    )


@dataclass(frozen=True, slots=True)
class Synced:
    branches: int
    categories: int
    items: int


def _phone(raw: str | None) -> str | None:
    """A branch's phone as E.164 (the platform writes Saudi numbers as 05…), or None."""
    if not raw:
        return None
    digits = re.sub(r"[\s\-()]", "", raw)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif digits.startswith("05"):
        digits = "+966" + digits[1:]
    elif digits.startswith("9665"):
        digits = "+" + digits
    try:
        return to_e164(digits)
    except ValidationFailed:
        return None


async def apply_menu(session: AsyncSession, *, restaurant_id: str, menu: PlatformMenu) -> Synced:
    """Write the platform's menu over the restaurant's (see the module docstring)."""
    restaurant = await session.get(Restaurant, restaurant_id)
    if restaurant is None:
        raise NotFound("restaurant not found")
    await _upsert_branches(session, restaurant_id, menu.branches)
    await _upsert_categories(session, restaurant_id, menu.categories)
    items: dict[str, tuple[str, PlatformProduct]] = {}  # product id -> (its first category, as listed first)
    at: dict[tuple[str, str], PlatformProduct] = {}  # (product id, branch id) -> the product there
    for branch in menu.branches:
        for category in menu.categories:
            for product in menu.listed.get((category.id, branch.id), []):
                items.setdefault(product.id, (category.id, product))
                at.setdefault((product.id, branch.id), product)
    if len(items) > MAX_ITEMS:
        raise PlatformFailed(f"the merchant has more than {MAX_ITEMS} products", retryable=False)
    for n, (item_id, (category_id, product)) in enumerate(items.items()):
        values = {
            "category_id": category_id,
            "name_ar": product.name_ar,
            "name_en": product.name_en,
            "price": product.price,
            "price_before": product.price_before,
            "image_url": product.image_url,
            "description_ar": (product.description_ar or "")[:MAX_DESCRIPTION] or None,
            "description_en": (product.description_en or "")[:MAX_DESCRIPTION] or None,
            "available": True,
            "sort_order": n,
        }
        stmt = insert(MenuItem).values(
            restaurant_id=restaurant_id, id=item_id, currency=restaurant.currency, **values
        )
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["restaurant_id", "id"], set_={**values, "updated_at": func.now()}
            )
        )
    await session.execute(  # gone at the platform: unavailable, kept for the orders that name them
        update(MenuItem)
        .where(col(MenuItem.restaurant_id) == restaurant_id, col(MenuItem.id).not_in(list(items) or [""]))
        .values(available=False, updated_at=func.now())
    )
    await session.execute(delete(MenuItemBranch).where(col(MenuItemBranch.restaurant_id) == restaurant_id))
    rows = []
    for item_id, (_, first) in items.items():
        for branch in menu.branches:
            here = at.get((item_id, branch.id))
            rows.append(
                {
                    "restaurant_id": restaurant_id,
                    "item_id": item_id,
                    "branch_id": branch.id,
                    "price": (here or first).price,
                    "price_before": (here or first).price_before,
                    "available": here is not None,
                }
            )
    for start in range(0, len(rows), 1000):
        await session.execute(insert(table_of(MenuItemBranch)), rows[start : start + 1000])
    return Synced(branches=len(menu.branches), categories=len(menu.categories), items=len(items))


async def _upsert_branches(session: AsyncSession, restaurant_id: str, branches: list[PlatformBranch]) -> None:
    for n, branch in enumerate(branches):
        values = {
            "name_ar": branch.name_ar,
            "name_en": branch.name_en,
            "address": branch.address,
            "latitude": branch.latitude,
            "longitude": branch.longitude,
            "is_active": True,
            "sort_order": n,
        }
        phone = _phone(branch.phone)
        stmt = insert(Branch).values(restaurant_id=restaurant_id, id=branch.id, alert_phone=phone, **values)
        kept = {**values, "updated_at": func.now()}
        if phone is not None:  # a phone staff set stays when the platform has none
            kept["alert_phone"] = phone
        await session.execute(stmt.on_conflict_do_update(index_elements=["restaurant_id", "id"], set_=kept))
    await session.execute(
        update(Branch)
        .where(
            col(Branch.restaurant_id) == restaurant_id,
            col(Branch.id).not_in([b.id for b in branches] or [""]),
        )
        .values(is_active=False, updated_at=func.now())
    )


async def _upsert_categories(
    session: AsyncSession, restaurant_id: str, categories: list[PlatformCategory]
) -> None:
    ordered = sorted(enumerate(categories), key=lambda pair: (pair[1].sort_order, pair[0]))
    for n, (_, category) in enumerate(ordered):
        values = {
            "name_ar": category.name_ar,
            "name_en": category.name_en,
            "is_active": True,
            "sort_order": n,
        }
        stmt = insert(MenuCategory).values(restaurant_id=restaurant_id, id=category.id, **values)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["restaurant_id", "id"], set_={**values, "updated_at": func.now()}
            )
        )
    await session.execute(
        update(MenuCategory)
        .where(
            col(MenuCategory.restaurant_id) == restaurant_id,
            col(MenuCategory.id).not_in([c.id for c in categories] or [""]),
        )
        .values(is_active=False, updated_at=func.now())
    )


async def record_success(
    session: AsyncSession, *, restaurant_id: str, synced: Synced, next_in: timedelta | None
) -> None:
    await _record(
        session,
        restaurant_id,
        last_attempt_at=func.now(),
        last_success_at=func.now(),
        last_error=None,
        items_synced=synced.items,
        categories_synced=synced.categories,
        branches_synced=synced.branches,
        **_next(next_in),
    )


async def record_failure(
    session: AsyncSession, *, restaurant_id: str, error: str, next_in: timedelta | None
) -> None:
    log.warning("menu sync of %s failed: %s", restaurant_id, error)
    await _record(
        session,
        restaurant_id,
        last_attempt_at=func.now(),
        last_error=error[:500],
        last_error_at=func.now(),
        **_next(next_in),
    )


def _next(next_in: timedelta | None) -> dict[str, object]:
    """The next scheduled sync: `next_in` from now; None leaves the schedule as it is."""
    if next_in is None:
        return {}
    return {"next_sync_at": func.now() + text(f"interval '{int(next_in.total_seconds())} seconds'")}


async def _record(session: AsyncSession, restaurant_id: str, **values: object) -> None:
    stmt = insert(MenuSync).values(restaurant_id=restaurant_id, **values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["restaurant_id"], set_={**values, "updated_at": func.now()}
        )
    )


async def sync_menu(session: AsyncSession, platform: SufrahPlatform, *, restaurant_id: str) -> MenuSync:
    """Sync now (on demand): the menu is written, or the failure recorded; returns the sync status.
    ValidationFailed when the restaurant's catalog is local."""
    restaurant = await session.get(Restaurant, restaurant_id)
    if restaurant is None:
        raise NotFound("restaurant not found")
    if not is_platform(restaurant):
        raise ValidationFailed(
            "this restaurant's menu is local: set its catalog provider to sufrah first", field="provider"
        )
    merchant_id = str(restaurant.merchant_id)
    await session.commit()  # nothing held open while the platform answers
    try:
        menu = await fetch_menu(platform, restaurant_id=restaurant_id, merchant_id=merchant_id)
        synced = await apply_menu(session, restaurant_id=restaurant_id, menu=menu)
    except PlatformFailed as exc:
        await session.rollback()
        await record_failure(session, restaurant_id=restaurant_id, error=exc.message, next_in=None)
    else:
        await record_success(session, restaurant_id=restaurant_id, synced=synced, next_in=None)
    status = await sync_status(session, restaurant_id=restaurant_id)
    assert status is not None
    return status


_CLAIM = text(
    """
    UPDATE menu_sync SET next_sync_at = now() + make_interval(secs => :lease)
    WHERE restaurant_id IN (
        SELECT s.restaurant_id FROM menu_sync s JOIN restaurant r ON r.id = s.restaurant_id
        WHERE s.next_sync_at <= now() AND r.catalog_provider = 'sufrah' AND r.merchant_id IS NOT NULL
        ORDER BY s.next_sync_at
        LIMIT :n
        FOR UPDATE OF s SKIP LOCKED
    )
    RETURNING restaurant_id
    """
)


async def claim_due(session: AsyncSession, *, limit: int, lease: timedelta = LEASE) -> list[tuple[str, str]]:
    """(restaurant id, merchant id) of the platform restaurants due a sync, leased to the caller."""
    ids = list((await session.execute(_CLAIM, {"n": limit, "lease": lease.total_seconds()})).scalars())
    if not ids:
        return []
    rows = await session.execute(
        select(col(Restaurant.id), col(Restaurant.merchant_id)).where(col(Restaurant.id).in_(ids))
    )
    return [(rid, str(mid)) for rid, mid in rows.all()]


# ── what the bot sees ───────────────────────────────────────────────────────────────────────────
async def for_branch(
    session: AsyncSession, *, restaurant_id: str, ctx: flow.TurnContext, branch_id: str
) -> flow.TurnContext:
    """The menu at `branch_id`: its own price and availability for the items the platform lists per branch."""
    rows = (
        await session.execute(
            select(MenuItemBranch).where(
                col(MenuItemBranch.restaurant_id) == restaurant_id, col(MenuItemBranch.branch_id) == branch_id
            )
        )
    ).scalars()
    here = {row.item_id: row for row in rows}
    if not here:
        return ctx
    items = tuple(
        replace(
            item,
            price=here[item.id].price,
            price_before=here[item.id].price_before,
            available=item.available and here[item.id].available,
        )
        if item.id in here
        else item
        for item in ctx.items
    )
    return replace(ctx, items=items)


async def coverage(
    platform: SufrahPlatform, *, restaurant_id: str, merchant_id: str, latitude: float, longitude: float
) -> flow.Coverage | None:
    """The platform's answer to "do you deliver here?" for the bot; None when it can't be asked (the bot
    then falls back to the branches' delivery radius)."""
    try:
        answer = await platform.check_availability(merchant_id, latitude=latitude, longitude=longitude)
    except PlatformFailed as exc:
        log.warning("coverage check of %s failed: %s", restaurant_id, exc.message)
        return None
    return flow.Coverage(latitude, longitude, available=answer.available, branch_id=answer.branch_id)

"""The Sufrah merchant platform's menu sync (app/services/merchant.py, app/workers/merchant.py) against a
local fake of the platform (tests/fakes/sufrah_api.py): what the restaurant's menu becomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.channels.sufrah import SufrahPlatform
from app.db.engine import Database
from app.errors import Conflict, ValidationFailed
from app.models import MenuCategory, MenuItem, MenuItemBranch, MenuSync
from app.services import catalog, merchant
from app.workers.merchant import MerchantWork
from tests.fakes.sufrah_api import MALQA, OLAYA, FakeSufrah, furnish
from tests.support import Factory


@pytest.fixture
async def fake():
    async with FakeSufrah() as f:
        yield f


@pytest.fixture
async def platform(fake: FakeSufrah):
    client = SufrahPlatform(base_url=fake.base_url, api_key=fake.api_key, timeout=2.0)
    yield client
    await client.aclose()


async def _platform_restaurant(
    db: Database, factory: Factory, fake: FakeSufrah, merchant_id: str = "m-1"
) -> str:
    furnish(fake.merchant(merchant_id))
    restaurant = await factory.restaurant()
    async with db.session() as s:
        await catalog.load_demo_menu(s, restaurant_id=restaurant.id)  # what it had before the switch
        await merchant.set_provider(
            s, restaurant_id=restaurant.id, provider="sufrah", merchant_id=merchant_id
        )
        await s.commit()
    return restaurant.id


async def _items(db: Database, restaurant_id: str) -> dict[str, MenuItem]:
    async with db.session() as s:
        rows = (await s.execute(select(MenuItem).where(MenuItem.restaurant_id == restaurant_id))).scalars()
        return {row.id: row for row in rows}


async def _sync(db: Database, platform: SufrahPlatform, restaurant_id: str) -> MenuSync:
    async with db.session() as s:
        status = await merchant.sync_menu(s, platform, restaurant_id=restaurant_id)
        await s.commit()
        return status


async def test_sync_brings_the_platforms_branches_categories_and_discounted_products(
    db, factory, fake, platform
):
    restaurant_id = await _platform_restaurant(db, factory, fake)
    status = await _sync(db, platform, restaurant_id)
    assert (status.items_synced, status.categories_synced, status.branches_synced) == (3, 2, 2)
    assert status.last_error is None and status.last_success_at is not None

    items = await _items(db, restaurant_id)
    kabsa, mandi, tea = items["p-kabsa"], items["p-mandi"], items["p-tea"]
    assert (kabsa.name_ar, kabsa.name_en, kabsa.category_id) == ("كبسة", "Kabsa", "c-meals")
    assert (kabsa.price, kabsa.price_before, kabsa.image_url) == (3500, 4000, "https://img.test/kabsa.jpg")
    assert (mandi.price, mandi.price_before, tea.price) == (5000, None, 550)
    assert all(item.available for item in (kabsa, mandi, tea))
    demo = [item for key, item in items.items() if not key.startswith("p-")]
    assert demo and not any(item.available for item in demo)  # the local menu is kept, unavailable

    async with db.session() as s:
        menu = await catalog.menu(s, restaurant_id=restaurant_id, include_inactive=False)
        per_branch = {
            (row.item_id, row.branch_id): (row.price, row.price_before, row.available)
            for row in (await s.execute(select(MenuItemBranch))).scalars()
        }
    assert [c.id for c in menu.categories] == ["c-meals", "c-drinks"]  # the platform's display order
    olaya, malqa = menu.branches
    assert (olaya.id, olaya.name_en, olaya.alert_phone, olaya.latitude) == (
        OLAYA,
        "Olaya",
        "+966501112222",
        24.69,
    )
    assert (malqa.id, malqa.alert_phone) == (MALQA, None)
    assert per_branch[("p-kabsa", OLAYA)] == (3500, 4000, True)
    assert per_branch[("p-kabsa", MALQA)] == (4200, None, True)
    assert per_branch[("p-mandi", MALQA)][2] is False  # only Olaya has it
    assert ("GET", "/api/v1/external/categories/c-meals/products", {"branchId": MALQA}) in fake.requests


async def test_a_second_sync_updates_prices_and_marks_vanished_products_unavailable(
    db, factory, fake, platform
):
    restaurant_id = await _platform_restaurant(db, factory, fake)
    await _sync(db, platform, restaurant_id)
    shop = fake.merchant("m-1")
    shop.remove_product("p-mandi")
    shop.products[("c-drinks", OLAYA)][0]["price"] = 6
    shop.categories = [c for c in shop.categories if c["id"] != "c-drinks"] + [
        {"id": "c-sweets", "nameAr": "حلويات", "nameEn": "Sweets", "displayOrder": 3}
    ]
    shop.product("c-sweets", OLAYA, "p-kunafa", "كنافة", "Kunafa", price=18, price_after=18)
    await _sync(db, platform, restaurant_id)

    items = await _items(db, restaurant_id)
    assert items["p-mandi"].available is False  # kept: orders point at it
    assert items["p-tea"].available is False  # its category is gone from the platform
    assert (items["p-kunafa"].price, items["p-kunafa"].price_before) == (1800, None)  # no real discount
    async with db.session() as s:
        categories = {c.id: c.is_active for c in (await s.execute(select(MenuCategory))).scalars()}
    assert categories["c-drinks"] is False and categories["c-sweets"] is True


async def test_a_failed_sync_is_recorded_and_leaves_the_menu_as_it_was(db, factory, fake, platform):
    restaurant_id = await _platform_restaurant(db, factory, fake)
    await _sync(db, platform, restaurant_id)
    before = await _items(db, restaurant_id)
    fake.fail(503)
    status = await _sync(db, platform, restaurant_id)
    assert status.last_error is not None and "503" in status.last_error
    assert status.last_success_at is not None and status.items_synced == 3
    after = await _items(db, restaurant_id)
    assert {k: (v.price, v.available) for k, v in after.items()} == {
        k: (v.price, v.available) for k, v in before.items()
    }


async def test_the_worker_syncs_due_restaurants_and_schedules_the_next_sync(db, factory, fake, platform):
    restaurant_id = await _platform_restaurant(db, factory, fake)
    local = await factory.restaurant(name="Local Grill")
    work = MerchantWork(db, platform=platform, sync_every=timedelta(minutes=15))
    assert await work.sync_due() == 1  # only the platform restaurant
    assert await work.sync_due() == 0  # not due again for 15 minutes
    async with db.session() as s:
        status = await merchant.sync_status(s, restaurant_id=restaurant_id)
        assert await merchant.sync_status(s, restaurant_id=local.id) is None
    assert status is not None and status.items_synced == 3 and status.next_sync_at is not None
    assert timedelta(minutes=14) < status.next_sync_at - datetime.now(UTC) <= timedelta(minutes=15)


async def test_the_provider_is_validated(db, factory, fake):
    first, second = await factory.restaurant(), await factory.restaurant(name="Other")
    async with db.session() as s:
        with pytest.raises(ValidationFailed) as missing:
            await merchant.set_provider(s, restaurant_id=first.id, provider="sufrah", merchant_id=" ")
        assert missing.value.field == "merchantId"
        with pytest.raises(ValidationFailed):
            await merchant.set_provider(s, restaurant_id=first.id, provider="pos", merchant_id=None)
        with pytest.raises(ValidationFailed):
            await merchant.set_provider(s, restaurant_id=first.id, provider="sufrah", merchant_id="../x")
        await merchant.set_provider(s, restaurant_id=first.id, provider="sufrah", merchant_id="m-1")
        with pytest.raises(Conflict):
            await merchant.set_provider(s, restaurant_id=second.id, provider="sufrah", merchant_id="m-1")
        local = await merchant.set_provider(s, restaurant_id=first.id, provider="local", merchant_id=None)
        assert (local.catalog_provider, local.merchant_id) == ("local", None)
        with pytest.raises(ValidationFailed):  # a local restaurant has nothing to sync
            await merchant.sync_menu(s, SufrahPlatform(api_key="k"), restaurant_id=first.id)

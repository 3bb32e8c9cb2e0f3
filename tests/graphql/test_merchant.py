"""GraphQL of the catalog provider (app/graphql/merchant.py): an admin links a restaurant to the Sufrah
platform, staff sync its menu on demand and read how the sync went; each restaurant sees its own."""

from __future__ import annotations

import pytest

from app.channels.sufrah import SufrahPlatform
from tests.fakes.sufrah_api import FakeSufrah, furnish
from tests.gql import gql

SOURCE = """{ catalogSource { provider merchantId syncEnabled syncStatus lastSuccessfulSync errorMessage
    itemsSynced categoriesSynced branchesSynced } }"""
SET = """mutation($p: CatalogProvider!, $m: String) { setCatalogProvider(provider: $p, merchantId: $m) {
    __typename ... on CatalogSource { provider merchantId syncEnabled syncStatus }
    ... on ValidationError { message field } ... on ForbiddenError { message } } }"""
SYNC = """mutation { syncMenu { __typename ... on CatalogSource { syncStatus itemsSynced errorMessage
    lastSuccessfulSync } ... on ValidationError { message } } }"""
MENU = "{ menu { categories { items { id price available } } } }"


@pytest.fixture
async def sufrah(app_and_db):
    """The fake platform, and the app's platform client pointed at it for the test's length."""
    ctx = app_and_db[2]
    async with FakeSufrah() as fake:
        furnish(fake.merchant("m-1"))
        before = ctx.platform
        ctx.platform = SufrahPlatform(base_url=fake.base_url, api_key=fake.api_key, timeout=2.0)
        yield fake
        await ctx.platform.aclose()
        ctx.platform = before


async def test_an_admin_links_the_restaurant_and_staff_sync_its_menu(client, factory, sufrah):
    restaurant = await factory.restaurant()
    staff = await factory.token(restaurant.id)
    admin = await factory.token(admin=True)

    source = (await gql(client, SOURCE, token=staff, restaurant=restaurant.id))["data"]["catalogSource"]
    assert (source["provider"], source["syncEnabled"], source["syncStatus"]) == ("LOCAL", False, "NEVER")

    refused = await gql(client, SET, {"p": "SUFRAH", "m": "m-1"}, token=staff, restaurant=restaurant.id)
    assert refused["data"]["setCatalogProvider"]["__typename"] == "ForbiddenError"
    invalid = await gql(client, SET, {"p": "SUFRAH"}, token=admin, restaurant=restaurant.id)
    assert invalid["data"]["setCatalogProvider"] == {
        "__typename": "ValidationError",
        "message": "a sufrah catalog needs the platform's merchantId",
        "field": "merchantId",
    }
    linked = await gql(client, SET, {"p": "SUFRAH", "m": "m-1"}, token=admin, restaurant=restaurant.id)
    assert linked["data"]["setCatalogProvider"] == {
        "__typename": "CatalogSource",
        "provider": "SUFRAH",
        "merchantId": "m-1",
        "syncEnabled": True,
        "syncStatus": "NEVER",
    }

    synced = (await gql(client, SYNC, token=staff, restaurant=restaurant.id))["data"]["syncMenu"]
    assert (synced["__typename"], synced["syncStatus"], synced["itemsSynced"]) == (
        "CatalogSource",
        "HEALTHY",
        3,
    )
    assert synced["lastSuccessfulSync"] is not None
    menu = (await gql(client, MENU, token=staff, restaurant=restaurant.id))["data"]["menu"]
    items = [item for category in menu["categories"] for item in category["items"]]
    assert {i["id"]: i["price"] for i in items} == {"p-kabsa": 3500, "p-mandi": 5000, "p-tea": 550}

    sufrah.fail(503)
    failed = (await gql(client, SYNC, token=staff, restaurant=restaurant.id))["data"]["syncMenu"]
    assert failed["syncStatus"] == "ERROR" and "503" in failed["errorMessage"]
    assert failed["itemsSynced"] == 3  # the last good sync's menu stays
    source = (await gql(client, SOURCE, token=staff, restaurant=restaurant.id))["data"]["catalogSource"]
    assert source["syncStatus"] == "ERROR" and source["branchesSynced"] == 2


async def test_each_restaurant_sees_and_syncs_only_its_own_catalog(client, factory, sufrah):
    ours, theirs = await factory.restaurant(), await factory.restaurant(name="Other")
    admin = await factory.token(admin=True)
    await gql(client, SET, {"p": "SUFRAH", "m": "m-1"}, token=admin, restaurant=ours.id)
    other_staff = await factory.token(theirs.id)

    source = (await gql(client, SOURCE, token=other_staff, restaurant=theirs.id))["data"]["catalogSource"]
    assert (source["provider"], source["merchantId"]) == ("LOCAL", None)
    local = (await gql(client, SYNC, token=other_staff, restaurant=theirs.id))["data"]["syncMenu"]
    assert local["__typename"] == "ValidationError"
    peek = await gql(client, SOURCE, token=other_staff, restaurant=ours.id)
    assert peek["data"] is None and peek["errors"]
    taken = await gql(client, SET, {"p": "SUFRAH", "m": "m-1"}, token=admin, restaurant=theirs.id)
    assert taken["errors"][0]["message"] == "another restaurant is linked to this merchantId"
    assert sufrah.requests == []  # nothing asked the platform

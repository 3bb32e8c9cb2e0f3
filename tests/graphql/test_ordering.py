"""The ordering side of the GraphQL API: managing the menu, listing and following orders."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from app.services import catalog
from tests.bot_support import Customer, open_shop
from tests.fakes.twilio_api import FakeTwilio
from tests.gql import Socket, gql


@pytest.fixture
async def shop(factory, db):
    async with FakeTwilio() as fake:
        shop = await open_shop(factory, db, fake)
        yield shop
        await shop.outbox.sender.aclose()


async def place_order(client, shop) -> None:
    customer = Customer(client, shop)
    for text in ("hi", "1", "2", "1", "2", "1", "1", "3"):  # no payment link: cash, no question
        await customer.say(text)
    assert "#1001" in await customer.say("1")


async def test_staff_manage_the_menu(client, shop):
    def call(query, variables=None):
        return gql(client, query, variables, token=shop.token, restaurant=shop.restaurant_id)

    created = await call("""mutation { saveCategory(input: {nameAr: "حلويات", nameEn: "Desserts"}) {
        __typename ... on MenuCategory { id } } }""")
    category_id = created["data"]["saveCategory"]["id"]
    item = await call(
        """mutation($c: ID!) { saveMenuItem(input: {categoryId: $c, nameAr: "كنافة", nameEn: "Kunafa",
        price: 1800, maxQuantity: 4}) { __typename ... on MenuItem { id price currency } } }""",
        {"c": category_id},
    )
    assert item["data"]["saveMenuItem"]["price"] == 1800 and item["data"]["saveMenuItem"]["currency"] == "SAR"
    item_id = item["data"]["saveMenuItem"]["id"]
    off = await call(
        """mutation($id: ID!) { saveMenuItem(id: $id, input: {available: false}) {
        ... on MenuItem { available } } }""",
        {"id": item_id},
    )
    assert off["data"]["saveMenuItem"]["available"] is False
    bad = await call("""mutation { saveMenuItem(input: {categoryId: "nope", nameAr: "x", nameEn: "x", price: 1}) {
        __typename } }""")
    assert bad["data"]["saveMenuItem"]["__typename"] == "NotFoundError"
    negative = await call(
        """mutation($c: ID!) { saveMenuItem(input: {categoryId: $c, nameAr: "x", nameEn: "x",
        price: -5}) { __typename ... on ValidationError { field } } }""",
        {"c": category_id},
    )
    assert negative["data"]["saveMenuItem"] == {"__typename": "ValidationError", "field": "price"}
    branch = await call("""mutation { saveBranch(input: {nameAr: "الياسمين", nameEn: "Yasmin", latitude: 24.82,
        longitude: 46.64, deliveryRadiusKm: 4}) { __typename ... on Branch { id } } }""")
    assert branch["data"]["saveBranch"]["__typename"] == "Branch"
    settings = await call("""mutation { updateRestaurantSettings(input: {minDeliveryTotal: 3000, currency: "sar"}) {
        __typename ... on Restaurant { currency } } }""")
    assert settings["data"]["updateRestaurantSettings"]["currency"] == "SAR"
    menu = await call(
        "{ menu { minDeliveryTotal branches { nameEn } categories { nameEn items { nameEn available } } } }"
    )
    menu = menu["data"]["menu"]
    assert menu["minDeliveryTotal"] == 3000 and "Yasmin" in [b["nameEn"] for b in menu["branches"]]
    desserts = next(c for c in menu["categories"] if c["nameEn"] == "Desserts")
    assert desserts["items"] == [{"nameEn": "Kunafa", "available": False}]
    deleted = await call(
        """mutation($id: ID!) { deleteMenuEntry(kind: CATEGORY, id: $id) {
        __typename } }""",
        {"id": category_id},
    )
    assert deleted["data"]["deleteMenuEntry"]["__typename"] == "Deleted"


async def test_orders_are_listed_with_lines_and_followed_live(client, live_url, shop):
    async with Socket(live_url) as ws:
        await ws.init(shop.token, shop.restaurant_id)
        await ws.subscribe("subscription { orderUpdated { reference status total cursor } }")
        await asyncio.sleep(0.2)
        await place_order(client, shop)
        live = (await ws.next_data())["orderUpdated"]
        assert (live["reference"], live["status"], live["total"]) == ("#1001", "CONFIRMED", 1200)
    query = """{ orders(status: [CONFIRMED, PREPARING]) { nodes { id reference orderType paymentMethod total
        nextStatuses lines { nameEn quantity unitPrice lineTotal } } } }"""
    data = await gql(client, query, token=shop.token, restaurant=shop.restaurant_id)
    [order] = data["data"]["orders"]["nodes"]
    assert order["lines"] == [
        {"nameEn": "Chicken Shawarma", "quantity": 1, "unitPrice": 1200, "lineTotal": 1200}
    ]
    assert order["nextStatuses"] == ["PREPARING", "CANCELLED"]
    single = await gql(
        client,
        "query($id: ID!) { order(id: $id) { reference } }",
        {"id": order["id"]},
        token=shop.token,
        restaurant=shop.restaurant_id,
    )
    assert single["data"]["order"]["reference"] == "#1001"


async def test_the_legacy_socket_carries_order_updates(client, live_url, shop):
    async with websockets.connect(f"ws://{live_url}/ws?token={shop.token}") as ws:
        await asyncio.sleep(0.2)
        await place_order(client, shop)
        frames = []
        while not any(f["type"] == "order.updated" for f in frames):
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
    order = next(f for f in frames if f["type"] == "order.updated")["data"]
    assert (order["reference"], order["status"], order["customerPhone"]) == (
        "#1001",
        "CONFIRMED",
        "whatsapp:+966501234567",
    )


async def test_another_restaurant_never_sees_the_order(client, factory, shop):
    await place_order(client, shop)
    other = await factory.bot(await factory.restaurant("Other"))
    token = await factory.token(other.restaurant.id)
    data = await gql(client, "{ orders { nodes { id } } }", token=token, restaurant=other.restaurant.id)
    assert data["data"]["orders"]["nodes"] == []


async def test_menu_files_are_validated(db, factory):
    restaurant = await factory.restaurant()
    async with db.session() as s:
        with pytest.raises(Exception) as bad:
            await catalog.load_menu(s, restaurant_id=restaurant.id, data={"categories": [{"nameAr": "x"}]})
        assert "name_en" in str(bad.value) or "nameEn" in str(bad.value)


async def test_a_menu_item_carries_a_photo_url(client, shop):
    def call(query, variables=None):
        return gql(client, query, variables, token=shop.token, restaurant=shop.restaurant_id)

    saved = await call("""mutation { saveMenuItem(id: "demo-kebab", input: {imageUrl: "https://cdn.example/k.jpg"}) {
        __typename ... on MenuItem { imageUrl } } }""")
    assert saved["data"]["saveMenuItem"] == {
        "__typename": "MenuItem",
        "imageUrl": "https://cdn.example/k.jpg",
    }
    menu = await call("{ menu { categories { items { id imageUrl } } } }")
    photos = {i["id"]: i["imageUrl"] for c in menu["data"]["menu"]["categories"] for i in c["items"]}
    assert photos["demo-kebab"] == "https://cdn.example/k.jpg" and photos["demo-shish"] is None
    bad = await call("""mutation { saveMenuItem(id: "demo-kebab", input: {imageUrl: "ftp://x"}) {
        __typename ... on ValidationError { field } } }""")
    assert bad["data"]["saveMenuItem"] == {"__typename": "ValidationError", "field": "imageUrl"}
    cleared = await call("""mutation { saveMenuItem(id: "demo-kebab", input: {imageUrl: ""}) {
        ... on MenuItem { imageUrl } } }""")
    assert cleared["data"]["saveMenuItem"]["imageUrl"] in ("", None)

    described = await call("""mutation { saveMenuItem(id: "demo-kebab", input: {descriptionEn: " Two skewers ",
        descriptionAr: "سيخان"}) { ... on MenuItem { descriptionEn descriptionAr } } }""")
    assert described["data"]["saveMenuItem"] == {"descriptionEn": "Two skewers", "descriptionAr": "سيخان"}
    long = await call(
        """mutation($d: String!) { saveMenuItem(id: "demo-kebab", input: {descriptionEn: $d}) {
        __typename ... on ValidationError { field } } }""",
        {"d": "x" * 501},
    )
    assert long["data"]["saveMenuItem"] == {"__typename": "ValidationError", "field": "descriptionEn"}

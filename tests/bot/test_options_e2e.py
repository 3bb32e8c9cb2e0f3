"""An order with item options end to end: the menu loaded from a file with option groups, signed
webhooks in, replies out through (fake) Twilio, the order's lines in PostgreSQL with the options'
snapshot, the kitchen's alert, GraphQL's OrderLine.options; later menu changes leave the order as is."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import select

from app.models import Order, OrderLine
from app.services import catalog
from tests.bot_support import Customer, Shop, open_shop
from tests.fakes.twilio_api import FakeTwilio
from tests.gql import gql

OLAYA_NEARBY = {"Latitude": "24.7000", "Longitude": "46.6900", "Address": "Tahlia St", "Label": "Home"}
SHAWARMA_OPTIONS = [
    {
        "id": "size",
        "nameAr": "الحجم",
        "nameEn": "Size",
        "minSelect": 1,
        "maxSelect": 1,
        "options": [
            {"id": "size-regular", "nameAr": "عادي", "nameEn": "Regular"},
            {"id": "size-large", "nameAr": "كبير", "nameEn": "Large", "priceDelta": 500},
        ],
    },
    {
        "id": "extras",
        "nameAr": "إضافات",
        "nameEn": "Extras",
        "maxSelect": 2,
        "options": [
            {"id": "extra-garlic", "nameAr": "ثوم", "nameEn": "Garlic", "priceDelta": 100},
            {"id": "extra-cheese", "nameAr": "جبنة", "nameEn": "Cheese", "priceDelta": 200},
        ],
    },
]


def menu_with_options() -> dict:
    menu = copy.deepcopy(catalog.DEMO_MENU)
    sandwiches = next(c for c in menu["categories"] if c["id"] == "demo-sandwiches")
    sandwiches["items"][0]["optionGroups"] = SHAWARMA_OPTIONS  # Chicken Shawarma, 12.00
    return menu


@pytest.fixture
async def shop(factory, db):
    async with FakeTwilio() as fake:
        opened = await open_shop(factory, db, fake)
        async with db.session() as s:
            await catalog.load_menu(s, restaurant_id=opened.restaurant_id, data=menu_with_options())
            await catalog.set_branch_alert_phone(
                s, restaurant_id=opened.restaurant_id, branch_id="demo-olaya", phone="+966550001111"
            )
            await s.commit()
        yield opened
        await opened.outbox.sender.aclose()


ORDER_LINES = """query($id: ID!) { order(id: $id) { total lines { nameEn unitPrice quantity lineTotal
  options { groupAr groupEn nameAr nameEn priceDelta } } } }"""


async def test_an_order_with_options_through_the_bot(client, shop: Shop, db):
    customer = Customer(client, shop)
    await customer.say("Hello")
    await customer.say("1")
    await customer.say("delivery")
    await customer.say(**OLAYA_NEARBY)
    assert "Chicken Shawarma — 12.00 SAR" in await customer.say("2")  # Sandwiches
    size = await customer.say("1")
    assert "Chicken Shawarma: choose the Size" in size and "2. Large — +5.00 SAR" in size
    assert "didn't understand" in await customer.say("5")  # not a size: asked again
    extras = await customer.say("2")  # Large
    assert "Extras, choose up to 2." in extras and "1. Garlic — +1.00 SAR" in extras
    await customer.say("1")  # Garlic
    assert "How many Chicken Shawarma (Large, Garlic)?" in await customer.say("done")
    assert "Added 2 × Chicken Shawarma (Large, Garlic) (36.00 SAR)" in await customer.say("2")
    await customer.say("1")  # add another item
    await customer.say("2")  # Sandwiches
    await customer.say("2")  # Falafel Wrap: no options, straight to the quantity
    await customer.say("1")
    summary = await customer.say("checkout")
    assert "1. 2 × Chicken Shawarma — Large, Garlic · 36.00 SAR" in summary
    assert "2. 1 × Falafel Wrap — 8.00 SAR" in summary and "Total: 44.00 SAR" in summary
    confirmation = await customer.say("1")  # confirm (cash is the only way: no payment link)
    assert "#1001 is confirmed" in confirmation and "Total: 44.00 SAR" in confirmation

    async with db.session() as s:
        order = (await s.execute(select(Order))).scalar_one()
        lines = list((await s.execute(select(OrderLine).order_by(OrderLine.line_no))).scalars())
    assert (order.subtotal, order.total) == (4400, 4400)
    assert [(ln.name_en, ln.unit_price, ln.quantity) for ln in lines] == [
        ("Chicken Shawarma", 1800, 2),
        ("Falafel Wrap", 800, 1),
    ]
    large = {
        "group_ar": "الحجم",
        "group_en": "Size",
        "name_ar": "كبير",
        "name_en": "Large",
        "price_delta": 500,
    }
    garlic = {
        "group_ar": "إضافات",
        "group_en": "Extras",
        "name_ar": "ثوم",
        "name_en": "Garlic",
        "price_delta": 100,
    }
    assert [ln.options for ln in lines] == [[large, garlic], []]

    [alert] = [m for m in shop.fake.sent if m["To"] == "whatsapp:+966550001111"]
    assert "2 × Chicken Shawarma (Large, Garlic)" in alert["Body"]
    assert "2 × شاورما دجاج (كبير، ثوم)" in alert["Body"]

    # The menu changes afterwards: the order keeps what was ordered.
    rename = """mutation { saveOption(id: "size-large", input: {nameEn: "Huge", priceDelta: 900}) {
      __typename ... on MenuOption { nameEn priceDelta } } }"""
    auth = {"token": shop.token, "restaurant": shop.restaurant_id}
    assert (await gql(client, rename, **auth))["data"]["saveOption"] == {
        "__typename": "MenuOption",
        "nameEn": "Huge",
        "priceDelta": 900,
    }
    drop = """mutation { deleteMenuEntry(kind: OPTION, id: "extra-garlic") { __typename } }"""
    assert (await gql(client, drop, **auth))["data"]["deleteMenuEntry"]["__typename"] == "Deleted"
    seen = (await gql(client, ORDER_LINES, {"id": order.id}, **auth))["data"]["order"]
    assert seen["total"] == 4400
    assert seen["lines"][0] == {
        "nameEn": "Chicken Shawarma",
        "unitPrice": 1800,
        "quantity": 2,
        "lineTotal": 3600,
        "options": [
            {"groupAr": "الحجم", "groupEn": "Size", "nameAr": "كبير", "nameEn": "Large", "priceDelta": 500},
            {
                "groupAr": "إضافات",
                "groupEn": "Extras",
                "nameAr": "ثوم",
                "nameEn": "Garlic",
                "priceDelta": 100,
            },
        ],
    }
    assert seen["lines"][1]["options"] == []

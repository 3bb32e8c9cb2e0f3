"""Interactive bot messages on the wire (#15): the bot's choices go to WhatsApp as quick-reply buttons or
list pickers (Content API contents created once per account and reused), the customer's button or list
reply moves the flow on, a Content API outage sends the same step as numbered text, and an item's
photo goes as MediaUrl. Against the fake Twilio, through signed webhooks, the runner and the outbox."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.models import InteractiveContent, Message
from app.services import catalog
from tests.bot_support import Customer, Shop, open_shop
from tests.fakes.twilio_api import FakeTwilio

OLAYA_NEARBY = {"Latitude": "24.7000", "Longitude": "46.6900", "Address": "Tahlia St", "Label": "Home"}


@pytest.fixture
async def fake():
    async with FakeTwilio() as f:
        yield f


@pytest.fixture
async def shop(factory, db, fake):
    opened = await open_shop(factory, db, fake)
    yield opened
    await opened.outbox.sender.aclose()


def last_sent(shop: Shop, phone: str) -> dict:
    return [m for m in shop.fake.sent if m["To"] == f"whatsapp:{phone}"][-1]


def content_of(shop: Shop, sent: dict) -> dict:
    return shop.fake.contents[sent["ContentSid"]]["types"]


async def outgoing(shop: Shop) -> list[Message]:
    async with shop.db.session() as s:
        query = select(Message).where(Message.direction == "OUT").order_by(Message.created_at)
        return list((await s.execute(query)).scalars())


async def test_the_welcome_goes_as_buttons_and_a_second_customer_reuses_its_content(client, shop: Shop):
    sara = Customer(client, shop, phone="+966501110001")
    shown = await sara.say("Hello", ProfileName="Sara")
    sent = last_sent(shop, sara.phone)
    assert sent["Body"] is None and sent["ContentSid"].startswith("HX")
    assert json.loads(sent["ContentVariables"]) == {"1": "Sara"}
    quick = content_of(shop, sent)["twilio/quick-reply"]
    assert quick["body"] == "Welcome to Sufrah Grill, {{1}}! 👋 How can we help?"
    assert [(a["id"], a["title"]) for a in quick["actions"]] == [
        ("order", "New order"),
        ("track", "Track my order"),
        ("staff", "Talk to staff"),
    ]
    assert "Welcome to Sufrah Grill, Sara!" in shown and "1. New order" in shown
    assert shop.fake.content_creates == 1

    omar = Customer(client, shop, phone="+966501110002")
    await omar.say("Hello", ProfileName="Omar")
    again = last_sent(shop, omar.phone)
    assert again["ContentSid"] == sent["ContentSid"] and json.loads(again["ContentVariables"]) == {
        "1": "Omar"
    }
    assert shop.fake.content_creates == 1, "the same content is never created twice"

    # What staff see in the conversation: the numbered text, with the choices in the metadata.
    [first, second] = await outgoing(shop)
    assert first.content.startswith("Welcome to Sufrah Grill, Sara! 👋\nReply with a number:\n1. New order")
    assert [c["id"] for c in first.meta["interactive"]["choices"]] == ["order", "track", "staff"]
    assert (first.content_sid, second.content_sid) == (sent["ContentSid"], sent["ContentSid"])
    async with shop.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(InteractiveContent)) == 1


async def test_button_and_list_replies_move_the_flow_and_long_menus_go_as_a_list(client, shop: Shop, db):
    async with db.session() as s:
        extra = await catalog.save_category(
            s, restaurant_id=shop.restaurant_id, name_ar="حلويات", name_en="Desserts"
        )
        await catalog.save_item(
            s,
            restaurant_id=shop.restaurant_id,
            category_id=extra.id,
            name_ar="كنافة",
            name_en="Kunafa",
            price=1800,
        )
        await s.commit()
    customer = Customer(client, shop)
    await customer.say("hi")
    order_type = await customer.say(ButtonPayload="order", ButtonText="New order")
    assert "Delivery or pickup?" in order_type
    await customer.say(ButtonPayload="delivery", ButtonText="Delivery 🛵")
    await customer.say(**OLAYA_NEARBY)
    picker = content_of(shop, last_sent(shop, customer.phone))["twilio/list-picker"]
    assert sorted(i["item"] for i in picker["items"]) == ["Desserts", "Drinks", "Grills", "Sandwiches"]
    assert picker["button"] == "Choose" and picker["body"].startswith("Great, we deliver to you")

    items = await customer.say(ListId="demo-grills", ListTitle="Grills")
    assert "1. Shish Tawook — 28.00 SAR" in items  # prices need a list row's description, not buttons
    assert "How many Lamb Kebab?" in await customer.say(ListId="demo-kebab", ListTitle="Lamb Kebab")
    quantities = content_of(shop, last_sent(shop, customer.phone))["twilio/quick-reply"]
    assert [a["id"] for a in quantities["actions"]] == ["1", "2", "3"]
    assert "Added 2 × Lamb Kebab (68.00 SAR)" in await customer.say(ButtonPayload="2", ButtonText="2")


async def test_with_the_content_api_down_the_same_step_goes_as_numbered_text(client, shop: Shop):
    shop.fake.script_content(500)
    customer = Customer(client, shop)
    shown = await customer.say("Hello", ProfileName="Sara")
    sent = last_sent(shop, customer.phone)
    assert "ContentSid" not in sent
    assert sent["Body"].startswith("Welcome to Sufrah Grill, Sara! 👋\nReply with a number:\n1. New order")
    assert shown == sent["Body"]
    assert shop.fake.content_creates == 0
    [message] = await outgoing(shop)
    assert (message.send_state, message.content_sid) == ("sent", None)
    # Back up: the next step goes as buttons again, and the customer's "1" works either way.
    assert "Delivery or pickup?" in await customer.say("1")
    assert last_sent(shop, customer.phone).get("ContentSid") and shop.fake.content_creates == 1


async def test_a_content_twilio_no_longer_knows_is_forgotten_and_the_step_goes_as_text(client, shop: Shop):
    customer = Customer(client, shop)
    await customer.say("hi")
    first = last_sent(shop, customer.phone)["ContentSid"]
    del shop.fake.contents[first]  # deleted at Twilio behind our back
    shown = await customer.say("hi")
    assert shown.startswith("Welcome to Sufrah Grill! 👋\nReply with a number:")
    assert "ContentSid" not in last_sent(shop, customer.phone)
    await customer.say("hi")
    assert last_sent(shop, customer.phone)["ContentSid"] not in (None, first)  # created anew


async def test_an_item_with_a_photo_is_sent_with_it(client, shop: Shop, db):
    async with db.session() as s:
        await catalog.save_item(
            s,
            restaurant_id=shop.restaurant_id,
            item_id="demo-kebab",
            image_url="https://cdn.example/kebab.jpg",
        )
        await s.commit()
    customer = Customer(client, shop)
    await customer.say("hi")
    await customer.say("1")
    await customer.say(**OLAYA_NEARBY)
    await customer.say("1")
    shown = await customer.say("2")
    sent = last_sent(shop, customer.phone)
    assert sent["MediaUrl"] == ["https://cdn.example/kebab.jpg"] and "ContentSid" not in sent
    assert shown.startswith("Lamb Kebab — 34.00 SAR\nHow many Lamb Kebab?")


async def test_an_item_is_shown_with_its_description_in_the_customers_language(client, shop: Shop, db):
    async with db.session() as s:
        await catalog.save_item(
            s,
            restaurant_id=shop.restaurant_id,
            item_id="demo-kebab",
            image_url="https://cdn.example/kebab.jpg",
            description_en="Charcoal-grilled lamb, two skewers",
            description_ar="لحم غنم مشوي على الفحم، سيخان",
        )
        await s.commit()
    customer = Customer(client, shop)
    for text in ("hi", "1"):
        await customer.say(text)
    await customer.say(**OLAYA_NEARBY)
    await customer.say("1")
    shown = await customer.say("2")
    assert shown.startswith(
        "Lamb Kebab — 34.00 SAR\nCharcoal-grilled lamb, two skewers\nHow many Lamb Kebab?"
    )
    assert last_sent(shop, customer.phone)["MediaUrl"] == ["https://cdn.example/kebab.jpg"]


async def test_an_image_url_must_be_http(shop: Shop, db):
    from app.errors import ValidationFailed

    async with db.session() as s:
        with pytest.raises(ValidationFailed, match="imageUrl"):
            await catalog.save_item(
                s, restaurant_id=shop.restaurant_id, item_id="demo-kebab", image_url="javascript:alert(1)"
            )

"""The closed-hours bot end to end: staff set the hours or the switch over GraphQL, a customer writes
on WhatsApp (signed webhook), and what reaches their phone through the (fake) Twilio says when the
restaurant opens, in their language; an order is taken only when the restaurant takes orders for later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.models import Order
from tests.bot_support import Customer, Shop, open_shop
from tests.fakes.twilio_api import FakeTwilio
from tests.gql import gql

RIYADH = ZoneInfo("Asia/Riyadh")  # the restaurants' default zone
OLAYA_NEARBY = {"Latitude": "24.7000", "Longitude": "46.6900", "Address": "Tahlia St", "Label": "Home"}
ENGLISH_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ARABIC_DAYS = ("الإثنين", "الثلاثاء", "الأربعاء", "الخميس", "الجمعة", "السبت", "الأحد")
WEEKDAY_ENUM = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


@pytest.fixture
async def shop(factory, db):
    async with FakeTwilio() as fake:
        shop = await open_shop(factory, db, fake)
        yield shop
        await shop.outbox.sender.aclose()


@pytest.fixture
def customer(client, shop) -> Customer:
    return Customer(client, shop)


async def staff(client, shop: Shop, query: str, **variables) -> dict:
    result = await gql(client, query, variables, token=shop.token, restaurant=shop.restaurant_id)
    assert "errors" not in result, result
    data = next(iter(result["data"].values()))
    assert data["__typename"] == "Restaurant", data
    return data


HOURS = """mutation($hours: [OpeningIntervalInput!]!) { setOpeningHours(hours: $hours) {
    __typename ... on ValidationError { message } } }"""
SWITCH = """mutation($state: OrderingState!, $until: DateTime) { setOrderingState(state: $state, until: $until) {
    __typename ... on ValidationError { message } } }"""
LATER = """mutation { updateRestaurantProfile(input: {acceptsOrdersWhenClosed: true}) {
    __typename ... on ValidationError { message } } }"""


async def orders_count(db) -> int:
    async with db.session() as s:
        return int((await s.scalar(select(func.count()).select_from(Order))) or 0)


async def test_outside_the_hours_the_bot_says_when_we_open_in_english(client, shop, customer, db):
    opens_on = datetime.now(UTC).astimezone(RIYADH).date() + timedelta(days=3)
    week = [{"weekday": WEEKDAY_ENUM[opens_on.weekday()], "opens": "10:00", "closes": "11:00"}]
    await staff(client, shop, HOURS, hours=week)
    welcome = await customer.say("Hello")
    assert f"We're closed right now. We open on {ENGLISH_DAYS[opens_on.weekday()]} at 10:00." in welcome
    assert "Welcome to Sufrah Grill" in welcome
    refused = await customer.say("1")  # new order
    assert "can't take orders while we're closed" in refused
    assert "Delivery or pickup?" not in refused
    assert await orders_count(db) == 0


async def test_closed_until_the_bot_says_when_we_open_in_arabic(client, shop, customer):
    reopening = datetime.now(UTC).astimezone(RIYADH).replace(hour=9, minute=30, second=0, microsecond=0)
    reopening += timedelta(days=4)
    await staff(client, shop, SWITCH, state="CLOSED", until=reopening.isoformat())
    welcome = await customer.say("مرحبا")
    assert f"نحن مغلقون الآن. نفتح يوم {ARABIC_DAYS[reopening.weekday()]} الساعة 09:30." in welcome
    assert "أهلاً بك في Sufrah Grill" in welcome
    assert "لا نستقبل الطلبات ونحن مغلقون" in await customer.say("١")


async def test_closed_with_orders_for_later_takes_the_order(client, shop, customer, db):
    tomorrow = datetime.now(UTC).astimezone(RIYADH).replace(hour=8, minute=0, second=0, microsecond=0)
    tomorrow += timedelta(days=1)
    await staff(client, shop, SWITCH, state="CLOSED", until=tomorrow.isoformat())
    await staff(client, shop, LATER)
    welcome = await customer.say("Hello")
    assert "We open tomorrow at 08:00." in welcome and "You can order now" in welcome
    assert "Delivery or pickup?" in await customer.say("1")
    await customer.say("delivery")
    await customer.say(**OLAYA_NEARBY)
    await customer.say("1")  # Grills
    await customer.say("2")  # Lamb Kebab
    await customer.say("1")
    summary = await customer.say("3")  # checkout
    assert "Your order will be prepared when we open." in summary  # cash is the only way here
    confirmation = await customer.say("1")  # confirm
    assert "#1001 is confirmed" in confirmation and "prepared when we open" in confirmation
    assert await orders_count(db) == 1


async def test_a_cart_is_kept_but_not_checked_out_once_we_close(client, shop, customer, db):
    await customer.say("Hello")
    await customer.say("1")
    await customer.say("delivery")
    await customer.say(**OLAYA_NEARBY)
    await customer.say("1")
    await customer.say("2")
    await customer.say("1")
    await staff(client, shop, SWITCH, state="CLOSED")  # staff close mid-order
    refused = await customer.say("3")  # checkout
    assert "We're closed right now." in refused and "Your cart is kept for when we open." in refused
    await staff(client, shop, SWITCH, state="OPEN")
    assert "Total" in await customer.say("checkout")
    assert await orders_count(db) == 0


async def test_busy_warns_and_still_takes_orders(client, shop, customer):
    await staff(client, shop, SWITCH, state="BUSY")
    welcome = await customer.say("Hello")
    assert "We're very busy right now" in welcome
    assert "Delivery or pickup?" in await customer.say("1")


async def test_the_profiles_app_link_is_offered_in_the_welcome(client, shop, customer):
    query = """mutation { updateRestaurantProfile(input: {appLink: "https://apps.example/grill"}) {
        __typename ... on ValidationError { message } } }"""
    await staff(client, shop, query)
    assert "order in our app: https://apps.example/grill" in await customer.say("Hello")

"""What the bot does once the month's WhatsApp sessions are used up (app/services/usage.py): under
PAUSE_BOT_EXTRAS it stays quiet in sessions opened over the allowance (the customer's message is
stored, staff can answer), finishes the sessions opened within it (order confirmation included) and
order notices always go; under WARN it only warns."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db.engine import Database
from app.models import Message, Notification, Order
from app.services import usage
from tests.bot_support import Customer, Shop, open_shop
from tests.fakes.twilio_api import FakeTwilio
from tests.gql import gql

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


async def on_plan(db: Database, shop: Shop, *, allowance: int, action: str) -> None:
    async with db.session() as s:
        plan = await usage.create_plan(s, name="Starter", monthly_sessions=allowance)
        await usage.assign_plan(s, restaurant_id=shop.restaurant_id, plan_id=plan.id)
        await usage.update_settings(s, restaurant_id=shop.restaurant_id, limit_action=action)
        await s.commit()


async def to_payment(customer: Customer) -> None:
    assert "Welcome to Sufrah Grill" in await customer.say("Hello")
    assert "Delivery or pickup?" in await customer.say("1")
    assert "share your location" in await customer.say("delivery")
    assert "1. Grills" in await customer.say(**OLAYA_NEARBY)
    assert "Shish Tawook" in await customer.say("1")  # Grills
    assert "How many" in await customer.say("2")  # Lamb Kebab
    assert "Added 2 × Lamb Kebab" in await customer.say("2")
    assert "Cash on delivery" in await customer.say("3")  # checkout: the summary, payment choice


async def test_over_the_allowance_the_bot_pauses_its_extras_but_never_drops_or_strands_a_customer(
    client, db: Database, shop: Shop
) -> None:
    await on_plan(db, shop, allowance=1, action="PAUSE_BOT_EXTRAS")
    ordering = Customer(client, shop, phone="+966501110001")
    await to_payment(ordering)  # the month's one session, opened within the allowance

    newcomer = Customer(client, shop, phone="+966501110002")
    assert await newcomer.say("Hello") == ""  # a session over the allowance: no bot turn
    async with db.session() as s:
        stored = (
            await s.execute(select(Message).where(Message.direction == "IN", Message.bot_turn == "skipped"))
        ).scalar_one()
    assert stored.content == "Hello"  # stored and shown to staff, never dropped

    # the session opened within the allowance runs to its end: cash, and the order is confirmed
    assert "#1001 is confirmed" in await ordering.say("1")
    # an order notice is essential: it goes whatever the usage
    async with db.session() as s:
        order = (await s.execute(select(Order))).scalar_one()
    moved = await gql(
        client,
        "mutation($id: ID!) { updateOrderStatus(id: $id, status: PREPARING) { __typename } }",
        {"id": order.id},
        token=shop.token,
        restaurant=shop.restaurant_id,
    )
    assert moved["data"]["updateOrderStatus"]["__typename"] == "Order"
    assert await ordering.replies()

    # staff can still answer the newcomer
    sent = await gql(
        client,
        'mutation($c: ID!) { sendMessage(conversationId: $c, body: "We will call you") { __typename } }',
        {"c": stored.conversation_id},
        token=shop.token,
        restaurant=shop.restaurant_id,
    )
    assert sent["data"]["sendMessage"]["__typename"] == "Message"
    assert "We will call you" in await newcomer.replies()


async def test_warn_only_warns(client, db: Database, shop: Shop) -> None:
    await on_plan(db, shop, allowance=1, action="WARN")
    first = Customer(client, shop, phone="+966501110003")
    assert "Welcome" in await first.say("Hello")
    second = Customer(client, shop, phone="+966501110004")
    assert "Welcome" in await second.say("Hello")  # over the allowance, answered all the same
    async with db.session() as s:
        kinds = [
            n.kind
            for n in (await s.execute(select(Notification).order_by(Notification.created_at))).scalars()
        ]
    assert kinds.count("usage_limit_reached") == 1

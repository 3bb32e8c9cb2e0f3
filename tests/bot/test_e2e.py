"""The ordering bot end to end: signed webhooks in, replies out through (fake) Twilio, orders in
PostgreSQL, staff moving orders through GraphQL. The demo menu (app.services.catalog.DEMO_MENU)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from app.bot.runner import BotRunner
from app.db.engine import Database
from app.models import BotState, Conversation, Message, Order, OrderLine
from tests.bot_support import Customer, Shop, open_shop
from tests.fakes.twilio_api import FakeTwilio
from tests.gql import gql

OLAYA_NEARBY = {"Latitude": "24.7000", "Longitude": "46.6900", "Address": "Tahlia St", "Label": "Home"}
JEDDAH = {"Latitude": "21.4858", "Longitude": "39.1925"}


@pytest.fixture
async def fake():
    async with FakeTwilio() as f:
        yield f


@pytest.fixture
async def open_shops(factory, db, fake):
    opened: list[Shop] = []

    async def open_one(**kw) -> Shop:
        opened.append(await open_shop(factory, db, fake, **kw))
        return opened[-1]

    yield open_one
    for one in opened:
        await one.outbox.sender.aclose()


@pytest.fixture
async def shop(open_shops) -> Shop:
    return await open_shops(payment_link="https://pay.example/sufrah")


@pytest.fixture
def customer(client, shop) -> Customer:
    return Customer(client, shop)


async def staff_moves(client, shop: Shop, order_id: str, status: str) -> dict:
    query = """mutation($id: ID!, $s: OrderStatus!) { updateOrderStatus(id: $id, status: $s) {
        __typename ... on Order { status reference } ... on ValidationError { message } } }"""
    result = await gql(
        client, query, {"id": order_id, "s": status}, token=shop.token, restaurant=shop.restaurant_id
    )
    return result["data"]["updateOrderStatus"]


async def only_order(db: Database) -> Order:
    async with db.session() as s:
        return (await s.execute(select(Order))).scalar_one()


async def test_english_delivery_order_from_hello_to_rating(client, customer: Customer, shop: Shop, db):
    welcome = await customer.say("Hello")
    assert "Welcome to Sufrah Grill" in welcome and "1. New order" in welcome
    assert "Delivery or pickup?" in await customer.say("1")
    assert "share your location" in await customer.say("delivery")
    categories = await customer.say(**OLAYA_NEARBY)
    assert "Olaya branch" in categories and "1. Grills" in categories
    assert "Shish Tawook — 28.00 SAR" in await customer.say("1")
    assert "How many" in await customer.say("2")  # Lamb Kebab
    assert "Added 2 × Lamb Kebab (68.00 SAR)" in await customer.say("2")
    await customer.say("1")  # add another item
    await customer.say("3")  # Drinks
    await customer.say("1")  # Laban
    assert "Added 3 × Laban" in await customer.say("3")
    summary = await customer.say("3")  # checkout
    assert "Total: 80.00 SAR" in summary and "1. Cash on delivery" in summary
    await customer.say("1")  # cash
    confirmation = await customer.say("1")  # confirm
    assert "#1001 is confirmed" in confirmation

    order = await only_order(db)
    assert (order.number, order.status, order.order_type, order.payment_method) == (
        1001,
        "CONFIRMED",
        "delivery",
        "cash",
    )
    assert (order.total, order.branch_id, order.delivery_latitude) == (8000, "demo-olaya", 24.7)
    async with db.session() as s:
        lines = list((await s.execute(select(OrderLine).order_by(OrderLine.line_no))).scalars())
    assert [(line.name_en, line.quantity, line.unit_price) for line in lines] == [
        ("Lamb Kebab", 2, 3400),
        ("Laban", 3, 400),
    ]

    assert "#1001" in await customer.say("track")
    for status in ("PREPARING", "OUT_FOR_DELIVERY"):
        assert (await staff_moves(client, shop, order.id, status))["status"] == status
        assert await customer.replies()  # the customer is told each time
    refused = await staff_moves(client, shop, order.id, "READY")
    assert refused["__typename"] == "ValidationError"
    await staff_moves(client, shop, order.id, "DELIVERED")
    assert "1" in await customer.replies()  # delivered + "rate us 1–5"
    await customer.say("5")
    await customer.say("Great kebab")
    rated = await only_order(db)
    assert (rated.rating, rated.rating_comment) == (5, "Great kebab")


async def test_arabic_pickup_with_online_payment(customer: Customer, db):
    assert "أهلاً بك في Sufrah Grill" in await customer.say("مرحبا")
    await customer.say("١")
    branches = await customer.say("استلام")
    assert "فرع العليا" in branches and "فرع الملقا" in branches
    await customer.say("٢")  # Al Malqa
    await customer.say("٢")  # Sandwiches
    await customer.say("١")  # Chicken Shawarma
    await customer.say("١")
    summary = await customer.say("٣")
    assert "الإجمالي: 12.00 ر.س" in summary  # pickup: no delivery minimum
    await customer.say("٢")  # online
    confirmation = await customer.say("١")
    assert "#1001" in confirmation and "https://pay.example/sufrah" in confirmation
    order = await only_order(db)
    assert (order.order_type, order.branch_id, order.payment_method, order.lang) == (
        "pickup",
        "demo-malqa",
        "online",
        "ar",
    )


async def test_location_out_of_range_and_the_delivery_minimum(customer: Customer):
    await customer.say("hi")
    await customer.say("1")
    await customer.say("1")
    assert "we don't deliver to that location" in await customer.say(**JEDDAH)
    await customer.say("2")  # send another location
    await customer.say(**OLAYA_NEARBY)
    await customer.say("2")  # Sandwiches
    await customer.say("2")  # Falafel 8.00
    await customer.say("1")
    below = await customer.say("3")
    assert "12.00 SAR" in below  # 20.00 minimum - 8.00


async def test_button_payloads_and_unknown_input(customer: Customer):
    await customer.say("hi")
    assert "Delivery or pickup?" in await customer.say("New order", ButtonPayload="1", ButtonText="New order")
    reprompt = await customer.say("purple elephant")
    assert "Delivery or pickup?" in reprompt or "1." in reprompt
    assert "Which branch" in await customer.say("Pickup", ButtonPayload="pickup", ButtonText="Pickup")


async def test_handoff_silences_the_bot_until_staff_turn_it_back_on(
    client, customer: Customer, shop: Shop, db
):
    await customer.say("hi")
    handoff = await customer.say("3")
    assert handoff  # "someone will answer you shortly"
    async with db.session() as s:
        conversation = (await s.execute(select(Conversation))).scalar_one()
    assert conversation.is_bot_active is False
    assert await customer.say("hello? anyone?") == ""  # stored, shown to staff, not answered by the bot
    stats = await gql(
        client, "{ stats { waitingForStaff } }", token=shop.token, restaurant=shop.restaurant_id
    )
    assert stats["data"]["stats"]["waitingForStaff"] == 1
    query = "mutation($id: ID!) { setConversationBotActive(id: $id, active: true) { __typename } }"
    await gql(client, query, {"id": conversation.id}, token=shop.token, restaurant=shop.restaurant_id)
    assert "Welcome to Sufrah Grill" in await customer.say("back")


async def test_restaurant_bot_switch_off_means_silence(client, customer: Customer, shop: Shop, db):
    query = "mutation { setRestaurantBotEnabled(enabled: false) { __typename } }"
    await gql(client, query, token=shop.token, restaurant=shop.restaurant_id)
    assert await customer.say("hi") == ""
    async with db.session() as s:
        [message] = list((await s.execute(select(Message))).scalars())
    assert (message.content, message.bot_turn) == ("hi", "skipped")


async def test_every_reply_appears_in_the_conversation_with_its_delivery_state(
    client, customer: Customer, shop: Shop
):
    await customer.say("hi")
    query = """{ conversations(first: 1) { edges { node { messages(last: 10) { nodes {
        direction author content deliveryStatus waSid } } } } } }"""
    data = await gql(client, query, token=shop.token, restaurant=shop.restaurant_id)
    messages = data["data"]["conversations"]["edges"][0]["node"]["messages"]["nodes"]
    assert [(m["direction"], m["author"]) for m in messages] == [("IN", "customer"), ("OUT", "bot")]
    assert messages[1]["deliveryStatus"] == "queued" and messages[1]["waSid"] == shop.fake.sent[0]["sid"]


async def test_a_restart_between_commit_and_reply_answers_once_from_the_right_step(
    client, customer: Customer, shop: Shop, db
):
    await customer.say("hi")
    await customer.say("1")  # now at "delivery or pickup?"
    # The next message is committed, then the process dies before its turn (no runner ran).
    from tests.support import inbound_params, post_signed

    params = inbound_params(shop.bot, body="2")
    assert (await post_signed(client, "/whatsapp/webhook", params, shop.bot.auth_token)).status_code == 200
    fresh = BotRunner(Database.connect(db.url))  # the restarted process
    try:
        assert await fresh.run_pending() == 1
        assert await fresh.run_pending() == 0  # nothing is answered twice
    finally:
        await fresh.db.dispose()
    assert "Which branch" in await customer.replies()


async def test_two_processes_racing_answer_each_message_once_in_order(
    client, customer: Customer, shop: Shop, db
):
    from tests.support import inbound_params, post_signed

    await customer.say("hi")
    for body in ("1", "2", "1"):  # new order, pickup, Olaya
        params = inbound_params(shop.bot, body=body)
        await post_signed(client, "/whatsapp/webhook", params, shop.bot.auth_token)
    other = Database.connect(db.url)
    try:
        counts = await asyncio.gather(
            shop.runner.run_pending(), BotRunner(other).run_pending(), BotRunner(other).run_pending()
        )
    finally:
        await other.dispose()
    assert sum(counts) == 3
    replies = await customer.replies()
    assert replies.index("Delivery or pickup?") < replies.index("Which branch") < replies.index("Pickup from")
    async with db.session() as s:
        state = (await s.execute(select(BotState))).scalar_one()
        turns = (await s.execute(select(Message.bot_turn).where(Message.direction == "IN"))).scalars().all()
    assert state.state["step"] == "category" and set(turns) == {"done"}


@pytest.mark.parametrize("script", [(429, 201), (500, 201), (503, 503, 201)])
async def test_twilio_errors_are_retried_and_an_accepted_send_is_not_repeated(
    customer: Customer, shop: Shop, db, script
):
    shop.fake.script(*script)
    await customer.say("hi")
    for _ in range(10):
        await asyncio.sleep(0.05)
        await shop.outbox.send_due()
    assert len(shop.fake.sent) == 1  # accepted once, never again
    assert [r["status"] for r in shop.fake.requests] == list(script)
    async with db.session() as s:
        out = (await s.execute(select(Message).where(Message.direction == "OUT"))).scalar_one()
    assert (out.send_state, out.wa_sid) == ("sent", shop.fake.sent[0]["sid"])


async def test_a_send_that_always_fails_is_marked_failed_with_the_error(
    client, customer: Customer, shop: Shop, db
):
    shop.fake.script(*([500] * 20))
    await customer.say("hi")
    for _ in range(20):
        await asyncio.sleep(0.05)
        await shop.outbox.send_due()
    query = "{ conversations(first: 1) { edges { node { lastMessage { deliveryStatus errorMessage } } } } }"
    data = await gql(client, query, token=shop.token, restaurant=shop.restaurant_id)
    last = data["data"]["conversations"]["edges"][0]["node"]["lastMessage"]
    assert last["deliveryStatus"] == "failed" and "500" in last["errorMessage"]
    assert shop.fake.sent == []


async def test_a_rejected_send_fails_at_once(customer: Customer, shop: Shop, db):
    shop.fake.script((400, {"code": 63016, "message": "Outside the allowed window"}))
    await customer.say("hi")
    async with db.session() as s:
        out = (await s.execute(select(Message).where(Message.direction == "OUT"))).scalar_one()
    assert (out.send_state, out.error_code) == ("failed", "63016") and "allowed window" in out.error_message
    assert len(shop.fake.requests) == 1


async def test_per_sender_rate_limit_queues_instead_of_dropping(client, open_shops, db, fake):
    shop = await open_shops(max_messages_per_min=2)
    customers = [Customer(client, shop, phone=f"+96650000{i:04d}") for i in range(3)]
    for c in customers:
        await c.say("hi")
    assert len(fake.sent) == 2
    async with db.session() as s:
        waiting = (await s.execute(select(Message).where(Message.send_state == "pending"))).scalars().all()
    assert len(waiting) == 1 and waiting[0].send_attempts == 0  # queued for the next minute, not dropped


async def test_an_ambiguous_send_is_linked_by_its_status_callback_not_repeated(
    client, customer: Customer, shop: Shop, db
):
    from tests.support import post_signed

    shop.fake.delay = 3.0  # longer than the sender's 2 s timeout: Twilio accepts, we never hear
    await customer.say("hi")
    shop.fake.delay = 0
    async with db.session() as s:
        out = (await s.execute(select(Message).where(Message.direction == "OUT"))).scalar_one()
    assert out.send_state == "unknown"
    await asyncio.sleep(1.2)  # the late request lands at the fake
    [accepted] = shop.fake.sent
    callback = {
        "MessageSid": accepted["sid"],
        "MessageStatus": "sent",
        "From": f"whatsapp:{shop.bot.number}",
        "To": accepted["To"],
        "AccountSid": shop.bot.bot.account_sid,
    }
    response = await post_signed(client, f"/whatsapp/status?m={out.id}", callback, shop.bot.auth_token)
    assert response.status_code == 204
    await asyncio.sleep(0.6)  # past the grace period
    await shop.outbox.send_due()
    assert len(shop.fake.sent) == 1
    async with db.session() as s:
        linked = (await s.execute(select(Message).where(Message.id == out.id))).scalar_one()
    assert (linked.send_state, linked.wa_sid, linked.delivery_status) == ("sent", accepted["sid"], "sent")

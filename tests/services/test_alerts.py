"""Alerts and handoff (issue #15): staff notifications raised by what causes them and delivered
live, "talk to staff" waiting for staff at once, a staff reply pausing the bot, every order's
branch, and the branch's WhatsApp alert at the (fake) Twilio."""

from __future__ import annotations

import asyncio

import pytest

from tests.bot_support import Customer, Shop, open_shop
from tests.fakes.twilio_api import FakeTwilio
from tests.gql import Socket, gql

NOTIFICATIONS = """query($first: Int!, $after: String, $unread: Boolean!) {
  notifications(first: $first, after: $after, unreadOnly: $unread) {
    unreadCount hasNextPage endCursor
    nodes { id kind title body read conversationId orderId metadata createdAt } } }"""
MARK = """mutation($ids: [ID!], $all: Boolean!) { markNotificationsRead(ids: $ids, all: $all) {
  __typename ... on NotificationsRead { updatedCount unreadCount } ... on ValidationError { message } } }"""
CONVERSATION = "query($id: ID!) { conversation(id: $id) { waitingForStaff isBotActive } }"
ORDER_BRANCH = "{ orders { nodes { reference orderType branchId branch { id nameAr nameEn } } } }"
NEAR_OLAYA = {"Latitude": "24.7000", "Longitude": "46.6900", "Address": "Tahlia St"}
OLAYA, MALQA = "1", "2"  # the demo menu's branches, in the bot's list


@pytest.fixture
async def fake():
    async with FakeTwilio() as f:
        yield f


@pytest.fixture
async def shop(factory, db, fake):
    opened = await open_shop(factory, db, fake)
    yield opened
    await opened.outbox.sender.aclose()


async def ask(client, shop: Shop, query: str, variables: dict | None = None) -> dict:
    result = await gql(client, query, variables, token=shop.token, restaurant=shop.restaurant_id)
    assert not result.get("errors"), result
    return result["data"]


async def notifications(client, shop: Shop, *, first: int = 20, after=None, unread=False) -> dict:
    variables = {"first": first, "after": after, "unread": unread}
    return (await ask(client, shop, NOTIFICATIONS, variables))["notifications"]


async def kinds(client, shop: Shop) -> list[str]:
    return [n["kind"] for n in (await notifications(client, shop))["nodes"]]


async def pickup(customer: Customer, branch: str) -> str:
    """Lamb Kebab × 1 for pickup at the branch-th branch (no payment link: cash); the confirmation."""
    for text in ("hi", "1", "2", branch, "1", "2", "1", "3"):
        await customer.say(text)
    return await customer.say("1")


async def typed_address_delivery(customer: Customer) -> str:
    for text in ("hi", "1", "1", "12 Tahlia Street, Riyadh", "1", "2", "1", "3"):
        await customer.say(text)
    return await customer.say("1")


async def conversation_id(client, shop: Shop) -> str:
    data = await ask(client, shop, "{ conversations { nodes { id customerPhone } } }")
    return next(c["id"] for c in data["conversations"]["nodes"] if c["customerPhone"] == "+966501234567")


async def test_each_notification_is_raised_once_by_its_cause(client, shop: Shop):
    customer = Customer(client, shop)
    await customer.say("hi")
    assert await kinds(client, shop) == ["CONVERSATION_STARTED"]
    await customer.say("hello again")  # not a new conversation
    assert await kinds(client, shop) == ["CONVERSATION_STARTED"]

    assert "#1001" in await pickup(customer, MALQA)
    assert await kinds(client, shop) == ["ORDER_CREATED", "CONVERSATION_STARTED"]
    await customer.say("3")  # talk to staff, from the menu after the order
    page = await notifications(client, shop)
    assert [n["kind"] for n in page["nodes"]] == [
        "HANDOFF_REQUESTED",
        "ORDER_CREATED",
        "CONVERSATION_STARTED",
    ]
    handoff, order, started = page["nodes"]
    cid = await conversation_id(client, shop)
    assert started["conversationId"] == cid and started["orderId"] is None
    assert started["body"] == "+966501234567: hi"
    assert order["title"] == "New order #1001" and order["orderId"] and order["conversationId"] == cid
    assert handoff["conversationId"] == cid and handoff["title"] == "A customer asks for staff"
    assert page["unreadCount"] == 3 and not any(n["read"] for n in page["nodes"])


async def test_pages_unread_count_and_marking_read(client, shop: Shop, factory, db, fake):
    for n in range(3):
        await Customer(client, shop, phone=f"+96650000000{n}").say("hi")
    first = await notifications(client, shop, first=2)
    assert (len(first["nodes"]), first["hasNextPage"], first["unreadCount"]) == (2, True, 3)
    rest = await notifications(client, shop, first=2, after=first["endCursor"])
    assert (len(rest["nodes"]), rest["hasNextPage"]) == (1, False)
    ids = [n["id"] for n in first["nodes"]]
    assert not set(ids) & {n["id"] for n in rest["nodes"]}

    # Another restaurant sees none of them and can't mark them.
    other = await open_shop(factory, db, fake)
    try:
        assert (await notifications(client, other))["nodes"] == []
        marked = await ask(client, other, MARK, {"ids": ids, "all": False})
        assert marked["markNotificationsRead"] == {
            "__typename": "NotificationsRead",
            "updatedCount": 0,
            "unreadCount": 0,
        }
        assert (await notifications(client, shop))["unreadCount"] == 3
        marked = await ask(client, other, MARK, {"ids": None, "all": True})
        assert marked["markNotificationsRead"]["updatedCount"] == 0
    finally:
        await other.outbox.sender.aclose()

    marked = await ask(client, shop, MARK, {"ids": ids[:1], "all": False})
    assert marked["markNotificationsRead"] == {
        "__typename": "NotificationsRead",
        "updatedCount": 1,
        "unreadCount": 2,
    }
    unread = await notifications(client, shop, unread=True)
    assert [n["id"] for n in unread["nodes"]] == [ids[1], rest["nodes"][0]["id"]]
    marked = await ask(client, shop, MARK, {"ids": None, "all": True})
    assert marked["markNotificationsRead"]["updatedCount"] == 2
    page = await notifications(client, shop)
    assert page["unreadCount"] == 0 and all(n["read"] for n in page["nodes"])
    refused = await ask(client, shop, MARK, {"ids": ids, "all": True})
    assert refused["markNotificationsRead"]["__typename"] == "ValidationError"


LIVE = """subscription { events { node { __typename
  ... on Notification { kind title conversationId cursor }
  ... on Conversation { id waitingForStaff isBotActive } } } }"""


async def next_event(ws: Socket, wanted) -> dict:
    """The next event of the stream that `wanted` accepts (others, such as messages, pass by)."""
    for _ in range(20):
        event = (await ws.next_data())["events"]["node"]
        if wanted(event):
            return event
    raise AssertionError("no such event among the next 20")


async def test_notifications_and_the_handoff_arrive_live(client, live_url, shop: Shop):
    customer = Customer(client, shop)
    async with Socket(live_url) as ws:
        assert (await ws.init(shop.token, shop.restaurant_id))["type"] == "connection_ack"
        await ws.subscribe(LIVE)
        await asyncio.sleep(0.2)  # the subscription is registered before the message exists
        await customer.say("hi")
        started = await next_event(ws, lambda e: e["__typename"] == "Notification")
        assert started["kind"] == "CONVERSATION_STARTED" and started["cursor"]
        assert started["title"] == "New conversation"
        await customer.say("3")  # talk to staff
        # The conversation waits for staff at once (a conversation event), and staff are notified.
        waiting = await next_event(ws, lambda e: e.get("waitingForStaff") is True)
        assert waiting["isBotActive"] is False and waiting["id"] == started["conversationId"]
        handoff = await next_event(ws, lambda e: e["__typename"] == "Notification")
        assert handoff["kind"] == "HANDOFF_REQUESTED"


async def test_talk_to_staff_waits_for_staff_at_once(client, shop: Shop):
    customer = Customer(client, shop)
    await customer.say("hi")
    cid = await conversation_id(client, shop)
    answer = await customer.say("3")
    assert "Someone from our team" in answer
    # Before the customer writes again: waiting, bot off, counted in the stats.
    assert (await ask(client, shop, CONVERSATION, {"id": cid}))["conversation"] == {
        "waitingForStaff": True,
        "isBotActive": False,
    }
    assert (await ask(client, shop, "{ stats { waitingForStaff } }"))["stats"]["waitingForStaff"] == 1
    # A staff reply answers it.
    send = """mutation($c: ID!) { sendMessage(conversationId: $c, body: "Hi, how can I help?") {
        __typename } }"""
    assert (await ask(client, shop, send, {"c": cid}))["sendMessage"]["__typename"] == "Message"
    assert (await ask(client, shop, CONVERSATION, {"id": cid}))["conversation"]["waitingForStaff"] is False


SEND = """mutation($c: ID!) { sendMessage(conversationId: $c, body: "Staff here") { __typename } }"""
SETTINGS = """mutation($on: Boolean!) { updateRestaurantSettings(input: {pauseBotOnStaffReply: $on}) {
  __typename ... on Restaurant { pauseBotOnStaffReply } } }"""


async def test_a_staff_reply_pauses_the_bot_unless_the_restaurant_turned_that_off(client, shop: Shop):
    customer = Customer(client, shop)
    await customer.say("hi")
    cid = await conversation_id(client, shop)
    await ask(client, shop, SEND, {"c": cid})
    assert (await ask(client, shop, CONVERSATION, {"id": cid}))["conversation"]["isBotActive"] is False
    assert await customer.say("thanks") == "Staff here"  # only the staff reply: the bot is quiet

    on = "mutation($id: ID!) { setConversationBotActive(id: $id, active: true) { __typename } }"
    await ask(client, shop, on, {"id": cid})
    changed = await ask(client, shop, SETTINGS, {"on": False})
    assert changed["updateRestaurantSettings"]["pauseBotOnStaffReply"] is False
    await ask(client, shop, SEND, {"c": cid})
    assert (await ask(client, shop, CONVERSATION, {"id": cid}))["conversation"]["isBotActive"] is True
    assert "Welcome to Sufrah Grill" in await customer.say("hi")


SAVE_DEFAULT = """mutation($id: ID!) { saveBranch(id: $id, input: {isDefault: true}) {
  __typename ... on Branch { id isDefault } } }"""


async def test_every_order_records_its_branch(client, shop: Shop):
    await pickup(Customer(client, shop, phone="+966500000001"), MALQA)
    near = Customer(client, shop, phone="+966500000002")
    for text in ("hi", "1", "1"):
        await near.say(text)
    await near.say(**NEAR_OLAYA)
    for text in ("1", "2", "1", "3"):
        await near.say(text)
    await near.say("1")
    saved = await ask(client, shop, SAVE_DEFAULT, {"id": "demo-malqa"})
    assert saved["saveBranch"] == {"__typename": "Branch", "id": "demo-malqa", "isDefault": True}
    await typed_address_delivery(Customer(client, shop, phone="+966500000003"))

    orders = (await ask(client, shop, ORDER_BRANCH))["orders"]["nodes"]
    assert [(o["reference"], o["orderType"], o["branchId"], o["branch"]["nameAr"]) for o in orders] == [
        ("#1003", "DELIVERY", "demo-malqa", "فرع الملقا"),  # typed address: the default branch
        ("#1002", "DELIVERY", "demo-olaya", "فرع العليا"),  # the nearest branch in range
        ("#1001", "PICKUP", "demo-malqa", "فرع الملقا"),  # the chosen one
    ]
    menu = (await ask(client, shop, "{ menu { branches { id isDefault } } }"))["menu"]["branches"]
    assert [b["isDefault"] for b in menu] == [False, True]


async def test_arabic_pickup_names_the_branch_once(client, shop: Shop):
    customer = Customer(client, shop)
    for text in ("مرحبا", "١", "استلام"):
        await customer.say(text)
    answer = await customer.say("٢")
    assert "الاستلام من فرع الملقا." in answer and "فرع فرع" not in answer


ALERT_PHONE = """mutation($id: ID!, $phone: String) { setBranchAlertPhone(id: $id, phone: $phone) {
  __typename ... on Branch { alertPhone } ... on ValidationError { message field } ... on NotFoundError { message } } }"""


async def test_a_new_order_alerts_its_branch_on_whatsapp(client, shop: Shop, fake: FakeTwilio):
    refused = await ask(client, shop, ALERT_PHONE, {"id": "demo-malqa", "phone": "0550001111"})
    assert refused["setBranchAlertPhone"]["__typename"] == "ValidationError"
    assert refused["setBranchAlertPhone"]["field"] == "alertPhone"
    missing = await ask(client, shop, ALERT_PHONE, {"id": "nope", "phone": "+966550001111"})
    assert missing["setBranchAlertPhone"]["__typename"] == "NotFoundError"
    saved = await ask(client, shop, ALERT_PHONE, {"id": "demo-malqa", "phone": "+966 55 000 1111"})
    assert saved["setBranchAlertPhone"] == {"__typename": "Branch", "alertPhone": "+966550001111"}

    await pickup(Customer(client, shop, phone="+966500000001"), OLAYA)  # Olaya has no alert phone
    assert not [m for m in fake.sent if m["To"] == "whatsapp:+966550001111"]
    await pickup(Customer(client, shop, phone="+966500000002"), MALQA)
    await shop.outbox.send_due()
    [alert] = [m for m in fake.sent if m["To"] == "whatsapp:+966550001111"]
    assert alert["From"] == f"whatsapp:{shop.bot.number}"
    assert "#1002" in alert["Body"] and "فرع الملقا" in alert["Body"] and "Al Malqa branch" in alert["Body"]
    assert "1 × كباب لحم" in alert["Body"] and "+966500000002" in alert["Body"]

    # It shows in the inbox as that number's conversation, with the bot off (it never answers the
    # manager with its menu), and the customer-facing notifications don't count it.
    data = await ask(client, shop, "{ conversations { nodes { customerPhone customerName isBotActive } } }")
    [thread] = [c for c in data["conversations"]["nodes"] if c["customerPhone"] == "+966550001111"]
    assert thread["isBotActive"] is False and "order alerts" in thread["customerName"]
    assert await kinds(client, shop) == [
        "ORDER_CREATED",
        "CONVERSATION_STARTED",
        "ORDER_CREATED",
        "CONVERSATION_STARTED",
    ]
    cleared = await ask(client, shop, ALERT_PHONE, {"id": "demo-malqa", "phone": None})
    assert cleared["setBranchAlertPhone"]["alertPhone"] is None

"""The earlier backend's chat page on ours: POST /api/conversations/:id/messages (the agent reply),
send-media and toggle-bot answering both the legacy contract and the earlier envelopes, `?tenantId=`
as a narrowing only; through the real app, the outbox and the fake Twilio."""

from __future__ import annotations

from typing import Any

import pytest

from app.auth.crypto import SecretBox
from app.channels.twilio.content import TwilioContent
from app.models import MessageTemplate
from app.services import templates
from app.workers.templates import TemplateSync
from tests.bot_support import Customer, Shop, open_shop, templated
from tests.fakes.twilio_api import FakeTwilio
from tests.rest.test_legacy_reads import assert_shape
from tests.services.test_templates import approved_template, conversation_with_closed_window, run
from tests.support import Factory, auth

CHAT_MESSAGE = {
    "id": str,
    "conversation_id": str,
    "content": str,
    "original_content": str,
    "timestamp": str,
    "status": str,
    "message_type": str,
    "messageType": str,
    "wa_sid": (str, type(None)),
    "channel": str,
    "from_phone": str,
    "to_phone": str,
    "direction": str,
    "is_from_customer": bool,
    "is_bot_active": bool,
    "template_preview": (dict, type(None)),
    "content_sid": (str, type(None)),
}
MEDIA_MESSAGE = {k: v for k, v in CHAT_MESSAGE.items() if k not in ("template_preview", "content_sid")} | {
    "media_url": str
}


@pytest.fixture
async def shop(factory, db):
    async with FakeTwilio() as fake:
        shop = await open_shop(factory, db, fake)
        yield shop
        await shop.outbox.sender.aclose()


@pytest.fixture
def sync(shop: Shop, factory) -> TemplateSync:
    box = SecretBox(factory.settings.effective_secret_key)
    return TemplateSync(shop.db, content=TwilioContent(shop.outbox.sender), box=box)


async def follow_up_template(shop: Shop, sync: TemplateSync) -> MessageTemplate:
    """An approved template, chosen as the restaurant's follow-up template ("Hello again from Sufrah: {{1}}")."""
    template = await approved_template(shop, sync)
    await run(
        shop.db,
        lambda s: templates.set_purposes(
            s, restaurant_id=shop.restaurant_id, follow_up_template_id=template.id
        ),
    )
    return template


async def open_conversation(client, shop: Shop, phone: str = "+966501234567") -> str:
    customer = Customer(client, shop, phone=phone)
    await customer.say("hi")
    headers = auth(shop.token, shop.restaurant_id)
    [conversation] = [
        c
        for c in (await client.get("/api/db/conversations", headers=headers)).json()
        if c["customerPhone"] == f"whatsapp:{phone}"
    ]
    return str(conversation["id"])


def as_proxy(shop: Shop) -> dict[str, str]:
    """What the earlier dashboard's proxy sends: the restaurant in the header, the bot in ?tenantId."""
    return auth(shop.token, shop.restaurant_id)


async def test_agent_reply_inside_the_window_goes_as_text_and_pauses_the_bot(client, shop: Shop):
    cid = await open_conversation(client, shop)
    before = len(shop.fake.sent)
    response = await client.post(
        f"/api/conversations/{cid}/messages",
        params={"tenantId": shop.bot.bot.id},
        json={"content": "Your order is on its way", "messageType": "text"},
        headers=as_proxy(shop),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True and body["data"]["message"] == body["message"]
    message = body["message"]
    assert_shape(message, CHAT_MESSAGE)
    assert (message["content"], message["channel"], message["direction"]) == (
        "Your order is on its way",
        "freeform",
        "OUT",
    )
    assert message["is_from_customer"] is False and message["is_bot_active"] is False
    assert message["from_phone"] == shop.bot.number.lstrip("+") and message["to_phone"] == "966501234567"
    assert message["template_preview"] is None and message["status"] == "queued"

    await shop.outbox.send_due()
    [wire] = shop.fake.sent[before:]
    assert wire["Body"] == "Your order is on its way" and wire["To"] == "whatsapp:+966501234567"
    conversation = (await client.get(f"/api/db/conversations/{cid}", headers=as_proxy(shop))).json()
    assert conversation["isBotActive"] is False and conversation["unreadCount"] == 0
    # the customer's next message is left to staff: the bot does not answer it
    sent = len(shop.fake.sent)
    await Customer(client, shop).say("thanks")
    assert len(shop.fake.sent) == sent


async def test_agent_reply_outside_the_window_goes_as_the_follow_up_template(client, shop: Shop, sync):
    await follow_up_template(shop, sync)
    cid = await conversation_with_closed_window(client, shop)
    response = await client.post(
        f"/api/conversations/{cid}/messages", json={"content": "Table ready"}, headers=as_proxy(shop)
    )
    assert response.status_code == 200, response.text
    message = response.json()["message"]
    assert message["channel"] == "template"
    assert message["content"].startswith("Hello again from Sufrah: Table ready")
    assert message["content_sid"] and message["template_preview"]["sid"] == message["content_sid"]
    await shop.outbox.send_due()
    [wire] = templated(shop)
    assert wire["ContentSid"] == message["content_sid"] and "Table ready" in wire["ContentVariables"]


async def test_agent_reply_outside_the_window_without_a_template_is_422(client, shop: Shop):
    cid = await conversation_with_closed_window(client, shop)
    response = await client.post(
        f"/api/conversations/{cid}/messages", json={"content": "hello?"}, headers=as_proxy(shop)
    )
    assert response.status_code == 422 and "24 hours" in response.json()["error"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "content"),
        ({"content": "   "}, "content"),
        ({"content": 5}, "content"),
        ({"content": "hi", "messageType": "image"}, "messageType"),
        ({"content": "hi", "fromNumber": "+15550009999"}, "fromNumber"),
    ],
)
async def test_bad_agent_replies_are_400(client, shop: Shop, body: dict[str, Any], field: str):
    cid = await open_conversation(client, shop)
    response = await client.post(f"/api/conversations/{cid}/messages", json=body, headers=as_proxy(shop))
    assert response.status_code == 400 and field in response.json()["error"], response.text


async def test_from_number_may_name_the_conversations_own_sender(client, shop: Shop):
    cid = await open_conversation(client, shop)
    for spelling in (shop.bot.number, shop.bot.number.lstrip("+"), f"whatsapp:{shop.bot.number}"):
        response = await client.post(
            f"/api/conversations/{cid}/messages",
            json={"content": "ok", "fromNumber": spelling},
            headers=as_proxy(shop),
        )
        assert response.status_code == 200, (spelling, response.text)


async def test_send_media_and_toggle_bot_answer_both_shapes(client, shop: Shop):
    cid = await open_conversation(client, shop)
    media = await client.post(
        f"/api/conversations/{cid}/send-media",
        params={"tenantId": shop.bot.bot.id},
        json={"mediaUrl": "https://cdn.example.com/menu.jpg", "caption": "Menu", "mediaType": "image"},
        headers=as_proxy(shop),
    )
    assert media.status_code == 200, media.text
    body = media.json()
    # the legacy contract's message ...
    assert body["conversationId"] == cid and body["direction"] == "OUT" and body["content"] == "Menu"
    assert body["mediaUrl"] == "https://cdn.example.com/menu.jpg"
    # ... and the earlier backend's, which its dashboard reads as `message` or `data.message`
    assert body["success"] is True and body["data"]["message"] == body["message"]
    assert_shape(body["message"], MEDIA_MESSAGE)
    assert body["message"]["is_bot_active"] is False  # an agent's media reply pauses the bot too

    toggled = await client.post(
        f"/api/conversations/{cid}/toggle-bot", json={"enabled": True}, headers=as_proxy(shop)
    )
    assert toggled.status_code == 200
    body = toggled.json()
    assert body["id"] == cid and body["isBotActive"] is True  # legacy
    assert body["success"] is True
    assert_shape(body["data"]["conversation"], {"id": str, "is_bot_active": bool, "updated_at": str})
    assert body["data"]["conversation"]["is_bot_active"] is True


async def test_another_restaurants_conversation_is_404(client, shop: Shop, factory: Factory):
    cid = await open_conversation(client, shop)
    other = await factory.bot()
    other_headers = auth(await factory.token(other.restaurant.id), other.restaurant.id)
    for path, body in (
        ("messages", {"content": "hi"}),
        ("send-media", {"mediaUrl": "https://cdn.example.com/a.jpg"}),
        ("toggle-bot", {"enabled": False}),
    ):
        response = await client.post(f"/api/conversations/{cid}/{path}", json=body, headers=other_headers)
        assert response.status_code == 404, (path, response.text)
        # naming our bot in ?tenantId is no way in: the token is not allowed it
        response = await client.post(
            f"/api/conversations/{cid}/{path}",
            params={"tenantId": shop.bot.bot.id},
            json=body,
            headers=other_headers,
        )
        assert response.status_code == 403, (path, response.text)
        no_header = {"Authorization": other_headers["Authorization"]}
        response = await client.post(
            f"/api/conversations/{cid}/{path}",
            params={"tenantId": shop.bot.bot.id},
            json=body,
            headers=no_header,
        )
        assert response.status_code == 403, (path, response.text)


async def test_a_bot_narrowed_caller_cannot_act_on_another_bots_conversation(client, shop: Shop, factory):
    cid = await open_conversation(client, shop)
    second = await factory.bot(shop.bot.restaurant)
    narrowed_by_header = auth(shop.token, second.bot.id)
    narrowed_by_query = {"headers": as_proxy(shop), "params": {"tenantId": second.bot.id}}
    for path, body in (("messages", {"content": "hi"}), ("toggle-bot", {"enabled": False})):
        url = f"/api/conversations/{cid}/{path}"
        assert (await client.post(url, json=body, headers=narrowed_by_header)).status_code == 404
        assert (await client.post(url, json=body, **narrowed_by_query)).status_code == 404
        # and ?tenantId can't widen a bot-narrowed header to the restaurant or another bot
        widened = await client.post(
            url, json=body, headers=narrowed_by_header, params={"tenantId": shop.restaurant_id}
        )
        assert widened.status_code == 404
        crossed = await client.post(
            url, json=body, headers=narrowed_by_header, params={"tenantId": shop.bot.bot.id}
        )
        assert crossed.status_code == 403
    # the conversation's own bot may
    ok = await client.post(
        f"/api/conversations/{cid}/toggle-bot",
        json={"enabled": False},
        headers=auth(shop.token, shop.bot.bot.id),
        params={"tenantId": shop.bot.bot.id},
    )
    assert ok.status_code == 200

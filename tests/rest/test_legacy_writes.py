"""The legacy write contract (send, send-media, toggle-bot, bot/toggle), every legacy path's shape
against the spec's own examples, and the tenant rules on every path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from app.models import Conversation
from tests.support import Factory, auth, inbound_params, post_signed

# Copied from shared/spec/dashboard-architecture-fix.md, the examples existing dashboards were built on.
SPEC_CONVERSATION = {
    "id": "clxxx123",
    "restaurantId": "rest_123",
    "customerPhone": "whatsapp:+966501234567",
    "customerName": "Ahmed Ali",
    "status": "active",
    "lastMessageAt": "2025-10-16T10:30:00.000Z",
    "unreadCount": 3,
    "isBotActive": True,
    "createdAt": "2025-10-15T08:00:00.000Z",
    "updatedAt": "2025-10-16T10:30:00.000Z",
}
SPEC_MESSAGE = {
    "id": "msg_001",
    "conversationId": "clxxx123",
    "restaurantId": "rest_123",
    "direction": "IN",
    "messageType": "text",
    "content": "مرحبا، أريد طلب طعام",
    "mediaUrl": None,
    "waSid": "WAxxxx",
    "createdAt": "2025-10-16T10:30:00.000Z",
    "metadata": {"fromPhone": "whatsapp:+966501234567", "toPhone": "whatsapp:+966508034010"},
}
SPEC_STATS = {"totalConversations": 150, "activeConversations": 42, "totalUnread": 18}
SPEC_BOT = {
    "id": "bot_001",
    "name": "Sufrah Bot",
    "restaurantName": "Sufrah",
    "whatsappNumber": "whatsapp:+966508034010",
    "status": "ACTIVE",
    "isActive": True,
    "createdAt": "2025-10-01T00:00:00.000Z",
    "updatedAt": "2025-10-16T00:00:00.000Z",
}
NULLABLE = {"customerName", "mediaUrl", "waSid"}


def like_spec(actual: Any, example: Any, path: str = "") -> None:
    """Every key of the example is there, with the example's JSON type (null allowed where the spec's
    TypeScript says `| null`), and timestamps in the example's exact format."""
    if isinstance(example, dict):
        assert isinstance(actual, dict), path
        for key, value in example.items():
            assert key in actual, f"{path}.{key} missing"
            if actual[key] is None and key in NULLABLE:
                continue
            like_spec(actual[key], value, f"{path}.{key}")
    elif isinstance(example, str) and example.endswith("Z") and example[:4].isdigit():
        assert isinstance(actual, str) and len(actual) == len(example) and actual.endswith("Z"), (
            path,
            actual,
        )
        datetime.fromisoformat(actual.replace("Z", "+00:00"))
    elif example is None:
        assert actual is None or isinstance(actual, str), path
    else:
        assert type(actual) is type(example), (path, actual)
    if isinstance(example, str) and example.startswith("whatsapp:"):
        assert actual.startswith("whatsapp:+"), (path, actual)


@pytest.fixture
async def shop(client, factory: Factory):
    bot = await factory.bot()
    params = inbound_params(bot, body="مرحبا", ProfileName="Ahmed Ali")
    assert (await post_signed(client, "/whatsapp/webhook", params, bot.auth_token)).status_code == 200
    headers = auth(await factory.token(bot.restaurant.id), bot.restaurant.id)
    [conversation] = (await client.get("/api/db/conversations", headers=headers)).json()
    return bot, headers, conversation["id"]


async def test_every_legacy_path_answers_the_spec_shapes(client, shop):
    bot, headers, cid = shop
    for path in ("/api/db/conversations", "/api/conversations"):
        rows = (await client.get(path, headers=headers)).json()
        assert isinstance(rows, list) and rows
        like_spec(rows[0], SPEC_CONVERSATION)
    like_spec((await client.get(f"/api/db/conversations/{cid}", headers=headers)).json(), SPEC_CONVERSATION)
    like_spec((await client.get("/api/db/conversations/stats", headers=headers)).json(), SPEC_STATS)
    messages = (await client.get(f"/api/db/conversations/{cid}/messages", headers=headers)).json()
    like_spec(messages[0], SPEC_MESSAGE)
    [row] = (await client.get(f"/api/db/restaurants/{bot.restaurant.id}/bots", headers=headers)).json()
    like_spec(row, SPEC_BOT)

    sent = await client.post(f"/api/conversations/{cid}/send", json={"message": "أهلاً"}, headers=headers)
    assert sent.status_code == 200
    like_spec(sent.json(), SPEC_MESSAGE)
    media = await client.post(
        f"/api/conversations/{cid}/send-media",
        headers=headers,
        json={"mediaUrl": "https://cdn.example.com/menu.jpg", "caption": "our menu"},
    )
    assert media.status_code == 200
    like_spec(media.json(), SPEC_MESSAGE)
    toggled = await client.post(
        f"/api/conversations/{cid}/toggle-bot", json={"enabled": False}, headers=headers
    )
    assert toggled.status_code == 200
    like_spec(toggled.json(), SPEC_CONVERSATION)
    switch = await client.post("/api/bot/toggle", json={"enabled": False}, headers=headers)
    assert switch.status_code == 200
    assert switch.json() == {"restaurantId": bot.restaurant.id, "botEnabled": False}


async def test_staff_reply_is_queued_and_shows_in_the_conversation(client, shop):
    _bot, headers, cid = shop
    response = await client.post(
        f"/api/conversations/{cid}/send", json={"message": "  on its way  "}, headers=headers
    )
    assert response.status_code == 200
    message = response.json()
    assert message["direction"] == "OUT" and message["content"] == "on its way"
    assert message["conversationId"] == cid and message["deliveryStatus"] == "queued"
    assert message["metadata"]["toPhone"] == "whatsapp:+966501234567"
    history = (await client.get(f"/api/db/conversations/{cid}/messages", headers=headers)).json()
    assert [m["direction"] for m in history] == ["IN", "OUT"] and history[-1]["id"] == message["id"]
    assert (await client.get(f"/api/db/conversations/{cid}", headers=headers)).json()["unreadCount"] == 0


async def test_media_reply(client, shop):
    _, headers, cid = shop
    response = await client.post(
        f"/api/conversations/{cid}/send-media",
        headers=headers,
        json={"mediaUrl": "https://cdn.example.com/a.jpg"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["mediaUrl"] == "https://cdn.example.com/a.jpg" and body["content"] == ""
    assert body["messageType"] == "image"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("send", {}, "message"),
        ("send", {"message": ""}, "message"),
        ("send", {"message": "   "}, "message"),
        ("send", {"message": 42}, "message"),
        ("send", {"message": "x" * 5000}, "message"),
        ("send", {"message": "nul \x00 inside"}, "NUL"),
        ("send", [], "JSON object"),
        ("send-media", {}, "mediaUrl"),
        ("send-media", {"mediaUrl": "ftp://x/y.jpg"}, "mediaUrl"),
        ("send-media", {"mediaUrl": "https://x/y.jpg", "caption": 7}, "caption"),
        ("toggle-bot", {}, "enabled"),
        ("toggle-bot", {"enabled": "false"}, "enabled"),
        ("toggle-bot", {"enabled": 0}, "enabled"),
    ],
)
async def test_bad_write_bodies_are_400(client, shop, path, body, field):
    _, headers, cid = shop
    response = await client.post(f"/api/conversations/{cid}/{path}", json=body, headers=headers)
    assert response.status_code == 400, response.text
    assert field in response.json()["error"]


async def test_a_body_that_is_not_json_is_400(client, shop):
    _, headers, cid = shop
    for content in (b"not json", b"", b"[" * 100_000):
        response = await client.post(f"/api/conversations/{cid}/send", content=content, headers=headers)
        assert response.status_code == 400 and "error" in response.json()
    response = await client.post("/api/bot/toggle", content=b'{"enabled": tru', headers=headers)
    assert response.status_code == 400


async def test_reply_outside_the_24_hour_window_is_422(client, shop, session):
    bot, headers, cid = shop
    await session.execute(
        update(Conversation)
        .where(Conversation.restaurant_id == bot.restaurant.id, Conversation.id == cid)
        .values(last_inbound_at=datetime.now(UTC) - timedelta(hours=25))
    )
    await session.commit()
    response = await client.post(f"/api/conversations/{cid}/send", json={"message": "late"}, headers=headers)
    assert response.status_code == 422 and "24 hours" in response.json()["error"]
    history = (await client.get(f"/api/db/conversations/{cid}/messages", headers=headers)).json()
    assert [m["direction"] for m in history] == ["IN"]  # nothing was stored


async def test_conversation_bot_switch(client, shop):
    _, headers, cid = shop
    off = await client.post(f"/api/conversations/{cid}/toggle-bot", json={"enabled": False}, headers=headers)
    assert off.status_code == 200 and off.json()["isBotActive"] is False and off.json()["id"] == cid
    assert (await client.get(f"/api/db/conversations/{cid}", headers=headers)).json()["isBotActive"] is False
    on = await client.post(f"/api/conversations/{cid}/toggle-bot", json={"enabled": True}, headers=headers)
    assert on.json()["isBotActive"] is True


async def test_restaurant_bot_switch(client, shop, session):
    bot, headers, _ = shop
    from app.services import restaurants

    for enabled in (False, True, False):
        response = await client.post("/api/bot/toggle", json={"enabled": enabled}, headers=headers)
        assert response.json() == {"restaurantId": bot.restaurant.id, "botEnabled": enabled}
    assert (await restaurants.get(session, restaurant_id=bot.restaurant.id)).bot_enabled is False


async def test_a_bot_id_as_tenant_reaches_only_that_bots_conversations(client, shop, factory: Factory):
    bot, headers, cid = shop
    second = await factory.bot(bot.restaurant)
    await post_signed(
        client, "/whatsapp/webhook", inbound_params(second, customer="+966502222222"), second.auth_token
    )
    token = headers["Authorization"]
    as_second = {"Authorization": token, "X-Restaurant-Id": second.bot.id}
    [theirs] = (await client.get("/api/db/conversations", headers=as_second)).json()
    assert theirs["id"] != cid
    for path, body in (("send", {"message": "hi"}), ("toggle-bot", {"enabled": False})):
        assert (
            await client.post(f"/api/conversations/{cid}/{path}", json=body, headers=as_second)
        ).status_code == 404
        ok = await client.post(f"/api/conversations/{theirs['id']}/{path}", json=body, headers=as_second)
        assert ok.status_code == 200


# -- tenant rules on every path ------------------------------------------------------------------------

TENANT_PATHS = [
    ("GET", "/api/db/conversations", None),
    ("GET", "/api/conversations", None),
    ("GET", "/api/db/conversations/stats", None),
    ("GET", "/api/db/conversations/{cid}", None),
    ("GET", "/api/db/conversations/{cid}/messages", None),
    ("POST", "/api/conversations/{cid}/send", {"message": "hi"}),
    ("POST", "/api/conversations/{cid}/send-media", {"mediaUrl": "https://x.example/a.png"}),
    ("POST", "/api/conversations/{cid}/toggle-bot", {"enabled": False}),
    ("POST", "/api/bot/toggle", {"enabled": True}),
]


@pytest.mark.parametrize(("method", "template", "body"), TENANT_PATHS)
async def test_tenant_rules_on_every_path(client, shop, factory: Factory, method, template, body):
    bot, headers, cid = shop
    other = await factory.bot(await factory.restaurant("Other Place"))
    await post_signed(
        client, "/whatsapp/webhook", inbound_params(other, customer="+966503333333"), other.auth_token
    )
    other_token = await factory.token(other.restaurant.id)
    [other_conversation] = (await client.get("/api/db/conversations", headers=auth(other_token))).json()
    admin = await factory.token(admin=True)
    two_shops = await factory.token(bot.restaurant.id, other.restaurant.id)
    path = template.format(cid=cid)

    async def call(headers: dict[str, str], url: str = path) -> int:
        return (await client.request(method, url, json=body, headers=headers)).status_code

    ok = 200
    assert await call({}) == 401
    assert await call(auth("sfr_not-a-token", bot.restaurant.id)) == 401
    assert await call(auth(other_token, bot.restaurant.id)) == 403  # another restaurant's header
    assert await call(auth(other_token, bot.bot.id)) == 403  # ... or its bot id
    assert await call(auth(other_token, "no-such-restaurant")) == 403  # a scoped token can't probe
    assert await call(auth(admin)) == 400  # an admin must name the restaurant
    assert await call(auth(two_shops)) == 400  # and so must a token of two restaurants
    assert await call(auth(admin, "no-such-restaurant")) == 404
    assert await call(auth(await factory.token(bot.restaurant.id))) == ok  # one restaurant: no header needed
    assert await call(auth(two_shops, bot.restaurant.id)) == ok
    assert await call(auth(admin, bot.restaurant.id)) == ok
    assert await call(auth("test-dashboard-pat", bot.bot.id)) == ok  # DASHBOARD_PAT is an admin token
    if "{cid}" in template:  # another restaurant's conversation is simply not found
        assert await call(headers, template.format(cid=other_conversation["id"])) == 404
        assert (
            await call(auth(admin, bot.restaurant.id), template.format(cid=other_conversation["id"])) == 404
        )
        assert await call(headers, template.format(cid="cnv_missing")) == 404

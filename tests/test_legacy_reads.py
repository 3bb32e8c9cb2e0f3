"""The legacy read contract: exact field names and types, ordering, paging, read marking, bad input."""

from __future__ import annotations

import re

import pytest

from tests.support import Factory, auth, inbound_params, post_signed

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
CONVERSATION_KEYS = {
    "id": str,
    "restaurantId": str,
    "customerPhone": str,
    "customerName": (str, type(None)),
    "status": str,
    "lastMessageAt": str,
    "unreadCount": int,
    "isBotActive": bool,
    "createdAt": str,
    "updatedAt": str,
}
MESSAGE_KEYS = {
    "id": str,
    "conversationId": str,
    "restaurantId": str,
    "direction": str,
    "messageType": str,
    "content": str,
    "mediaUrl": (str, type(None)),
    "waSid": (str, type(None)),
    "createdAt": str,
    "metadata": dict,
}
BOT_KEYS = {
    "id": str,
    "name": str,
    "restaurantName": str,
    "whatsappNumber": str,
    "status": str,
    "isActive": bool,
    "createdAt": str,
    "updatedAt": str,
}


def assert_shape(obj: dict, keys: dict) -> None:
    for key, kind in keys.items():
        assert key in obj, key
        assert isinstance(obj[key], kind), (key, obj[key])
    for key in ("createdAt", "updatedAt", "lastMessageAt"):
        if key in keys:
            assert ISO.match(obj[key]), obj[key]


@pytest.fixture
async def chat(client, factory: Factory):
    bot = await factory.bot()
    for i in range(5):
        params = inbound_params(bot, body=f"message {i}", ProfileName="Ahmed Ali")
        assert (await post_signed(client, "/whatsapp/webhook", params, bot.auth_token)).status_code == 200
    await post_signed(
        client, "/whatsapp/webhook", inbound_params(bot, customer="+966509999999"), bot.auth_token
    )
    headers = auth(await factory.token(bot.restaurant.id), bot.restaurant.id)
    return bot, headers


async def test_conversation_list_shape_and_order(client, chat):
    _bot, headers = chat
    for path in ("/api/db/conversations", "/api/conversations"):
        response = await client.get(path, headers=headers)
        assert response.status_code == 200
        rows = response.json()
        assert isinstance(rows, list) and len(rows) == 2
        for row in rows:
            assert_shape(row, CONVERSATION_KEYS)
        assert rows[0]["customerPhone"] == "whatsapp:+966509999999"  # newest activity first
        assert rows[1]["unreadCount"] == 5 and rows[1]["customerName"] == "Ahmed Ali"


async def test_stats_is_never_taken_for_an_id(client, chat):
    _, headers = chat
    response = await client.get("/api/db/conversations/stats", headers=headers)
    assert response.status_code == 200
    assert response.json() == {"totalConversations": 2, "activeConversations": 2, "totalUnread": 6}


async def test_messages_in_chat_order_and_reading_marks_read(client, chat):
    _, headers = chat
    conversation = (await client.get("/api/db/conversations", headers=headers)).json()[1]
    response = await client.get(
        f"/api/db/conversations/{conversation['id']}/messages?limit=3", headers=headers
    )
    assert response.status_code == 200
    page = response.json()
    for message in page:
        assert_shape(message, MESSAGE_KEYS)
        assert message["direction"] == "IN"
        assert message["metadata"]["fromPhone"] == "whatsapp:+966501234567"
    assert [m["content"] for m in page] == ["message 2", "message 3", "message 4"]
    single = await client.get(f"/api/db/conversations/{conversation['id']}", headers=headers)
    assert_shape(single.json(), CONVERSATION_KEYS)
    assert single.json()["unreadCount"] == 0
    older = await client.get(
        f"/api/db/conversations/{conversation['id']}/messages",
        params={"before": page[0]["createdAt"], "limit": 10},
        headers=headers,
    )
    # created_at has microseconds; the legacy shape shows milliseconds, so "before" is inclusive-safe
    assert [m["content"] for m in older.json()][:2] == ["message 0", "message 1"]


async def test_bots_of_a_restaurant_never_carry_secrets(client, chat):
    bot, headers = chat
    response = await client.get(f"/api/db/restaurants/{bot.restaurant.id}/bots", headers=headers)
    assert response.status_code == 200
    [row] = response.json()
    assert_shape(row, BOT_KEYS)
    assert row["whatsappNumber"] == f"whatsapp:{bot.number}"
    assert bot.auth_token not in response.text and "authToken" not in response.text
    assert "accountSid" not in response.text


@pytest.mark.parametrize(
    "query",
    ["status=open", "limit=0", "limit=abc", "limit=100000", "offset=-1", "offset=x"],
)
async def test_bad_list_parameters_are_400(client, chat, query):
    _, headers = chat
    response = await client.get(f"/api/db/conversations?{query}", headers=headers)
    assert response.status_code == 400 and "error" in response.json()


async def test_bad_before_is_400(client, chat):
    _, headers = chat
    conversation = (await client.get("/api/db/conversations", headers=headers)).json()[0]
    response = await client.get(
        f"/api/db/conversations/{conversation['id']}/messages?before=yesterday", headers=headers
    )
    assert response.status_code == 400


async def test_status_filter(client, chat, session):
    bot, headers = chat
    from app.services import conversations

    first = (await client.get("/api/db/conversations", headers=headers)).json()[0]
    await conversations.set_status(
        session, restaurant_id=bot.restaurant.id, bot_id=None, conversation_id=first["id"], status="closed"
    )
    await session.commit()
    closed = (await client.get("/api/db/conversations?status=closed", headers=headers)).json()
    active = (await client.get("/api/db/conversations?status=active", headers=headers)).json()
    assert [c["id"] for c in closed] == [first["id"]]
    assert first["id"] not in [c["id"] for c in active] and len(active) == 1


async def test_unknown_routes_answer_json_errors(client):
    response = await client.get("/api/db/nothing-here")
    assert response.status_code == 404 and response.json() == {"error": "Not Found"}

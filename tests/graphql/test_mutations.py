"""GraphQL mutations: each changes what staff see, refuses clearly, and is published live."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from app.models import Conversation, Message
from tests.gql import gql
from tests.support import Factory, inbound_params, post_signed

FRAGMENTS = {
    "Conversation": "id status unreadCount isBotActive",
    "Restaurant": "id botEnabled",
    "Message": "id direction author content deliveryStatus mediaUrl",
    "NotFoundError": "message",
    "ValidationError": "message field",
    "OutsideCustomerWindowError": "message",
}
MEMBERS = {
    "sendMessage": ["Message", "NotFoundError", "ValidationError", "OutsideCustomerWindowError"],
    "setRestaurantBotEnabled": ["Restaurant", "NotFoundError"],
}


def result_selection(field: str) -> str:
    members = MEMBERS.get(field, ["Conversation", "NotFoundError", "ValidationError"])
    return "__typename " + " ".join(f"... on {m} {{ {FRAGMENTS[m]} }}" for m in members)


@pytest.fixture
async def chat(client, factory: Factory):
    bot = await factory.bot()
    for body in ("hi", "menu please"):
        await post_signed(client, "/whatsapp/webhook", inbound_params(bot, body=body), bot.auth_token)
    token = await factory.token(bot.restaurant.id)
    query = "{ conversations(first: 1) { edges { node { id } } } }"
    data = await gql(client, query, token=token, restaurant=bot.restaurant.id)
    return bot, token, data["data"]["conversations"]["edges"][0]["node"]["id"]


async def mutate(client, token, restaurant, field: str, args: str, variables: dict) -> dict:
    signature = ", ".join(f"${k}: {t}" for k, t in variables.pop("_types").items())
    query = f"mutation({signature}) {{ {field}({args}) {{ {result_selection(field)} }} }}"
    result = await gql(client, query, variables, token=token, restaurant=restaurant)
    assert "errors" not in result, result
    return result["data"][field]


async def test_conversation_state_mutations(client, chat):
    bot, token, conversation_id = chat
    r = bot.restaurant.id
    v = lambda **kw: {"_types": {"id": "ID!", **{k: "Boolean!" for k in kw}}, "id": conversation_id, **kw}  # noqa: E731
    read = await mutate(client, token, r, "markConversationRead", "id: $id", v())
    assert (read["__typename"], read["unreadCount"]) == ("Conversation", 0)
    closed = await mutate(client, token, r, "closeConversation", "id: $id", v())
    assert closed["status"] == "CLOSED"
    reopened = await mutate(client, token, r, "reopenConversation", "id: $id", v())
    assert reopened["status"] == "ACTIVE"
    off = await mutate(
        client, token, r, "setConversationBotActive", "id: $id, active: $active", v(active=False)
    )
    assert off["isBotActive"] is False


async def test_missing_or_foreign_conversation_is_a_not_found_member(client, factory, chat):
    _bot, _token, conversation_id = chat
    other = await factory.bot(await factory.restaurant("Other"))
    other_token = await factory.token(other.restaurant.id)
    result = await mutate(
        client,
        other_token,
        other.restaurant.id,
        "closeConversation",
        "id: $id",
        {"_types": {"id": "ID!"}, "id": conversation_id},
    )
    assert result == {"__typename": "NotFoundError", "message": "conversation not found"}


async def test_restaurant_bot_switch(client, chat):
    bot, token, _ = chat
    result = await mutate(
        client,
        token,
        bot.restaurant.id,
        "setRestaurantBotEnabled",
        "enabled: $enabled",
        {"_types": {"enabled": "Boolean!"}, "enabled": False},
    )
    assert (result["__typename"], result["botEnabled"]) == ("Restaurant", False)


async def test_staff_reply_is_stored_queued_and_clears_unread(client, chat, session):
    bot, token, conversation_id = chat
    result = await mutate(
        client,
        token,
        bot.restaurant.id,
        "sendMessage",
        "conversationId: $id, body: $body",
        {"_types": {"id": "ID!", "body": "String!"}, "id": conversation_id, "body": "أهلاً! تفضل"},
    )
    assert result["__typename"] == "Message"
    assert (result["direction"], result["author"], result["deliveryStatus"]) == ("OUT", "staff", "queued")
    stored = (await session.execute(select(Message).where(Message.id == result["id"]))).scalar_one()
    assert stored.content == "أهلاً! تفضل" and stored.meta["toPhone"] == "whatsapp:+966501234567"
    conversation = (await session.execute(select(Conversation))).scalar_one()
    assert conversation.unread_count == 0


async def test_empty_reply_and_bad_media_are_validation_errors(client, chat):
    bot, token, conversation_id = chat
    empty = await mutate(
        client,
        token,
        bot.restaurant.id,
        "sendMessage",
        "conversationId: $id, body: $body",
        {"_types": {"id": "ID!", "body": "String!"}, "id": conversation_id, "body": "   "},
    )
    assert empty["__typename"] == "ValidationError"
    media = await mutate(
        client,
        token,
        bot.restaurant.id,
        "sendMessage",
        "conversationId: $id, mediaUrl: $m",
        {"_types": {"id": "ID!", "m": "String!"}, "id": conversation_id, "m": "javascript:alert(1)"},
    )
    assert (media["__typename"], media["field"]) == ("ValidationError", "mediaUrl")


async def test_reply_outside_the_24_hour_window_is_refused(client, chat, session):
    bot, token, conversation_id = chat
    await session.execute(
        update(Conversation).values(
            last_inbound_at=Conversation.last_inbound_at - __import__("datetime").timedelta(hours=25)
        )
    )
    await session.commit()
    result = await mutate(
        client,
        token,
        bot.restaurant.id,
        "sendMessage",
        "conversationId: $id, body: $body",
        {"_types": {"id": "ID!", "body": "String!"}, "id": conversation_id, "body": "late"},
    )
    assert result["__typename"] == "OutsideCustomerWindowError" and "24 hours" in result["message"]
    count = (await session.execute(select(Message).where(Message.direction == "OUT"))).all()
    assert count == []

"""The Twilio inbound webhook and status callback, end to end through the app and PostgreSQL."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select

from app.db.engine import Database
from app.models import Conversation, Message
from tests.support import PUBLIC_BASE_URL, Factory, inbound_params, post_signed, sign


async def stored(db: Database, model: type, **where: object) -> list:
    async with db.session() as s:
        stmt = select(model).filter_by(**where)
        return list((await s.execute(stmt)).scalars())


async def test_signed_message_is_stored_with_its_conversation(client, db, factory: Factory):
    bot = await factory.bot()
    params = inbound_params(bot, body="مرحبا، أريد طلب طعام", ProfileName="Ahmed Ali")
    response = await post_signed(client, "/whatsapp/webhook", params, bot.auth_token)

    assert response.status_code == 200
    assert "<Response>" in response.text
    [conversation] = await stored(db, Conversation)
    assert (conversation.customer_phone, conversation.customer_name) == ("+966501234567", "Ahmed Ali")
    assert conversation.bot_id == bot.bot.id and conversation.restaurant_id == bot.restaurant.id
    assert conversation.unread_count == 1 and conversation.status == "active"
    [message] = await stored(db, Message)
    assert message.content == "مرحبا، أريد طلب طعام"
    assert (message.direction, message.message_type, message.wa_sid) == ("IN", "text", params["MessageSid"])
    assert message.meta["fromPhone"] == "whatsapp:+966501234567"
    assert message.meta["toPhone"] == f"whatsapp:{bot.number}"


async def test_the_old_webhook_path_works_too(client, db, factory: Factory):
    bot = await factory.bot()
    response = await post_signed(client, "/webhook", inbound_params(bot), bot.auth_token)
    assert response.status_code == 200
    assert len(await stored(db, Message)) == 1


async def test_wrong_or_missing_signature_is_refused_and_nothing_stored(client, db, factory: Factory):
    bot = await factory.bot()
    params = inbound_params(bot)
    wrong = sign(PUBLIC_BASE_URL + "/whatsapp/webhook", params, "not-the-token")
    assert (
        await client.post("/whatsapp/webhook", data=params, headers={"X-Twilio-Signature": wrong})
    ).status_code == 403
    assert (await client.post("/whatsapp/webhook", data=params)).status_code == 403
    tampered = dict(params, Body="changed after signing")
    good_for_original = sign(PUBLIC_BASE_URL + "/whatsapp/webhook", params, bot.auth_token)
    response = await client.post(
        "/whatsapp/webhook", data=tampered, headers={"X-Twilio-Signature": good_for_original}
    )
    assert response.status_code == 403
    assert await stored(db, Message) == [] and await stored(db, Conversation) == []


async def test_signature_is_checked_against_the_public_url_not_the_proxy_one(client, db, factory: Factory):
    """Behind a proxy the app is reached at an internal address; Twilio signed the public URL."""
    bot = await factory.bot()
    params = inbound_params(bot)
    internal = httpx.AsyncClient(transport=client._transport, base_url="http://10.0.0.7:8000")
    async with internal:
        signed_public = sign(PUBLIC_BASE_URL + "/whatsapp/webhook?src=tw", params, bot.auth_token)
        ok = await internal.post(
            "/whatsapp/webhook?src=tw", data=params, headers={"X-Twilio-Signature": signed_public}
        )
        signed_internal = sign("http://10.0.0.7:8000/whatsapp/webhook?src=tw", params, bot.auth_token)
        params2 = inbound_params(bot)
        signed_internal = sign("http://10.0.0.7:8000/whatsapp/webhook?src=tw", params2, bot.auth_token)
        refused = await internal.post(
            "/whatsapp/webhook?src=tw", data=params2, headers={"X-Twilio-Signature": signed_internal}
        )
    assert ok.status_code == 200
    assert refused.status_code == 403
    assert [m.wa_sid for m in await stored(db, Message)] == [params["MessageSid"]]


async def test_unknown_number_is_404_and_bad_input_is_400(client, db, factory: Factory):
    bot = await factory.bot()
    unknown = inbound_params(bot, To="whatsapp:+15550001111")
    assert (await post_signed(client, "/whatsapp/webhook", unknown, bot.auth_token)).status_code == 404
    no_sid = inbound_params(bot)
    del no_sid["MessageSid"]
    response = await post_signed(client, "/whatsapp/webhook", no_sid, bot.auth_token)
    assert response.status_code == 400 and "MessageSid" in response.json()["error"]
    bad_lat = inbound_params(bot, Latitude="north", Longitude="46.7")
    assert (await post_signed(client, "/whatsapp/webhook", bad_lat, bot.auth_token)).status_code == 400
    assert await stored(db, Message) == []


async def test_form_encoding_is_read_exactly_and_a_flood_of_fields_is_400(client, db, factory: Factory):
    bot = await factory.bot()
    body = "1+1 = 2 & 50% off; a=b, café 🍔 ~!*()'"
    response = await post_signed(client, "/whatsapp/webhook", inbound_params(bot, body=body), bot.auth_token)
    assert response.status_code == 200
    [message] = await stored(db, Message)
    assert message.content == body  # and the signature over the decoded form matched Twilio's
    flood = "&".join(f"F{i}=x" for i in range(1001))
    response = await client.post(
        "/whatsapp/webhook", content=flood, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 400 and "form fields" in response.json()["error"]


async def test_redelivery_stores_one_message_and_answers_the_same(client, db, factory: Factory):
    bot = await factory.bot()
    params = inbound_params(bot, body="once")
    first = await post_signed(client, "/whatsapp/webhook", params, bot.auth_token)
    again = await post_signed(client, "/whatsapp/webhook", params, bot.auth_token)
    assert (first.status_code, first.text) == (again.status_code, again.text)
    [_message] = await stored(db, Message)
    [conversation] = await stored(db, Conversation)
    assert conversation.unread_count == 1


async def test_concurrent_redeliveries_store_one_message(client, db, factory: Factory):
    bot = await factory.bot()
    params = inbound_params(bot, body="racing")
    responses = await asyncio.gather(
        *(post_signed(client, "/whatsapp/webhook", params, bot.auth_token) for _ in range(8))
    )
    assert {r.status_code for r in responses} == {200}
    assert len(await stored(db, Message)) == 1
    [conversation] = await stored(db, Conversation)
    assert conversation.unread_count == 1


async def test_first_messages_racing_make_one_conversation(client, db, factory: Factory):
    bot = await factory.bot()
    batch = [inbound_params(bot, customer="+966555000111", body=f"m{i}") for i in range(10)]
    responses = await asyncio.gather(
        *(post_signed(client, "/whatsapp/webhook", p, bot.auth_token) for p in batch)
    )
    assert {r.status_code for r in responses} == {200}
    [conversation] = await stored(db, Conversation)
    assert conversation.unread_count == 10
    assert len(await stored(db, Message, conversation_id=conversation.id)) == 10


async def test_each_sender_keeps_its_own_conversations(client, db, factory: Factory):
    first = await factory.bot()
    second = await factory.bot(first.restaurant)
    await post_signed(
        client, "/whatsapp/webhook", inbound_params(first, customer="+966500000009"), first.auth_token
    )
    await post_signed(
        client, "/whatsapp/webhook", inbound_params(second, customer="+966500000009"), second.auth_token
    )
    conversations = await stored(db, Conversation)
    assert sorted(c.bot_id for c in conversations) == sorted([first.bot.id, second.bot.id])


async def test_closed_conversation_reopens_and_counts_unread(client, db, factory: Factory):
    bot = await factory.bot()
    await post_signed(client, "/whatsapp/webhook", inbound_params(bot), bot.auth_token)
    [conversation] = await stored(db, Conversation)
    async with db.session() as s:
        from app.services import conversations

        await conversations.set_status(
            s, restaurant_id=bot.restaurant.id, bot_id=None, conversation_id=conversation.id, status="closed"
        )
        await conversations.mark_read(
            s, restaurant_id=bot.restaurant.id, bot_id=None, conversation_id=conversation.id
        )
        await s.commit()
    await post_signed(client, "/whatsapp/webhook", inbound_params(bot, body="again"), bot.auth_token)
    [reopened] = await stored(db, Conversation)
    assert (reopened.status, reopened.unread_count) == ("active", 1)
    assert reopened.last_message_at > conversation.last_message_at


async def test_every_message_type_is_classified_and_kept(client, db, factory: Factory):
    bot = await factory.bot()
    cases = {
        "image": dict(
            NumMedia="2",
            MediaUrl0="https://api.twilio.com/m/1",
            MediaContentType0="image/jpeg",
            MediaUrl1="https://api.twilio.com/m/2",
            MediaContentType1="image/png",
            Body="",
        ),
        "audio": dict(
            NumMedia="1", MediaUrl0="https://api.twilio.com/m/3", MediaContentType0="audio/ogg", Body=""
        ),
        "document": dict(
            NumMedia="1", MediaUrl0="https://api.twilio.com/m/4", MediaContentType0="application/pdf", Body=""
        ),
        "location": dict(
            Latitude="24.7136", Longitude="46.6753", Address="King Fahd Rd", Label="Home", Body=""
        ),
        "button": dict(ButtonPayload="delivery", ButtonText="Delivery", Body="Delivery"),
        "list_reply": dict(ListId="item_7", ListTitle="Shawarma", Body="Shawarma"),
        "text": dict(Body="plain words", SomeFutureTwilioField="kept"),
    }
    sids = {}
    for kind, extra in cases.items():
        params = inbound_params(bot, **extra)
        sids[params["MessageSid"]] = kind
        assert (await post_signed(client, "/whatsapp/webhook", params, bot.auth_token)).status_code == 200
    by_kind = {sids[m.wa_sid]: m for m in await stored(db, Message)}
    assert {k: m.message_type for k, m in by_kind.items()} == {k: k for k in cases}
    assert by_kind["image"].media_urls == ["https://api.twilio.com/m/1", "https://api.twilio.com/m/2"]
    assert by_kind["image"].meta["media"][1]["contentType"] == "image/png"
    assert by_kind["location"].meta["location"] == {
        "latitude": 24.7136,
        "longitude": 46.6753,
        "address": "King Fahd Rd",
        "label": "Home",
    }
    assert by_kind["button"].meta["button"] == {"payload": "delivery", "text": "Delivery"}
    assert by_kind["list_reply"].meta["listReply"] == {"id": "item_7", "title": "Shawarma"}
    assert by_kind["text"].meta["twilio"]["SomeFutureTwilioField"] == "kept"
    assert by_kind["text"].meta["twilio"]["WaId"] == "966501234567"


async def _outbound(db: Database, bot, wa_sid: str) -> None:
    from app.ids import new_id

    async with db.session() as s:
        conversation_id = new_id("cnv")
        s.add(
            Conversation(
                restaurant_id=bot.restaurant.id,
                id=conversation_id,
                bot_id=bot.bot.id,
                customer_phone="+966501234567",
            )
        )
        await s.flush()
        s.add(
            Message(
                restaurant_id=bot.restaurant.id,
                id=new_id("msg"),
                conversation_id=conversation_id,
                direction="OUT",
                content="your order is ready",
                wa_sid=wa_sid,
                delivery_status="queued",
            )
        )
        await s.commit()


def status_params(bot, sid: str, status: str, **extra: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "MessageStatus": status,
        "AccountSid": bot.bot.account_sid,
        "From": f"whatsapp:{bot.number}",
        "To": "whatsapp:+966501234567",
        **extra,
    }


async def test_status_callbacks_never_move_a_message_backwards(client, db, factory: Factory):
    bot = await factory.bot()
    await _outbound(db, bot, "SMout1")
    for status in ["sent", "read", "delivered", "sent", "read", "queued"]:
        response = await post_signed(
            client, "/whatsapp/status", status_params(bot, "SMout1", status), bot.auth_token
        )
        assert response.status_code in (200, 204)
    [message] = await stored(db, Message, wa_sid="SMout1")
    assert message.delivery_status == "read"


async def test_failed_status_keeps_its_error_through_late_callbacks(client, db, factory: Factory):
    bot = await factory.bot()
    await _outbound(db, bot, "SMout2")
    failed = status_params(
        bot, "SMout2", "undelivered", ErrorCode="63016", ErrorMessage="outside the allowed window"
    )
    await post_signed(client, "/whatsapp/status", failed, bot.auth_token)
    await post_signed(client, "/whatsapp/status", status_params(bot, "SMout2", "sent"), bot.auth_token)
    await post_signed(client, "/whatsapp/status", failed, bot.auth_token)
    [message] = await stored(db, Message, wa_sid="SMout2")
    assert (message.delivery_status, message.error_code, message.error_message) == (
        "undelivered",
        "63016",
        "outside the allowed window",
    )


async def test_status_callback_needs_a_valid_signature(client, db, factory: Factory):
    bot = await factory.bot()
    await _outbound(db, bot, "SMout3")
    response = await post_signed(
        client, "/whatsapp/status", status_params(bot, "SMout3", "read"), "wrong-token"
    )
    assert response.status_code == 403
    [message] = await stored(db, Message, wa_sid="SMout3")
    assert message.delivery_status == "queued"


async def test_message_count_matches_after_a_burst(client, db, factory: Factory):
    bot = await factory.bot()
    batch = [inbound_params(bot, customer=f"+96650000{i:04d}") for i in range(40)]
    await asyncio.gather(
        *(post_signed(client, "/whatsapp/webhook", p, bot.auth_token) for p in batch + batch)
    )
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Message)) == 40
        assert await s.scalar(select(func.count()).select_from(Conversation)) == 40

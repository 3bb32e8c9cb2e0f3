"""Webhook routing through the cached bot directory, and what the Twilio routes accept.

A number moved from a deleted bot to a new one gets its very first message stored for the new bot
(Twilio does not redeliver a message answered 404); a rotated auth token's old signatures are refused
as soon as the change is notified (not up to 30 s later), its new ones accepted. Signatures are
computed with the twilio library (tests/support.py)."""

from __future__ import annotations

import asyncio
import secrets
from urllib.parse import urlencode

import httpx
from sqlalchemy import select

from app.auth.crypto import SecretBox
from app.context import AppContext
from app.db.engine import Database
from app.models import Conversation, Message
from app.services import bots
from app.services.bots import BotChanges
from app.settings import Settings
from tests.support import PUBLIC_BASE_URL, BotHandle, Factory, inbound_params, post_signed, sign


async def stored_for(db: Database, sid: str) -> tuple[Message, Conversation] | None:
    async with db.session() as s:
        row = (
            await s.execute(
                select(Message, Conversation)
                .join(
                    Conversation,
                    (Conversation.restaurant_id == Message.restaurant_id)
                    & (Conversation.id == Message.conversation_id),
                )
                .where(Message.wa_sid == sid)
            )
        ).one_or_none()
    return None if row is None else (row[0], row[1])


async def notified(ctx: AppContext, seen: int, *, timeout: float = 5.0) -> None:
    """Wait until this process has heard a `sufrah_auth` notification sent after `seen` was read
    (the authenticator's generation moves with each one, in the same callback batch as the directory's)."""
    async with asyncio.timeout(timeout):
        while ctx.auth.generation == seen:
            await asyncio.sleep(0.01)


async def move_number(db: Database, settings: Settings, factory: Factory, old: BotHandle) -> str:
    """Delete `old` and register its number again for a bot of another restaurant, with the same Twilio
    account and auth token (one account, many senders); returns the new bot's id."""
    restaurant = await factory.restaurant("Next Owner")
    async with db.session() as s:
        await bots.delete(s, restaurant_id=old.restaurant.id, bot_id=old.bot.id)
        new = await bots.register(
            s,
            restaurant_id=restaurant.id,
            box=SecretBox(settings.effective_secret_key),
            changes=BotChanges(
                name="New",
                restaurant_name=restaurant.name,
                whatsapp_number=old.number,
                account_sid=old.bot.account_sid,
                auth_token=old.auth_token,
            ),
        )
        await s.commit()
    return new.id


async def test_a_moved_number_gets_its_first_message_stored_for_the_new_bot(client, db, factory, settings):
    old = await factory.bot()
    first = inbound_params(old, body="to the old bot")
    assert (await post_signed(client, "/whatsapp/webhook", first, old.auth_token)).status_code == 200
    new_bot_id = await move_number(db, settings, factory, old)

    params = inbound_params(old, body="the first message for the new bot")
    response = await post_signed(client, "/whatsapp/webhook", params, old.auth_token)

    assert response.status_code == 200
    stored = await stored_for(db, params["MessageSid"])
    assert stored is not None and stored[1].bot_id == new_bot_id


async def test_a_cached_route_to_a_deleted_bot_is_routed_again_not_answered_404(
    client, db, factory, settings, app_and_db
):
    """The race the notification can't close: a webhook routed from the cache before this process
    heard that its bot was deleted and the number registered again."""
    ctx: AppContext = app_and_db[2]
    old = await factory.bot()
    assert (
        await post_signed(client, "/whatsapp/webhook", inbound_params(old), old.auth_token)
    ).status_code == 200
    seen = ctx.auth.generation
    new_bot_id = await move_number(db, settings, factory, old)
    await notified(ctx, seen)
    ctx.directory.remember(old.bot, generation=ctx.directory.generation)  # as if read just before the move

    params = inbound_params(old, body="routed from a stale cache")
    response = await post_signed(client, "/whatsapp/webhook", params, old.auth_token)

    assert response.status_code == 200
    stored = await stored_for(db, params["MessageSid"])
    assert stored is not None and stored[1].bot_id == new_bot_id
    assert ctx.directory.get(old.number) is not None and ctx.directory.get(old.number).bot_id == new_bot_id


async def test_a_rotated_auth_token_is_refused_at_once_and_the_new_one_accepted(
    client, db, factory, settings, app_and_db
):
    ctx: AppContext = app_and_db[2]
    bot = await factory.bot()
    assert (
        await post_signed(client, "/whatsapp/webhook", inbound_params(bot), bot.auth_token)
    ).status_code == 200
    seen = ctx.auth.generation
    rotated = secrets.token_hex(16)
    async with db.session() as s:
        await bots.update_bot(
            s,
            restaurant_id=bot.restaurant.id,
            bot_id=bot.bot.id,
            changes=BotChanges(auth_token=rotated),
            box=SecretBox(settings.effective_secret_key),
        )
        await s.commit()
    await notified(ctx, seen)

    old_signed = inbound_params(bot, body="signed with the old token")
    assert (await post_signed(client, "/whatsapp/webhook", old_signed, bot.auth_token)).status_code == 403
    new_signed = inbound_params(bot, body="signed with the new token")
    assert (await post_signed(client, "/whatsapp/webhook", new_signed, rotated)).status_code == 200
    assert await stored_for(db, old_signed["MessageSid"]) is None
    assert await stored_for(db, new_signed["MessageSid"]) is not None
    again = inbound_params(bot, body="the old token, again")  # from the directory now: still refused
    assert (await post_signed(client, "/whatsapp/webhook", again, bot.auth_token)).status_code == 403


async def test_twilio_routes_read_only_form_encoded_bodies(client: httpx.AsyncClient, db, factory):
    bot = await factory.bot()
    params = inbound_params(bot)
    signature = {"X-Twilio-Signature": sign(PUBLIC_BASE_URL + "/whatsapp/webhook", params, bot.auth_token)}
    refused = [
        await client.post("/whatsapp/webhook", data=params, files={"f": ("a.txt", b"x")}, headers=signature),
        await client.post("/whatsapp/webhook", json=params, headers=signature),
        await client.post("/whatsapp/webhook", content=b"To=x", headers=signature),  # no Content-Type
        await client.post("/whatsapp/status", json={"MessageSid": "SM1", "MessageStatus": "read"}),
        await client.post("/webhook", content=b"<xml/>", headers={"Content-Type": "text/xml", **signature}),
    ]
    assert [r.status_code for r in refused] == [415] * len(refused)
    assert all("application/x-www-form-urlencoded" in r.json()["error"] for r in refused)
    assert await stored_for(db, params["MessageSid"]) is None

    accepted = await client.post(
        "/whatsapp/webhook",
        content=urlencode(params),
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", **signature},
    )
    assert accepted.status_code == 200
    assert await stored_for(db, params["MessageSid"]) is not None

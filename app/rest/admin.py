"""The admin API: registering WhatsApp senders (bots). Admin tokens only; everything else is 403.

A bot's Twilio auth token is write-only: it is stored encrypted and no response ever carries it.
The earlier backend's dashboard copied it back after linking a shared sender; that is the one
thing refused (it has no use for it: its own Twilio calls use its own credentials).

Shared senders, as the earlier backend's dashboard onboarding uses them: a sender registered
without `restaurantId` waits unlinked (listed with `restaurantId: null`; its number's webhooks are
answered as an unknown number's), and `PUT {restaurantId}` links it, keeping its id. An `id` may be
given on create, so ids from another system (the earlier backend's bot ids, which its dashboard
keeps as tenant ids) survive a migration.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.context import app_context
from app.errors import ValidationFailed
from app.models import Bot, UnlinkedSender
from app.rest.common import admin_of, body_field, json_body, path_param, query_text
from app.rest.legacy import bot_json
from app.services import bots, restaurants
from app.services.bots import REQUIRED_ON_CREATE, BotChanges

# JSON field -> (BotChanges field, the one JSON type it accepts). Anything else in a body is ignored.
WRITABLE: dict[str, tuple[str, type]] = {
    "name": ("name", str),
    "restaurantName": ("restaurant_name", str),
    "whatsappNumber": ("whatsapp_number", str),
    "accountSid": ("account_sid", str),
    "authToken": ("auth_token", str),
    "subaccountSid": ("subaccount_sid", str),
    "senderSid": ("sender_sid", str),
    "wabaId": ("waba_id", str),
    "status": ("status", str),
    "isActive": ("is_active", bool),
    "supportContact": ("support_contact", str),
    "paymentLink": ("payment_link", str),
    "maxMessagesPerMin": ("max_messages_per_min", int),
    "maxMessagesPerDay": ("max_messages_per_day", int),
}
_JSON_NAME = {column: name for name, (column, _) in WRITABLE.items()}


def admin_bot_json(b: Bot | UnlinkedSender) -> dict[str, Any]:
    """The legacy bot shape plus what only an admin sees (`restaurantId` null: a shared sender not
    yet linked). Never the auth token."""
    return {
        **bot_json(b),
        "restaurantId": b.restaurant_id if isinstance(b, Bot) else None,
        "accountSid": b.account_sid,
        "subaccountSid": b.subaccount_sid,
        "senderSid": b.sender_sid,
        "wabaId": b.waba_id,
        "supportContact": b.support_contact,
        "paymentLink": b.payment_link,
        "maxMessagesPerMin": b.max_messages_per_min,
        "maxMessagesPerDay": b.max_messages_per_day,
    }


def _changes(body: dict[str, Any], *, update: bool = False) -> BotChanges:
    """The writable fields of a body, each of exactly its JSON type (a bool is not a number); null is
    absent. On update an empty authToken is absent too: the earlier dashboard's edit form sends ""
    for "unchanged", the token being write-only."""
    if update and body.get("authToken") == "":
        body = {k: v for k, v in body.items() if k != "authToken"}
    return BotChanges(
        **{column: body_field(body, name, kind, required=False) for name, (column, kind) in WRITABLE.items()}
    )


def _restaurant_id(body: dict[str, Any]) -> str | None:
    value: str | None = body_field(body, "restaurantId", str, required=False)
    return value


async def _sender(session: AsyncSession, sender_id: str) -> Bot | UnlinkedSender:
    """A live bot or a shared sender by id; NotFound otherwise."""
    waiting = await bots.get_unlinked(session, sender_id=sender_id)
    return waiting or await bots.get(session, restaurant_id=None, bot_id=sender_id)


async def list_bots(request: Request) -> JSONResponse:
    """GET /api/admin/bots[?restaurantId=]: every live bot and shared sender, oldest first (with
    restaurantId: that restaurant's bots only)."""
    async with app_context(request).db.session() as session:
        await admin_of(request, session)
        restaurant_id = query_text(request, "restaurantId")
        rows: list[Bot | UnlinkedSender] = [*await bots.list_for(session, restaurant_id=restaurant_id)]
        if restaurant_id is None:
            rows.extend(await bots.list_unlinked(session))
            rows.sort(key=lambda b: (b.created_at, b.id))
    return JSONResponse([admin_bot_json(b) for b in rows])


async def create_bot(request: Request) -> JSONResponse:
    """POST /api/admin/bots: register a sender, with the `id` given or a new one. With a restaurantId
    the sender is that restaurant's bot (the restaurant is created, named restaurantName, if it
    doesn't exist yet); without one it is a shared sender, waiting to be linked. 201: the bot; 409:
    the number or the id is taken."""
    ctx = app_context(request)
    async with ctx.db.session() as session:
        await admin_of(request, session)
        body = await json_body(request)
        changes = _changes(body)
        sender_id: str | None = body_field(body, "id", str, required=False)
        for column in REQUIRED_ON_CREATE:
            if getattr(changes, column) is None:
                raise ValidationFailed(f"{_JSON_NAME[column]} is required", field=_JSON_NAME[column])
        restaurant_name = (changes.restaurant_name or "").strip()
        if not restaurant_name:
            raise ValidationFailed("restaurantName must not be empty", field="restaurantName")
        restaurant_id = _restaurant_id(body)
        bot: Bot | UnlinkedSender
        if restaurant_id is None:
            bot = await bots.register_unlinked(session, changes=changes, box=ctx.box, sender_id=sender_id)
        else:
            restaurant = await restaurants.create(session, name=restaurant_name, restaurant_id=restaurant_id)
            bot = await bots.register(
                session, restaurant_id=restaurant.id, changes=changes, box=ctx.box, bot_id=sender_id
            )
        await session.commit()
    return JSONResponse(admin_bot_json(bot), status_code=201)


async def get_bot(request: Request) -> JSONResponse:
    async with app_context(request).db.session() as session:
        await admin_of(request, session)
        bot = await _sender(session, path_param(request, "id"))
    return JSONResponse(admin_bot_json(bot))


async def update_bot(request: Request) -> JSONResponse:
    """PUT /api/admin/bots/:id: change the fields given (authToken may be rotated). A shared sender
    given a restaurantId is linked to it (the restaurant is created if it doesn't exist yet) and
    becomes its bot with the same id; a linked bot can't move to another restaurant. Read-only
    fields sent back (id, createdAt, ...) are ignored."""
    ctx = app_context(request)
    async with ctx.db.session() as session:
        await admin_of(request, session)
        bot_id = path_param(request, "id")
        body = await json_body(request)
        changes = _changes(body, update=True)
        moved_to = _restaurant_id(body)
        waiting = await bots.get_unlinked(session, sender_id=bot_id)
        if waiting is not None:
            linked: Bot | UnlinkedSender
            if moved_to is None:
                linked = await bots.update_unlinked(session, sender_id=bot_id, changes=changes, box=ctx.box)
            else:
                name = (changes.restaurant_name or waiting.restaurant_name).strip() or waiting.name
                restaurant = await restaurants.create(session, name=name, restaurant_id=moved_to)
                linked = await bots.link(
                    session, restaurant_id=restaurant.id, sender_id=bot_id, changes=changes, box=ctx.box
                )
            await session.commit()
            return JSONResponse(admin_bot_json(linked))
        current = await bots.get(session, restaurant_id=None, bot_id=bot_id)
        if moved_to is not None and moved_to != current.restaurant_id:
            raise ValidationFailed("a bot can't move to another restaurant", field="restaurantId")
        bot = await bots.update_bot(
            session, restaurant_id=current.restaurant_id, bot_id=bot_id, changes=changes, box=ctx.box
        )
        await session.commit()
    return JSONResponse(admin_bot_json(bot))


async def delete_bot(request: Request) -> JSONResponse:
    """DELETE /api/admin/bots/:id: retire the bot. Its conversations and messages stay readable and
    its number may be registered again (a shared sender, which has none, is removed). 200: {"id",
    "deleted": true} with the earlier backend's {success, message} beside it."""
    ctx = app_context(request)
    async with ctx.db.session() as session:
        await admin_of(request, session)
        bot_id = path_param(request, "id")
        if not await bots.delete_unlinked(session, sender_id=bot_id):
            await bots.delete(session, restaurant_id=None, bot_id=bot_id)
        await session.commit()
    ctx.auth.changed()  # the bot's id no longer names a tenant; other processes hear it by NOTIFY
    return JSONResponse({"id": bot_id, "deleted": True, "success": True, "message": "Bot deleted"})


routes = [
    Route("/api/admin/bots", list_bots, methods=["GET"]),
    Route("/api/admin/bots", create_bot, methods=["POST"]),
    Route("/api/admin/bots/{id}", get_bot, methods=["GET"]),
    Route("/api/admin/bots/{id}", update_bot, methods=["PUT"]),
    Route("/api/admin/bots/{id}", delete_bot, methods=["DELETE"]),
]

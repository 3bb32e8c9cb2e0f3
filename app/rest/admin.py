"""The admin API: registering WhatsApp senders (bots). Admin tokens only; everything else is 403.

A bot's Twilio auth token is write-only: it is stored encrypted and no response ever carries it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.context import app_context
from app.errors import ValidationFailed
from app.models import Bot
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


def admin_bot_json(b: Bot) -> dict[str, Any]:
    """The legacy bot shape plus what only an admin sees. Never the auth token."""
    return {
        **bot_json(b),
        "restaurantId": b.restaurant_id,
        "accountSid": b.account_sid,
        "subaccountSid": b.subaccount_sid,
        "senderSid": b.sender_sid,
        "wabaId": b.waba_id,
        "supportContact": b.support_contact,
        "paymentLink": b.payment_link,
        "maxMessagesPerMin": b.max_messages_per_min,
        "maxMessagesPerDay": b.max_messages_per_day,
    }


def _changes(body: dict[str, Any]) -> BotChanges:
    """The writable fields of a body, each of exactly its JSON type (a bool is not a number); null is absent."""
    return BotChanges(
        **{column: body_field(body, name, kind, required=False) for name, (column, kind) in WRITABLE.items()}
    )


def _restaurant_id(body: dict[str, Any]) -> str | None:
    value: str | None = body_field(body, "restaurantId", str, required=False)
    return value


async def list_bots(request: Request) -> JSONResponse:
    """GET /api/admin/bots[?restaurantId=]: every live bot, oldest first."""
    async with app_context(request).db.session() as session:
        await admin_of(request, session)
        rows = await bots.list_for(session, restaurant_id=query_text(request, "restaurantId"))
    return JSONResponse([admin_bot_json(b) for b in rows])


async def create_bot(request: Request) -> JSONResponse:
    """POST /api/admin/bots: register a sender. Without a restaurantId, or with one that doesn't exist
    yet, the restaurant is created (named restaurantName). 201: the bot; 409: the number is taken."""
    ctx = app_context(request)
    async with ctx.db.session() as session:
        await admin_of(request, session)
        body = await json_body(request)
        changes = _changes(body)
        for column in REQUIRED_ON_CREATE:
            if getattr(changes, column) is None:
                raise ValidationFailed(f"{_JSON_NAME[column]} is required", field=_JSON_NAME[column])
        restaurant_name = (changes.restaurant_name or "").strip()
        if not restaurant_name:
            raise ValidationFailed("restaurantName must not be empty", field="restaurantName")
        restaurant = await restaurants.create(
            session, name=restaurant_name, restaurant_id=_restaurant_id(body)
        )
        bot = await bots.register(session, restaurant_id=restaurant.id, changes=changes, box=ctx.box)
        await session.commit()
    return JSONResponse(admin_bot_json(bot), status_code=201)


async def get_bot(request: Request) -> JSONResponse:
    async with app_context(request).db.session() as session:
        await admin_of(request, session)
        bot = await bots.get(session, restaurant_id=None, bot_id=path_param(request, "id"))
    return JSONResponse(admin_bot_json(bot))


async def update_bot(request: Request) -> JSONResponse:
    """PUT /api/admin/bots/:id: change the fields given (authToken may be rotated). A bot can't move
    to another restaurant; read-only fields sent back (id, createdAt, ...) are ignored."""
    ctx = app_context(request)
    async with ctx.db.session() as session:
        await admin_of(request, session)
        bot_id = path_param(request, "id")
        body = await json_body(request)
        changes = _changes(body)
        current = await bots.get(session, restaurant_id=None, bot_id=bot_id)
        moved_to = _restaurant_id(body)
        if moved_to is not None and moved_to != current.restaurant_id:
            raise ValidationFailed("a bot can't move to another restaurant", field="restaurantId")
        bot = await bots.update_bot(
            session, restaurant_id=current.restaurant_id, bot_id=bot_id, changes=changes, box=ctx.box
        )
        await session.commit()
    return JSONResponse(admin_bot_json(bot))


async def delete_bot(request: Request) -> JSONResponse:
    """DELETE /api/admin/bots/:id: retire the bot. Its conversations and messages stay readable and
    its number may be registered again. 200: {"id", "deleted": true}."""
    ctx = app_context(request)
    async with ctx.db.session() as session:
        await admin_of(request, session)
        bot_id = path_param(request, "id")
        await bots.delete(session, restaurant_id=None, bot_id=bot_id)
        await session.commit()
    ctx.auth.changed()  # the bot's id no longer names a tenant; other processes hear it by NOTIFY
    return JSONResponse({"id": bot_id, "deleted": True})


routes = [
    Route("/api/admin/bots", list_bots, methods=["GET"]),
    Route("/api/admin/bots", create_bot, methods=["POST"]),
    Route("/api/admin/bots/{id}", get_bot, methods=["GET"]),
    Route("/api/admin/bots/{id}", update_bot, methods=["PUT"]),
    Route("/api/admin/bots/{id}", delete_bot, methods=["DELETE"]),
]

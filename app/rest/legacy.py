"""The legacy REST contract existing dashboards call (`shared/spec/legacy-contract.md`).

Field names and shapes are the contract: bare JSON arrays, camelCase, `whatsapp:`-prefixed numbers,
ISO times with milliseconds. Every handler is a thin adapter over the services.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.context import app_context
from app.errors import NotFound
from app.models import Bot, Conversation, Message
from app.phone import to_whatsapp
from app.rest.common import int_param, iso, principal_of, tenant_of, time_param
from app.services import bots, conversations, tokens

MAX_LIMIT = 200


def conversation_json(c: Conversation) -> dict[str, Any]:
    return {
        "id": c.id,
        "restaurantId": c.restaurant_id,
        "botId": c.bot_id,
        "customerPhone": to_whatsapp(c.customer_phone),
        "customerName": c.customer_name,
        "status": c.status,
        "lastMessageAt": iso(c.last_message_at),
        "unreadCount": c.unread_count,
        "isBotActive": c.is_bot_active,
        "createdAt": iso(c.created_at),
        "updatedAt": iso(c.updated_at),
    }


def message_json(m: Message) -> dict[str, Any]:
    return {
        "id": m.id,
        "conversationId": m.conversation_id,
        "restaurantId": m.restaurant_id,
        "direction": m.direction,
        "messageType": m.message_type,
        "content": m.content,
        "mediaUrl": m.media_urls[0] if m.media_urls else None,
        "mediaUrls": list(m.media_urls),
        "waSid": m.wa_sid,
        "deliveryStatus": m.delivery_status,
        "errorCode": m.error_code,
        "errorMessage": m.error_message,
        "createdAt": iso(m.created_at),
        "metadata": {k: v for k, v in m.meta.items() if k != "twilio"},
    }


def bot_json(b: Bot) -> dict[str, Any]:
    """Never carries a Twilio secret."""
    return {
        "id": b.id,
        "name": b.name,
        "restaurantName": b.restaurant_name,
        "whatsappNumber": to_whatsapp(b.whatsapp_number),
        "status": b.status,
        "isActive": b.is_active,
        "createdAt": iso(b.created_at),
        "updatedAt": iso(b.updated_at),
    }


async def list_conversations(request: Request) -> JSONResponse:
    async with app_context(request).db.session() as session:
        tenant = await tenant_of(request, session)
        rows = await conversations.list_page(
            session,
            restaurant_id=tenant.restaurant_id,
            bot_id=tenant.bot_id,
            status=request.query_params.get("status") or None,
            limit=int_param(request, "limit", 50, low=1, high=MAX_LIMIT),
            offset=int_param(request, "offset", 0),
        )
    return JSONResponse([conversation_json(c) for c in rows])


async def conversation_stats(request: Request) -> JSONResponse:
    async with app_context(request).db.session() as session:
        tenant = await tenant_of(request, session)
        stats = await conversations.stats(session, restaurant_id=tenant.restaurant_id, bot_id=tenant.bot_id)
    return JSONResponse(
        {
            "totalConversations": stats.total_conversations,
            "activeConversations": stats.active_conversations,
            "totalUnread": stats.total_unread,
        }
    )


async def get_conversation(request: Request) -> JSONResponse:
    async with app_context(request).db.session() as session:
        tenant = await tenant_of(request, session)
        row = await conversations.get(
            session, restaurant_id=tenant.restaurant_id, conversation_id=request.path_params["id"]
        )
        if tenant.bot_id is not None and row.bot_id != tenant.bot_id:
            raise NotFound("conversation not found")
    return JSONResponse(conversation_json(row))


async def conversation_messages(request: Request) -> JSONResponse:
    """Messages, oldest first within the page. Reading them marks the conversation read: the
    existing dashboards have no other way to clear the unread badge."""
    async with app_context(request).db.session() as session:
        tenant = await tenant_of(request, session)
        conversation_id = request.path_params["id"]
        limit = int_param(request, "limit", 100, low=1, high=1000)
        offset = int_param(request, "offset", 0)
        before = time_param(request, "before")
        conversation = await conversations.get(
            session, restaurant_id=tenant.restaurant_id, conversation_id=conversation_id
        )
        if tenant.bot_id is not None and conversation.bot_id != tenant.bot_id:
            raise NotFound("conversation not found")
        rows = await conversations.list_messages(
            session,
            restaurant_id=tenant.restaurant_id,
            conversation_id=conversation_id,
            limit=limit,
            offset=offset,
            before=before,
        )
        if conversation.unread_count:
            await conversations.mark_read(
                session, restaurant_id=tenant.restaurant_id, conversation_id=conversation_id
            )
        await session.commit()
    return JSONResponse([message_json(m) for m in rows])


async def restaurant_bots(request: Request) -> JSONResponse:
    async with app_context(request).db.session() as session:
        # The path names the tenant here (a restaurant id, or one of its bot ids, like the header).
        principal = await principal_of(request, session)
        tenant = await tokens.resolve_tenant(
            session, principal=principal, tenant_ref=request.path_params["restaurant_id"]
        )
        rows = await bots.list_for(session, restaurant_id=tenant.restaurant_id)
    return JSONResponse([bot_json(b) for b in rows])


routes = [
    # /stats is declared before /{id} so it is never taken for a conversation id.
    Route("/api/db/conversations/stats", conversation_stats, methods=["GET"]),
    Route("/api/db/conversations", list_conversations, methods=["GET"]),
    Route("/api/db/conversations/{id}", get_conversation, methods=["GET"]),
    Route("/api/db/conversations/{id}/messages", conversation_messages, methods=["GET"]),
    Route("/api/db/restaurants/{restaurant_id}/bots", restaurant_bots, methods=["GET"]),
    Route("/api/conversations", list_conversations, methods=["GET"]),
]

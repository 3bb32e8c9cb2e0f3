"""The legacy REST contract existing dashboards call (`shared/spec/legacy-contract.md`).

Field names and shapes are the contract: bare JSON arrays, camelCase, `whatsapp:`-prefixed numbers,
ISO times with milliseconds. Every handler is a thin adapter over the services.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.auth.principal import Tenant
from app.context import app_context
from app.errors import ValidationFailed
from app.models import Bot, Conversation, Message, Order, Restaurant, UnlinkedSender
from app.phone import loose_e164, to_whatsapp
from app.rest.common import (
    body_field,
    int_param,
    iso,
    json_body,
    narrowed_tenant,
    path_param,
    query_text,
    tenant_of,
    time_param,
)
from app.services import bots, conversations, outbound, pages, restaurants


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


def message_json(m: Message, *, bot_number: str | None = None) -> dict[str, Any]:
    """`bot_number`: the sender, shown as metadata.fromPhone of an outgoing message that lacks it."""
    metadata = m.public_metadata
    if bot_number and m.direction == "OUT":
        metadata.setdefault("fromPhone", to_whatsapp(bot_number))
    return {
        "id": m.id,
        "conversationId": m.conversation_id,
        "restaurantId": m.restaurant_id,
        "direction": m.direction,
        "messageType": m.message_type,
        "content": m.content,
        "mediaUrl": m.media_url,
        "mediaUrls": m.public_media_urls,
        "waSid": m.wa_sid,
        "deliveryStatus": m.delivery_status,
        "errorCode": m.error_code,
        "errorMessage": m.error_message,
        "createdAt": iso(m.created_at),
        "metadata": metadata,
    }


def order_json(o: Order) -> dict[str, Any]:
    """An order as the legacy socket's `order.updated` frames carry it (the old backend had none)."""
    return {
        "id": o.id,
        "reference": o.reference,
        "restaurantId": o.restaurant_id,
        "conversationId": o.conversation_id,
        "customerPhone": to_whatsapp(o.customer_phone),
        "customerName": o.customer_name,
        "orderType": o.order_type,
        "branchId": o.branch_id,
        "deliveryAddress": o.delivery_address,
        "paymentMethod": o.payment_method,
        "status": o.status,
        "total": o.total,
        "currency": o.currency,
        "rating": o.rating,
        "createdAt": iso(o.created_at),
        "updatedAt": iso(o.updated_at),
    }


def bot_json(b: Bot | UnlinkedSender) -> dict[str, Any]:
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


def _digits(phone: str | None) -> str | None:
    """A number as the earlier backend showed it in chat messages: digits, no `+`, no `whatsapp:`."""
    return phone.removeprefix("whatsapp:").lstrip("+") if phone else None


def chat_message_json(m: Message, *, is_bot_active: bool, bot_number: str | None) -> dict[str, Any]:
    """An outgoing message as the earlier backend's chat page reads it (its N7/N8 `message`)."""
    preview: dict[str, Any] | None = None
    if m.content_sid:
        preview = {
            "sid": m.content_sid,
            "friendlyName": m.template_name,
            "language": None,
            "body": m.content,
            "contentType": "twilio/text",
            "buttons": [],
        }
    return {
        "id": m.id,
        "conversation_id": m.conversation_id,
        "content": m.content,
        "original_content": m.content,
        "media_url": m.media_url,
        "timestamp": iso(m.created_at),
        "status": m.delivery_status,
        "message_type": m.message_type,
        "messageType": m.message_type,
        "wa_sid": m.wa_sid,
        "channel": "template" if m.content_sid else "freeform",
        "from_phone": _digits(m.meta.get("fromPhone") or bot_number),
        "to_phone": _digits(m.meta.get("toPhone")),
        "direction": m.direction,
        "is_from_customer": False,
        "is_bot_active": is_bot_active,
        "template_preview": preview,
        "content_sid": m.content_sid,
    }


def bot_switch_json(r: Restaurant) -> dict[str, Any]:
    """The restaurant-wide bot switch, as POST /api/bot/toggle answers and the socket announces it."""
    return {"restaurantId": r.id, "botEnabled": r.bot_enabled}


async def _conversation(session: AsyncSession, tenant: Tenant, conversation_id: str) -> Conversation:
    """The tenant's conversation; a caller that named one bot sees only that bot's conversations."""
    return await conversations.get(
        session, restaurant_id=tenant.restaurant_id, conversation_id=conversation_id, bot_id=tenant.bot_id
    )


def _page(request: Request, *, default: int, high: int) -> tuple[int, int]:
    """The `limit` and `offset` query parameters, within the legacy contract's bounds (app.services.pages)."""
    limit = pages.page_size(int_param(request, "limit", default), field="limit", high=high)
    offset = pages.offset(int_param(request, "offset", 0), high=pages.LEGACY_MAX_OFFSET)
    return limit, offset


async def _bot_number(session: AsyncSession, conversation: Conversation) -> str | None:
    """The number the conversation's bot writes from (a retired bot's too)."""
    found = await bots.get_many(session, restaurant_id=conversation.restaurant_id, ids=[conversation.bot_id])
    bot = found.get(conversation.bot_id)
    return bot.whatsapp_number if bot is not None else None


async def list_conversations(request: Request) -> JSONResponse:
    async with app_context(request).db.session() as session:
        tenant = await tenant_of(request, session)
        status = query_text(request, "status")
        limit, offset = _page(request, default=50, high=pages.MAX_PAGE)
        rows = await conversations.list_page(
            session,
            restaurant_id=tenant.restaurant_id,
            bot_id=tenant.bot_id,
            status=status,
            limit=limit,
            offset=offset,
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
        row = await _conversation(session, tenant, path_param(request, "id"))
    return JSONResponse(conversation_json(row))


async def conversation_messages(request: Request) -> JSONResponse:
    """Messages, oldest first within the page. Reading them marks the conversation read: the
    existing dashboards have no other way to clear the unread badge."""
    async with app_context(request).db.session() as session:
        tenant = await tenant_of(request, session)
        conversation_id = path_param(request, "id")
        limit, offset = _page(request, default=100, high=pages.LEGACY_MAX_MESSAGES)
        before = time_param(request, "before")
        conversation = await _conversation(session, tenant, conversation_id)
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
                session,
                restaurant_id=tenant.restaurant_id,
                bot_id=tenant.bot_id,
                conversation_id=conversation_id,
            )
        bot_number = await _bot_number(session, conversation)
        await session.commit()
    return JSONResponse([message_json(m, bot_number=bot_number) for m in rows])


async def restaurant_bots(request: Request) -> JSONResponse:
    async with app_context(request).db.session() as session:
        # The path names the tenant here (a restaurant id, or one of its bot ids, like the header).
        tenant = await tenant_of(request, session, tenant_ref=path_param(request, "restaurant_id"))
        rows = await bots.list_for(session, restaurant_id=tenant.restaurant_id)
    return JSONResponse([bot_json(b) for b in rows])


async def send_message(request: Request) -> JSONResponse:
    """POST /api/conversations/:id/send {message}: a staff reply, queued for WhatsApp. 200: the message."""
    async with app_context(request).db.session() as session:
        tenant = await narrowed_tenant(request, session)
        conversation_id = path_param(request, "id")
        body = await json_body(request)
        text = body_field(body, "message", str)
        if not text.strip():
            raise ValidationFailed("message must not be empty", field="message")
        if len(text.strip()) > outbound.MAX_BODY:
            raise ValidationFailed(f"message is longer than {outbound.MAX_BODY} characters", field="message")
        message, _ = await _staff_reply(session, tenant, conversation_id, body, body=text)
    return JSONResponse(message)


async def send_media(request: Request) -> JSONResponse:
    """POST /api/conversations/:id/send-media {mediaUrl, caption, mediaType?, fromNumber?}: a staff
    media reply. 200: the message in the legacy shape, with the earlier backend's `{success, data:
    {message}}` and `message` beside it (its dashboard reads either)."""
    async with app_context(request).db.session() as session:
        tenant = await narrowed_tenant(request, session)
        conversation_id = path_param(request, "id")
        body = await json_body(request)
        media_url = body_field(body, "mediaUrl", str)
        caption = body_field(body, "caption", str, required=False) or ""
        media_type = body_field(body, "mediaType", str, required=False)
        if media_type is not None and media_type.strip().lower() not in MEDIA_TYPES:
            raise ValidationFailed(f"mediaType must be one of {', '.join(MEDIA_TYPES)}", field="mediaType")
        message, chat = await _staff_reply(
            session, tenant, conversation_id, body, body=caption, media_url=media_url
        )
    return JSONResponse({**message, "success": True, "data": {"message": chat}, "message": chat})


MEDIA_TYPES = ("image", "video", "audio", "document")


async def post_message(request: Request) -> JSONResponse:
    """POST /api/conversations/:id/messages {content, messageType?="text", fromNumber?}: the earlier
    backend's agent reply. Queued like every message: inside the 24-hour window as text, outside it
    as the restaurant's follow-up template (422 without one); the bot pauses for the conversation
    (the restaurant's pause-on-staff-reply setting, on by default) and the unread count clears.
    200: `{success: true, data: {message}, message}`."""
    async with app_context(request).db.session() as session:
        tenant = await narrowed_tenant(request, session)
        conversation_id = path_param(request, "id")
        body = await json_body(request)
        content = body_field(body, "content", str).strip()
        if not content:
            raise ValidationFailed("content must not be empty", field="content")
        message_type = (body_field(body, "messageType", str, required=False) or "text").strip().lower()
        if message_type != "text":
            raise ValidationFailed(
                "messageType must be text (media goes through send-media)", field="messageType"
            )
        _, chat = await _staff_reply(session, tenant, conversation_id, body, body=content)
    return JSONResponse({"success": True, "data": {"message": chat}, "message": chat})


async def _staff_reply(
    session: AsyncSession, tenant: Tenant, conversation_id: str, request_body: dict[str, Any], **reply: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Queue a staff reply in the tenant's conversation and commit: the message in the legacy shape
    and in the earlier backend's chat shape. `fromNumber`, when the body has one, must be the
    conversation's own sender (a conversation is one customer with one sender)."""
    conversation = await _conversation(session, tenant, conversation_id)
    bot_number = await _bot_number(session, conversation)
    from_number = body_field(request_body, "fromNumber", str, required=False)
    if from_number and from_number.strip() and loose_e164(from_number, field="fromNumber") != bot_number:
        raise ValidationFailed("fromNumber is not the sender of this conversation", field="fromNumber")
    message = await outbound.queue(
        session,
        restaurant_id=tenant.restaurant_id,
        bot_id=tenant.bot_id,
        conversation_id=conversation_id,
        author="staff",
        **reply,
    )
    await session.refresh(conversation)  # the reply may have paused the bot
    await session.commit()
    return message_json(message, bot_number=bot_number), chat_message_json(
        message, is_bot_active=conversation.is_bot_active, bot_number=bot_number
    )


async def toggle_conversation_bot(request: Request) -> JSONResponse:
    """POST /api/conversations/:id/toggle-bot {enabled}: the bot on/off for one conversation. 200: the
    conversation, with the earlier backend's `{success, data: {conversation}}` beside it."""
    async with app_context(request).db.session() as session:
        tenant = await narrowed_tenant(request, session)
        conversation_id = path_param(request, "id")
        enabled = body_field(await json_body(request), "enabled", bool)
        await _conversation(session, tenant, conversation_id)
        row = await conversations.set_bot_active(
            session,
            restaurant_id=tenant.restaurant_id,
            bot_id=tenant.bot_id,
            conversation_id=conversation_id,
            active=enabled,
        )
        await session.commit()
    earlier = {"id": row.id, "is_bot_active": row.is_bot_active, "updated_at": iso(row.updated_at)}
    return JSONResponse({**conversation_json(row), "success": True, "data": {"conversation": earlier}})


async def toggle_restaurant_bot(request: Request) -> JSONResponse:
    """POST /api/bot/toggle {enabled}: the bot on/off for the whole restaurant."""
    async with app_context(request).db.session() as session:
        tenant = await tenant_of(request, session)
        enabled = body_field(await json_body(request), "enabled", bool)
        row = await restaurants.set_bot_enabled(session, restaurant_id=tenant.restaurant_id, enabled=enabled)
        await session.commit()
    return JSONResponse(bot_switch_json(row))


routes = [
    # /stats is declared before /{id} so it is never taken for a conversation id.
    Route("/api/db/conversations/stats", conversation_stats, methods=["GET"]),
    Route("/api/db/conversations", list_conversations, methods=["GET"]),
    Route("/api/db/conversations/{id}", get_conversation, methods=["GET"]),
    Route("/api/db/conversations/{id}/messages", conversation_messages, methods=["GET"]),
    Route("/api/db/restaurants/{restaurant_id}/bots", restaurant_bots, methods=["GET"]),
    Route("/api/conversations", list_conversations, methods=["GET"]),
    Route("/api/conversations/{id}/send", send_message, methods=["POST"]),
    Route("/api/conversations/{id}/messages", post_message, methods=["POST"]),
    Route("/api/conversations/{id}/send-media", send_media, methods=["POST"]),
    Route("/api/conversations/{id}/toggle-bot", toggle_conversation_bot, methods=["POST"]),
    Route("/api/bot/toggle", toggle_restaurant_bot, methods=["POST"]),
]

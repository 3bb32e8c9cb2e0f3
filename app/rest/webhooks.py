"""Twilio webhooks: verify the signature, parse the known fields, commit, answer. Nothing slow inline:
the bot's turn runs after the commit, elsewhere."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from app.channels.twilio.inbound import parse_inbound, parse_status
from app.channels.twilio.signature import is_valid, public_url
from app.context import AppContext, app_context
from app.errors import ValidationFailed
from app.models import Bot
from app.rest.common import error
from app.services import bots, inbound

log = logging.getLogger("sufrah.webhooks")

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: value for key, value in form.multi_items() if isinstance(value, str)}


def _signed(ctx: AppContext, request: Request, bot: Bot, params: dict[str, str]) -> bool:
    try:
        auth_token = ctx.box.decrypt(bot.auth_token_encrypted)
    except ValueError:
        log.error("bot %s: auth token unreadable under this SECRET_KEY", bot.id)
        return False
    url = public_url(ctx.settings.base_url, request.url.path, request.url.query)
    return is_valid(url=url, params=params, signature=request.headers.get("x-twilio-signature"),
                    auth_token=auth_token)


async def inbound_message(request: Request) -> Response:
    """POST /whatsapp/webhook: a customer's message. Idempotent by MessageSid."""
    ctx = app_context(request)
    params = await _form(request)
    if not params.get("To"):
        return error(400, "To is required")
    async with ctx.db.session() as session:
        bot = await bots.find_by_number(session, whatsapp_number=params["To"])
        if bot is None:
            log.warning("inbound message for unknown number %s (MessageSid %s)", params["To"], params.get("MessageSid"))
            return error(404, "no bot is registered for this number")
        if not _signed(ctx, request, bot, params):
            log.warning("bad signature on inbound message for bot %s", bot.id)
            return error(403, "invalid Twilio signature")
        message = parse_inbound(params)
        result = await inbound.ingest(session, restaurant_id=bot.restaurant_id, bot_id=bot.id, inbound=message)
        await session.commit()
    if not result.created:
        log.info("duplicate delivery of %s ignored", message.message_sid)
    return Response(EMPTY_TWIML, media_type="text/xml")


async def delivery_status(request: Request) -> Response:
    """POST /whatsapp/status: Twilio's delivery status callback for a message we sent."""
    ctx = app_context(request)
    params = await _form(request)
    try:
        callback = parse_status(params)
    except ValidationFailed as exc:
        return error(400, exc.message)
    async with ctx.db.session() as session:
        bot = None
        for number in (callback.from_phone, callback.to_phone):
            if number and bot is None:
                bot = await bots.find_by_number(session, whatsapp_number=number)
        if bot is None:
            log.warning("status callback for unknown numbers (MessageSid %s)", callback.message_sid)
            return error(404, "no bot is registered for this number")
        if not _signed(ctx, request, bot, params):
            return error(403, "invalid Twilio signature")
        updated = await inbound.apply_status(session, restaurant_id=bot.restaurant_id, callback=callback)
        await session.commit()
    if updated is None:
        log.info("status %s for %s changed nothing", callback.status, callback.message_sid)
    return Response(status_code=204)

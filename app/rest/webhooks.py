"""Twilio webhooks: verify the signature, parse the known fields, commit, answer. Nothing slow inline:
the bot's turn runs after the commit, elsewhere.

Routing: the number a message was sent to names its bot. The bot directory (app/spool.py) routes
without a database round trip while its route for the number is current (read since the last bot
change was notified) and the signature checks out against it; otherwise the database routes, and
the directory remembers. A cached bot that turns out to be gone (deleted just now, its number maybe
moved to a new bot before this process heard of it) is routed again through the database, never
answered 404 from the cache alone: Twilio does not redeliver.

Only application/x-www-form-urlencoded bodies are read (what Twilio sends); anything else is 415.
What a refusal logs comes from the caller: it is escaped, and at most a few lines a minute per kind
are written (app/logs.py).
"""

from __future__ import annotations

import contextlib
import logging
import time
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from app.channels.twilio.inbound import parse_inbound, parse_status
from app.channels.twilio.signature import is_valid, public_url
from app.context import AppContext, app_context
from app.errors import InvalidSignature, NotFound, ValidationFailed
from app.logs import Throttled, untrusted
from app.rest.common import error
from app.services import bots, inbound
from app.spool import Spooled, database_unavailable

log = logging.getLogger("sufrah.webhooks")
_log = Throttled(log)  # every line about a webhook: the caller chooses how many there are

MAX_FIELDS = 1000  # Twilio sends a few dozen
FORM = "application/x-www-form-urlencoded"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


async def _form(request: Request) -> dict[str, str]:
    """Twilio posts application/x-www-form-urlencoded, read with the standard library (as Starlette
    decodes it, several times faster than its multipart-capable parser). Any other body is 415."""
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type != FORM:
        raise HTTPException(415, f"Twilio webhooks must be {FORM}")
    body = await request.body()
    try:
        return dict(parse_qsl(body.decode("latin-1"), keep_blank_values=True, max_num_fields=MAX_FIELDS))
    except ValueError:
        raise HTTPException(400, f"more than {MAX_FIELDS} form fields") from None


def _signed(ctx: AppContext, request: Request, auth_token_encrypted: str, params: dict[str, str]) -> bool:
    try:
        auth_token = ctx.box.decrypt(auth_token_encrypted)
    except ValueError:
        _log.error("a bot's auth token is unreadable under this SECRET_KEY")
        return False
    url = public_url(ctx.settings.base_url, request.url.path, request.url.query)
    return is_valid(
        url=url, params=params, signature=request.headers.get("x-twilio-signature"), auth_token=auth_token
    )


async def inbound_message(request: Request) -> Response:
    """POST /whatsapp/webhook: a customer's message. Idempotent by MessageSid."""
    ctx = app_context(request)
    params = await _form(request)
    if not params.get("To"):
        return error(400, "To is required")
    message = parse_inbound(params)  # malformed input is a 400 whether or not the database is up
    directory = ctx.directory
    try:
        result = None
        route = directory.get(message.to_phone)  # current: no database round trip
        if route is not None and _signed(ctx, request, route.auth_token_encrypted, params):
            # NotFound: the bot is gone since it was read; the database knows where its number went
            with contextlib.suppress(NotFound):
                result = await inbound.ingest_now(
                    ctx.db, restaurant_id=route.restaurant_id, bot_id=route.bot_id, inbound=message
                )
        if result is None:
            generation = directory.generation
            async with ctx.db.session() as session:
                bot = await bots.find_by_number(session, whatsapp_number=message.to_phone)
            if bot is None:
                directory.forget(message.to_phone)
                _log.warning(
                    "inbound message for unknown number %s (MessageSid %s)",
                    untrusted(message.to_phone),
                    untrusted(message.message_sid),
                )
                return error(404, "no bot is registered for this number")
            if not _signed(ctx, request, bot.auth_token_encrypted, params):
                _log.warning("bad signature on inbound message for bot %s", bot.id)
                raise InvalidSignature("invalid Twilio signature")
            route = directory.remember(bot, generation=generation)
            result = await inbound.ingest_now(
                ctx.db, restaurant_id=route.restaurant_id, bot_id=route.bot_id, inbound=message
            )
    except NotFound:  # deleted between the lookup and the insert
        directory.forget(message.to_phone)
        return error(404, "no bot is registered for this number")
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        return await _spool(ctx, request, params, kind="inbound", number=message.to_phone)
    if not result.created:
        _log.info("duplicate delivery of %s ignored", untrusted(message.message_sid))
    return Response(EMPTY_TWIML, media_type="text/xml")


async def _spool(
    ctx: AppContext, request: Request, params: dict[str, str], *, kind: str, number: str
) -> Response:
    """The database is away: keep a correctly signed webhook on local disk and acknowledge it."""
    route = ctx.directory.snapshot(number)
    if route is None:
        _log.error(
            "database unavailable and %s is not in the local bot directory: answering 503", untrusted(number)
        )
        return error(503, "the database is unavailable; try again")
    if not _signed(ctx, request, route.auth_token_encrypted, params):
        raise InvalidSignature("invalid Twilio signature")
    await ctx.spool.append(
        Spooled(
            kind=kind,
            restaurant_id=route.restaurant_id,
            bot_id=route.bot_id,
            params=params,
            query=dict(request.query_params),
            received_at=time.time(),
        )
    )
    _log.warning("database unavailable: %s webhook %s spooled", kind, untrusted(params.get("MessageSid")))
    return Response(EMPTY_TWIML, media_type="text/xml") if kind == "inbound" else Response(status_code=204)


async def delivery_status(request: Request) -> Response:
    """POST /whatsapp/status: Twilio's delivery status callback for a message we sent."""
    ctx = app_context(request)
    params = await _form(request)
    try:
        callback = parse_status(params)
    except ValidationFailed as exc:
        return error(400, exc.message)
    try:
        async with ctx.db.session() as session:
            bot = None
            for number in (callback.from_phone, callback.to_phone):
                if number and bot is None:
                    bot = await bots.find_by_number(session, whatsapp_number=number)
            if bot is None:
                _log.warning(
                    "status callback for unknown numbers (MessageSid %s)", untrusted(callback.message_sid)
                )
                return error(404, "no bot is registered for this number")
            if not _signed(ctx, request, bot.auth_token_encrypted, params):
                raise InvalidSignature("invalid Twilio signature")
            updated = await inbound.apply_status(
                session,
                restaurant_id=bot.restaurant_id,
                callback=callback,
                message_id=request.query_params.get("m"),
            )
            await session.commit()
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        return await _spool(ctx, request, params, kind="status", number=callback.from_phone or "")
    if updated is None:
        _log.info(
            "status %s for %s changed nothing", untrusted(callback.status), untrusted(callback.message_sid)
        )
    return Response(status_code=204)

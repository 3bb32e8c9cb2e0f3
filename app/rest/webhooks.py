"""Twilio webhooks, the edge: read the form, hand it to one service (app/services/inbound.py routes,
verifies, stores or spools, and logs), and answer its `Outcome` from one table. Nothing slow inline:
the bot's turn runs after the commit, elsewhere.

Only application/x-www-form-urlencoded bodies are read (what Twilio sends); anything else is 415.
Body size is limited before anything is read (app/rest/limits.py).
"""

from __future__ import annotations

from typing import assert_never
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from app.channels.twilio.inbound import parse_inbound, parse_status
from app.channels.twilio.signature import public_url
from app.context import AppContext, app_context
from app.errors import InvalidSignature, ValidationFailed
from app.rest.common import error
from app.services import inbound

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


def _webhook(ctx: AppContext, request: Request, params: dict[str, str]) -> inbound.Webhook:
    return inbound.Webhook(
        params=params,
        query=dict(request.query_params),
        url=public_url(ctx.settings.base_url, request.url.path, request.url.query),
        signature=request.headers.get("x-twilio-signature"),
    )


def _answer(outcome: inbound.Outcome, *, taken: Response) -> Response:
    """Each outcome's HTTP answer: Twilio only needs to know whether the webhook was taken."""
    match outcome:
        case inbound.Outcome.STORED | inbound.Outcome.DUPLICATE | inbound.Outcome.SPOOLED:
            return taken
        case inbound.Outcome.UNKNOWN_NUMBER:
            return error(404, "no bot is registered for this number")
        case inbound.Outcome.BAD_SIGNATURE:
            return error(InvalidSignature.http_status, "invalid Twilio signature")
    assert_never(outcome)


def _unreachable() -> Response:
    return error(503, "the database is unavailable; try again")


async def inbound_message(request: Request) -> Response:
    """POST /whatsapp/webhook: a customer's message. Idempotent by MessageSid."""
    ctx = app_context(request)
    params = await _form(request)
    if not params.get("To"):
        return error(400, "To is required")
    message = parse_inbound(params)  # malformed input is a 400 whether or not the database is up
    try:
        outcome = await inbound.receive(
            db=ctx.db,
            directory=ctx.directory,
            spool=ctx.spool,
            box=ctx.box,
            webhook=_webhook(ctx, request, params),
            message=message,
        )
    except inbound.Unreachable:
        return _unreachable()
    return _answer(outcome, taken=Response(EMPTY_TWIML, media_type="text/xml"))


async def delivery_status(request: Request) -> Response:
    """POST /whatsapp/status: Twilio's delivery status callback for a message we sent."""
    ctx = app_context(request)
    params = await _form(request)
    try:
        callback = parse_status(params)
    except ValidationFailed as exc:
        return error(400, exc.message)
    try:
        outcome = await inbound.receive_status(
            db=ctx.db,
            directory=ctx.directory,
            spool=ctx.spool,
            box=ctx.box,
            webhook=_webhook(ctx, request, params),
            callback=callback,
        )
    except inbound.Unreachable:
        return _unreachable()
    return _answer(outcome, taken=Response(status_code=204))

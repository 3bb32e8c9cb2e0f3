"""`GET|POST /api/whatsapp/send`: the earlier backend's send API, for other platforms and the
dashboard's sign-in code. One shared bearer token (WHATSAPP_SEND_TOKEN), compared in constant time;
unset, the route answers 503 `{"error"}` as the earlier backend did ("disabled"), so an operator
sees why instead of a 404 that looks like a wrong URL. A trailing `/` is redirected (307 keeps the
method and body).

    {phoneNumber, text, fromNumber?, templateVariables?}   query string on GET, JSON body on POST
    200 {status: "queued", message, jobId, queuePosition, channel, messageId, conversationId}
    429 {error, code: "QUOTA_EXCEEDED", details: {used, limit, remaining, planName, resetDate,
         daysUntilReset}}                                   (app/services/allowance.py)
    400/401/404/422/503 {error}

Every send is queued through the outbox (so `status` is always "queued"; `jobId` is the message id,
its delivery shows in the conversation like any message's).
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.auth import credentials
from app.context import app_context
from app.errors import ValidationFailed
from app.phone import loose_e164
from app.rest.common import clean, error, iso, json_body
from app.services import allowance, bots
from app.services.whatsapp_send import send_text

MAX_VARIABLES = 10


def _authorized(request: Request, expected: str) -> bool:
    given = credentials.from_headers(request.headers).token or ""
    return hmac.compare_digest(given.encode(), expected.encode())


async def _params(request: Request) -> dict[str, Any]:
    if request.method == "POST":
        return await json_body(request)
    query = request.query_params
    params: dict[str, Any] = {
        k: clean(query[k], k) for k in ("phoneNumber", "text", "fromNumber") if k in query
    }
    if "templateVariables" in query:
        try:
            params["templateVariables"] = json.loads(query["templateVariables"])
        except ValueError:
            raise ValidationFailed(
                "templateVariables must be a JSON object", field="templateVariables"
            ) from None
    return params


def _text(params: dict[str, Any], name: str, *, required: bool) -> str | None:
    value = params.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationFailed(f"`{name}` is required", field=name)
        return None
    if not isinstance(value, str):
        raise ValidationFailed(f"{name} must be a string", field=name)
    return value.strip()


def _variables(params: dict[str, Any]) -> dict[str, str] | None:
    value = params.get("templateVariables")
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > MAX_VARIABLES:
        raise ValidationFailed(
            f"templateVariables must be an object of at most {MAX_VARIABLES} values",
            field="templateVariables",
        )
    if not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value.values()):
        raise ValidationFailed(
            "templateVariables values must be strings or numbers", field="templateVariables"
        )
    return {str(k): str(v) for k, v in value.items()}


async def whatsapp_send(request: Request) -> JSONResponse:
    ctx = app_context(request)
    expected = ctx.settings.whatsapp_send_token
    if not expected:
        return error(503, "messaging endpoint is disabled (WHATSAPP_SEND_TOKEN is not set)")
    if not _authorized(request, expected):
        return error(401, "Unauthorized")
    params = await _params(request)
    phone = loose_e164(_text(params, "phoneNumber", required=True) or "", field="phoneNumber")
    text = _text(params, "text", required=True) or ""
    from_number = _text(params, "fromNumber", required=False)
    variables = _variables(params)
    async with ctx.db.session() as session:
        bot = await bots.sender_for(
            session,
            from_number=loose_e164(from_number, field="fromNumber") if from_number else None,
            default_number=ctx.settings.whatsapp_send_from,
        )
        quota = await allowance.check(session, restaurant_id=bot.restaurant_id, bot=bot)
        if not quota.allowed:
            return JSONResponse(quota_error(quota), status_code=429)
        message = await send_text(
            session, restaurant_id=bot.restaurant_id, bot=bot, phone=phone, text=text, variables=variables
        )
        await session.commit()
    return JSONResponse(
        {
            "status": "queued",
            "message": "Message queued for delivery",
            "jobId": message.id,
            "queuePosition": "waiting",
            "channel": "template" if message.content_sid else "freeform",
            "messageId": message.id,
            "conversationId": message.conversation_id,
        }
    )


def quota_error(quota: allowance.Allowance) -> dict[str, Any]:
    """The earlier backend's 429 body (its formatQuotaError)."""
    return {
        "error": f"Message limit of {quota.limit} reached. Used: {quota.used}. Try again after "
        f"{iso(quota.reset_at)}.",
        "code": "QUOTA_EXCEEDED",
        "details": {
            "used": quota.used,
            "limit": quota.limit,
            "remaining": quota.remaining,
            "planName": quota.plan_name,
            "resetDate": iso(quota.reset_at),
            "daysUntilReset": quota.days_until_reset,
        },
    }


routes = [Route("/api/whatsapp/send", whatsapp_send, methods=["GET", "POST"])]

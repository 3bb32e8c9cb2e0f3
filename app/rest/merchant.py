"""POST /status: the Sufrah merchant platform's payment and status updates of its orders (the earlier
backend's W4, with authentication it lacked).

Authentication, with the shared secret SUFRAH_WEBHOOK_SECRET (503 while it is unset), either of:

    Authorization: Bearer <SUFRAH_WEBHOOK_SECRET>
    X-Sufrah-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret>

compared in constant time; anything else is 401 `{error}`. Body (JSON), as the earlier backend read it:
`{orderNumber (string or number), status, paymentStatus, merchantId, branchId}`; orderNumber and
merchantId are required (400). Answers: 200 `{ok: true}`; 202 `{ok: true}` for an order number the
merchant's restaurant doesn't have (yet); 404 `{error}` for an unknown merchant. The work is one
service call, app/services/merchant_orders.py, in one transaction; a repeat changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.auth import credentials
from app.context import app_context
from app.errors import NotFound
from app.rest.common import error
from app.services import merchant_orders

SIGNATURE_HEADER = "x-sufrah-signature"


def authentic(secret: str, *, body: bytes, bearer: str | None, signature: str | None) -> bool:
    """Does the request carry the shared secret (as a bearer token) or an HMAC of its body made with it?"""
    if bearer and hmac.compare_digest(bearer.encode(), secret.encode()):
        return True
    if signature:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        given = signature.strip().removeprefix("sha256=").lower()
        return hmac.compare_digest(given.encode(), expected.encode())
    return False


def _text(value: object) -> str:
    if isinstance(value, bool):
        return ""
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else str(value)
    return value.strip()[:200] if isinstance(value, str) else ""


async def status_update(request: Request) -> Response:
    ctx = app_context(request)
    secret = ctx.settings.sufrah_webhook_secret
    if not secret:
        return error(503, "the status webhook is not configured (SUFRAH_WEBHOOK_SECRET)")
    body = await request.body()
    if not authentic(
        secret,
        body=body,
        bearer=credentials.from_headers(request.headers).token,
        signature=request.headers.get(SIGNATURE_HEADER),
    ):
        return error(401, "invalid or missing webhook secret")
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return error(400, "the body must be JSON")
    if not isinstance(data, dict):
        return error(400, "the body must be a JSON object")
    update = merchant_orders.StatusUpdate(
        order_number=_text(data.get("orderNumber")),
        status=_text(data.get("status")),
        payment_status=_text(data.get("paymentStatus")),
        branch_id=_text(data.get("branchId")),
    )
    merchant_id = _text(data.get("merchantId"))
    if not update.order_number or not merchant_id:
        return error(400, "orderNumber and merchantId are required")
    async with ctx.db.session() as session:
        try:
            restaurant = await merchant_orders.restaurant_for_merchant(session, merchant_id=merchant_id)
        except NotFound as exc:
            return error(404, exc.message)
        outcome = await merchant_orders.apply_status(session, restaurant_id=restaurant.id, update_=update)
        await session.commit()
    if outcome is merchant_orders.StatusOutcome.UNKNOWN_ORDER:
        return JSONResponse({"ok": True}, status_code=202)
    return JSONResponse({"ok": True})


routes = [Route("/status", status_update, methods=["POST"])]

"""The old dashboards' socket: `GET /ws` streams `{"type", "data", "cursor"}` JSON frames.

It is one more reader of the event log the GraphQL subscriptions read (app.realtime.hub), rendered in
the legacy REST shapes. There is no bootstrap frame: history comes from the /api/db endpoints, the
socket only says what changed since. A text frame `ping` is answered `pong`.

Two ways to authenticate (browsers can't set socket headers):

- first message, for new clients: connect to `/ws` without a token and send, within
  WS_AUTH_TIMEOUT_SECONDS (3 s), the text frame
  `{"type": "auth", "token": "sfr_...", "restaurantId": "...", "after": "..."}`; the server answers
  `{"type": "auth.ok", "restaurantId": "..."}` and streams. The token never appears in a URL, so in
  no proxy's or server's access log.
- query string, as old dashboards do: `/ws?token=...&restaurantId=...&after=...` (the server's logs
  show it as `token=[redacted]`, app/logs.py). An `Authorization: Bearer` header works too.

`restaurantId`: an admin token must name the restaurant; a token scoped to one restaurant needs
nothing; a restaurant's bot id works as for X-Restaurant-Id. `after`: a cursor from an earlier
frame: replay what was missed, then go on live.

Failures close the socket after accepting it, so browsers see the code: 4000 + the HTTP status the
REST API would answer: 4400 bad input, 4401 bad or revoked token (or no auth frame in time), 4403
forbidden, 4404 no such restaurant. The same codes close an open socket as soon as its credentials
stop holding (app/auth/sockets.py): 4401 the token was revoked, 4403 its scope no longer covers the
restaurant, 4404 the restaurant (or the bot the socket named) was deleted. And:

    4410  `after` is older than the retained event log (events are kept 14 days): reload from the
          /api/db endpoints and reconnect without `after`
    1013  (try again later) the client reads too slowly: reconnect with `after=` its last cursor
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from app.auth import credentials
from app.auth.principal import Tenant
from app.context import AppContext, app_context
from app.errors import SufrahError, Unauthenticated, ValidationFailed
from app.realtime import events
from app.realtime.hub import CursorExpired, Delivered, SubscriptionOverflow
from app.rest.common import clean
from app.rest.legacy import bot_json, bot_switch_json, conversation_json, message_json, order_json

log = logging.getLogger("sufrah.ws")

# Event kind -> (legacy frame type, serializer of the row the event names). A kind without an entry
# is not sent.
FRAMES: dict[str, tuple[str, Callable[[Any], dict[str, Any]]]] = {
    events.MESSAGE_CREATED: ("message.created", message_json),
    events.MESSAGE_UPDATED: ("message.updated", message_json),
    events.CONVERSATION_UPDATED: ("conversation.updated", conversation_json),
    events.BOT_UPDATED: ("bot.status.updated", bot_json),
    events.RESTAURANT_UPDATED: ("bot.status.updated", bot_switch_json),
    events.ORDER_UPDATED: ("order.updated", order_json),
}

TRY_AGAIN_LATER = 1013
CURSOR_EXPIRED = 4410  # like HTTP 410 Gone: what followed the cursor was pruned
MAX_REASON = 120  # a close reason must fit in 123 bytes


def frame(item: Delivered) -> dict[str, Any] | None:
    """The legacy frame for an event, or None when it has no legacy shape or its row is gone."""
    entry = FRAMES.get(item.kind)
    if entry is None or item.payload is None:
        return None
    kind, render = entry
    return {"type": kind, "data": render(item.payload), "cursor": item.cursor}


async def legacy_socket(websocket: WebSocket) -> None:
    ctx = app_context(websocket)
    await websocket.accept()
    sockets = ctx.auth.sockets
    generation = sockets.generation  # before the credentials are read (see SocketRegistry.add)
    try:
        tenant, after, first_message = await _authenticate(ctx, websocket)
    except SufrahError as exc:
        await _close(websocket, 4000 + exc.http_status, exc.message)
        return
    except WebSocketDisconnect:
        return
    revoked: asyncio.Future[SufrahError] = asyncio.get_running_loop().create_future()

    async def revoke(reason: SufrahError) -> None:
        if not revoked.done():
            revoked.set_result(reason)

    sockets.add(websocket, tenant, close=revoke, generation=generation)
    try:
        code, reason = await _serve(ctx, websocket, tenant, after, first_message, revoked)
    finally:
        sockets.discard(websocket)
    if code is not None:
        await _close(websocket, code, reason)


async def _serve(
    ctx: AppContext,
    websocket: WebSocket,
    tenant: Tenant,
    after: int | None,
    first_message: bool,
    revoked: asyncio.Future[SufrahError],
) -> tuple[int | None, str]:
    """Stream until the client leaves (None), the stream ends or its credentials stop holding (the
    close code and reason)."""
    send_lock = asyncio.Lock()

    async def send(text: str) -> None:
        async with send_lock:
            await websocket.send_text(text)

    async def pump() -> None:
        if first_message:
            await send(json.dumps({"type": "auth.ok", "restaurantId": tenant.restaurant_id}))
        async for item in ctx.hub.subscribe(restaurant_id=tenant.restaurant_id, after=after):
            payload = frame(item)
            if payload is not None:
                await send(json.dumps(payload, ensure_ascii=False))

    async def read() -> None:
        """Answers pings; returns when the client goes away."""
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = (message.get("text") or "").strip()
            if text.lower() == "ping":
                await send("pong")
            elif text.startswith("{") and _is_json_ping(text):
                await send(json.dumps({"type": "pong"}))

    pumping = asyncio.create_task(pump(), name=f"ws:{tenant.restaurant_id}")
    reading = asyncio.create_task(read(), name="ws:read")
    try:
        waiting: set[asyncio.Future[Any]] = {pumping, reading, revoked}
        done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (pumping, reading):
            task.cancel()
        await asyncio.gather(pumping, reading, return_exceptions=True)
    if revoked in done:
        refusal = revoked.result()
        return 4000 + refusal.http_status, refusal.message
    if pumping not in done or pumping.cancelled():
        return None, ""  # the client went away
    failure = pumping.exception()
    if isinstance(failure, WebSocketDisconnect):
        return None, ""
    if failure is None:
        return 1000, ""
    if isinstance(failure, SubscriptionOverflow):
        return TRY_AGAIN_LATER, "too slow: reconnect with after=<last cursor>"
    if isinstance(failure, CursorExpired):
        return CURSOR_EXPIRED, "cursor expired: reload, then reconnect without after"
    log.error("legacy socket of %s failed", tenant.restaurant_id, exc_info=failure)
    return 1011, "internal error"


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await websocket.close(code=code, reason=reason.encode()[:MAX_REASON].decode(errors="ignore"))


def _is_json_ping(text: str) -> bool:
    """Some clients ping with {"type": "ping"} instead of the bare word."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return False
    return isinstance(value, dict) and value.get("type") == "ping"


async def _authenticate(ctx: AppContext, websocket: WebSocket) -> tuple[Tenant, int | None, bool]:
    """The tenant, the position to resume after, and whether the credentials came in an auth frame
    (no token in the query or headers); no session is kept."""
    caller = credentials.from_query(websocket.query_params).otherwise(
        credentials.from_headers(websocket.headers)
    )
    cursor = websocket.query_params.get("after")
    first_message = caller.token is None
    if first_message:
        auth = await _auth_frame(websocket, timeout=ctx.settings.ws_auth_timeout_seconds)
        caller = credentials.from_frame(auth).otherwise(caller)
        cursor = auth.get("after") or cursor
    tenant_ref = caller.tenant_ref
    async with ctx.db.session() as session:
        tenant = await ctx.auth.tenant(
            session, token=caller.token, tenant_ref=clean(tenant_ref, "restaurantId") if tenant_ref else None
        )
    after = events.decode_cursor(cursor, restaurant_id=tenant.restaurant_id) if cursor else None
    return tenant, after, first_message


async def _auth_frame(websocket: WebSocket, *, timeout: float) -> dict[str, Any]:
    """The client's first frame, `{"type": "auth", "token": ..., "restaurantId"?: ..., "after"?: ...}`.
    Raises Unauthenticated when it is late or something else, WebSocketDisconnect if the client left."""
    expected = 'send {"type": "auth", "token": "..."} first, or connect with ?token='
    try:
        message = await asyncio.wait_for(websocket.receive(), timeout)
    except TimeoutError:
        raise Unauthenticated(f"no auth frame within {timeout:g}s: {expected}") from None
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    try:
        value = json.loads(message.get("text") or "null")
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict) or value.get("type") != "auth" or not isinstance(value.get("token"), str):
        raise Unauthenticated(f"not an auth frame: {expected}")
    for name in ("restaurantId", "after"):
        if value.get(name) is not None and not isinstance(value[name], str):
            raise ValidationFailed(f"{name} must be a string", field=name)
    return value

"""The old dashboards' socket: `GET /ws?token=...` streams `{"type", "data", "cursor"}` JSON frames.

It is one more reader of the event log the GraphQL subscriptions read (app.realtime.hub), rendered in
the legacy REST shapes. There is no bootstrap frame: history comes from the /api/db endpoints, the
socket only says what changed since. A text frame `ping` is answered `pong`.

Query parameters (browsers can't set socket headers; `Authorization` and `X-Restaurant-Id` headers
work too): `token`, `restaurantId` (an admin token must name the restaurant; a token scoped to one
restaurant needs nothing; a restaurant's bot id works as for X-Restaurant-Id) and `after` (a cursor
from an earlier frame: replay what was missed, then go on live).

Failures close the socket after accepting it, so browsers see the code: 4000 + the HTTP status the
REST API would answer (4400 bad input, 4401 bad token, 4403 forbidden, 4404 no such restaurant);
1013 (try again later) when the client reads too slowly, to reconnect with `after=` its last cursor.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from app.auth.principal import Tenant
from app.context import AppContext, app_context
from app.errors import SufrahError
from app.realtime import events
from app.realtime.hub import Delivered, SubscriptionOverflow
from app.rest.common import STATUS_OF, bearer, clean
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
    try:
        tenant, after = await _authenticate(ctx, websocket)
    except SufrahError as exc:
        reason = exc.message.encode()[:MAX_REASON].decode(errors="ignore")
        await websocket.close(code=4000 + STATUS_OF.get(type(exc), 400), reason=reason)
        return
    send_lock = asyncio.Lock()

    async def send(text: str) -> None:
        async with send_lock:
            await websocket.send_text(text)

    async def pump() -> None:
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
        done, _ = await asyncio.wait({pumping, reading}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (pumping, reading):
            task.cancel()
        await asyncio.gather(pumping, reading, return_exceptions=True)
    if pumping not in done or pumping.cancelled():
        return  # the client went away
    failure = pumping.exception()
    if isinstance(failure, WebSocketDisconnect):
        return
    if failure is None:
        code, reason = 1000, ""
    elif isinstance(failure, SubscriptionOverflow):
        code, reason = TRY_AGAIN_LATER, "too slow: reconnect with after=<last cursor>"
    else:
        log.error("legacy socket of %s failed", tenant.restaurant_id, exc_info=failure)
        code, reason = 1011, "internal error"
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await websocket.close(code=code, reason=reason)


def _is_json_ping(text: str) -> bool:
    """Some clients ping with {"type": "ping"} instead of the bare word."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return False
    return isinstance(value, dict) and value.get("type") == "ping"


async def _authenticate(ctx: AppContext, websocket: WebSocket) -> tuple[Tenant, int | None]:
    """The tenant from the query (or headers), and the position to resume after; no session is kept."""
    query = websocket.query_params
    token = query.get("token") or bearer(websocket)
    tenant_ref = query.get("restaurantId") or websocket.headers.get("x-restaurant-id") or None
    async with ctx.db.session() as session:
        tenant = await ctx.auth.tenant(
            session, token=token or None, tenant_ref=clean(tenant_ref, "restaurantId") if tenant_ref else None
        )
    cursor = query.get("after")
    after = events.decode_cursor(cursor, restaurant_id=tenant.restaurant_id) if cursor else None
    return tenant, after


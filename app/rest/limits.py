"""Byte limits at the edge, before anything is read: request bodies by route, WebSocket messages, and
GraphQL responses. One pure ASGI middleware in front of every route (app.main).

Without them an anonymous client decided how much the server read and kept: an 8 MiB webhook was
read whole before its 400, a 3 MiB GraphQL body was read, parsed and its query kept in caches.

    request body      Twilio webhooks (TWILIO_PATHS) 64 KiB, staff media uploads (UPLOAD_PATH)
                      16 MiB (MEDIA_MAX_BYTES), everything else 256 KiB
                      (MAX_WEBHOOK_BODY_BYTES, MAX_BODY_BYTES). A Content-Length over the limit is
                      answered 413 at once, unread; a body without one (chunked) is counted as it
                      arrives and cut off at the limit, 413.
    WebSocket message 256 KiB (MAX_WS_FRAME_BYTES), /graphql and /ws: one over it closes the socket
                      with 1009 ("message too big", what uvicorn's ws_max_size does too; `sufrah
                      serve` sets both, this covers the app under any server).
    GraphQL response  4 MiB (GRAPHQL_MAX_RESPONSE_BYTES): a larger response is replaced by a
                      RESPONSE_TOO_LARGE error (HTTP 200, like every GraphQL execution error). The
                      cost limit (app.graphql.cost) keeps responses far below it; this is the
                      backstop for what the estimate can't see (long texts, large metadata).

Refusals have each edge's error shape: `{"error": "..."}` on REST and webhooks, a GraphQL error
`{"errors": [{"message": "...", "extensions": {"code": "PAYLOAD_TOO_LARGE", "limit": N}}]}` on
/graphql (what GraphQL clients read; the query text's own limit answers the same way, with
QUERY_TOO_LARGE, see app.graphql.documents).

A request with a Content-Length within its limit costs one header lookup: the server itself stops the
body at its announced length, so `receive` is only wrapped for bodies without one.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

KiB = 1024
TWILIO_PATHS = frozenset({"/whatsapp/webhook", "/webhook", "/whatsapp/status"})
GRAPHQL_PATH = "/graphql"
UPLOAD_PATH = "/api/media"
MESSAGE_TOO_BIG = 1009  # RFC 6455


class _BodyTooLarge(Exception):
    """Raised from `receive` into the app when a body without a length passes its limit."""


def _graphql_error(message: str, code: str, **extensions: Any) -> bytes:
    return json.dumps({"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}).encode()


def _refusal(path: str, limit: int) -> bytes:
    message = f"the request body is larger than {limit:,} bytes"
    if path == GRAPHQL_PATH:
        return _graphql_error(message, "PAYLOAD_TOO_LARGE", limit=limit)
    return json.dumps({"error": message}).encode()


async def _answer(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed one before we see it
    return None


class Limits:
    """The middleware (limits in bytes; see the module's docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        body: int = 256 * KiB,
        webhook_body: int = 64 * KiB,
        ws_message: int = 256 * KiB,
        graphql_response: int = 4096 * KiB,
        upload_body: int = 16 * 1024 * KiB,
    ) -> None:
        self.app = app
        self.body = body
        self.webhook_body = webhook_body
        self.ws_message = ws_message
        self.graphql_response = graphql_response
        self.upload_body = upload_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        limit = (
            self.webhook_body
            if path in TWILIO_PATHS
            else self.upload_body
            if path == UPLOAD_PATH
            else self.body
        )
        length = _content_length(scope)
        if length is not None and length > limit:
            await _answer(send, 413, _refusal(path, limit))
            return
        if path == GRAPHQL_PATH:
            send = self._capped(send)
        if length is not None:
            await self.app(scope, receive, send)
            return

        received = 0
        refused = False
        started = False

        async def counted() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    raise _BodyTooLarge
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the answer is the 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(_BodyTooLarge):
            await self.app(scope, counted, guarded)
        if refused and not started:
            await _answer(send, 413, _refusal(path, limit))

    def _capped(self, send: Send) -> Send:
        """`send` for a GraphQL response: one longer than the limit (by its Content-Length) is
        replaced by an error. Streamed responses (no length: subscriptions over HTTP) pass."""
        limit = self.graphql_response
        replaced = False

        async def capped(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return
            if message["type"] == "http.response.start":
                length = next((int(v) for k, v in message.get("headers", ()) if k == b"content-length"), None)
                if length is not None and length > limit:
                    replaced = True
                    await _answer(
                        send,
                        200,
                        json.dumps(
                            {
                                "data": None,
                                "errors": [
                                    {
                                        "message": f"the response would be {length:,} bytes; at most {limit:,} are sent: "
                                        "ask for smaller pages (first/last) or fewer fields",
                                        "extensions": {
                                            "code": "RESPONSE_TOO_LARGE",
                                            "size": length,
                                            "limit": limit,
                                        },
                                    }
                                ],
                            }
                        ).encode(),
                    )
                    return
            await send(message)

        return capped

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.ws_message
        closed: Message | None = None

        async def checked() -> Message:
            nonlocal closed
            if closed is not None:
                return closed
            message = await receive()
            if message["type"] == "websocket.receive":
                text = message.get("text")
                data = message.get("bytes")
                if text is not None:
                    # Characters are 1 to 4 bytes: encode only when the count alone can't tell.
                    size = len(text)
                    if size <= limit < size * 4:
                        size = len(text.encode("utf-8", "surrogatepass"))
                else:
                    size = len(data or b"")
                if size > limit:
                    closed = {"type": "websocket.disconnect", "code": MESSAGE_TOO_BIG}
                    await send(
                        {
                            "type": "websocket.close",
                            "code": MESSAGE_TOO_BIG,
                            "reason": f"message too big (over {limit} bytes)",
                        }
                    )
                    return closed
            return message

        async def guarded(message: Message) -> None:
            if closed is None:
                await send(message)

        await self.app(scope, checked, guarded)

"""The GraphQL endpoint: HTTP (POST, and GET for queries) and WebSocket (graphql-transport-ws and the
legacy graphql-ws), authenticated with the same tokens and tenant rules as every other edge."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from cross_web import HTTPException  # what strawberry turns into an HTTP error response
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from app.context import app_context
from app.graphql.compiled import RECORDING
from app.graphql.context import Context
from app.graphql.prepared import Recording
from app.graphql.shared import SINK, Outbox, SharedData, Sink, frame_head, splice
from app.rest.common import bearer
from app.settings import Settings


class _Outboxes:
    """Our WebSocket handlers: each connection gets an outbox for fast-path frames, and each
    operation's task knows where its frames go (`SINK`)."""

    websocket: Any
    _outbox: Outbox | None = None

    @property
    def outbox(self) -> Outbox:
        if self._outbox is None:
            self._outbox = Outbox(self.websocket.ws.send_text)
        return self._outbox

    async def handle(self) -> None:
        try:
            await super().handle()  # type: ignore[misc]  # the protocol handler's, next in the MRO
        finally:
            if self._outbox is not None:
                await self._outbox.close()


class TransportWSHandler(_Outboxes, BaseGraphQLTransportWSHandler):
    async def run_operation(self, operation: Any) -> None:
        SINK.set(Sink(self.outbox, operation.id, "next"))
        await super().run_operation(operation)


class LegacyWSHandler(_Outboxes, BaseGraphQLWSHandler):
    async def handle_async_results(self, operation_id: str, *args: Any) -> None:
        SINK.set(Sink(self.outbox, operation_id, "data"))
        await super().handle_async_results(operation_id, *args)


def _holds_shared(value: object, depth: int) -> bool:
    """Whether a response (a dict, a batch of them, or a frame) holds `SharedData` within `depth`."""
    if isinstance(value, SharedData):
        return True
    if depth and type(value) is dict:
        return any(_holds_shared(v, depth - 1) for v in value.values())
    if depth and type(value) is list:
        return any(_holds_shared(v, depth - 1) for v in value)
    return False


class GraphQLApp(GraphQL):
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    def __init__(self, settings: Settings) -> None:
        from app.graphql.schema import build_schema

        production = settings.env == "production"
        super().__init__(
            build_schema(production=production),
            graphql_ide=None if production else "graphiql",
            allow_queries_via_get=True,
            keep_alive=True,  # graphql-ws "ka" frames; graphql-transport-ws clients ping on their own
            keep_alive_interval=15,
            connection_init_wait_timeout=timedelta(seconds=10),
            max_subscriptions_per_connection=50,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A POST of a query this process has answered before may be answered from its plan
        (app.graphql.prepared); everything else, and anything the plan can't answer, the ordinary way."""
        if scope["type"] != "http" or scope["method"] != "POST":
            return await super().__call__(scope, receive, send)
        request = Request(scope, receive)  # the body it reads is kept for the ordinary path
        ctx = app_context(request)
        plans = ctx.plans
        if plans is None:
            return await self._answer(request, scope, receive, send)
        response, key = await plans.answer(request, ctx)
        if response is not None:
            return await response(scope, receive, send)
        if key is None:
            return await self._answer(request, scope, receive, send)
        recording = Recording()
        token = RECORDING.set(recording)
        try:
            await self._answer(request, scope, receive, send)
        finally:
            RECORDING.reset(token)
        plans.learn(key, recording)

    async def _answer(self, request: Request, scope: Scope, receive: Receive, send: Send) -> None:
        """strawberry's `__call__` for an HTTP request whose body may have been read already."""
        try:
            response = await self.run(request)
        except HTTPException as e:
            response = PlainTextResponse(e.reason, status_code=e.status_code)
        await response(scope, receive, send)

    async def process_result(self, request: Any, result: Any) -> Any:  # type: ignore[override]
        recording = RECORDING.get()
        if recording is not None:
            recording.result = result
        return await super().process_result(request, result)

    def encode_json(self, data: object) -> str | bytes:
        """A result whose data is JSON text already (`SharedData`: a subscription event encoded once
        for every socket, or a compiled query) is written around that text; everything else is
        encoded as usual."""
        if type(data) is dict and data.get("type") in ("next", "data"):
            payload = data.get("payload")
            if type(payload) is dict and len(payload) == 1 and isinstance(shared := payload.get("data"), SharedData):
                return f"{frame_head(data['id'], data['type'])}{shared.encoded}}}}}"
        if _holds_shared(data, 3):
            return splice(data, 3)
        return super().encode_json(data)

    def decode_json(self, data: str | bytes) -> object:
        """JSON that `json` can't read is invalid JSON, on HTTP (a 400) and on sockets (closed with
        4400), whatever the reason: bytes it takes for UTF-16 or UTF-32 and can't decode, or nesting
        deeper than it recurses."""
        try:
            return super().decode_json(data)
        except UnicodeDecodeError as exc:
            raise json.JSONDecodeError("not UTF-8 text", "", exc.start) from None
        except RecursionError:
            raise json.JSONDecodeError("nested too deeply", "", 0) from None

    def parse_json(self, data: str | bytes) -> Any:
        """A body that is JSON but not an object (`0`, `"x"`) is a client error, not a crash."""
        parsed = super().parse_json(data)
        if not isinstance(parsed, dict | list):
            raise HTTPException(400, "the request body must be a JSON object")
        return parsed

    async def get_context(self, request: HTTPConnection, response: Any = None) -> Context:  # type: ignore[override]
        return Context(
            app=app_context(request),
            connection=request,
            token=bearer(request),  # type: ignore[arg-type]
            tenant_ref=request.headers.get("x-restaurant-id"),
            request=request,
            response=response,
        )

    async def on_ws_connect(self, context: Context) -> Any:  # type: ignore[override]
        """Browsers can't set socket headers: credentials come in connection_init's payload
        `{"authorization": "Bearer ...", "restaurantId": "..."}`. Bad ones close the socket (4403)."""
        params = context.connection_params or {}
        lowered = {str(k).lower(): v for k, v in params.items()}
        authorization = lowered.get("authorization") or lowered.get("token")
        if isinstance(authorization, str) and authorization:
            scheme, _, value = authorization.partition(" ")
            context.token = value.strip() if scheme.lower() == "bearer" and value.strip() else authorization.strip()
        tenant = lowered.get("restaurantid") or lowered.get("x-restaurant-id")
        if isinstance(tenant, str) and tenant:
            context.tenant_ref = tenant
        try:
            await context.authenticate()
        except Exception as exc:
            raise ConnectionRejectionError() from exc
        finally:
            await context.close()
        return None

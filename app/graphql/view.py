"""The GraphQL endpoint: HTTP (POST, and GET for queries) and WebSocket (graphql-transport-ws and the
legacy graphql-ws), authenticated with the same tokens and tenant rules as every other edge."""

from __future__ import annotations

import asyncio
import json
from contextlib import suppress
from datetime import timedelta
from functools import partial
from typing import Any

from cross_web import HTTPException  # what strawberry turns into an HTTP error response
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from app.context import app_context
from app.errors import SufrahError
from app.graphql.compiled import RECORDING
from app.graphql.context import Context
from app.graphql.prepared import Recording
from app.graphql.shared import SINK, Outbox, SharedData, Sink, frame_head, splice
from app.rest.common import bearer
from app.services import tokens
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
            forget_socket(self.context)  # type: ignore[attr-defined]
            if self._outbox is not None:
                await self._outbox.close()


class _OwnContexts:
    """The schema as a socket's handler sees it: every operation started on the socket (query,
    mutation or subscription) runs with a context of its own (`Context.operation`), not the
    connection's that strawberry hands to each. Shared, it was one session for all of them: a query
    finishing closed it under a mutation sent right after, rolled back after its answer."""

    def __init__(self, schema: Any) -> None:
        self._schema = schema

    def __getattr__(self, name: str) -> Any:
        return getattr(self._schema, name)

    async def stream(self, query: str | None, **kwargs: Any) -> Any:
        kwargs["context_value"] = kwargs["context_value"].operation()
        return await self._schema.stream(query, **kwargs)

    async def subscribe(self, query: str | None = None, **kwargs: Any) -> Any:
        """The legacy protocol's `start`: a query or a mutation too, as subscriptions-transport-ws
        (Apollo's) carries them, not only a subscription."""
        return await self.stream(query, **kwargs)


class SocketsPerToken:
    """How many GraphQL sockets each token holds open in this process (keyed by the token's hash),
    so one token can't hold an unbounded number of sockets, and their operations, open."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[str, int] = {}

    def take(self, token: str | None) -> str | None:
        """Count a socket for `token`; its key (for `give_back`), or None when it holds `limit`."""
        key = tokens.hash_token(token or "")
        held = self._open.get(key, 0)
        if held >= self.limit:
            return None
        self._open[key] = held + 1
        return key

    def give_back(self, key: str) -> None:
        held = self._open.pop(key) - 1
        if held:
            self._open[key] = held


class _SocketRules:
    """Our rules for both protocols: each operation gets its own context (`_OwnContexts`), and a
    token holds at most SocketsPerToken.limit sockets (one more is closed 4429 once acknowledged:
    its credentials are known only then). Operations per socket are capped by strawberry
    (`max_subscriptions_per_connection`: "Subscription limit reached")."""

    view: GraphQLApp
    context: Context
    schema: Any
    websocket: Any
    connection_acknowledged: bool
    _counted: str | None = None  # the token key this socket is counted under

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.schema = _OwnContexts(self.schema)

    async def handle(self) -> None:
        try:
            await super().handle()  # type: ignore[misc]
        finally:
            if self._counted is not None:
                self.view.sockets_per_token.give_back(self._counted)

    async def handle_connection_init(self, message: Any) -> None:
        await super().handle_connection_init(message)  # type: ignore[misc]
        if self.connection_acknowledged and self._counted is None:
            self._counted = self.view.sockets_per_token.take(self.context.token)
            if self._counted is None:
                await self.websocket.close(code=4429, reason="Too many open sockets for this token")


class TransportWSHandler(_SocketRules, _Outboxes, BaseGraphQLTransportWSHandler):
    async def run_operation(self, operation: Any) -> None:
        SINK.set(Sink(self.outbox, operation.id, "next"))
        await super().run_operation(operation)

    async def handle_task_exception(self, error: Exception) -> None:
        """A client that went away while its operation was answering is not an error of ours."""
        if not isinstance(error, WebSocketDisconnected):
            await super().handle_task_exception(error)


class LegacyWSHandler(_SocketRules, _Outboxes, BaseGraphQLWSHandler):
    """graphql-ws (subscriptions-transport-ws), held to graphql-transport-ws's rules: a socket that
    hasn't sent `connection_init` within the view's `connection_init_wait_timeout` is closed 4408,
    and a second `connection_init` closes it 4429 (each used to start one more keep-alive task)."""

    connection_init_received = False

    async def handle(self) -> None:
        deadline = asyncio.create_task(self._close_unless_initialised())
        try:
            await super().handle()
        finally:
            deadline.cancel()

    async def _close_unless_initialised(self) -> None:
        await asyncio.sleep(self.view.connection_init_wait_timeout.total_seconds())
        if not self.connection_init_received:
            with suppress(Exception):  # the client left meanwhile: nothing to close
                await self.websocket.close(code=4408, reason="Connection initialisation timeout")

    async def handle_connection_init(self, message: Any) -> None:
        if self.connection_init_received:
            await self.websocket.close(code=4429, reason="Too many initialisation requests")
            return
        self.connection_init_received = True
        await super().handle_connection_init(message)

    async def handle_async_results(self, operation_id: str, *args: Any) -> None:
        SINK.set(Sink(self.outbox, operation_id, "data"))
        with suppress(WebSocketDisconnected):  # the client left while the operation answered: it's over
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
            build_schema(
                production=production,
                max_query_bytes=settings.graphql_max_query_bytes,
                max_cost=settings.graphql_max_cost,
            ),
            graphql_ide=None if production else "graphiql",
            allow_queries_via_get=True,
            keep_alive=True,  # graphql-ws "ka" frames; graphql-transport-ws clients ping on their own
            keep_alive_interval=15,
            connection_init_wait_timeout=timedelta(seconds=settings.graphql_ws_init_timeout_seconds),
            max_subscriptions_per_connection=settings.graphql_ws_max_operations,  # queries and mutations too
        )
        self.sockets_per_token = SocketsPerToken(settings.graphql_ws_max_sockets_per_token)

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
            if (
                type(payload) is dict
                and len(payload) == 1
                and isinstance(shared := payload.get("data"), SharedData)
            ):
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
            context.token = (
                value.strip() if scheme.lower() == "bearer" and value.strip() else authorization.strip()
            )
        tenant = lowered.get("restaurantid") or lowered.get("x-restaurant-id")
        if isinstance(tenant, str) and tenant:
            context.tenant_ref = tenant
        sockets = context.app.auth.sockets
        generation = sockets.generation  # before the credentials are read (see SocketRegistry.add)
        try:
            authenticated = await context.authenticate()
        except Exception as exc:
            raise ConnectionRejectionError() from exc
        finally:
            await context.close()
        # Closed (4403) as soon as the credentials stop holding: token revoked or re-scoped,
        # restaurant or bot deleted (app/auth/sockets.py).
        sockets.add(
            context.connection,
            authenticated,
            close=partial(_refuse, context.connection),
            generation=generation,
        )
        return None


async def _refuse(connection: HTTPConnection, reason: SufrahError) -> None:
    """Close a socket whose credentials no longer hold; its handler then ends its operations."""
    assert isinstance(connection, WebSocket)
    await connection.close(code=4403, reason=f"Forbidden: {reason.message}"[:120])


def forget_socket(context: Context) -> None:
    """The socket of `context` is closing: stop re-checking its credentials."""
    context.app.auth.sockets.discard(context.connection)

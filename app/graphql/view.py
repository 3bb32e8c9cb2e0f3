"""The GraphQL endpoint: HTTP (POST, and GET for queries) and WebSocket (graphql-transport-ws and the
legacy graphql-ws), authenticated with the same tokens and tenant rules as every other edge.

The fast path (app.graphql.fast) is installed here, on this view's schema, when GRAPHQL_COMPILE is on:
its plans answer known queries before strawberry sees them, its socket handlers write subscription
frames straight from the hub, and its encoder writes responses around JSON text already made. Off,
none of it is imported.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import suppress
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar, cast

from cross_web import HTTPException  # what strawberry turns into an HTTP error response
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from starlette.websockets import WebSocketDisconnected as SocketAlreadyClosed
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.async_base_view import AsyncBaseHTTPView
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from app.auth import credentials
from app.context import app_context
from app.errors import SufrahError
from app.graphql.context import OperationContext
from app.graphql.schema import build_schema
from app.services import tokens
from app.settings import Settings

if TYPE_CHECKING:
    from app.graphql.fast import Installed


class _OwnContexts:
    """The schema as a socket's handler sees it: every operation started on the socket (query,
    mutation or subscription) runs with a context of its own (`OperationContext.operation`), not the
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

    view: AsyncBaseHTTPView[Any, Any, Any, Any, Any, OperationContext, None]
    context: OperationContext
    schema: Any
    websocket: Any
    connection_acknowledged: bool
    _counted: str | None = None  # the token key this socket is counted under

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.schema = _OwnContexts(self.schema)

    @property
    def _sockets_per_token(self) -> SocketsPerToken:
        assert isinstance(self.view, GraphQLApp)  # the view that made this handler
        return self.view.sockets_per_token

    async def handle(self) -> None:
        try:
            await super().handle()  # type: ignore[misc]  # a mixin: the handler follows it in the MRO
        finally:
            forget_socket(self.context)
            if self._counted is not None:
                self._sockets_per_token.give_back(self._counted)

    async def send_message(self, message: Any) -> None:
        """A socket already closed (the client left, or we closed it: a revoked token) takes no more
        frames, silently. Raised, the error left the operation's stream abandoned mid-iteration, so
        its session (and the transaction the caller check had opened, with its locks) stayed open
        until the garbage collector found it; swallowed, the stream runs to its end and
        `CloseSession` closes the session at once."""
        with suppress(WebSocketDisconnected, SocketAlreadyClosed):
            await super().send_message(message)  # type: ignore[misc]  # a mixin, as above

    async def handle_connection_init(self, message: Any) -> None:
        await super().handle_connection_init(message)  # type: ignore[misc]  # a mixin, as above
        if self.connection_acknowledged and self._counted is None:
            self._counted = self._sockets_per_token.take(self.context.token)
            if self._counted is None:
                await self.websocket.close(code=4429, reason="Too many open sockets for this token")


class TransportWSHandler(_SocketRules, BaseGraphQLTransportWSHandler[OperationContext, None]):
    async def handle_task_exception(self, error: Exception) -> None:
        """A client that went away while its operation was answering is not an error of ours."""
        if not isinstance(error, WebSocketDisconnected):
            await super().handle_task_exception(error)


class LegacyWSHandler(_SocketRules, BaseGraphQLWSHandler[OperationContext, None]):
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
        with suppress(WebSocketDisconnected):  # the client left while the operation answered: it's over
            await super().handle_async_results(operation_id, *args)


class GraphQLApp(GraphQL[OperationContext, None]):
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    def __init__(self, settings: Settings) -> None:
        production = settings.env == "production"
        schema = build_schema(
            production=production,
            max_query_bytes=settings.graphql_max_query_bytes,
            max_cost=settings.graphql_max_cost,
        )
        super().__init__(
            schema,
            graphql_ide=None if production else "graphiql",
            allow_queries_via_get=True,
            keep_alive=True,  # graphql-ws "ka" frames; graphql-transport-ws clients ping on their own
            keep_alive_interval=15,
            connection_init_wait_timeout=timedelta(seconds=settings.graphql_ws_init_timeout_seconds),
            max_subscriptions_per_connection=settings.graphql_ws_max_operations,  # queries and mutations too
        )
        self.sockets_per_token = SocketsPerToken(settings.graphql_ws_max_sockets_per_token)
        self.fast: Installed | None = None
        if settings.graphql_compile:
            from app.graphql import fast

            self.fast = fast.install(schema)
            self.graphql_transport_ws_handler_class = _with(self.fast.transport_frames, TransportWSHandler)
            self.graphql_ws_handler_class = _with(self.fast.legacy_frames, LegacyWSHandler)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A POST of a query this process has answered before may be answered from its plan
        (app.graphql.fast.plans); everything else, and anything the plan can't answer, the ordinary way."""
        if scope["type"] != "http" or scope["method"] != "POST" or self.fast is None:
            return await super().__call__(scope, receive, send)
        request = Request(scope, receive)  # the body it reads is kept for the ordinary path
        response, key = await self.fast.plans.answer(request, app_context(request))
        if response is not None:
            return await response(scope, receive, send)
        request.state.plan_key = key  # learned from the ordinary answer (process_result)
        try:
            response = await self.run(request)
        except HTTPException as e:
            response = PlainTextResponse(e.reason, status_code=e.status_code)
        await response(scope, receive, send)

    async def process_result(self, request: Any, result: Any) -> Any:
        key = getattr(request.state, "plan_key", None) if isinstance(request, Request) else None
        if key is not None and self.fast is not None:
            self.fast.plans.learn(key, result)
        return await super().process_result(request, result)

    def encode_json(self, data: object) -> str | bytes:
        """What holds JSON text already (the fast path's) is written around it; the rest as usual."""
        if self.fast is not None:
            encoded = self.fast.encode(data)
            if encoded is not None:
                return encoded
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

    async def get_context(self, request: HTTPConnection, response: Any = None) -> OperationContext:
        caller = credentials.from_headers(request.headers)
        return OperationContext(
            app=app_context(request),
            connection=request,
            token=caller.token,
            tenant_ref=caller.tenant_ref,
            request=request,
            response=response,
        )

    async def on_ws_connect(self, context: OperationContext) -> Any:
        """Browsers can't set socket headers: credentials come in connection_init's payload
        `{"authorization": "Bearer ...", "restaurantId": "..."}`. Bad ones close the socket (4403)."""
        given = credentials.Credentials(context.token, context.tenant_ref)
        caller = credentials.from_params(context.connection_params or {}).otherwise(given)
        context.token, context.tenant_ref = caller.token, caller.tenant_ref
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


def forget_socket(context: OperationContext) -> None:
    """The socket of `context` is closing: stop re-checking its credentials."""
    context.app.auth.sockets.discard(context.connection)


H = TypeVar("H", bound=_SocketRules)


def _with(frames: type, handler: type[H]) -> type[H]:
    """`handler` with the fast path's frames mixed in before it."""
    return cast("type[H]", type(f"Fast{handler.__name__}", (frames, handler), {}))

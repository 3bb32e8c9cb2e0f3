"""A GraphQL socket client's mistakes are the client's business: a clear answer, nothing in the
server's error log.

Two cases logged an ERROR with a traceback for something only the client did: an operation name
the document doesn't hold (over HTTP a clean 400), and a client that went away while its operation
was answering (the reply can't be sent: the operation is simply over).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
import websockets
from starlette.websockets import WebSocketDisconnected as SocketAlreadyClosed
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import Operation

from app.graphql.context import OperationContext as Context
from app.graphql.view import GraphQLApp, LegacyWSHandler, TransportWSHandler
from tests.gql import Socket
from tests.support import Factory

NAMED = "query Menu { menu { branches { nameEn } } }"


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def test_an_unknown_operation_name_is_the_clients_error_on_both_subprotocols(
    live_url, factory: Factory, caplog
):
    bot = await factory.bot()
    token = await factory.token(bot.restaurant.id)
    payload = {"query": NAMED, "operationName": "Nope", "variables": {}}
    with caplog.at_level(logging.INFO):
        async with Socket(live_url, protocol="graphql-ws") as ws:
            await ws.init(token)
            await ws.send({"id": "1", "type": "start", "payload": payload})
            answer = await ws.receive()
            assert answer["type"] == "error" and answer["id"] == "1", answer
            assert answer["payload"]["message"] == 'Unknown operation named "Nope".'
        async with Socket(live_url) as ws:  # graphql-transport-ws: the protocol closes the socket 4400
            await ws.init(token)
            await ws.send({"id": "1", "type": "subscribe", "payload": payload})
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.receive()
            assert closed.value.rcvd is not None
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
                4400,
                'Unknown operation named "Nope".',
            )
    assert errors_logged(caplog) == []


class GoneSocket:
    """A socket whose client has gone: every send fails as strawberry's adapters fail it."""

    def __init__(self) -> None:
        self.ws = self  # what the fast path's outbox writes to

    async def send_json(self, message: Any) -> None:
        raise WebSocketDisconnected

    async def send_text(self, text: str) -> None:
        raise WebSocketDisconnected

    async def close(self, code: int, reason: str) -> None:
        pass


@pytest.fixture
async def caller(app_and_db, factory: Factory, settings) -> tuple[GraphQLApp, Context]:
    bot = await factory.bot()
    token = await factory.token(bot.restaurant.id)
    view = GraphQLApp(settings)
    context = Context(app=app_and_db[2], connection=None, token=token, tenant_ref=None)  # type: ignore[arg-type]
    return view, context


async def test_a_legacy_operation_whose_client_left_ends_quietly(caller, caplog):
    view, context = caller
    handler = LegacyWSHandler(
        view,
        GoneSocket(),
        context,
        None,
        view.schema,
        keep_alive=False,  # type: ignore[arg-type]
        keep_alive_interval=None,
    )
    with caplog.at_level(logging.INFO):
        await handler.handle_async_results("1", NAMED, None, None)  # answered, then the send fails
    assert handler.tasks == {} and handler.subscriptions == {}
    assert errors_logged(caplog) == []


async def test_a_transport_operation_whose_client_left_is_not_logged_as_a_failure(caller, caplog):
    view, context = caller
    handler = TransportWSHandler(
        view,
        GoneSocket(),
        context,
        None,
        view.schema,  # type: ignore[arg-type]
        view.connection_init_wait_timeout,
    )
    operation = Operation(handler, "1", NAMED, None, None)
    handler.operations["1"] = operation
    with caplog.at_level(logging.INFO):
        await handler.run_operation(operation)  # answered, then the send fails: the operation is over
    assert errors_logged(caplog) == []


class ClosedSocket(GoneSocket):
    """A socket the server itself closed (e.g. its token was revoked): Starlette refuses the send."""

    async def send_json(self, message: Any) -> None:
        raise SocketAlreadyClosed('Cannot call "send" once a close message has been sent.')

    async def send_text(self, text: str) -> None:
        await self.send_json(text)


@pytest.mark.parametrize("socket", [GoneSocket, ClosedSocket])
async def test_an_operation_whose_socket_is_gone_gives_its_database_connection_back_at_once(
    caller, app_and_db, socket
):
    """The answer can't be sent: the operation's session must close then, not whenever the garbage
    collector finalizes its abandoned stream (its open transaction held locks meanwhile; a TRUNCATE
    at a test's teardown waited 15 s on it and was cancelled)."""
    view, context = caller
    pool = app_and_db[1].engine.pool
    before = pool.checkedout()
    handler = LegacyWSHandler(
        view,
        socket(),
        context,
        None,
        view.schema,
        keep_alive=False,  # type: ignore[arg-type]
        keep_alive_interval=None,
    )
    await handler.handle_async_results("1", NAMED, None, None)
    assert pool.checkedout() <= before  # (the app's own background reads come and go meanwhile)

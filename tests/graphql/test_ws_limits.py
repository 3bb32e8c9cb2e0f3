"""What one client can hold open over GraphQL WebSockets is bounded, on both subprotocols.

A legacy graphql-ws socket used to stay open forever without `connection_init`, and each repeated
init started one more keep-alive task; one token could open any number of sockets. These tests run
a server of their own with small limits (GRAPHQL_WS_* settings).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import websockets

from app.main import create_app
from tests.gql import Socket
from tests.servers import served
from tests.support import Factory, lifespan

PROTOCOLS = ["graphql-transport-ws", "graphql-ws"]
LIMITS = {
    "graphql_ws_init_timeout_seconds": 0.5,
    "graphql_ws_max_sockets_per_token": 3,
    "graphql_ws_max_operations": 3,
}
MESSAGES = "subscription { messageCreated { content } }"


@pytest.fixture(scope="module")
async def strict_url(settings, app_and_db) -> AsyncIterator[str]:
    """A second server on the test database, with LIMITS."""
    app = create_app(settings.model_copy(update=LIMITS))
    async with lifespan(app) as manager, served(manager.app) as url:
        yield url


@pytest.fixture
async def shop(factory: Factory):
    bot = await factory.bot()
    return bot, await factory.token(bot.restaurant.id)


async def closed_with(ws: Socket, timeout: float = 5.0) -> tuple[int, str]:
    """The close code and reason the server ends the socket with (failing if it doesn't)."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await ws.receive(timeout)
    assert closed.value.rcvd is not None, "closed without a close frame"
    return closed.value.rcvd.code, closed.value.rcvd.reason


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_socket_that_never_initialises_is_closed(strict_url, protocol):
    async with Socket(strict_url, protocol=protocol) as ws:
        assert await closed_with(ws) == (4408, "Connection initialisation timeout")


async def test_a_legacy_socket_is_initialised_once(strict_url, shop):
    bot, token = shop
    async with Socket(strict_url, protocol="graphql-ws") as ws:
        assert (await ws.init(token, bot.restaurant.id))["type"] == "connection_ack"
        await ws.send({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        assert await closed_with(ws) == (4429, "Too many initialisation requests")


async def test_an_initialised_legacy_socket_stays_open(strict_url, shop):
    bot, token = shop
    async with Socket(strict_url, protocol="graphql-ws") as ws:
        assert (await ws.init(token, bot.restaurant.id))["type"] == "connection_ack"
        await asyncio.sleep(1.0)  # twice the init timeout
        assert await answers(ws)


async def answers(ws: Socket) -> bool:
    """Whether the server answers a query on this acknowledged socket (False: it closed it, 4429)."""
    try:
        op_id = await ws.subscribe("{ eventCursor }")
        message = await ws.receive()
    except websockets.ConnectionClosed as closed:
        assert closed.rcvd is not None
        assert (closed.rcvd.code, closed.rcvd.reason) == (4429, "Too many open sockets for this token")
        return False
    assert message["id"] == op_id and message["type"] in ("next", "data"), message
    assert await ws.receive() == {"id": op_id, "type": "complete"}
    return True


async def opens(url: str, protocol: str, token: str, restaurant: str) -> bool:
    async with Socket(url, protocol=protocol) as ws:
        assert (await ws.init(token, restaurant))["type"] == "connection_ack"
        return await answers(ws)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_token_holds_a_bounded_number_of_sockets(strict_url, shop, factory, protocol):
    bot, token = shop
    restaurant = bot.restaurant.id
    async with contextlib.AsyncExitStack() as stack:
        held = [await stack.enter_async_context(Socket(strict_url, protocol=protocol)) for _ in range(3)]
        for ws in held:
            assert (await ws.init(token, restaurant))["type"] == "connection_ack"
            assert await answers(ws)
        assert not await opens(strict_url, protocol, token, restaurant)
        # another token is counted on its own
        assert await opens(strict_url, protocol, await factory.token(restaurant), restaurant)
        # a socket closed gives its place back (once the server has seen it go)
        await held.pop().ws.close()
        for _ in range(100):
            if await opens(strict_url, protocol, token, restaurant):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("a closed socket's place was never given back")
        for ws in held:  # the ones held all along still work
            assert await answers(ws)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_operations_per_socket_are_bounded(strict_url, shop, protocol):
    bot, token = shop
    async with Socket(strict_url, protocol=protocol) as ws:
        assert (await ws.init(token, bot.restaurant.id))["type"] == "connection_ack"
        for _ in range(3):
            await ws.subscribe(MESSAGES)
        refused = await ws.subscribe(MESSAGES)
        message = await ws.receive()
        assert (message["id"], message["type"]) == (refused, "error")
        assert "Subscription limit reached" in str(message["payload"])

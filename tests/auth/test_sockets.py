"""Open sockets lose their access with their credentials: a revoked token, a deleted restaurant, a
token re-scoped away from the restaurant, a deleted bot whose id opened the socket. Each closes the
GraphQL socket (4403) and the legacy /ws (4401 / 4403 / 4404) within seconds of the commit, and
a mutation sent after the change is not run."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import websockets
from sqlalchemy import select, text

from app.channels.twilio.inbound import parse_inbound
from app.models import Message
from app.services import inbound
from tests.gql import Socket, gql
from tests.servers import ServerProcess
from tests.support import Factory, auth, inbound_params, revoke

EVENTS = "subscription($after: String) { events(after: $after) { node { __typename } } }"
SEND = "mutation($c: ID!, $b: String!) { sendMessage(conversationId: $c, body: $b) { __typename } }"
CLOSE_WITHIN = 10.0  # seconds: generous; a notification arrives in milliseconds


async def cursor_now(client: httpx.AsyncClient, token: str, restaurant: str) -> str:
    answer = await gql(client, "{ eventCursor }", token=token, restaurant=restaurant)
    return answer["data"]["eventCursor"]  # type: ignore[no-any-return]


async def poke(client: httpx.AsyncClient, token: str, restaurant: str, enabled: bool) -> None:
    """A change every socket of the restaurant hears (restaurant.updated)."""
    response = await client.post(
        "/api/bot/toggle", json={"enabled": enabled}, headers=auth(token, restaurant)
    )
    assert response.status_code == 200, response.text


async def graphql_socket(
    stack: contextlib.AsyncExitStack,
    live_url: str,
    token: str,
    restaurant: str,
    after: str,
    protocol: str = "graphql-transport-ws",
) -> Socket:
    ws = await stack.enter_async_context(Socket(live_url, protocol=protocol))
    assert (await ws.init(token, restaurant))["type"] == "connection_ack"
    await ws.subscribe(EVENTS, {"after": after})
    return ws


async def legacy_socket(stack: contextlib.AsyncExitStack, live_url: str, **query: str) -> Any:
    return await stack.enter_async_context(websockets.connect(f"ws://{live_url}/ws?{urlencode(query)}"))


async def close_code(ws: Any, timeout: float = CLOSE_WITHIN) -> int:
    """Read until the server closes the socket; its close code (fails after `timeout` seconds)."""
    deadline = asyncio.get_running_loop().time() + timeout
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            await asyncio.wait_for(ws.recv(), max(remaining, 0.01))
    assert closed.value.rcvd is not None, "closed without a close frame"
    return closed.value.rcvd.code


async def legacy_frame(ws: Any) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), 5))  # type: ignore[no-any-return]


async def still_open(ws: Any) -> None:
    """The socket was not closed (what a socket left alone sees: nothing)."""
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(ws.recv(), 0.3)
    assert ws.close_code is None


@pytest.fixture
async def shop(factory: Factory):
    bot = await factory.bot()
    return bot, await factory.token(bot.restaurant.id)


async def conversation_of(db, bot) -> str:
    """A customer writes, so there is a conversation staff may answer."""
    message = parse_inbound(inbound_params(bot, body="hello"))
    await inbound.ingest_now(db, restaurant_id=bot.restaurant.id, bot_id=bot.bot.id, inbound=message)
    async with db.session() as s:
        row = (
            (await s.execute(select(Message).where(Message.restaurant_id == bot.restaurant.id)))
            .scalars()
            .first()
        )
        return row.conversation_id


async def staff_messages(db, restaurant_id: str, body: str) -> int:
    async with db.session() as s:
        rows = await s.execute(
            select(Message).where(Message.restaurant_id == restaurant_id, Message.content == body)
        )
        return len(rows.scalars().all())


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_a_revoked_token_closes_its_sockets_and_runs_nothing_more(
    client, db, app_and_db, live_url, shop, protocol
):
    bot, token = shop
    restaurant = bot.restaurant.id
    conversation = await conversation_of(db, bot)
    ctx = app_and_db[2]
    after = await cursor_now(client, token, restaurant)
    async with contextlib.AsyncExitStack() as stack:
        gws = await graphql_socket(stack, live_url, token, restaurant, after, protocol)
        lws = await legacy_socket(stack, live_url, token=token, after=after)
        await poke(client, token, restaurant, False)
        assert (await gws.next_data())["events"]["node"]["__typename"] == "Restaurant"  # both stream
        assert (await legacy_frame(lws))["type"] == "bot.status.updated"

        heard = ctx.auth.generation
        await revoke(db, token)  # the service, in a session of its own: what `sufrah token revoke` runs
        for _ in range(500):  # until this process has heard of it (milliseconds)
            if ctx.auth.generation != heard:
                break
            await asyncio.sleep(0.01)
        with contextlib.suppress(websockets.ConnectionClosed):
            kind = "subscribe" if protocol == "graphql-transport-ws" else "start"
            await gws.send(
                {
                    "id": "late",
                    "type": kind,
                    "payload": {"query": SEND, "variables": {"c": conversation, "b": "after revocation"}},
                }
            )

        assert await close_code(gws.ws) == 4403
        assert await close_code(lws) == 4401
    assert await staff_messages(db, restaurant, "after revocation") == 0
    assert (await client.get("/api/db/conversations", headers=auth(token))).status_code == 401


async def test_a_deleted_restaurant_closes_its_sockets(client, db, live_url, shop):
    bot, token = shop
    restaurant = bot.restaurant.id
    after = await cursor_now(client, token, restaurant)
    async with contextlib.AsyncExitStack() as stack:
        gws = await graphql_socket(stack, live_url, token, restaurant, after)
        lws = await legacy_socket(stack, live_url, token=token, after=after)
        await poke(client, token, restaurant, False)
        await gws.next_data()
        await legacy_frame(lws)

        async with db.session() as s:
            await s.execute(text("DELETE FROM restaurant WHERE id = :r"), {"r": restaurant})
            await s.commit()
        assert await close_code(gws.ws) == 4403
        assert await close_code(lws) == 4404


async def test_a_token_rescoped_away_from_a_restaurant_loses_its_sockets_there_only(
    client, db, live_url, factory: Factory
):
    lost, kept = await factory.restaurant("Lost"), await factory.restaurant("Kept")
    token = await factory.token(lost.id, kept.id)
    async with contextlib.AsyncExitStack() as stack:
        sockets = {}
        for shop in (lost, kept):
            after = await cursor_now(client, token, shop.id)
            sockets[shop.id] = (
                await graphql_socket(stack, live_url, token, shop.id, after),
                await legacy_socket(stack, live_url, token=token, restaurantId=shop.id, after=after),
            )
            await poke(client, token, shop.id, False)
            await sockets[shop.id][0].next_data()
            await legacy_frame(sockets[shop.id][1])

        async with db.session() as s:  # an operator narrows the token's scope
            await s.execute(text("UPDATE api_token SET restaurant_ids = ARRAY[:r]"), {"r": kept.id})
            await s.commit()
        gws, lws = sockets[lost.id]
        assert await close_code(gws.ws) == 4403
        assert await close_code(lws) == 4403

        gws, lws = sockets[kept.id]
        await poke(client, token, kept.id, True)  # the sockets of the restaurant it keeps go on
        assert (await gws.next_data())["events"]["node"]["__typename"] == "Restaurant"
        assert (await legacy_frame(lws))["data"]["botEnabled"] is True


async def test_a_deleted_bot_closes_the_sockets_opened_with_its_id(
    client, db, live_url, shop, factory: Factory
):
    bot, token = shop
    restaurant = bot.restaurant.id
    admin = await factory.token(admin=True)
    after = await cursor_now(client, token, restaurant)
    async with contextlib.AsyncExitStack() as stack:
        by_bot = (
            await graphql_socket(stack, live_url, token, bot.bot.id, after),
            await legacy_socket(stack, live_url, token=token, restaurantId=bot.bot.id, after=after),
        )
        by_restaurant = (
            await graphql_socket(stack, live_url, token, restaurant, after),
            await legacy_socket(stack, live_url, token=token, restaurantId=restaurant, after=after),
        )
        await poke(client, token, restaurant, False)
        for gws, lws in (by_bot, by_restaurant):
            await gws.next_data()
            await legacy_frame(lws)

        deleted = await client.delete(f"/api/admin/bots/{bot.bot.id}", headers=auth(admin))
        assert deleted.status_code == 200, deleted.text
        gws, lws = by_bot
        assert await close_code(gws.ws) == 4403
        assert await close_code(lws) == 4404
        for ws in (by_restaurant[0].ws, by_restaurant[1]):
            await still_open(ws)


@pytest.mark.parametrize("catch_up", ["listen-reconnected", "timer"])
async def test_a_change_whose_notification_was_lost_is_caught_up(
    client, db, app_and_db, live_url, shop, catch_up
):
    """A change whose notification never arrived (the LISTEN connection was down) is caught when the
    LISTEN connection comes back, and by the periodic re-check anyway."""
    bot, token = shop
    restaurant = bot.restaurant.id
    ctx = app_and_db[2]
    after = await cursor_now(client, token, restaurant)
    async with contextlib.AsyncExitStack() as stack:
        lws = await legacy_socket(stack, live_url, token=token, after=after)
        await poke(client, token, restaurant, False)
        await legacy_frame(lws)
        async with db.session() as s:  # the change, without its notification
            await s.execute(text("ALTER TABLE api_token DISABLE TRIGGER api_token_auth_changed"))
            try:
                await s.execute(text("UPDATE api_token SET revoked_at = now()"))
            finally:
                await s.execute(text("ALTER TABLE api_token ENABLE TRIGGER api_token_auth_changed"))
            await s.commit()
        await still_open(lws)
        if catch_up == "timer":
            assert await ctx.auth.sockets.recheck() >= 1  # what runs every SOCKET_RECHECK_SECONDS
        else:
            ctx.auth.listening(True)  # what the hub calls once its LISTEN connection is back
        assert await close_code(lws) == 4401


@pytest.mark.slow
async def test_revocation_closes_sockets_on_every_process(
    db, factory: Factory, database_url, settings, tmp_path
):
    bot = await factory.bot()
    token = await factory.token(bot.restaurant.id)
    env = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": settings.secret_key or "",
        "LOG_LEVEL": "WARNING",
        "DASHBOARD_PAT": "",
        "RUN_WORKERS": "false",
    }
    with ServerProcess(env=env, log_dir=tmp_path) as a, ServerProcess(env=env, log_dir=tmp_path) as b:
        async with httpx.AsyncClient(base_url=a.url) as http:
            after = await cursor_now(http, token, bot.restaurant.id)
        async with contextlib.AsyncExitStack() as stack:
            gws = await graphql_socket(stack, a.url.removeprefix("http://"), token, bot.restaurant.id, after)
            lws = await legacy_socket(stack, b.url.removeprefix("http://"), token=token, after=after)
            async with httpx.AsyncClient(base_url=a.url) as http:
                await poke(http, token, bot.restaurant.id, False)
            await gws.next_data()
            await legacy_frame(lws)
            await revoke(db, token)  # from a third process: this one
            assert await close_code(gws.ws) == 4403
            assert await close_code(lws) == 4401


async def test_the_recheck_loop_stops_at_once_even_when_a_change_arrives_as_it_is_stopped(db):
    """A change heard in the very instant the server stops (an auth NOTIFY during shutdown). On
    Python 3.11 a loop waiting with `asyncio.wait_for` swallowed that cancellation and went on
    waiting, so the server's shutdown hung until its lifespan timed out."""
    import asyncio
    import time

    from app.auth.sockets import SocketRegistry

    registry = SocketRegistry()
    registry.start(db, interval=60)
    await asyncio.sleep(0.5)  # its first check is done: it waits for a change
    registry.changed()
    started = time.monotonic()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(3):  # stop() runs now, in this instant (wait_for would defer it)
            await registry.stop()
    assert time.monotonic() - started < 1

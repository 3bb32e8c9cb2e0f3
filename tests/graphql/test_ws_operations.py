"""Operations over one GraphQL WebSocket: each has a session and a transaction of its own.

Apollo, urql and `gql` can send every operation over the socket, back to back, without waiting for
answers. Each must be stored or answered as if it came alone: a query finishing must not close the
session a mutation sent just after it is still writing with (it was rolled back after its answer).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import websockets

from tests.gql import Socket, gql
from tests.support import Factory, inbound_params, post_signed, revoke

PROTOCOLS = ["graphql-transport-ws", "graphql-ws"]
MENU = "{ menu { branches { nameEn } } }"
SAVE_BRANCH = """mutation($name: String!) { saveBranch(input: {nameAr: $name, nameEn: $name, latitude: 24.8,
  longitude: 46.6}) { __typename ... on Branch { id nameEn } } }"""
MESSAGES = "subscription { messageCreated { content conversation { id unreadCount } } }"


@pytest.fixture
async def shop(factory: Factory):
    bot = await factory.bot()
    return bot, await factory.token(bot.restaurant.id)


async def start(ws: Socket, op_id: str, query: str, variables: dict[str, Any] | None = None) -> None:
    kind = "subscribe" if ws.protocol == "graphql-transport-ws" else "start"
    await ws.send({"id": op_id, "type": kind, "payload": {"query": query, "variables": variables or {}}})


async def answers(
    ws: Socket, pending: set[str], events: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Each pending operation's payload, once all of them completed; frames of other operations (a
    subscription's) go to `events`."""
    payloads: dict[str, Any] = {}
    while pending:
        message = await ws.receive(timeout=10)
        op_id = message.get("id")
        if op_id not in pending:
            assert events is not None and message["type"] in ("next", "data"), message
            events.append(message["payload"])
        elif message["type"] in ("next", "data"):
            payloads[op_id] = message["payload"]
        elif message["type"] == "error":  # an operation refused before it started: no "complete" follows
            payloads[op_id] = {"errors": message["payload"]}
            pending.discard(op_id)
        elif message["type"] == "complete":
            pending.discard(op_id)
    return payloads


async def pipeline(
    ws: Socket, n: int, prefix: str, events: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """n queries and n mutations, each sent right after the other without waiting for answers."""
    for i in range(n):
        await start(ws, f"{prefix}q{i}", MENU)
        await start(ws, f"{prefix}m{i}", SAVE_BRANCH, {"name": f"{prefix}{i}"})
    return await answers(ws, {f"{prefix}{kind}{i}" for i in range(n) for kind in "qm"}, events)


async def stored_branches(client, token: str, restaurant: str) -> list[str]:
    result = await gql(client, MENU, token=token, restaurant=restaurant)
    return sorted(b["nameEn"] for b in result["data"]["menu"]["branches"])


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_pipelined_mutations_are_all_stored(client, live_url, shop, protocol):
    bot, token = shop
    n = 10
    async with Socket(live_url, protocol=protocol) as ws:
        assert (await ws.init(token, bot.restaurant.id))["type"] == "connection_ack"
        payloads = await pipeline(ws, n, "b")
    for i in range(n):
        assert "errors" not in payloads[f"bq{i}"], payloads[f"bq{i}"]
        saved = payloads[f"bm{i}"]
        assert saved["data"]["saveBranch"]["__typename"] == "Branch", saved
    assert await stored_branches(client, token, bot.restaurant.id) == sorted(f"b{i}" for i in range(n))


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_subscription_keeps_working_while_operations_come_and_go(client, live_url, shop, protocol):
    bot, token = shop
    async with Socket(live_url, protocol=protocol) as ws:
        assert (await ws.init(token, bot.restaurant.id))["type"] == "connection_ack"
        await start(ws, "live", MESSAGES)
        await asyncio.sleep(0.2)  # the subscription is registered before the first message exists
        events: list[dict[str, Any]] = []
        for round_ in range(3):
            # a customer writes while the dashboard's queries and mutations are in flight
            said = asyncio.create_task(
                post_signed(
                    client, "/whatsapp/webhook", inbound_params(bot, body=f"hello {round_}"), bot.auth_token
                )
            )
            await pipeline(ws, 5, f"r{round_}x", events)
            assert (await said).status_code == 200
            while len(events) <= round_:
                message = await ws.receive(timeout=10)
                assert message["id"] == "live" and message["type"] in ("next", "data"), message
                events.append(message["payload"])
        assert [e["data"]["messageCreated"]["content"] for e in events] == ["hello 0", "hello 1", "hello 2"]
        assert all("errors" not in e for e in events), events
        assert [e["data"]["messageCreated"]["conversation"]["unreadCount"] for e in events] == [1, 2, 3]
    assert len(await stored_branches(client, token, bot.restaurant.id)) == 15


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_each_operation_checks_the_caller_again(live_url, shop, db, protocol):
    """A token revoked while its socket is open: the operations started on the socket afterwards are
    refused (or the socket is closed, 4403), never answered for long."""
    bot, token = shop
    async with Socket(live_url, protocol=protocol) as ws:
        assert (await ws.init(token, bot.restaurant.id))["type"] == "connection_ack"
        await start(ws, "before", MENU)
        assert "errors" not in (await answers(ws, {"before"}))["before"]
        await revoke(db, token)
        deadline = asyncio.get_running_loop().time() + 5
        for attempt in range(1000):
            try:
                await start(ws, f"after{attempt}", MENU)
                answer = (await answers(ws, {f"after{attempt}"}))[f"after{attempt}"]
            except websockets.ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == 4403
                break
            if answer.get("errors"):
                assert [e["extensions"]["code"] for e in answer["errors"]] == ["UNAUTHENTICATED"], answer
                break
            assert asyncio.get_running_loop().time() < deadline, "a revoked token's socket still answers"
            await asyncio.sleep(0.02)

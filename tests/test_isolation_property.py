"""Tenant isolation as a property: whatever token, header, id or subscription a caller makes up,
no response and no live event ever carries another restaurant's data."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.gql import Socket
from tests.support import Factory, auth, inbound_params, post_signed


@pytest.fixture
async def world(client, factory: Factory):
    """Two restaurants, each with a bot, a conversation and a secret only it may see."""
    data = {}
    for name in ("alpha", "beta"):
        bot = await factory.bot(await factory.restaurant(f"R-{name}"))
        params = inbound_params(
            bot, body=f"secret-{name}-message", ProfileName=f"secret-{name}-name", customer="+966500000777"
        )
        assert (await post_signed(client, "/whatsapp/webhook", params, bot.auth_token)).status_code == 200
        token = await factory.token(bot.restaurant.id)
        conv = (await client.get("/api/db/conversations", headers=auth(token, bot.restaurant.id))).json()[0]
        data[name] = {
            "bot": bot,
            "token": token,
            "restaurant": bot.restaurant.id,
            "bot_id": bot.bot.id,
            "conversation": conv["id"],
        }
    data["admin"] = await factory.token(admin=True)
    return data


TOKENS = st.sampled_from(["alpha", "beta", "admin", "pat", "junk", "none", "empty"])
TENANTS = st.sampled_from(["alpha", "beta", "alpha-bot", "beta-bot", "junk", "none", "empty"])
TARGETS = st.sampled_from(["alpha", "beta", "junk"])
REQUESTS = st.sampled_from(
    [
        "rest-list",
        "rest-old-list",
        "rest-get",
        "rest-messages",
        "rest-stats",
        "rest-bots",
        "rest-send",
        "rest-toggle",
        "gql-list",
        "gql-get",
        "gql-messages",
        "gql-mark-read",
        "gql-send",
    ]
)


def resolve(world: dict, token: str, tenant: str, target: str) -> tuple[str | None, str | None, str]:
    tokens = {
        "alpha": world["alpha"]["token"],
        "beta": world["beta"]["token"],
        "admin": world["admin"],
        "pat": "test-dashboard-pat",
        "junk": "sfr_junk",
        "none": None,
        "empty": "",
    }
    tenants = {
        "alpha": world["alpha"]["restaurant"],
        "beta": world["beta"]["restaurant"],
        "alpha-bot": world["alpha"]["bot_id"],
        "beta-bot": world["beta"]["bot_id"],
        "junk": "rst_junk",
        "none": None,
        "empty": "",
    }
    targets = {
        "alpha": world["alpha"]["conversation"],
        "beta": world["beta"]["conversation"],
        "junk": "cnv_junk",
    }
    return tokens[token], tenants[tenant], targets[target]


def allowed(token: str, tenant: str) -> set[str]:
    """The restaurants whose secrets the caller may see with this header."""
    owner = tenant.removesuffix("-bot")
    if owner in ("none", "empty") and token in ("alpha", "beta"):
        return {token}  # a token scoped to one restaurant needs no header
    if owner not in ("alpha", "beta"):
        return set()
    if token in ("admin", "pat") or token == owner:
        return {owner}
    return set()


async def perform(client, kind: str, token: str | None, tenant: str | None, target: str):
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if tenant is not None:
        headers["X-Restaurant-Id"] = tenant
    if kind.startswith("rest-"):
        path = {
            "rest-list": "/api/db/conversations",
            "rest-old-list": "/api/conversations",
            "rest-get": f"/api/db/conversations/{target}",
            "rest-messages": f"/api/db/conversations/{target}/messages",
            "rest-stats": "/api/db/conversations/stats",
            "rest-bots": f"/api/db/restaurants/{tenant or 'x'}/bots",
            "rest-send": f"/api/conversations/{target}/send",
            "rest-toggle": f"/api/conversations/{target}/toggle-bot",
        }[kind]
        if kind == "rest-send":
            return await client.post(path, json={"message": "probe"}, headers=headers)
        if kind == "rest-toggle":
            return await client.post(path, json={"enabled": True}, headers=headers)
        return await client.get(path, headers=headers)
    query = {
        "gql-list": "{ conversations { edges { node { id customerName lastMessage { content } } } } }",
        "gql-get": "query($id: ID!) { conversation(id: $id) { customerName messages { nodes { content } } } }",
        "gql-messages": "query($id: ID!) { messages(conversationId: $id) { nodes { content } } }",
        "gql-mark-read": "mutation($id: ID!) { markConversationRead(id: $id) { ... on Conversation { customerName } } }",
        "gql-send": 'mutation($id: ID!) { sendMessage(conversationId: $id, body: "probe") { ... on Message { content } } }',
    }[kind]
    return await client.post("/graphql", json={"query": query, "variables": {"id": target}}, headers=headers)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(token=TOKENS, tenant=TENANTS, target=TARGETS, kind=REQUESTS)
async def test_no_request_ever_reveals_another_restaurant(client, world, token, tenant, target, kind):
    token_value, tenant_value, target_value = resolve(world, token, tenant, target)
    response = await perform(client, kind, token_value, tenant_value, target_value)
    assert response.status_code < 500, response.text
    for name in ("alpha", "beta"):
        if name not in allowed(token, tenant):
            assert f"secret-{name}" not in response.text, (token, tenant, target, kind, response.text)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(token=TOKENS, tenant=TENANTS)
async def test_no_subscription_ever_hears_another_restaurant(client, live_url, world, token, tenant):
    token_value, tenant_value, _ = resolve(world, token, tenant, "junk")
    may_hear = allowed(token, tenant)
    async with Socket(live_url) as ws:
        payload = {}
        if token_value is not None:
            payload["authorization"] = f"Bearer {token_value}"
        if tenant_value is not None:
            payload["restaurantId"] = tenant_value
        await ws.send({"type": "connection_init", "payload": payload})
        try:
            ack = await ws.receive(2)
        except websockets.ConnectionClosed:
            assert not may_hear or token in ("alpha", "beta")  # refused (4403)
            return
        assert ack["type"] == "connection_ack"
        await ws.subscribe(
            "subscription { events { node { ... on Message { content } ... on Conversation { customerName } } } }"
        )
        await asyncio.sleep(0.1)
        for name in ("alpha", "beta"):
            bot = world[name]["bot"]
            params = inbound_params(bot, body=f"secret-{name}-live", customer="+966500000778")
            await post_signed(client, "/whatsapp/webhook", params, bot.auth_token)
        heard: list[str] = []
        deadline = asyncio.get_running_loop().time() + 5
        try:
            while True:  # until what it may hear has come (on a busy machine: a while), then 0.4 s more
                pending = any(f"secret-{name}-live" not in "".join(heard) for name in may_hear)
                wait = max(0.05, deadline - asyncio.get_running_loop().time()) if pending else 0.4
                heard.append(json.dumps(await ws.receive(wait)))
        except (TimeoutError, websockets.ConnectionClosed):
            pass
        text = "".join(heard)
        for name in ("alpha", "beta"):
            if name not in may_hear:
                assert f"secret-{name}" not in text
        for name in may_hear:
            assert f"secret-{name}-live" in text


async def test_legacy_socket_isolation_property(client, live_url, world):
    """/ws with every token/restaurant combination: only the token's own restaurant's events."""
    for token in ("alpha", "beta", "admin", "junk"):
        for tenant in ("alpha", "beta", "none"):
            token_value, tenant_value, _ = resolve(world, token, tenant, "junk")
            query = f"token={token_value}" + (f"&restaurantId={tenant_value}" if tenant_value else "")
            may_hear = (
                {tenant}
                if token == "admin" and tenant != "none"
                else ({token} if token in ("alpha", "beta") and tenant in (token, "none") else set())
            )
            try:
                async with websockets.connect(f"ws://{live_url}/ws?{query}") as ws:
                    await asyncio.sleep(0.1)
                    for name in ("alpha", "beta"):
                        bot = world[name]["bot"]
                        await post_signed(
                            client,
                            "/whatsapp/webhook",
                            inbound_params(bot, body=f"secret-{name}-ws", customer="+966500000779"),
                            bot.auth_token,
                        )
                    heard = []
                    try:
                        while True:
                            heard.append(await asyncio.wait_for(ws.recv(), 0.4))
                    except (TimeoutError, websockets.ConnectionClosed):
                        pass
            except websockets.InvalidStatus:
                heard = []
            text = "".join(str(h) for h in heard)
            for name in ("alpha", "beta"):
                if name not in may_hear:
                    assert f"secret-{name}" not in text, (token, tenant)

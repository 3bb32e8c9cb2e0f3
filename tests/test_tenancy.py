"""Tokens and tenancy: who may read what, through the REST edge every dashboard uses."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from app.auth.cache import Authenticator
from app.errors import Unauthenticated
from app.models import ApiToken
from app.services import tokens
from tests.support import Factory, auth, eventually, inbound_params, post_signed, revoke


@pytest.fixture
async def two_tenants(client, factory: Factory):
    """Two restaurants; the first has two senders. Each customer has written once to each sender."""
    a1 = await factory.bot(await factory.restaurant("Al Baik"))
    a2 = await factory.bot(a1.restaurant)
    b = await factory.bot(await factory.restaurant("Kudu"))
    for bot, customer in ((a1, "+966500000001"), (a2, "+966500000002"), (b, "+966500000003")):
        response = await post_signed(
            client, "/whatsapp/webhook", inbound_params(bot, customer=customer), bot.auth_token
        )
        assert response.status_code == 200
    return a1, a2, b


async def conversations_of(client, headers):
    return await client.get("/api/db/conversations", headers=headers)


async def test_scoped_token_sees_only_its_restaurant(client, factory, two_tenants):
    a1, _, b = two_tenants
    token = await factory.token(a1.restaurant.id)
    response = await conversations_of(client, auth(token, a1.restaurant.id))
    assert response.status_code == 200
    assert {c["restaurantId"] for c in response.json()} == {a1.restaurant.id}
    assert len(response.json()) == 2
    forbidden = await conversations_of(client, auth(token, b.restaurant.id))
    assert forbidden.status_code == 403 and "error" in forbidden.json()


async def test_bot_id_in_the_header_resolves_to_its_restaurant_and_narrows(client, factory, two_tenants):
    a1, a2, b = two_tenants
    token = await factory.token(a1.restaurant.id)
    response = await conversations_of(client, auth(token, a2.bot.id))
    assert response.status_code == 200
    assert [c["customerPhone"] for c in response.json()] == ["whatsapp:+966500000002"]
    assert (await conversations_of(client, auth(token, b.bot.id))).status_code == 403


async def test_admin_token_and_dashboard_pat_reach_every_restaurant(client, factory, two_tenants):
    a1, _, b = two_tenants
    admin = await factory.token(admin=True)
    for token in (admin, "test-dashboard-pat"):
        for bot in (a1, b):
            response = await conversations_of(client, auth(token, bot.restaurant.id))
            assert response.status_code == 200
            assert {c["restaurantId"] for c in response.json()} == {bot.restaurant.id}
    missing = await conversations_of(client, auth(admin, "rst_does_not_exist"))
    assert missing.status_code == 404


async def test_missing_bad_and_revoked_tokens_are_401(client, factory, session, two_tenants):
    a1, _, _ = two_tenants
    assert (
        await client.get("/api/db/conversations", headers={"X-Restaurant-Id": a1.restaurant.id})
    ).status_code == 401
    assert (await conversations_of(client, auth("sfr_not-a-real-token", a1.restaurant.id))).status_code == 401
    basic = {"Authorization": "Basic abc", "X-Restaurant-Id": a1.restaurant.id}
    assert (await client.get("/api/db/conversations", headers=basic)).status_code == 401
    token = await factory.token(a1.restaurant.id)
    assert (await conversations_of(client, auth(token, a1.restaurant.id))).status_code == 200
    row = (
        await session.execute(select(ApiToken).where(ApiToken.token_hash == tokens.hash_token(token)))
    ).scalar_one()
    await tokens.revoke(session, token_id=row.id)
    await session.commit()
    # Another session revoked it: the server hears of it by NOTIFY (the token was just used, so
    # this process remembers it).
    response = await eventually(
        lambda: conversations_of(client, auth(token, a1.restaurant.id)), lambda r: r.status_code == 401
    )
    assert response.status_code == 401 and response.json() == {"error": "invalid or revoked token"}


async def test_unknown_tenant_for_a_scoped_token_is_403_not_a_probe(client, factory, two_tenants):
    a1, _, _ = two_tenants
    token = await factory.token(a1.restaurant.id)
    assert (await conversations_of(client, auth(token, "rst_nope"))).status_code == 403


async def test_header_may_be_omitted_only_by_a_single_restaurant_token(client, factory, two_tenants):
    a1, _, b = two_tenants
    single = await factory.token(a1.restaurant.id)
    response = await client.get("/api/db/conversations", headers=auth(single))
    assert response.status_code == 200 and len(response.json()) == 2
    multi = await factory.token(a1.restaurant.id, b.restaurant.id)
    missing = await client.get("/api/db/conversations", headers=auth(multi))
    assert missing.status_code == 400 and "X-Restaurant-Id" in missing.json()["error"]


async def test_another_tenants_conversation_looks_missing(client, factory, two_tenants):
    a1, _, b = two_tenants
    token_b = await factory.token(b.restaurant.id)
    own = (await conversations_of(client, auth(token_b, b.restaurant.id))).json()[0]["id"]
    token_a = await factory.token(a1.restaurant.id)
    theirs = await client.get(f"/api/db/conversations/{own}", headers=auth(token_a, a1.restaurant.id))
    nonexistent = await client.get("/api/db/conversations/cnv_nope", headers=auth(token_a, a1.restaurant.id))
    assert theirs.status_code == nonexistent.status_code == 404
    assert theirs.json() == nonexistent.json()
    messages = await client.get(
        f"/api/db/conversations/{own}/messages", headers=auth(token_a, a1.restaurant.id)
    )
    assert messages.status_code == 404


async def test_tokens_are_random_and_stored_only_as_a_hash(session, factory):
    restaurant = await factory.restaurant()
    row, plaintext = await tokens.create(session, name="dash", restaurant_ids=[restaurant.id])
    _other_row, other = await tokens.create(session, name="dash2", restaurant_ids=[restaurant.id])
    await session.commit()
    assert plaintext != other and len(plaintext) >= 40
    assert row.token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    stored = (await session.execute(select(ApiToken.token_hash, ApiToken.token_prefix))).all()
    assert all(plaintext not in (h, p) and p != plaintext for h, p in stored)


async def test_scoped_tokens_need_existing_restaurants(session):
    from app.errors import NotFound, ValidationFailed

    with pytest.raises(ValidationFailed):
        await tokens.create(session, name="nothing", restaurant_ids=[])
    with pytest.raises(NotFound):
        await tokens.create(session, name="ghost", restaurant_ids=["rst_ghost"])


async def test_authentication_is_remembered_only_while_changes_are_heard(db, factory, monkeypatch):
    """The server keeps who a token is between requests only while its LISTEN connection would tell
    it of a change; this Authenticator is told by hand, so what it keeps is visible."""
    restaurant = await factory.restaurant("Herfy")
    remembered, forgotten, raced = [await factory.token(restaurant.id) for _ in range(3)]
    auth_ = Authenticator(dashboard_pat=None)

    async def tenant(token: str):
        async with db.session() as s:
            return await auth_.tenant(s, token=token, tenant_ref=restaurant.id)

    auth_.listening(True)
    assert (await tenant(remembered)).restaurant_id == restaurant.id
    await revoke(db, remembered)
    assert (await tenant(remembered)).restaurant_id == restaurant.id  # kept: no notification yet
    auth_.changed("api_token")  # what the trigger's NOTIFY does
    with pytest.raises(Unauthenticated):
        await tenant(remembered)

    auth_.listening(False)  # the LISTEN connection is down: nothing is kept
    assert (await tenant(forgotten)).restaurant_id == restaurant.id
    await revoke(db, forgotten)
    with pytest.raises(Unauthenticated):
        await tenant(forgotten)

    # A lookup that a change overtook doesn't keep what it read before the change.
    auth_.listening(True)
    resolve = tokens.resolve_tenant

    async def overtaken(*args, **kwargs):
        found = await resolve(*args, **kwargs)
        auth_.changed("api_token")
        return found

    monkeypatch.setattr(tokens, "resolve_tenant", overtaken)
    assert (await tenant(raced)).restaurant_id == restaurant.id
    monkeypatch.setattr(tokens, "resolve_tenant", resolve)
    await revoke(db, raced)
    with pytest.raises(Unauthenticated):
        await tenant(raced)


async def test_a_token_narrowed_to_one_bot_cannot_act_on_another_bots_conversations(
    client, factory, session, two_tenants
):
    """Writes narrow like reads: with a bot id as its tenant, a caller can't mark read, close, switch
    the bot of, or reply in a conversation of the restaurant's other sender."""
    from tests.gql import gql

    a1, a2, _ = two_tenants
    token = await factory.token(a1.restaurant.id)
    listed = await conversations_of(client, auth(token, a1.restaurant.id))
    other = next(c["id"] for c in listed.json() if c["customerPhone"] == "whatsapp:+966500000002")
    mutations = {
        "markConversationRead": "markConversationRead(id: $id)",
        "closeConversation": "closeConversation(id: $id)",
        "setConversationBotActive": "setConversationBotActive(id: $id, active: false)",
        "sendMessage": 'sendMessage(conversationId: $id, body: "hi")',
    }
    for name, call in mutations.items():
        result = await gql(
            client,
            f"mutation($id: ID!) {{ r: {call} {{ __typename ... on NotFoundError {{ message }} }} }}",
            {"id": other},
            token=token,
            restaurant=a1.bot.id,
        )
        assert result["data"]["r"] == {"__typename": "NotFoundError", "message": "conversation not found"}, (
            name
        )
    after = await conversations_of(client, auth(token, a2.bot.id))
    [row] = after.json()
    assert (row["status"], row["isBotActive"], row["unreadCount"]) == ("active", True, 1)
    # narrowed to the right bot, the same mutation works
    ok = await gql(
        client,
        "mutation($id: ID!) { r: closeConversation(id: $id) { __typename } }",
        {"id": other},
        token=token,
        restaurant=a2.bot.id,
    )
    assert ok["data"]["r"]["__typename"] == "Conversation"

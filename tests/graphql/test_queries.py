"""GraphQL queries against real data: paging, search, tenancy, limits, and the query-count bound."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import event

from app.graphql.schema import schema
from app.settings import PROJECT_ROOT
from tests.gql import gql
from tests.support import Factory, inbound_params, post_signed

PAGE = """
query Page($first: Int!, $after: String, $status: ConversationStatus, $search: String) {
  conversations(first: $first, after: $after, status: $status, search: $search) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id customerPhone customerName unreadCount waitingForStaff
      bot { id whatsappNumber } lastMessage { content direction } } }
  }
}"""


async def say(client, bot, customer: str, body: str, **extra: str) -> None:
    response = await post_signed(
        client,
        "/whatsapp/webhook",
        inbound_params(bot, customer=customer, body=body, **extra),
        bot.auth_token,
    )
    assert response.status_code == 200


@pytest.fixture
async def shop(client, factory: Factory):
    bot = await factory.bot()
    for i in range(7):
        await say(client, bot, f"+96650000{i:04d}", f"hello {i}", ProfileName=f"Customer {i}")
    await say(client, bot, "+966500000003", "I want shawarma")
    token = await factory.token(bot.restaurant.id)
    return bot, token


async def test_conversations_page_through_newest_first(client, shop):
    bot, token = shop
    seen, after = [], None
    while True:
        data = (
            await gql(client, PAGE, {"first": 3, "after": after}, token=token, restaurant=bot.restaurant.id)
        )["data"]
        page = data["conversations"]
        assert page["totalCount"] == 7
        seen += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == 7 and len({c["id"] for c in seen}) == 7
    assert seen[0]["customerPhone"] == "+966500000003"  # wrote last
    assert seen[0]["lastMessage"] == {"content": "I want shawarma", "direction": "IN"}
    assert seen[0]["bot"]["whatsappNumber"] == bot.number
    assert seen[-1]["customerName"] == "Customer 0"


async def test_search_matches_name_phone_and_message_text(client, shop):
    bot, token = shop

    async def ids(search: str) -> list[str]:
        data = await gql(
            client, PAGE, {"first": 50, "search": search}, token=token, restaurant=bot.restaurant.id
        )
        return [e["node"]["customerPhone"] for e in data["data"]["conversations"]["edges"]]

    assert await ids("shawarma") == ["+966500000003"]
    assert await ids("Customer 5") == ["+966500000005"]
    assert await ids("500000006") == ["+966500000006"]
    assert await ids("100%_") == []


async def test_conversation_is_null_for_another_tenant(client, factory, shop):
    bot, token = shop
    other = await factory.bot(await factory.restaurant("Other"))
    await say(client, other, "+966511111111", "hi")
    other_token = await factory.token(other.restaurant.id)
    theirs = await gql(client, PAGE, {"first": 1}, token=other_token, restaurant=other.restaurant.id)
    their_id = theirs["data"]["conversations"]["edges"][0]["node"]["id"]
    query = (
        "query($id: ID!) { conversation(id: $id) { id } messages(conversationId: $id) { edges { cursor } } }"
    )
    result = await gql(client, query, {"id": their_id}, token=token, restaurant=bot.restaurant.id)
    assert result["data"] == {"conversation": None, "messages": None}


async def test_messages_page_back_through_history_in_chat_order(client, factory):
    bot = await factory.bot()
    for i in range(12):
        await say(client, bot, "+966522222222", f"m{i:02d}")
    token = await factory.token(bot.restaurant.id)
    first = await gql(client, PAGE, {"first": 1}, token=token, restaurant=bot.restaurant.id)
    conversation_id = first["data"]["conversations"]["edges"][0]["node"]["id"]
    query = """query($id: ID!, $before: String) { messages(conversationId: $id, last: 5, before: $before) {
        pageInfo { hasPreviousPage startCursor } nodes { content } } }"""
    contents, before = [], None
    while True:
        page = (
            await gql(
                client,
                query,
                {"id": conversation_id, "before": before},
                token=token,
                restaurant=bot.restaurant.id,
            )
        )["data"]["messages"]
        contents = [n["content"] for n in page["nodes"]] + contents
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        before = page["pageInfo"]["startCursor"]
    assert contents == [f"m{i:02d}" for i in range(12)]


async def test_stats_for_the_owner(client, shop, session):
    bot, token = shop
    query = """{ stats { totalConversations activeConversations totalUnread waitingForStaff messagesToday
                 medianFirstResponseSeconds } }"""
    stats = (await gql(client, query, token=token, restaurant=bot.restaurant.id))["data"]["stats"]
    assert stats == {
        "totalConversations": 7,
        "activeConversations": 7,
        "totalUnread": 8,
        "waitingForStaff": 0,
        "messagesToday": 8,
        "medianFirstResponseSeconds": None,
    }


async def test_bots_never_expose_secrets_and_admin_may_list_all(client, factory, shop):
    bot, token = shop
    other = await factory.bot(await factory.restaurant("Other"))
    query = "query($all: Boolean!) { bots(all: $all) { id restaurantId whatsappNumber status } }"
    own = await gql(client, query, {"all": False}, token=token, restaurant=bot.restaurant.id)
    assert [b["id"] for b in own["data"]["bots"]] == [bot.bot.id]
    refused = await gql(client, query, {"all": True}, token=token, restaurant=bot.restaurant.id)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    admin = await factory.token(admin=True)
    everything = await gql(client, query, {"all": True}, token=admin)
    assert {b["id"] for b in everything["data"]["bots"]} == {bot.bot.id, other.bot.id}
    introspected = await gql(client, '{ __type(name: "Bot") { fields { name } } }')
    names = {f["name"] for f in introspected["data"]["__type"]["fields"]}
    assert not names & {"authToken", "authTokenEncrypted", "accountSid"}


async def test_unauthenticated_and_forbidden_are_clear_errors(client, factory, shop):
    _bot, token = shop
    missing = await gql(client, "{ stats { totalConversations } }")
    assert missing["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    other = await factory.restaurant("Other")
    forbidden = await gql(client, "{ stats { totalConversations } }", token=token, restaurant=other.id)
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ("{ conversations(first: 100000) { totalCount } }", "first must be"),
        ('{ conversations(after: "garbage") { totalCount } }', "malformed cursor"),
        (
            '{{ conversations(after: "{}") {{ totalCount }} }}'.format(
                base64.urlsafe_b64encode(b"[" * 20_000).decode()
            ),
            "malformed cursor",
        ),  # nested deeper than json recurses
        ("{ " + " ".join(f"a{i}: stats {{ totalUnread }}" for i in range(40)) + " }", "aliases"),
        (
            "{ conversations { edges { node { "
            + "bot { id } " * 1
            + "messages(last: 100000) { nodes { id } } } } } }",
            "last must be",
        ),
    ],
)
async def test_abusive_queries_get_clear_errors(client, shop, query, needle):
    bot, token = shop
    result = await gql(client, query, token=token, restaurant=bot.restaurant.id)
    assert needle in result["errors"][0]["message"]


async def test_deep_queries_are_refused(client, shop):
    bot, token = shop
    deep = "{ conversations { edges { node { lastMessage { id } bot { id } messages { edges { node { id } } pageInfo { hasPreviousPage } } } } } }"
    ok = await gql(client, deep, token=token, restaurant=bot.restaurant.id)
    assert "errors" not in ok
    nested = (
        "{ conversations { edges { node { "
        + "lastMessage { conversation { " * 5
        + "id"
        + " } }" * 5
        + " } } } }"
    )
    refused = await gql(client, nested, token=token, restaurant=bot.restaurant.id)
    assert "exceeds maximum operation depth" in refused["errors"][0]["message"]


async def test_a_page_costs_a_fixed_number_of_queries(client, resolver_client, resolver_app_and_db, factory):
    """Resolved field by field (the fallback of compiled queries), a page's nested fields are
    batched: 5 conversations cost the queries 50 do."""
    db = resolver_app_and_db[1]
    bot = await factory.bot()
    second = await factory.bot(bot.restaurant)
    for i in range(50):
        await say(client, bot if i % 2 else second, f"+96651{i:07d}", f"message {i}")
    token = await factory.token(bot.restaurant.id)
    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    async def run(first: int) -> int:
        statements.clear()
        event.listen(db.engine.sync_engine, "before_cursor_execute", count)
        try:
            result = await gql(
                resolver_client, PAGE, {"first": first}, token=token, restaurant=bot.restaurant.id
            )
        finally:
            event.remove(db.engine.sync_engine, "before_cursor_execute", count)
        assert len(result["data"]["conversations"]["edges"]) == first
        return len(statements)

    # The fewest of three reads of each page: the token's lookup is remembered between requests, but
    # under load the NOTIFY of the token's creation may land late and make one read look it up again
    # (tests/test_tenancy.py covers that cache). A query per row would show in every read.
    small = min([await run(5) for _ in range(3)])
    large = min([await run(50) for _ in range(3)])
    assert small == large <= 4


def test_schema_graphql_is_exported_from_the_code():
    exported = (PROJECT_ROOT / "schema.graphql").read_text()
    assert exported == str(schema) + "\n", "schema.graphql is stale: run `sufrah export-schema`"


async def test_batched_requests_are_refused_clearly(client, shop):
    bot, token = shop
    batch = [{"query": "{ stats { totalUnread } }"}] * 50
    response = await client.post(
        "/graphql",
        json=batch,
        headers={"Authorization": f"Bearer {token}", "X-Restaurant-Id": bot.restaurant.id},
    )
    assert response.status_code == 400
    assert "batch" in response.text.lower()


async def test_production_hides_introspection_and_suggestions(settings):
    from app.graphql.schema import build_schema

    production = build_schema(production=True)
    introspection = await production.execute("{ __schema { types { name } } }")
    assert introspection.errors and "introspection" in introspection.errors[0].message.lower()
    typo = await production.execute("{ conversatons { totalCount } }")
    assert typo.errors and "Did you mean" not in typo.errors[0].message
    development = await build_schema().execute("{ conversatons { totalCount } }")
    assert "Did you mean" in development.errors[0].message


async def test_total_count_inside_a_fragment_is_still_counted(client, shop):
    bot, token = shop
    query = (
        "{ conversations(first: 1) { ...Counted } } fragment Counted on ConversationConnection { totalCount }"
    )
    result = await gql(client, query, token=token, restaurant=bot.restaurant.id)
    assert result["data"]["conversations"]["totalCount"] == 7


async def test_validation_is_cached_across_requests(client, shop, monkeypatch):
    from app.graphql import documents

    validated: list[object] = []

    def counted(*args: object) -> object:
        validated.append(args[1])
        return validate_document(*args)

    validate_document = documents.validate_document
    monkeypatch.setattr(documents, "validate_document", counted)
    bot, token = shop
    query = "{ uniqueForThisTest: menu { currency } }"  # not compiled: no plan answers it
    for _ in range(3):
        assert "errors" not in await gql(client, query, token=token, restaurant=bot.restaurant.id)
    assert len(validated) == 1

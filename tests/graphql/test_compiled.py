"""Compiled queries (app.graphql.fast.sql) and their plans (app.graphql.fast.plans) answer exactly what
the resolvers answer.

Every document here is sent to two server processes on the same database: the default one, which
answers hot selections with one SQL statement, and one with GRAPHQL_COMPILE=false, which resolves
every field in Python. The two answers must be the same JSON, value for value and key for key (dates,
enums, cursors, nulls, unicode, page info), and the compiled one must really have been compiled (it
issues no statement through the ORM), or have fallen back where the compiler must not answer. The
default server is asked again, and that answer must come from the plan its previous answer left (or,
where the compiler must not answer, from no plan) and be the same JSON too.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import event, select, text

from app.graphql.fast.plans import Plans
from app.models import MessageMedia
from app.services import bots, media
from tests.support import Factory, auth, eventually, graphql_view, inbound_params, post_signed, revoke

MESSAGE = (
    "id conversationId restaurantId direction author messageType content mediaUrl mediaUrls waSid"
    " deliveryStatus errorCode errorMessage metadata createdAt updatedAt cursor"
)
BOT = (
    "id restaurantId name restaurantName whatsappNumber status isActive supportContact paymentLink"
    " maxMessagesPerMin maxMessagesPerDay createdAt updatedAt cursor"
)
CONVERSATION = (
    "id restaurantId botId customerPhone customerName status lastMessageAt lastInboundAt unreadCount"
    " isBotActive createdAt updatedAt cursor waitingForStaff"
)
PAGE_INFO = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"

EVERYTHING = f"""
query Everything($first: Int!, $after: String, $offset: Int! = 0, $status: ConversationStatus, $last: Int! = 3) {{
  conversations(first: $first, after: $after, offset: $offset, status: $status) {{
    totalCount
    {PAGE_INFO}
    edges {{ cursor node {{ id customerPhone }} }}
    nodes {{
      {CONVERSATION}
      bot {{ {BOT} }}
      lastMessage {{ {MESSAGE} }}
      messages(last: $last) {{ nodes {{ {MESSAGE} }} edges {{ cursor node {{ id }} }} {PAGE_INFO} }}
    }}
  }}
}}"""

FRAGMENTS = """
query Fragments($withBot: Boolean!, $skipTotal: Boolean!, $n: Int!) {
  list: conversations(first: 3, status: ACTIVE) {
    __typename
    total: totalCount @skip(if: $skipTotal)
    pageInfo { ...Paging }
    nodes { ...Row ... on Conversation { alias: id status } }
  }
}
fragment Row on Conversation {
  __typename id
  bot @include(if: $withBot) { __typename id isActive status }
  recent: messages(last: $n) { __typename nodes { __typename id createdAt content } ...on MessageConnection { pageInfo { ...Paging } } }
  last: lastMessage { id direction }
  lastMessage { content }
}
fragment Paging on PageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor }
"""

ONE = f"""
query One($id: ID!, $before: String) {{
  conversation(id: $id) {{ {CONVERSATION} messages(last: 2, before: $before) {{ nodes {{ {MESSAGE} }} {PAGE_INFO} }} }}
}}"""

HISTORY = f"""
query History($id: ID!, $last: Int!, $before: String) {{
  messages(conversationId: $id, last: $last, before: $before) {{ nodes {{ id content createdAt }} edges {{ cursor }} {PAGE_INFO} }}
}}"""


async def say(client, bot, customer: str, body: str, **extra: str) -> None:
    response = await post_signed(
        client,
        "/whatsapp/webhook",
        inbound_params(bot, customer=customer, body=body, **extra),
        bot.auth_token,
    )
    assert response.status_code == 200, response.text


@pytest.fixture
async def shop(client, factory: Factory, db):
    """A restaurant with two senders (one deleted later), conversations in every state the fields
    tell apart, and text that JSON must escape."""
    restaurant = await factory.restaurant("Mama Noura")
    main, old = await factory.bot(restaurant), await factory.bot(restaurant)
    texts = ['مرحبا 👋 "quoted" back\\slash', "line\nbreak\ttab", "<b>&amp;</b> ' single", "plain"]
    for i in range(6):
        await say(
            client, main, f"+96655{i:07d}", texts[i % len(texts)], ProfileName=f"Guest {i}" if i % 2 else ""
        )
    await say(
        client,
        main,
        "+966550000002",
        "with a picture",
        NumMedia="1",
        MediaUrl0="https://api.twilio.com/media/ME1",
        MediaContentType0="image/jpeg",
    )
    async with (
        db.session() as s
    ):  # its picture downloaded: mediaUrl(s) are our signed link, in SQL and Python
        picture = (await s.execute(select(MessageMedia))).scalar_one()
        await media.mark_stored(
            s, restaurant_id=restaurant.id, media_id=picture.id, content_type="image/jpeg", size=3, key="k"
        )
        await s.commit()
    await say(client, old, "+966559999999", "to the old number")
    token = await factory.token(restaurant.id)
    admin = await factory.token(admin=True)

    async def gql(query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=auth(token, restaurant.id)
        )
        assert response.status_code == 200
        return response.json()  # type: ignore[no-any-return]

    listed = (await gql("{ conversations(first: 20) { nodes { id customerPhone } } }", {}))["data"]
    ids = {c["customerPhone"]: c["id"] for c in listed["conversations"]["nodes"]}
    # staff replied to one (an outgoing message with a delivery status), closed another, took over a third
    reply = await gql(
        'mutation($id: ID!) { sendMessage(conversationId: $id, body: "on its way") { __typename } }',
        {"id": ids["+966550000001"]},
    )
    assert reply["data"]["sendMessage"]["__typename"] == "Message"
    await gql(
        "mutation($id: ID!) { closeConversation(id: $id) { __typename } }", {"id": ids["+966550000004"]}
    )
    await gql(
        "mutation($id: ID!) { setConversationBotActive(id: $id, active: false) { __typename } }",
        {"id": ids["+966550000003"]},
    )
    async with db.session() as s:
        # a time with no fraction of a second (isoformat leaves the fraction out)
        await s.execute(
            text(
                "UPDATE message SET created_at = date_trunc('second', created_at) WHERE conversation_id = :c"
            ),
            {"c": ids["+966550000000"]},
        )
        # and times whose fraction ends in zeros (isoformat writes all six digits: .120000)
        await s.execute(
            text(
                "UPDATE message SET created_at = date_trunc('milliseconds', created_at)"
                " - interval '3 milliseconds' WHERE conversation_id = :c"
            ),
            {"c": ids["+966550000002"]},
        )
        await s.execute(
            text(
                "UPDATE conversation SET last_message_at = date_trunc('milliseconds', last_message_at)"
                " WHERE id = :c"
            ),
            {"c": ids["+966550000002"]},
        )
        await bots.delete(s, restaurant_id=None, bot_id=old.bot.id)
        await s.commit()
    return restaurant, main, token, admin, ids


@pytest.fixture
def orm_statements(app_and_db):
    """Statements the default server sends through SQLAlchemy (a compiled answer sends none)."""
    engine = app_and_db[1].engine.sync_engine
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        # The server's own background refresh of the bot directory (app/spool.py, every 30 s) runs on
        # the same engine and may land between two requests: not a statement of the request's.
        if "FROM bot \nWHERE bot.deleted_at IS NULL" not in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine, "before_cursor_execute", count)


@pytest.fixture
def plans(app_and_db) -> Plans:
    """The default server's plans (app.graphql.fast.plans)."""
    return graphql_view(app_and_db[3]).plans


@pytest.fixture
def ask(client, resolver_client, orm_statements, plans):
    return lambda query, variables, headers, compiled=True: both(
        client, resolver_client, orm_statements, plans, query, variables, headers, compiled=compiled
    )


async def both(
    client,
    resolver_client,
    orm_statements: list[str],
    plans: Plans,
    query: str,
    variables: dict[str, Any],
    headers: dict[str, str],
    *,
    compiled: bool = True,
) -> dict[str, Any]:
    """The answer of both servers, which must be the same JSON; returns it. The default server answers
    once more, from a plan when `compiled` (from none otherwise), and that answer must be the same too."""
    body = {"query": query, "variables": variables}
    reference = await resolver_client.post("/graphql", json=body, headers=headers)
    await client.post("/graphql", json=body, headers=headers)  # the token is remembered from now on
    orm_statements.clear()
    answer = await client.post("/graphql", json=body, headers=headers)
    assert answer.status_code == reference.status_code == 200
    expected = json.dumps(reference.json(), ensure_ascii=False)
    assert json.dumps(answer.json(), ensure_ascii=False) == expected
    if compiled:
        assert orm_statements == [], "expected one compiled statement, not the resolvers"
    else:
        assert orm_statements, "expected the resolvers, not a compiled statement"
    answered = plans.answered

    async def again() -> int:
        response = await client.post("/graphql", json=body, headers=headers)
        assert (
            response.status_code == 200 and response.headers["content-type"] == answer.headers["content-type"]
        )
        assert json.dumps(response.json(), ensure_ascii=False) == expected
        return plans.answered - answered

    # (repeated while a NOTIFY of a change in the fixture's data may still empty the authentication cache)
    assert await (eventually(again, lambda n: n > 0) if compiled else again()) == compiled, (
        "expected a plan's answer" if compiled else "expected no plan"
    )
    return answer.json()  # type: ignore[no-any-return]


async def test_conversation_pages_are_the_same_json_both_ways(client, ask, shop):
    restaurant, _, token, _, _ = shop
    headers = auth(token, restaurant.id)
    after, pages = None, 0
    while True:
        data = (await ask(EVERYTHING, {"first": 3, "after": after}, headers))["data"]["conversations"]
        pages += 1
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]
    assert pages == 3 and data["totalCount"] == 7
    everything = (await ask(EVERYTHING, {"first": 20, "last": 1}, headers))["data"]["conversations"]["nodes"]
    # what the comparison covered: each kind of value the resolvers write
    assert {c["status"] for c in everything} == {"ACTIVE", "CLOSED"}
    assert any(c["waitingForStaff"] for c in everything) and any(not c["bot"]["isActive"] for c in everything)
    assert any(c["lastMessage"]["mediaUrls"] for c in everything)
    assert any((c["lastMessage"]["mediaUrl"] or "").startswith("/media/") for c in everything)
    assert any(c["lastMessage"]["direction"] == "OUT" for c in everything)
    assert any("." not in c["lastMessage"]["createdAt"] for c in everything)
    assert any(c["customerName"] is None for c in everything)
    assert any("👋" in c["lastMessage"]["content"] for c in everything)
    for variables in (
        {"first": 2, "offset": 3},
        {"first": 5, "status": "CLOSED"},
        {"first": 1, "last": 200},
        {"first": 200},
    ):
        await ask(EVERYTHING, variables, headers)


async def test_fragments_aliases_typename_and_directives(client, ask, shop):
    restaurant, _, token, _, _ = shop
    for variables in (
        {"withBot": True, "skipTotal": False, "n": 1},
        {"withBot": False, "skipTotal": True, "n": 2},
    ):
        data = await ask(FRAGMENTS, variables, auth(token, restaurant.id))
        node = data["data"]["list"]["nodes"][0]
        assert ("bot" in node) is variables["withBot"] and ("total" in data["data"]["list"]) is not variables[
            "skipTotal"
        ]


async def test_one_conversation_and_its_history(client, ask, shop, factory):
    restaurant, main, token, _, ids = shop
    headers = auth(token, restaurant.id)
    talkative = ids["+966550000002"]
    for i in range(4):
        await say(client, main, "+966550000002", f"more {i}")
    before = None
    for _ in range(3):
        page = await ask(HISTORY, {"id": talkative, "last": 2, "before": before}, headers)
        before = page["data"]["messages"]["pageInfo"]["startCursor"]
    one = await ask(ONE, {"id": talkative, "before": before}, headers)
    assert one["data"]["conversation"]["id"] == talkative
    # missing, and another restaurant's: null, the same both ways
    other = await factory.bot(await factory.restaurant("Elsewhere"))
    await say(client, other, "+966551111111", "hi")
    elsewhere = await factory.token(other.restaurant.id)
    theirs = (
        await client.post(
            "/graphql",
            json={"query": "{ conversations(first: 1) { nodes { id } } }"},
            headers=auth(elsewhere, other.restaurant.id),
        )
    ).json()["data"]["conversations"]["nodes"][0]["id"]
    for missing in ("cnv_nope", theirs):
        assert (await ask(ONE, {"id": missing}, headers))["data"] == {"conversation": None}
        assert (await ask(HISTORY, {"id": missing, "last": 2}, headers))["data"] == {"messages": None}


async def test_a_bot_id_in_the_header_narrows_the_list(client, ask, shop):
    restaurant, main, token, admin, _ = shop
    for headers in (auth(token, main.bot.id), auth(admin, restaurant.id)):
        data = await ask(EVERYTHING, {"first": 20}, headers)
        assert data["data"]["conversations"]["totalCount"] == (
            6 if headers["X-Restaurant-Id"] == main.bot.id else 7
        )


@pytest.mark.parametrize(
    "query, variables",
    [
        (HISTORY, {"id": "cnv_x", "last": 500}),  # out of range: the resolver's error
        (ONE, {"id": "cnv_x", "before": "not-a-cursor"}),
        ('{ conversations(first: 2, search: "plain") { nodes { id } } }', {}),
        ("{ conversations(first: 2) { nodes { lastMessage { conversation { id } } } } }", {}),
    ],
)
async def test_what_the_compiler_doesnt_know_is_resolved(client, ask, shop, query, variables):
    restaurant, _, token, _, ids = shop
    if variables.get("id") == "cnv_x":
        variables = {**variables, "id": ids["+966550000001"]}
    await ask(query, variables, auth(token, restaurant.id), compiled=False)


# -- plans (app.graphql.fast.plans) ------------------------------------------------------------------


async def gql(client, query: str, variables: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_a_plan_answers_every_caller_with_its_own_rows(client, ask, plans, shop, factory):
    """A plan left by one restaurant's request answers another's, a bot-narrowed caller's and an
    admin's, each with their own rows, exactly as the resolvers do."""
    restaurant, main, token, admin, ids = shop
    ours = await ask(EVERYTHING, {"first": 20}, auth(token, restaurant.id))
    other = await factory.bot(await factory.restaurant("Elsewhere"))
    await say(client, other, "+966551111111", "hello from elsewhere")
    elsewhere = await factory.token(other.restaurant.id)
    theirs = await ask(EVERYTHING, {"first": 20}, auth(elsewhere, other.restaurant.id))
    narrowed = await ask(EVERYTHING, {"first": 20}, auth(token, main.bot.id))
    as_admin = await ask(EVERYTHING, {"first": 20}, auth(admin, other.restaurant.id))

    def phones(answer: dict[str, Any]) -> set[str]:
        return {c["customerPhone"] for c in answer["data"]["conversations"]["nodes"]}

    assert phones(theirs) == phones(as_admin) == {"+966551111111"}
    assert phones(ours) == set(ids) and phones(narrowed) == set(ids) - {"+966559999999"}  # the old number's
    # one conversation by id: the plan's id is the document's, the restaurant is the caller's
    mine = {"id": ids["+966550000001"]}
    assert (await ask(ONE, mine, auth(token, restaurant.id)))["data"]["conversation"]["id"] == mine["id"]
    assert (await ask(ONE, mine, auth(elsewhere, other.restaurant.id)))["data"] == {"conversation": None}


async def test_a_plan_doesnt_outlive_the_callers_token(client, plans, shop, db):
    restaurant, _, token, _, _ = shop
    headers = auth(token, restaurant.id)
    query = "{ revocation: conversations(first: 2) { nodes { id } } }"
    answered = plans.answered

    async def listed() -> int:
        assert len((await gql(client, query, {}, headers))["data"]["revocation"]["nodes"]) == 2
        return plans.answered - answered

    # the token is remembered, then the plan learned, then it answers
    assert await eventually(listed, lambda n: n > 0) == 1
    await revoke(db, token)
    refused = await eventually(lambda: gql(client, query, {}, headers), lambda answer: "errors" in answer)
    assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    answered = plans.answered
    assert (await gql(client, query, {}, headers))["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert plans.answered == answered


async def test_errors_writes_and_mixed_selections_are_never_planned(client, plans, shop):
    restaurant, _, token, _, ids = shop
    headers = auth(token, restaurant.id)
    answered = plans.answered
    for _ in range(3):
        refused = await gql(client, "{ conversations(first: 500) { nodes { id } } }", {}, headers)
        assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        mixed = await gql(client, "{ conversations(first: 1) { nodes { id } } bots { id } }", {}, headers)
        assert len(mixed["data"]["bots"]) == 1
        sent = await gql(
            client,
            'mutation($id: ID!) { sendMessage(conversationId: $id, body: "again") { __typename } }',
            {"id": ids["+966550000005"]},
            headers,
        )
        assert sent["data"]["sendMessage"]["__typename"] == "Message"
    assert plans.answered == answered
    history = await gql(client, HISTORY, {"id": ids["+966550000005"], "last": 10}, headers)
    assert [m["content"] for m in history["data"]["messages"]["nodes"]].count("again") == 3
    # bodies that aren't one query are the ordinary path's to answer (and refuse)
    for body in (b"{not json", b"[]", b'"x"'):
        response = await client.post(
            "/graphql", content=body, headers={**headers, "content-type": "application/json"}
        )
        assert response.status_code == 400
    assert plans.answered == answered


STATS = (
    "{ stats { __typename totalConversations activeConversations totalUnread waitingForStaff messagesToday"
    " medianFirstResponseSeconds } }"
)


async def test_stats_are_the_same_both_ways(client, ask, shop, factory, db):
    restaurant, main, token, _, ids = shop
    answered = (await ask(STATS, {}, auth(token, restaurant.id)))["data"]["stats"]
    assert (
        answered["totalConversations"] == 7 and answered["medianFirstResponseSeconds"] > 0
    )  # staff replied once
    narrowed = (await ask(STATS, {}, auth(token, main.bot.id)))["data"]["stats"]
    assert narrowed["totalConversations"] == 6 and narrowed["messagesToday"] == answered["messagesToday"]
    # a whole number of seconds is written as Python writes a float (60.0), and PostgreSQL wouldn't
    async with db.session() as s:
        await s.execute(
            text(
                "UPDATE message SET created_at = (SELECT min(created_at) FROM message WHERE conversation_id = :c"
                " AND direction = 'IN') + interval '60 seconds' WHERE conversation_id = :c AND author = 'staff'"
            ),
            {"c": ids["+966550000001"]},
        )
        await s.commit()
    assert (await ask(STATS, {}, auth(token, restaurant.id)))["data"]["stats"][
        "medianFirstResponseSeconds"
    ] == 60.0
    quiet = await factory.restaurant("Quiet")
    nothing = (await ask(STATS, {}, auth(await factory.token(quiet.id), quiet.id)))["data"]["stats"]
    assert nothing == {
        "__typename": "Stats",
        "totalConversations": 0,
        "activeConversations": 0,
        "totalUnread": 0,
        "waitingForStaff": 0,
        "messagesToday": 0,
        "medianFirstResponseSeconds": None,
    }

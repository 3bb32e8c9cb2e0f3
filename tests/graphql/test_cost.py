"""Bounded cost per request: the GraphQL cost limit (app/graphql/cost.py), the database's
statement_timeout (app/db/engine.py) and the GraphQL response cap (app/rest/limits.py)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from graphql import parse
from sqlalchemy import text

from app.context import AppContext
from app.graphql.context import OperationContext as Context
from app.graphql.schema import schema
from app.main import create_app
from app.settings import PROJECT_ROOT, Settings
from bench.queries import OURS as BENCH
from tests.gql import Socket, gql
from tests.support import PUBLIC_BASE_URL, Factory, auth, graphql_view, inbound_params, lifespan, post_signed

LIMIT = 10_000
ATTACK = (
    "{ conversations(first: 200) { nodes { messages(last: 200) { nodes { conversation {"
    " messages(last: 200) { nodes { id } } } } } } } }"
)
# Every root field compiled: without the limit this is answered, and planned (app.graphql.fast.plans).
WIDE = "query Wide { conversations(first: 200) { nodes { id messages(last: 200) { nodes { id } } } } }"


@pytest.fixture(scope="module")
async def served(settings: Settings) -> AsyncIterator[tuple[object, AppContext, object]]:
    app = create_app(settings)
    async with lifespan(app) as manager:
        yield manager.app, manager._state["ctx"], app  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
async def strict(settings: Settings) -> AsyncIterator[tuple[object, AppContext]]:
    """An app with a short statement_timeout and a small response cap."""
    app = create_app(
        settings.model_copy(update={"db_statement_timeout_seconds": 0.5, "graphql_max_response_bytes": 2048})
    )
    async with lifespan(app) as manager:
        yield manager.app, manager._state["ctx"]  # type: ignore[attr-defined]


def _client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC_BASE_URL)  # type: ignore[arg-type]


@pytest.fixture
async def client(served, db) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(served[0]) as c:
        yield c


@pytest.fixture
async def strict_client(strict, db) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(strict[0]) as c:
        yield c


@pytest.fixture
async def shop(client, factory: Factory):
    bot = await factory.bot()
    response = await post_signed(
        client, "/whatsapp/webhook", inbound_params(bot, body="hello"), bot.auth_token
    )
    assert response.status_code == 200
    return bot, await factory.token(bot.restaurant.id)


def inbox_queries() -> dict[str, str]:
    """The inbox's query documents, as app/inbox/static/queries.js writes them."""
    source = (PROJECT_ROOT / "app" / "inbox" / "static" / "queries.js").read_text()
    constants: dict[str, str] = {}
    for name, body in re.findall(r"export const (\w+) = `(.*?)`;", source, re.S):
        constants[name] = re.sub(r"\$\{(\w+)\}", lambda m: constants[m.group(1)], body)
    return {name: body for name, body in constants.items() if name.startswith("Q_")}


def cost_of(document: str, variables: dict[str, object] | None = None) -> int:
    from app.graphql.cost import estimate

    return estimate(schema._schema, parse(document), None).evaluate(variables or {})


# -- the cost limit ------------------------------------------------------------------------------------


async def test_the_nested_pages_attack_is_refused_before_execution_with_its_cost(client, shop, monkeypatch):
    bot, token = shop
    authenticated: list[object] = []
    original = Context.authenticate

    async def counted(self: Context):
        authenticated.append(self)
        return await original(self)

    monkeypatch.setattr(Context, "authenticate", counted)
    result = await gql(client, ATTACK, token=token, restaurant=bot.restaurant.id)
    assert result == {
        "data": None,
        "errors": [
            {
                "message": "the query may return up to 8,120,401 objects; at most 10,000 are allowed: ask for smaller pages "
                "(first/last) or fewer nested lists",
                "extensions": {"code": "QUERY_TOO_COSTLY", "cost": 8_120_401, "limit": LIMIT},
            }
        ],
    }
    assert authenticated == []  # nothing ran


async def test_the_inbox_and_benchmark_queries_are_far_under_the_limit(client, shop):
    bot, token = shop
    variables = {
        "Q_CONVERSATIONS": {"first": 30},
        "Q_CONVERSATION": {"id": "nope", "last": 30},
        "Q_ORDERS": {"first": 50, "status": ["CONFIRMED", "PREPARING"]},
        "Q_ORDER": {"id": "nope"},
        "Q_NOTIFICATIONS": {"first": 20},
    }
    documents = inbox_queries()
    assert set(variables) < set(documents) and len(documents) >= 6
    costs = {name: cost_of(document, variables.get(name)) for name, document in documents.items()}
    assert costs == {
        "Q_RESTAURANTS": 20,
        "Q_CONVERSATIONS": 62,
        "Q_CONVERSATION_COUNT": 1,  # the count alone, read again as conversations start and close
        "Q_CONVERSATION": 34,
        "Q_ORDERS": 1101,  # 50 orders, each with its lines (up to 20) and branch
        "Q_ORDER": 22,
        "Q_NOTIFICATIONS": 21,
        "Q_STATS": 1,
        "Q_TEMPLATES": 23,  # an unpaged list (20) and the settings
    }
    assert {name: cost_of(document) for name, document in BENCH.items()} == {"q1": 21, "q2": 241, "stats": 1}
    for name, document in documents.items():
        result = await gql(client, document, variables.get(name), token=token, restaurant=bot.restaurant.id)
        assert "errors" not in result, (name, result)
    listed = await gql(
        client, documents["Q_CONVERSATIONS"], {"first": 30}, token=token, restaurant=bot.restaurant.id
    )
    assert len(listed["data"]["conversations"]["nodes"]) == 1


async def test_variables_that_raise_the_cost_are_counted(client, shop):
    bot, token = shop
    query = (
        "query Pages($n: Int!) { conversations(first: $n) { nodes { messages(last: $n) { nodes { id } } } } }"
    )
    small = await gql(
        client, query, {"n": 20}, token=token, restaurant=bot.restaurant.id
    )  # 1 + 20 + 20 + 400
    assert "errors" not in small and len(small["data"]["conversations"]["nodes"]) == 1
    large = await gql(client, query, {"n": 200}, token=token, restaurant=bot.restaurant.id)  # same document
    assert large["errors"][0]["extensions"] == {"code": "QUERY_TOO_COSTLY", "cost": 40_401, "limit": LIMIT}
    defaulted = query.replace("$n: Int!", "$n: Int! = 150")
    refused = await gql(client, defaulted, token=token, restaurant=bot.restaurant.id)
    assert refused["errors"][0]["extensions"]["cost"] == 1 + 150 + 150 + 150 * 150
    fragments = (
        "query F($n: Int!) { ...Page } fragment Page on Query { conversations(first: $n) { nodes { ...M } } }"
        " fragment M on Conversation { messages(last: $n) { nodes { id } } }"
    )
    assert (await gql(client, fragments, {"n": 200}, token=token, restaurant=bot.restaurant.id))["errors"][0][
        "extensions"
    ]["cost"] == 40_401


async def test_a_refused_document_is_never_planned(client, shop, served):
    bot, token = shop
    plans = graphql_view(served[2]).plans
    allowed = WIDE.replace("first: 200", "first: 20").replace("last: 200", "last: 20")  # 1 + 20 + 20 + 400
    for _ in range(3):
        assert "errors" not in await gql(client, allowed, token=token, restaurant=bot.restaurant.id)
    answered, known = plans.answered, set(plans._plans)
    assert answered >= 1  # the same document, within the limit, is planned and answered from its plan
    for _ in range(3):
        result = await gql(client, WIDE, token=token, restaurant=bot.restaurant.id)
        assert result["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert plans.answered == answered and set(plans._plans) == known


async def test_a_costly_subscription_is_refused(live_url, shop):
    bot, token = shop
    costly = (
        "subscription { messageCreated { conversation { messages(last: 200) { nodes {"
        " conversation { messages(last: 200) { nodes { id } } } } } } } }"
    )
    for protocol in ("graphql-transport-ws", "graphql-ws"):
        async with Socket(live_url, protocol=protocol) as ws:
            assert (await ws.init(token, bot.restaurant.id))["type"] == "connection_ack"
            await ws.subscribe(costly)
            message = await ws.receive()
            errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
            assert errors[0]["extensions"] == {"code": "QUERY_TOO_COSTLY", "cost": 40_603, "limit": LIMIT}, (
                message
            )


# -- statement_timeout ----------------------------------------------------------------------------------


async def test_the_pool_carries_the_timeouts(served, strict):
    for (_, ctx, *_rest), expected in ((served, ("15s", "1min")), (strict, ("500ms", "1min"))):
        async with ctx.db.engine.connect() as connection:
            shown = (
                (await connection.execute(text("SHOW statement_timeout"))).scalar_one(),
                (await connection.execute(text("SHOW idle_in_transaction_session_timeout"))).scalar_one(),
            )
        assert shown == expected


async def test_a_statement_past_the_timeout_is_a_clear_error(strict_client, strict, shop):
    bot, token = shop
    headers = auth(token, bot.restaurant.id)
    conversation = (
        await gql(
            strict_client, "{ conversations { nodes { id } } }", token=token, restaurant=bot.restaurant.id
        )
    )["data"]["conversations"]["nodes"][0]["id"]
    locker = await asyncpg.connect(strict[1].db.asyncpg_dsn)  # no timeout of its own
    try:
        async with locker.transaction():
            await locker.execute("LOCK TABLE conversation IN ACCESS EXCLUSIVE MODE")  # every read of it waits
            for document in (
                "{ conversations(first: 5) { nodes { id } } }",  # compiled: asyncpg directly
                '{ conversations(first: 5, search: "x") { nodes { id } } }',  # resolved: SQLAlchemy
                f'mutation {{ markConversationRead(id: "{conversation}") {{ __typename }} }}',
            ):
                # (bounded: without a statement_timeout these wait for the lock forever)
                result = await asyncio.wait_for(
                    gql(strict_client, document, token=token, restaurant=bot.restaurant.id), 10
                )
                assert result["errors"][0]["extensions"] == {"code": "TIMEOUT"}, (document, result)
                assert "took too long" in result["errors"][0]["message"]
            response = await asyncio.wait_for(strict_client.get("/api/db/conversations", headers=headers), 10)
            assert response.status_code == 503
            assert "took too long" in response.json()["error"]
    finally:
        await locker.close()
    # The connections that timed out serve the next requests as usual.
    for _ in range(3):
        assert "errors" not in await gql(
            strict_client,
            "{ conversations(first: 5) { nodes { id } } }",
            token=token,
            restaurant=bot.restaurant.id,
        )
    assert (await strict_client.get("/api/db/conversations", headers=headers)).status_code == 200


# -- the response cap --------------------------------------------------------------------------------


async def test_a_response_over_the_cap_is_replaced_by_a_clear_error(strict_client, shop):
    bot, token = shop
    small = "{ stats { totalConversations } }"
    assert (await gql(strict_client, small, token=token, restaurant=bot.restaurant.id)) == {
        "data": {"stats": {"totalConversations": 1}}
    }
    fields = "totalConversations activeConversations totalUnread waitingForStaff messagesToday"
    large = "{ " + " ".join(f"s{i}: stats {{ {fields} }}" for i in range(30)) + " }"  # ~3.7 KB of JSON
    for _ in range(3):  # answered the ordinary way, then from its plan: capped either way
        result = await gql(strict_client, large, token=token, restaurant=bot.restaurant.id)
        error = result["errors"][0]
        assert result["data"] is None and error["extensions"]["code"] == "RESPONSE_TOO_LARGE"
        assert error["extensions"]["limit"] == 2048 and error["extensions"]["size"] > 2048
        assert "at most 2,048" in error["message"]


def test_an_estimate_with_many_variable_products_stays_small():
    """A document built so that its paths multiply many different variables gets an upper bound (every
    variable at the largest page) instead of a polynomial that grows combinatorially."""
    from app.graphql.cost import MAX_PAGE, MAX_TERMS, estimate

    names = [f"v{i}" for i in range(12)]
    fragments = []
    for level in range(4):
        inner = f"...F{level + 1}" if level < 3 else "id"
        fields = " ".join(
            f"m{i}: messages(last: ${n}) {{ nodes {{ conversation {{ {inner} }} }} }}"
            for i, n in enumerate(names)
        )
        fragments.append(f"fragment F{level} on Conversation {{ {fields} }}")
    document = (
        "query Q("
        + ", ".join(f"${n}: Int!" for n in names)
        + ') { conversation(id: "x") { ...F0 } } '
        + " ".join(fragments)
    )
    bounded = estimate(schema._schema, parse(document), None)
    assert len(bounded.terms) <= MAX_TERMS  # (12 variables over 4 levels: some 1,800 products otherwise)
    level = 0
    for _ in range(4):  # under each alias: messages 1, nodes p, conversation p, the next level p times
        level = 12 * (1 + 2 * MAX_PAGE + MAX_PAGE * level)
    assert bounded.evaluate({n: MAX_PAGE for n in names}) == 1 + level  # exact at the largest pages


def test_a_conversations_orders_count_by_their_page():
    """Conversation.orders is paged like messages: each conversation's page multiplies what is below
    it (an order's alerts are enums, counted with their order)."""
    document = "{ conversations(first: 20) { nodes { orders(first: 5) { totalCount nodes { alerts conversation { id } } } } } }"
    assert cost_of(document) == 1 + 20 + 20 * 1 + 20 * 5 + 20 * 5  # = 241
    attack = "{ orders(first: 200) { nodes { conversation { orders(first: 200) { nodes { lines { nameEn } } } } } } }"
    assert cost_of(attack) > LIMIT

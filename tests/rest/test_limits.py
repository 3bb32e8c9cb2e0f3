"""Byte limits: request bodies by route (read no further than the limit), GraphQL query texts, WebSocket
messages, and caches that hold no client text as a key (app/rest/limits.py, app/graphql/documents.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest
import websockets
from starlette.applications import Starlette
from starlette.routing import Route

from app.context import AppContext
from app.graphql.schema import RefuseNulCharacters, Schema
from app.main import create_app
from app.settings import Settings
from tests.gql import Socket
from tests.support import PUBLIC_BASE_URL, Factory, auth, graphql_view, inbound_params, lifespan, sign

KiB = 1024
BODY_LIMIT = 256 * KiB
WEBHOOK_LIMIT = 64 * KiB
QUERY_LIMIT = 32 * KiB
FRAME_LIMIT = 256 * KiB
STATS = "{ stats { totalConversations } }"


class Body:
    """A request body handed to the server in chunks, counting how much of it the server took."""

    def __init__(self, data: bytes, chunk: int = 16 * KiB) -> None:
        self.data = data
        self.chunk = chunk
        self.taken = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.data), self.chunk):
            part = self.data[start : start + self.chunk]
            self.taken += len(part)
            yield part


def graphql_body(query: str, size: int) -> bytes:
    """A GraphQL request body of exactly `size` bytes (JSON padded with whitespace)."""
    body = json.dumps({"query": query}).encode()
    assert len(body) <= size
    return body[:-1] + b" " * (size - len(body)) + b"}"


def padded_query(query: str, size: int) -> str:
    """`query` padded with whitespace (no tokens) to exactly `size` bytes."""
    return query + " " * (size - len(query.encode()))


@pytest.fixture(scope="module")
async def served(settings: Settings) -> AsyncIterator[tuple[Starlette, object, AppContext]]:
    """An app of this module's own (its Starlette object at hand): the app, what serves it, its context."""
    app = create_app(settings)
    async with lifespan(app) as manager:
        yield app, manager.app, manager._state["ctx"]  # type: ignore[attr-defined]


@pytest.fixture
async def client(served, db) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=served[1]), base_url=PUBLIC_BASE_URL) as c:
        yield c


def graphql_schema(app: Starlette) -> Schema:
    """The schema of the app's GraphQL endpoint (its caches)."""
    return next(r.endpoint for r in app.routes if isinstance(r, Route) and r.path == "/graphql").schema


@pytest.fixture
async def shop(factory: Factory):
    bot = await factory.bot()
    return bot, await factory.token(bot.restaurant.id)


# -- request bodies ---------------------------------------------------------------------------------


async def test_a_webhook_at_the_limit_is_taken_and_one_byte_more_is_refused_unread(client, shop):
    bot, _ = shop
    path = "/whatsapp/webhook"

    def form(size: int) -> tuple[dict[str, str], bytes]:
        params = inbound_params(bot, body="")
        params["Body"] = "x" * (size - len(urlencode(params)))
        encoded = urlencode(params).encode()
        assert len(encoded) == size
        return params, encoded

    async def post(size: int, *, chunked: bool) -> tuple[int, dict[str, object], Body]:
        params, encoded = form(size)
        body = Body(encoded)
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            "x-twilio-signature": sign(PUBLIC_BASE_URL + path, params, bot.auth_token),
        }
        if not chunked:
            headers["content-length"] = str(size)
        response = await client.post(path, content=body, headers=headers)
        return response.status_code, (response.json() if response.status_code != 200 else {}), body

    status, _, body = await post(WEBHOOK_LIMIT, chunked=False)
    assert status == 200 and body.taken == WEBHOOK_LIMIT
    status, error, body = await post(WEBHOOK_LIMIT + 1, chunked=False)
    assert status == 413 and body.taken == 0
    assert error == {"error": f"the request body is larger than {WEBHOOK_LIMIT:,} bytes"}
    # Without a Content-Length the body is counted as it comes, and cut off at the limit.
    status, _, body = await post(WEBHOOK_LIMIT, chunked=True)
    assert status == 200
    status, error, body = await post(8 * 1024 * KiB, chunked=True)
    assert status == 413 and "error" in error
    assert body.taken <= WEBHOOK_LIMIT + body.chunk


async def test_a_graphql_body_at_the_limit_is_answered_and_a_larger_one_is_refused_unread(
    client, shop, served
):
    bot, token = shop
    headers = {**auth(token, bot.restaurant.id), "content-type": "application/json"}
    exact = graphql_body(STATS, BODY_LIMIT)
    for chunked in (False, True):
        body = Body(exact)
        extra = {} if chunked else {"content-length": str(len(exact))}
        response = await client.post("/graphql", content=body, headers={**headers, **extra})
        assert response.status_code == 200 and response.json() == {
            "data": {"stats": {"totalConversations": 0}}
        }

    anonymous_query = "{ stats { totalConversations } }" + " " * 100
    anonymous = graphql_body(anonymous_query, 3 * 1024 * KiB)  # and no token at all
    for data, extra in (
        (graphql_body(STATS, BODY_LIMIT + 1), {"content-length": str(BODY_LIMIT + 1)}),
        (anonymous, {"content-length": str(len(anonymous))}),
        (anonymous, {}),
    ):
        body = Body(data)
        response = await client.post(
            "/graphql", content=body, headers={"content-type": "application/json", **extra}
        )
        assert response.status_code == 413
        assert response.json() == {
            "errors": [
                {
                    "message": f"the request body is larger than {BODY_LIMIT:,} bytes",
                    "extensions": {"code": "PAYLOAD_TOO_LARGE", "limit": BODY_LIMIT},
                }
            ]
        }
        assert body.taken == (0 if extra else BODY_LIMIT + body.chunk)
    from app.graphql.documents import key_of

    kept = graphql_schema(served[0]).documents.keys()  # a cache, not a dict: it has no __contains__
    assert key_of(anonymous_query)[0] not in kept  # never parsed, nor kept


async def test_a_rest_body_over_the_limit_is_refused_unread(client, shop):
    bot, token = shop
    headers = {**auth(token, bot.restaurant.id), "content-type": "application/json"}
    path = "/api/conversations/nope/send"
    exact = json.dumps({"message": "x" * (BODY_LIMIT - 15)}).encode()
    assert len(exact) == BODY_LIMIT
    body = Body(exact)
    response = await client.post(path, content=body, headers={**headers, "content-length": str(BODY_LIMIT)})
    assert body.taken == BODY_LIMIT  # read, and answered by the route
    assert response.status_code == 400 and "longer than" in response.json()["error"]
    body = Body(exact + b" ")
    response = await client.post(
        path, content=body, headers={**headers, "content-length": str(BODY_LIMIT + 1)}
    )
    assert response.status_code == 413 and body.taken == 0
    assert response.json() == {"error": f"the request body is larger than {BODY_LIMIT:,} bytes"}


# -- GraphQL query texts and the caches ----------------------------------------------------------------


async def test_a_query_text_over_32_kib_is_refused_before_parsing(client, shop, monkeypatch):
    bot, token = shop
    exact = padded_query(STATS, QUERY_LIMIT)
    over = exact + " "
    for query, status in ((exact, 200), (over, 413)):
        posted = await client.post("/graphql", json={"query": query}, headers=auth(token, bot.restaurant.id))
        got = await client.get("/graphql", params={"query": query}, headers=auth(token, bot.restaurant.id))
        for response in (posted, got):
            assert response.status_code == status, response.text
            if status == 200:
                assert response.json() == {"data": {"stats": {"totalConversations": 0}}}
            else:
                assert response.json() == {
                    "data": None,
                    "errors": [
                        {
                            "message": f"the query text is {QUERY_LIMIT + 1:,} bytes; at most {QUERY_LIMIT:,} are accepted",
                            "extensions": {
                                "code": "QUERY_TOO_LARGE",
                                "size": QUERY_LIMIT + 1,
                                "limit": QUERY_LIMIT,
                            },
                        }
                    ],
                }

    from app.graphql import documents as module

    parsed: list[str] = []
    parse = module.parse
    monkeypatch.setattr(module, "parse", lambda text, **kw: parsed.append(text) or parse(text, **kw))
    fresh = padded_query("{ stats { totalUnread } }", QUERY_LIMIT)
    for query in (fresh + " ", fresh, fresh):
        await client.post("/graphql", json={"query": query}, headers=auth(token, bot.restaurant.id))
    assert parsed == [fresh]  # parsed once (then cached), the larger one never


async def test_caches_key_on_digests_and_hold_no_large_query_text(client, shop, served):
    from app.graphql.documents import key_of

    bot, token = shop
    schema = graphql_schema(served[0])
    plans = graphql_view(served[0]).plans
    headers = auth(token, bot.restaurant.id)
    big = padded_query(
        "query Big { conversations(first: 20) { nodes { id } } }", QUERY_LIMIT
    )  # compiled: planned
    for _ in range(3):  # learned, then answered from its plan
        response = await client.post("/graphql", json={"query": big}, headers=headers)
        assert response.json() == {"data": {"conversations": {"nodes": []}}}
    digest = key_of(big)[0]
    documents, costs = schema.documents.keys(), schema.costs.keys()  # caches, not dicts: no __contains__
    assert digest in documents and schema.documents.size <= schema.documents.budget
    assert (digest, "Big") in costs
    assert digest in RefuseNulCharacters._documents
    for key in [
        *documents,
        *RefuseNulCharacters._documents,
        *(k[0] for k in costs),
        *(k[0] for k in plans._plans),
    ]:
        assert type(key) is bytes and len(key) == 16
    assert any(len(k) == 2 for k in plans._plans)  # (digest, has a bot): the text isn't part of it


def test_the_document_cache_keeps_to_its_budget():
    from graphql import parse

    from app.graphql.documents import DocumentCache, key_of

    cache = DocumentCache(maxsize=3, budget=1000)
    texts = [padded_query(f"{{ a{i} }}", 300) for i in range(5)]
    for text in texts:
        cache.put(key_of(text)[0], parse(text), 300)
    assert len(cache) == 3 and cache.size == 900  # the oldest went first
    cache.get(key_of(texts[2])[0])  # used: now the newest
    text = padded_query("{ b }", 300)
    cache.put(key_of(text)[0], parse(text), 300)
    kept = cache.keys()  # a cache, not a dict: it has no __contains__
    assert key_of(texts[2])[0] in kept and key_of(texts[3])[0] not in kept
    huge = padded_query("{ c }", 1001)
    cache.put(key_of(huge)[0], parse(huge), 1001)  # larger than the whole budget: used once, not kept
    kept = cache.keys()
    assert key_of(huge)[0] not in kept and cache.size <= 1000


# -- WebSocket messages ----------------------------------------------------------------------------------


async def test_a_graphql_socket_message_over_256_kib_closes_the_socket_with_1009(live_url, shop):
    _bot, token = shop
    async with Socket(live_url) as ws:
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}", "padding": ""}}
        init["payload"]["padding"] = "x" * (FRAME_LIMIT - len(json.dumps(init)))
        assert len(json.dumps(init)) == FRAME_LIMIT
        await ws.ws.send(json.dumps(init))  # exactly at the limit: taken
        assert (await ws.receive())["type"] == "connection_ack"
        await ws.ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {
                        "query": "subscription { messageCreated { id } }",
                        "extensions": {"padding": "x" * FRAME_LIMIT},
                    },
                }
            )
        )
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.receive()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_a_legacy_socket_message_over_256_kib_closes_the_socket_with_1009(live_url, shop):
    _bot, token = shop
    async with websockets.connect(f"ws://{live_url}/ws?token={token}") as ws:
        await ws.send(" " * (FRAME_LIMIT - 4) + "ping")  # at the limit: read (and answered)
        assert await asyncio.wait_for(ws.recv(), 5) == "pong"
        await ws.send("x" * (FRAME_LIMIT + 1))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009

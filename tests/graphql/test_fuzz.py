"""Fuzz the GraphQL schema: valid-by-schema queries and mutations with arbitrary arguments, from the
exported SDL (hypothesis-graphql). Nothing may fail as a server error: every error is a clear,
coded GraphQL error or a union member, and the HTTP status is never 5xx."""

from __future__ import annotations

from datetime import UTC

import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import mutations, nodes, queries

from app.settings import PROJECT_ROOT
from tests.gql import Socket
from tests.support import Factory, auth, inbound_params, post_signed

SDL = (PROJECT_ROOT / "schema.graphql").read_text()
# Our own scalars, as a client may send them: well formed (a period, a "closed until") or not at all.
_JUNK = st.text(max_size=30)
SCALARS = {
    "Date": st.one_of(st.dates().map(str), _JUNK).map(nodes.String),
    "DateTime": st.one_of(st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()), _JUNK).map(
        nodes.String
    ),
}
pytestmark = pytest.mark.slow


@pytest.fixture
async def tenant(client, factory: Factory):
    bot = await factory.bot()
    await post_signed(client, "/whatsapp/webhook", inbound_params(bot), bot.auth_token)
    return auth(await factory.token(bot.restaurant.id), bot.restaurant.id)


def _check(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code < 500, response.text
    body = response.json()
    for error in body.get("errors") or []:
        message = error["message"]
        assert "Traceback" not in message and "sqlalchemy" not in message.lower(), message
        assert "internal" not in message.lower(), message


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(query=queries(SDL, custom_scalars=SCALARS) | mutations(SDL, custom_scalars=SCALARS))
async def test_any_schema_valid_operation_is_answered_cleanly(client, tenant, query):
    _check(await client.post("/graphql", json={"query": query}, headers=tenant))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(
        st.text(max_size=200),
        st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
        st.just("{" * 500),
        st.just('{"query": 5}'),
        st.just('{"query": "{", "variables": []}'),
    )
)
async def test_garbage_bodies_are_client_errors(client, tenant, body):
    response = await client.post(
        "/graphql",
        content=body.encode("utf-8", "surrogatepass"),
        headers={**tenant, "Content-Type": "application/json"},
    )
    assert response.status_code < 500, response.text


@pytest.mark.parametrize(
    "body", [b"\x00\x00\x00\x80\x00", b"\x00\x80\x00", b"[" * 100_000, b'{"query": ' + b"[" * 100_000]
)
async def test_bodies_json_cant_read_are_client_errors(client, tenant, body):
    """`json` reads a body starting with NULs as UTF-16 or UTF-32, and recurses once per level."""
    response = await client.post(
        "/graphql", content=body, headers={**tenant, "Content-Type": "application/json"}
    )
    assert response.status_code == 400 and "JSON" in response.text


async def test_a_socket_message_json_cant_read_closes_the_socket_with_4400(live_url, tenant):
    token = tenant["Authorization"].split()[1]
    async with Socket(live_url) as ws:
        assert (await ws.init(token, tenant["X-Restaurant-Id"]))["type"] == "connection_ack"
        await ws.ws.send("[" * 100_000)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.receive()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400

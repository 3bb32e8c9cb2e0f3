"""Expected failures share one interface: a client writes `... on Error { message }` once."""

from __future__ import annotations

from graphql import GraphQLInterfaceType, GraphQLObjectType

from app.graphql.schema import schema
from tests.gql import gql
from tests.support import Factory, inbound_params, post_signed

ANY_FAILURE = "__typename ... on Error { message } ... on ValidationError { field }"


async def test_every_failure_answers_through_the_error_interface(client, factory: Factory):
    bot = await factory.bot()
    await post_signed(client, "/whatsapp/webhook", inbound_params(bot, body="hi"), bot.auth_token)
    token = await factory.token(bot.restaurant.id)
    other = await factory.bot(await factory.restaurant("Other"))
    other_token = await factory.token(other.restaurant.id)
    first = "{ conversations(first: 1) { nodes { id } } }"
    data = await gql(client, first, token=token, restaurant=bot.restaurant.id)
    [conversation] = data["data"]["conversations"]["nodes"]

    query = f"""mutation($id: ID!, $body: String!) {{
      closeConversation(id: $id) {{ {ANY_FAILURE} }}
      sendMessage(conversationId: $id, body: $body) {{ {ANY_FAILURE} }}
    }}"""
    mine = await gql(
        client, query, {"id": conversation["id"], "body": "  "}, token=token, restaurant=bot.restaurant.id
    )
    assert "errors" not in mine, mine
    assert mine["data"]["sendMessage"] == {
        "__typename": "ValidationError",
        "message": mine["data"]["sendMessage"]["message"],
        "field": "body",
    }
    assert mine["data"]["sendMessage"]["message"]
    # Another restaurant's token: the same selection reads its failure, with nothing of ours in it.
    theirs = await gql(
        client,
        query,
        {"id": conversation["id"], "body": "hello"},
        token=other_token,
        restaurant=other.restaurant.id,
    )
    assert "errors" not in theirs, theirs
    assert theirs["data"]["closeConversation"] == {
        "__typename": "NotFoundError",
        "message": "conversation not found",
    }
    assert theirs["data"]["sendMessage"]["__typename"] == "NotFoundError"


def test_every_error_type_of_the_schema_implements_error() -> None:
    types = schema._schema.type_map
    error = types["Error"]
    assert isinstance(error, GraphQLInterfaceType) and "message" in error.fields
    failures = [t for name, t in types.items() if name.endswith("Error") and isinstance(t, GraphQLObjectType)]
    assert {"NotFoundError", "ForbiddenError", "ValidationError", "OutsideCustomerWindowError"} <= {
        t.name for t in failures
    }
    assert [t.name for t in failures if error not in t.interfaces] == []
    assert "field" in types["ValidationError"].fields  # type: ignore[union-attr]

"""Each type's projection (app/graphql/projection.py): every field of the hot types is written by the
compiled path or explicitly left to a resolver, and a field with no column can't be declared silently."""

from __future__ import annotations

import pytest
import strawberry

from app import models
from app.graphql.fast.sql import NESTED, PROJECTIONS
from app.graphql.projection import Projection
from app.graphql.schema import schema


@pytest.mark.parametrize("type_name", sorted(PROJECTIONS))
def test_every_field_of_a_hot_type_is_projected_or_explicitly_resolved(type_name: str) -> None:
    projection = PROJECTIONS[type_name]
    gql_type = schema._schema.get_type(type_name)
    assert gql_type is not None
    names = projection.field_names
    for field_name in gql_type.fields:  # type: ignore[attr-defined]
        python_name = names[field_name]
        projected = projection.sql_of(python_name, "r") is not None
        compiled_nested = field_name in NESTED.get(type_name, {})
        left_to_resolver = python_name in projection.resolved
        assert projected or compiled_nested or left_to_resolver, f"{type_name}.{field_name} is neither"
        assert not (projected and left_to_resolver)


def test_a_field_that_is_no_column_is_refused_when_the_type_is_declared() -> None:
    @strawberry.type
    class Leaky:
        id: strawberry.ID
        auth_token: str  # not a column of Bot under this name: refused, not silently read

    with pytest.raises(TypeError, match="auth_token is not a column of Bot"):
        Projection(Leaky, models.Bot)


def test_a_resolver_must_be_declared_resolved() -> None:
    @strawberry.type
    class Extra:
        id: strawberry.ID

        @strawberry.field
        def shout(self) -> str:
            return "!"

    with pytest.raises(TypeError, match="has a resolver"):
        Projection(Extra, models.Bot)
    assert Projection(Extra, models.Bot, resolved={"shout"}).sql_of("shout", "b") is None

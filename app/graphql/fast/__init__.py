"""The fast path: GraphQL answered with less Python, installed on a schema and its view, or not at all.

The rest of app/graphql reads as if this package did not exist: resolvers have one body, and they
are the reference every answer here is compared with (tests/graphql/test_fast.py). `install` adds,
when GRAPHQL_COMPILE is on (the default):

    POST /graphql ─► plans.Plans ── known document, remembered caller ──► its statements, no GraphQL
         │ (else)
         ▼
    strawberry ─► execution.FastExecution
                    ├─ root field in sql.ROOT_FIELDS ─► one SQL statement writes its JSON (RawJSON)
                    ├─ subscription event ─► executed once per selection for every subscriber
                    └─ anything else ─► the resolvers
    socket frames ─► frames.FrameQueue (caught-up subscribers take frames straight from the feed)
    responses ─► encoding.encode (written around JSON text already made)

What each part skips of the ordinary path is said where it is: a plan skips the schema extensions
(`plans.BYPASSED`, checked here at start), a compiled root field skips Strawberry's resolver wrapper
(so such a field may have no field extensions or permission classes: checked here at start).
"""

from __future__ import annotations

from dataclasses import dataclass

import strawberry
from strawberry.types.base import StrawberryObjectDefinition

from app.graphql.fast import encoding, frames, plans
from app.graphql.fast.execution import FastExecution
from app.graphql.fast.sql import ROOT_FIELDS


@dataclass(frozen=True, slots=True)
class Installed:
    """What the view uses of the fast path."""

    plans: plans.Plans
    transport_frames: type[frames.TransportFrames] = frames.TransportFrames
    legacy_frames: type[frames.LegacyFrames] = frames.LegacyFrames

    @staticmethod
    def encode(data: object) -> str | None:
        return encoding.encode(data)


def install(schema: strawberry.Schema) -> Installed:
    """Put the fast path on `schema` (its execution) and return what its view needs; refuses a schema
    whose extensions or compiled fields it would skip without a word."""
    plans.check(schema.extensions)
    for type_name, field_name in ROOT_FIELDS:
        definition = schema.get_type_by_name(type_name)
        assert isinstance(definition, StrawberryObjectDefinition)
        field = next(
            f for f in definition.fields if schema.config.name_converter.get_graphql_name(f) == field_name
        )
        if field.extensions or field.permission_classes:
            raise RuntimeError(
                f"{type_name}.{field_name} is compiled, which skips its field extensions and permission"
                " classes: take it out of app.graphql.fast.sql.ROOT_FIELDS or check them there"
            )
    schema.execution_context_class = FastExecution
    return Installed(plans=plans.Plans())

"""How a GraphQL type is read from its table: declared once, beside the type, for both paths.

A type such as `Conversation` is filled from a row of its table. Most of its fields are that row's
columns under the same name; a few are worked out from the row (`mediaUrl`, the first of its media;
`waitingForStaff`, a rule of the service layer); a few are resolved by their own resolvers (`bot`,
`messages`). `Projection` declares which is which, and serves both ways of answering a query:

    Projection(Message, models.Message,
               derived={"media_url": Derived(python=..., sql=...)},   worked out from the row
               resolved={"conversation"},                             a resolver of its own
               absent={"cursor"})                                     set by the caller, else null

    from_row(row)          the GraphQL object, in Python (the resolvers' path)
    sql_of(field, alias)   the field's SQL over a row alias (app.graphql.fast compiles with it)

Every other field must be a column of the model with the same name, or the projection refuses to
be built (at import, so at start): a new field can't silently lose the fast path, and only what a
type declares can reach the schema (a bot's encrypted auth token has no field, so it has no way
out). Values are converted by the field's declared type: an ID from its text, an enum from its
value; in SQL, a DateTime is written as Python's `isoformat()` of a UTC time and an enum by name,
the way the resolvers' answers are serialized.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Generic, TypeVar

import strawberry
from sqlalchemy import inspect
from sqlmodel import SQLModel
from strawberry.types.base import get_object_definition
from strawberry.utils.str_converters import to_camel_case

from app.models import table_of

if typing.TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")  # a Strawberry type, which is a dataclass
Row = TypeVar("Row", bound=SQLModel)


@dataclass(frozen=True, slots=True)
class Derived(Generic[Row]):
    """A field worked out from the row: in Python from the row read, in SQL over a row alias."""

    python: Callable[[Row], Any]
    sql: Callable[[str], str]


def iso_sql(expression: str) -> str:
    """`datetime.isoformat()` of a timestamptz read as UTC (no fraction when it is zero), in SQL."""
    return (
        f"replace(to_char({expression} AT TIME ZONE 'UTC', "
        f"""'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'), '.000000+', '+')"""
    )


def enum_sql(enum: type[Enum], expression: str) -> str:
    """An enum column's value written as the enum's name, in SQL."""
    cases = " ".join(f"WHEN '{member.value}' THEN '{member.name}'" for member in enum)
    return f"CASE {expression} {cases} END"


def _base(annotation: Any) -> Any:
    """The type under `X | None`."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        return args[0]
    return annotation


@dataclass(frozen=True, slots=True)
class _Column:
    attribute: str  # the model's attribute
    column: str  # its column in SQL
    to_python: Callable[[Any], Any]
    to_sql: Callable[[str], str]


class Projection(Generic[T, Row]):
    """How `gql_type` is read from a row of `model` (see the module docstring)."""

    def __init__(
        self,
        gql_type: type[T],
        model: type[Row],
        *,
        derived: Mapping[str, Derived[Row]] | None = None,
        resolved: frozenset[str] | set[str] = frozenset(),
        absent: frozenset[str] | set[str] = frozenset(),
    ) -> None:
        self.gql_type = gql_type
        self.model = model
        self.derived: dict[str, Derived[Row]] = dict(derived or {})
        self.resolved = frozenset(resolved)
        self.absent = frozenset(absent)
        self.columns: dict[str, _Column] = {}
        definition = get_object_definition(gql_type, strict=True)
        hints = typing.get_type_hints(gql_type)
        table = table_of(model)
        mapper_columns = {prop.key: prop.columns[0].name for prop in inspect(model).column_attrs}
        names = set()
        for field in definition.fields:
            name = field.python_name
            names.add(name)
            if field.base_resolver is not None:
                if name not in self.resolved and name not in self.derived:
                    raise TypeError(f"{gql_type.__name__}.{name} has a resolver: declare it resolved")
                continue
            if name in self.derived or name in self.resolved or name in self.absent:
                continue
            if name not in mapper_columns or mapper_columns[name] not in table.c:
                raise TypeError(
                    f"{gql_type.__name__}.{name} is not a column of {model.__name__}: declare how it is derived"
                )
            self.columns[name] = _column(name, mapper_columns[name], hints[name])
        unknown = (set(self.derived) | self.resolved | self.absent) - names
        if unknown:
            raise TypeError(f"{gql_type.__name__} has no fields {sorted(unknown)}")
        self._init_fields = [f.name for f in dataclasses.fields(gql_type)]
        # Each GraphQL field name (camelCase) of the type with its Python name.
        self.field_names: dict[str, str] = {
            field.graphql_name or to_camel_case(field.python_name): field.python_name
            for field in definition.fields
        }

    def from_row(self, row: Row, **given: Any) -> T:
        """The GraphQL object for `row`; `given` sets absent fields (e.g. an event's cursor)."""
        values: dict[str, Any] = {
            name: c.to_python(getattr(row, c.attribute)) for name, c in self.columns.items()
        }
        for name, derived in self.derived.items():
            if name in self._init_fields:
                values[name] = derived.python(row)
        values.update(given)
        return self.gql_type(**values)

    def sql_of(self, python_name: str, alias: str) -> str | None:
        """The field's SQL over the row `alias`; None for a field resolved on its own."""
        if python_name in self.absent:
            return "NULL"
        if python_name in self.derived:
            return self.derived[python_name].sql(alias)
        column = self.columns.get(python_name)
        return column.to_sql(f"{alias}.{column.column}") if column is not None else None


def _column(attribute: str, column: str, annotation: Any) -> _Column:
    base = _base(annotation)
    if base is strawberry.ID:
        return _Column(attribute, column, lambda v: strawberry.ID(v) if v is not None else None, lambda e: e)
    if isinstance(base, type) and issubclass(base, Enum):
        enum = base
        return _Column(
            attribute, column, lambda v: enum(v) if v is not None else None, lambda e: enum_sql(enum, e)
        )
    if base is datetime:
        return _Column(attribute, column, lambda v: v, iso_sql)
    if typing.get_origin(base) is list:
        return _Column(attribute, column, lambda v: list(v), lambda e: e)
    return _Column(attribute, column, lambda v: v, lambda e: e)

"""Hot selections compiled to one SQL statement that returns their JSON.

A dashboard's conversation list asks for 20 conversations with a handful of fields, often their last
message or their last N messages. Resolved field by field that is thousands of Python calls and a
query per level; PostgreSQL builds the same JSON in one statement (`json_build_object`, `json_agg`,
one index range scan per conversation for its messages), the way PostGraphile does. The root fields
in `ROOT_FIELDS` (`conversations`, `conversation`, `messages`, `stats`) try that first:

    conversations(first: 20) { nodes { id status lastMessage { content } } }
        → WITH page AS (… LIMIT 21) SELECT json_build_object('nodes', (SELECT json_agg(…) …))

The selection is collected by graphql-core itself (fragments, aliases, @skip/@include). A type's
fields are written as its `Projection` (app.graphql.projection, beside the type) declares them;
the fields it leaves to resolvers are compiled here only where `NESTED` says how (a conversation's
`bot`, `lastMessage`, `messages`). Anything else (a field resolved on its own, an argument that
would be an error, a search) raises `Unsupported` and the root field is resolved the ordinary way.
Those resolvers stay the reference: the tests run documents both ways and compare the answers, value
for value.

Values are written the way the resolvers write them: DateTime as Python's `isoformat()` of a UTC
time, enums by name, cursors as `app.graphql.cursors.encode` makes them, floats as Python's `repr`.
Each statement holds the caller's restaurant (and bot) as parameters and nothing else of the caller's,
so a plan (app.graphql.fast.plans) can run it again for another caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from graphql import GraphQLField, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, OperationDefinitionNode
from graphql.execution.collect_fields import FieldDetails, FragmentDetails, collect_subfields
from graphql.execution.values import VariableValues, get_argument_values
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.auth.principal import Tenant
from app.db.engine import on_driver
from app.errors import ValidationFailed
from app.graphql import cursors
from app.graphql.projection import Projection, iso_sql
from app.graphql.types import BOT, CONVERSATION, MESSAGE
from app.services import pages
from app.services.conversations import MEDIAN_FIRST_RESPONSE, MESSAGES_TODAY, scope, waiting_sql

MAX_KEYS = 50  # json_build_object takes at most 100 arguments

PROJECTIONS: dict[str, Projection[Any, Any]] = {"Conversation": CONVERSATION, "Message": MESSAGE, "Bot": BOT}


class Unsupported(Exception):
    """The selection has something this module doesn't compile: resolve it field by field."""


@dataclass(frozen=True, slots=True)
class RawJSON:
    """A field's completed value, already JSON text, and the statement that wrote it: the executor
    passes it through as it is, and the response is written around it."""

    text: str
    compiled: Compiled


@dataclass(frozen=True, slots=True)
class Compiled:
    """A root field's statement. `key` is the field's response key; `tenant` the positions of the
    caller's restaurant and bot among `params` (the statement is the same for every caller with or
    without a bot, see app.graphql.fast.plans)."""

    sql: str
    params: tuple[Any, ...]
    key: str
    nullable: bool
    tenant: tuple[int, int | None]

    def bind(self, restaurant_id: str, bot_id: str | None) -> tuple[Any, ...]:
        """`params` for another caller of the same kind (with a bot when this one had one)."""
        params = list(self.params)
        restaurant_at, bot_at = self.tenant
        params[restaurant_at] = restaurant_id
        if bot_at is not None:
            params[bot_at] = bot_id
        return tuple(params)

    async def fetch(self, session: AsyncSession) -> RawJSON | None:
        """Run it on the session's connection: the field's JSON (`null` for a nullable field's SQL
        NULL; None for a non-null one's, which its resolver answers)."""
        text = await self.run(await session.connection(), self.params)
        if text is None:
            return RawJSON("null", self) if self.nullable else None
        return RawJSON(text, self)

    async def run(self, connection: AsyncConnection, params: tuple[Any, ...]) -> str | None:
        """asyncpg directly: one prepared statement, one row."""
        text: str | None = await on_driver(connection, lambda driver: driver.fetchval(self.sql, *params))
        return text


class Operation(Protocol):
    """What the compiler reads of an execution (graphql-core's executor has it)."""

    schema: GraphQLSchema
    fragments: dict[str, FragmentDetails]
    variable_values: VariableValues
    operation: OperationDefinitionNode


# -- SQL for values, written the way the resolvers serialize them ----------------------------------


def _int(value: int) -> str:
    """An integer written into the statement (a page size, an offset): they come from the document
    and its variables, which a plan's key holds anyway, and as parameters they made PostgreSQL plan
    the statement anew on every execution (its generic plan, blind to LIMIT, looked worse)."""
    return str(int(value))


def _cursor(at: str, row_id: str) -> str:
    """`cursors.encode(at, id)`: unpadded URL-safe base64 of `json.dumps([at.isoformat(), id])`."""
    payload = f"'[' || to_json({iso_sql(at)})::text || ', ' || to_json({row_id})::text || ']'"
    return f"rtrim(translate(encode(convert_to({payload}, 'UTF8'), 'base64'), E'+/\\n', '-_'), '=')"


# -- the compiler --------------------------------------------------------------------------------


class Compiler:
    def __init__(self, operation: Operation) -> None:
        self.x = operation
        self.params: list[Any] = []
        self.tenant: tuple[int, int | None] | None = None
        self._aliases = 0

    def param(self, value: Any, cast: str) -> str:
        self.params.append(value)
        return f"${len(self.params)}::{cast}"

    def alias(self, prefix: str) -> str:
        self._aliases += 1
        return f"{prefix}{self._aliases}"

    def selections(
        self, type_name: str, details: list[FieldDetails]
    ) -> list[tuple[str, str, list[FieldDetails]]]:
        """(response key, field name, its nodes) of a selection, as graphql-core collects them."""
        collected = collect_subfields(
            self.x.schema,
            self.x.fragments,
            self.x.variable_values,
            self.x.operation,
            self._type(type_name),
            details,
        )
        if collected.new_defer_usages or collected.forbidden_directive_instances:
            raise Unsupported("@defer")
        fields = []
        for key, group in collected.grouped_field_set.items():
            if any(d.defer_usage is not None or d.fragment_variable_values is not None for d in group):
                raise Unsupported("@defer or fragment arguments")
            fields.append((key, group[0].node.name.value, group))
        if len(fields) > MAX_KEYS:
            raise Unsupported("too many fields for one json_build_object")
        return fields

    def field(self, type_name: str, name: str) -> GraphQLField:
        field: GraphQLField = self._type(type_name).fields[name]  # its cached_property loses the type
        return field

    def _type(self, name: str) -> GraphQLObjectType:
        gql_type = self.x.schema.get_type(name)
        assert isinstance(gql_type, GraphQLObjectType)
        return gql_type

    def arguments(self, field: GraphQLField, group: list[FieldDetails]) -> dict[str, Any]:
        return get_argument_values(field, group[0].node, self.x.variable_values)

    def build(
        self,
        type_name: str,
        details: list[FieldDetails],
        parts: Mapping[str, Callable[[list[FieldDetails]], str]],
    ) -> str:
        """json_build_object of a selection whose fields are given by `parts` (name -> SQL)."""
        pairs = []
        for key, name, group in self.selections(type_name, details):
            if name == "__typename":
                sql = f"'{type_name}'"
            elif name in parts:
                sql = parts[name](group)
            else:
                raise Unsupported(f"{type_name}.{name}")
            pairs.append(f"'{key}', {sql}")
        return f"json_build_object({', '.join(pairs)})"

    def row(self, type_name: str, details: list[FieldDetails], row: str) -> str:
        """A Conversation, Message or Bot from a row of its table, as its projection declares."""
        projection = PROJECTIONS[type_name]
        python_names = projection.field_names
        nested = NESTED.get(type_name, {})
        pairs = []
        for key, name, group in self.selections(type_name, details):
            if name == "__typename":
                sql: str | None = f"'{type_name}'"
            elif name in nested:
                sql = nested[name](self, row, group, self.field(type_name, name))
            else:
                sql = projection.sql_of(python_names[name], row)
            if sql is None:
                raise Unsupported(f"{type_name}.{name} is resolved on its own")
            pairs.append(f"'{key}', {sql}")
        return f"json_build_object({', '.join(pairs)})"

    def page_info(self, details: list[FieldDetails], values: dict[str, str]) -> str:
        return self.build("PageInfo", details, {name: _constant(sql) for name, sql in values.items()})

    def tenant_filter(self, tenant: Tenant, row: str = "") -> str:
        """The caller's conversations (app.services.conversations.scope); the only place the caller's
        restaurant and bot become parameters."""
        assert self.tenant is None
        where, at = [], {}
        for column, value in scope(restaurant_id=tenant.restaurant_id, bot_id=tenant.bot_id).items():
            where.append(f"{row}{column} = {self.param(value, 'text')}")
            at[column] = len(self.params) - 1
        self.tenant = (at["restaurant_id"], at.get("bot_id"))
        return " AND ".join(where)


# -- nested fields -------------------------------------------------------------------------------

Nested = Callable[[Compiler, str, list[FieldDetails], GraphQLField], str]


def _messages(c: Compiler, row: str, group: list[FieldDetails], field: GraphQLField) -> str:
    """Conversation.messages (and Query.messages): the newest `last` before `before`, oldest first."""
    args = c.arguments(field, group)
    last, before = args["last"], args.get("before")
    keyset = ""
    try:
        pages.page_size(last, field="last")
        if before:
            at, row_id = cursors.decode(before, field="before")
            keyset = f" AND (created_at, id) < ({c.param(at, 'timestamptz')}, {c.param(row_id, 'text')})"
    except ValidationFailed:
        raise Unsupported("a page the resolver refuses (it says why)") from None
    n = _int(last)
    m = c.alias("m")
    rows = (
        f"(SELECT row_number() OVER (ORDER BY created_at DESC, id DESC) AS k, * FROM ("
        f"SELECT * FROM message WHERE restaurant_id = {row}.restaurant_id AND conversation_id = {row}.id{keyset}"
        f" ORDER BY created_at DESC, id DESC LIMIT {_int(last + 1)}) newest) {m}"
    )
    cursor = _cursor(f"{m}.created_at", f"{m}.id")

    def edges(details: list[FieldDetails]) -> str:
        edge = c.build(
            "MessageEdge", details, {"cursor": lambda _g: cursor, "node": lambda g: c.row("Message", g, m)}
        )
        return f"coalesce(json_agg({edge} ORDER BY {m}.k DESC) FILTER (WHERE {m}.k <= {n}), '[]')"

    connection = c.build(
        "MessageConnection",
        group,
        {
            "nodes": lambda g: (
                f"coalesce(json_agg({c.row('Message', g, m)} ORDER BY {m}.k DESC)"
                f" FILTER (WHERE {m}.k <= {n}), '[]')"
            ),
            "edges": edges,
            "pageInfo": lambda g: c.page_info(
                g,
                {
                    "hasNextPage": "false",
                    "hasPreviousPage": f"(count(*) > {n})",
                    "startCursor": f"(array_agg({cursor} ORDER BY {m}.k DESC) FILTER (WHERE {m}.k <= {n}))[1]",
                    "endCursor": f"(array_agg({cursor}) FILTER (WHERE {m}.k = 1))[1]",
                },
            ),
        },
    )
    return f"(SELECT {connection} FROM {rows})"


def _last_message(c: Compiler, row: str, group: list[FieldDetails], _field: GraphQLField) -> str:
    m = c.alias("m")
    return (
        f"(SELECT {c.row('Message', group, m)} FROM message {m} WHERE {m}.restaurant_id = {row}.restaurant_id"
        f" AND {m}.conversation_id = {row}.id ORDER BY {m}.created_at DESC, {m}.id DESC LIMIT 1)"
    )


def _bot(c: Compiler, row: str, group: list[FieldDetails], _field: GraphQLField) -> str:
    b = c.alias("b")
    return (
        f"(SELECT {c.row('Bot', group, b)} FROM bot {b} WHERE {b}.restaurant_id = {row}.restaurant_id"
        f" AND {b}.id = {row}.bot_id)"
    )


# The fields a projection leaves to resolvers that compile all the same (every other one declines).
NESTED: dict[str, dict[str, Nested]] = {
    "Conversation": {"bot": _bot, "lastMessage": _last_message, "messages": _messages},
}


# -- the root fields -----------------------------------------------------------------------------


def _conversations(c: Compiler, field: GraphQLField, details: list[FieldDetails], tenant: Tenant) -> str:
    """Query.conversations (newest activity first)."""
    args = c.arguments(field, details)
    first, offset, after, status = args["first"], args["offset"], args.get("after"), args.get("status")
    if args.get("search"):
        raise Unsupported("search")
    try:
        pages.page_size(first, field="first")
        pages.offset(offset)
        position: tuple[datetime, str] | None = cursors.decode(after, field="after") if after else None
    except ValidationFailed:
        raise Unsupported("arguments the resolver refuses (it says why)") from None
    filters = c.tenant_filter(tenant)
    if status is not None:
        filters += f" AND status = {c.param(getattr(status, 'value', status), 'text')}"
    keyset = (
        f" AND (last_message_at, id) < ({c.param(position[0], 'timestamptz')}, {c.param(position[1], 'text')})"
        if position
        else ""
    )
    order = "last_message_at DESC, id DESC"
    page = (
        f"SELECT * FROM conversation WHERE {filters}{keyset}"
        f" ORDER BY {order} OFFSET {_int(offset)} LIMIT {_int(first + 1)}"
    )
    cursor = _cursor("c.last_message_at", "c.id")
    listed = f"FROM (SELECT * FROM page ORDER BY {order} LIMIT {_int(first)}) c"
    newest_first = "ORDER BY c.last_message_at DESC, c.id DESC"

    def edges(group: list[FieldDetails]) -> str:
        edge = c.build(
            "ConversationEdge",
            group,
            {"cursor": lambda _g: cursor, "node": lambda g: c.row("Conversation", g, "c")},
        )
        return f"(SELECT coalesce(json_agg({edge} {newest_first}), '[]') {listed})"

    connection = c.build(
        "ConversationConnection",
        details,
        {
            "nodes": lambda g: (
                f"(SELECT coalesce(json_agg({c.row('Conversation', g, 'c')} {newest_first}), '[]') {listed})"
            ),
            "edges": edges,
            "totalCount": lambda _g: f"(SELECT count(*) FROM conversation WHERE {filters})",
            "pageInfo": lambda g: c.page_info(
                g,
                {
                    "hasNextPage": f"((SELECT count(*) FROM page) > {_int(first)})",
                    "hasPreviousPage": "true" if position is not None or offset > 0 else "false",
                    "startCursor": f"(SELECT {cursor} FROM page c {newest_first} LIMIT 1)",
                    "endCursor": f"(SELECT {cursor} {listed} ORDER BY c.last_message_at, c.id LIMIT 1)",
                },
            ),
        },
    )
    return f"WITH page AS ({page}) SELECT {connection}::text"


def _stats(c: Compiler, field: GraphQLField, details: list[FieldDetails], tenant: Tenant) -> str:
    """Query.stats: the counters over the caller's conversations, and the restaurant's activity (the
    service's own SQL, app.services.conversations)."""
    where = c.tenant_filter(tenant)
    assert c.tenant is not None
    restaurant = f"${c.tenant[0] + 1}::text"  # the caller's parameter: rebound per caller

    def activity(sql: str) -> str:
        return "(" + re.sub(r"(?<![:\w]):r\b", lambda _m: restaurant, sql) + ")"

    median = activity(MEDIAN_FIRST_RESPONSE)
    value = c.build(
        "Stats",
        details,
        {
            "totalConversations": lambda _g: "k.total",
            "activeConversations": lambda _g: "k.active",
            "totalUnread": lambda _g: "k.unread",
            "waitingForStaff": lambda _g: "k.waiting",
            "messagesToday": lambda _g: activity(MESSAGES_TODAY),
            # float(median) as Python writes it: 120.0, not PostgreSQL's 120. (OFFSET 0 keeps the
            # median a subquery of its own: pulled up, it was computed once per use of `v`.)
            "medianFirstResponseSeconds": lambda _g: (
                f"(SELECT CASE WHEN v = trunc(v) AND abs(v) < 1e15 THEN to_json(v)::text || '.0'"
                f" ELSE to_json(v)::text END FROM (SELECT {median}::float8 AS v OFFSET 0) median)::json"
            ),
        },
    )
    counts = (
        f"SELECT count(*) AS total, count(*) FILTER (WHERE status = 'active') AS active,"
        f" coalesce(sum(unread_count), 0) AS unread,"
        f" count(*) FILTER (WHERE {waiting_sql('conversation')}) AS waiting"
        f" FROM conversation WHERE {where}"
    )
    return f"SELECT {value}::text FROM ({counts}) k"


def _of_conversation(
    c: Compiler, field: GraphQLField, details: list[FieldDetails], tenant: Tenant, argument: str
) -> tuple[str, dict[str, Any]]:
    """The FROM and WHERE of a root field read from one conversation row of the caller's (none: null),
    and the field's arguments."""
    args = c.arguments(field, details)
    where = c.tenant_filter(tenant, row="c.")
    return f"FROM conversation c WHERE {where} AND c.id = {c.param(str(args[argument]), 'text')}", args


def _conversation(c: Compiler, field: GraphQLField, details: list[FieldDetails], tenant: Tenant) -> str:
    """Query.conversation(id): null when missing, another restaurant's or another bot's."""
    source, _ = _of_conversation(c, field, details, tenant, "id")
    return f"SELECT {c.row('Conversation', details, 'c')}::text {source}"


def _conversation_messages(
    c: Compiler, field: GraphQLField, details: list[FieldDetails], tenant: Tenant
) -> str:
    """Query.messages(conversationId): the conversation's page, null when it isn't the caller's."""
    source, _ = _of_conversation(c, field, details, tenant, "conversationId")
    return f"SELECT {_messages(c, 'c', details, field)}::text {source}"


RootField = Callable[[Compiler, GraphQLField, list[FieldDetails], Tenant], str]

# The root fields tried compiled first, by (type, field): app.graphql.fast.execution runs them.
ROOT_FIELDS: dict[tuple[str, str], RootField] = {
    ("Query", "conversations"): _conversations,
    ("Query", "conversation"): _conversation,
    ("Query", "messages"): _conversation_messages,
    ("Query", "stats"): _stats,
}


def compile_root(
    operation: Operation,
    root: RootField,
    field: GraphQLField,
    details: list[FieldDetails],
    key: str,
    tenant: Tenant,
) -> Compiled | None:
    """A root field's statement for the caller; None when it must be resolved field by field."""
    c = Compiler(operation)
    try:
        sql = root(c, field, details, tenant)
    except Unsupported:
        return None
    assert c.tenant is not None
    nullable = not isinstance(field.type, GraphQLNonNull)
    return Compiled(sql, tuple(c.params), key=key, nullable=nullable, tenant=c.tenant)


def _constant(sql: str) -> Callable[[list[FieldDetails]], str]:
    """A field whose SQL does not depend on its selection (PageInfo's)."""
    return lambda _group: sql

"""Hot selections compiled to one SQL statement that returns their JSON.

A dashboard's conversation list asks for 20 conversations with a handful of fields, often their last
message or their last N messages. Resolved field by field that is thousands of Python calls and a
query per level; PostgreSQL builds the same JSON in one statement (`json_build_object`, `json_agg`,
one index range scan per conversation for its messages), the way PostGraphile does. The root fields
`conversations`, `conversation`, `messages` and `stats` try that first:

    conversations(first: 20) { nodes { id status lastMessage { content } } }
        → WITH page AS (… LIMIT 21) SELECT json_build_object('nodes', (SELECT json_agg(…) …))

The selection is collected by graphql-core itself (fragments, aliases, @skip/@include), and every
field must be one this module knows: the scalars of Conversation, Message, Bot and Stats, `bot`,
`lastMessage`, `messages`, edges, nodes, pageInfo, totalCount and `__typename`. Anything else (a field
it doesn't know, an argument that would be an error, a search) raises `Unsupported` and the field is
resolved the ordinary way. Those resolvers stay the reference: the tests run documents both ways and
compare the answers, value for value, and `GRAPHQL_COMPILE=false` turns this off.

Values are written the way the resolvers write them: DateTime as Python's `isoformat()` of a UTC
time, enums by name, cursors as `app.graphql.cursors.encode` makes them, floats as Python's `repr`.
Each statement holds the caller's restaurant (and bot) as parameters and nothing else of the caller's,
so app.graphql.prepared can run it again for another caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from graphql import GraphQLField, GraphQLNonNull, GraphQLObjectType
from graphql.execution.collect_fields import FieldDetails, collect_subfields
from graphql.execution.values import get_argument_values
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.db.engine import on_driver
from app.errors import ValidationFailed
from app.graphql import cursors
from app.graphql.types import MAX_MESSAGES_PAGE, BotStatus, ConversationStatus, Direction
from app.services.conversations import MEDIAN_FIRST_RESPONSE, MESSAGES_TODAY

if TYPE_CHECKING:
    from app.graphql.prepared import Recording

MAX_KEYS = 50  # json_build_object takes at most 100 arguments


class Unsupported(Exception):
    """The selection has something this module doesn't compile: resolve it field by field."""


@dataclass(frozen=True, slots=True)
class RawJSON:
    """A field's completed value, already JSON text: the executor passes it through as it is, and the
    response is written around it (see `SharedData`)."""

    text: str


# The request's recording of what it compiled (app.graphql.prepared), set while one is made.
RECORDING: ContextVar[Recording | None] = ContextVar("graphql_recording", default=None)


@dataclass(frozen=True, slots=True)
class Compiled:
    """A root field's statement. `key` is the field's response key; `tenant` the positions of the
    caller's restaurant and bot among `params` (the statement is the same for every caller with or
    without a bot, see app.graphql.prepared)."""

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
        """Run it on the session's connection (asyncpg directly: one prepared statement, one row)."""
        text = await self.run(await session.connection(), self.params)
        recording = RECORDING.get()
        if recording is not None:
            recording.ran(self)
        return RawJSON(text) if text is not None else None

    async def run(self, connection: AsyncConnection, params: tuple[Any, ...]) -> str | None:
        return await on_driver(connection, lambda driver: driver.fetchval(self.sql, *params))  # type: ignore[no-any-return]


# -- SQL for values, written the way the resolvers serialize them ----------------------------------


def _iso(e: str) -> str:
    """`datetime.isoformat()` of a timestamptz read as UTC (no fraction when it is zero)."""
    return (
        f"""replace(to_char({e} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'), '.000000+', '+')"""
    )


def _int(value: int) -> str:
    """An integer written into the statement (a page size, an offset): they come from the document
    and its variables, which a plan's key holds anyway, and as parameters they made PostgreSQL plan
    the statement anew on every execution (its generic plan, blind to LIMIT, looked worse)."""
    return str(int(value))


def _cursor(at: str, row_id: str) -> str:
    """`cursors.encode(at, id)`: unpadded URL-safe base64 of `json.dumps([at.isoformat(), id])`."""
    payload = f"'[' || to_json({_iso(at)})::text || ', ' || to_json({row_id})::text || ']'"
    return f"rtrim(translate(encode(convert_to({payload}, 'UTF8'), 'base64'), E'+/\\n', '-_'), '=')"


def _enum(enum: type[Enum], e: str) -> str:
    cases = " ".join(f"WHEN '{m.value}' THEN '{m.name}'" for m in enum)
    return f"CASE {e} {cases} END"


Builder = Callable[["_Compiler", str, list[FieldDetails], GraphQLField], str]


def _column(name: str, wrap: Callable[[str], str] = lambda e: e) -> Builder:
    return lambda _c, row, _group, _field: wrap(f"{row}.{name}")


def _expr(template: str) -> Builder:
    return lambda _c, row, _group, _field: template.format(r=row)


# -- the compiler --------------------------------------------------------------------------------


class _Compiler:
    def __init__(self, executor: Any) -> None:
        self.x = executor
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
        return self._type(type_name).fields[name]

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
        parts: dict[str, Callable[[list[FieldDetails]], str]],
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
        """A Conversation, Message or Bot from a row of its table."""
        table = ROWS[type_name]
        return self.build(
            type_name,
            details,
            {
                name: (
                    lambda group, build=build, name=name: build(self, row, group, self.field(type_name, name))
                )
                for name, build in table.items()
            },
        )

    def page_info(self, details: list[FieldDetails], values: dict[str, str]) -> str:
        return self.build(
            "PageInfo", details, {name: (lambda _g, sql=sql: sql) for name, sql in values.items()}
        )


# -- nested fields -------------------------------------------------------------------------------


def _messages(c: _Compiler, row: str, group: list[FieldDetails], field: GraphQLField) -> str:
    """Conversation.messages (and Query.messages): the newest `last` before `before`, oldest first."""
    args = c.arguments(field, group)
    last, before = args["last"], args.get("before")
    if not 1 <= last <= MAX_MESSAGES_PAGE:
        raise Unsupported("last out of range (the resolver says so)")
    keyset = ""
    if before:
        try:
            at, row_id = cursors.decode(before, field="before")
        except ValidationFailed:
            raise Unsupported("malformed cursor (the resolver says so)") from None
        keyset = f" AND (created_at, id) < ({c.param(at, 'timestamptz')}, {c.param(row_id, 'text')})"
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


def _last_message(c: _Compiler, row: str, group: list[FieldDetails], _field: GraphQLField) -> str:
    m = c.alias("m")
    return (
        f"(SELECT {c.row('Message', group, m)} FROM message {m} WHERE {m}.restaurant_id = {row}.restaurant_id"
        f" AND {m}.conversation_id = {row}.id ORDER BY {m}.created_at DESC, {m}.id DESC LIMIT 1)"
    )


def _bot(c: _Compiler, row: str, group: list[FieldDetails], _field: GraphQLField) -> str:
    b = c.alias("b")
    return (
        f"(SELECT {c.row('Bot', group, b)} FROM bot {b} WHERE {b}.restaurant_id = {row}.restaurant_id"
        f" AND {b}.id = {row}.bot_id)"
    )


_NULL: Builder = lambda *_: "NULL"

ROWS: dict[str, dict[str, Builder]] = {
    "Conversation": {
        "id": _column("id"),
        "restaurantId": _column("restaurant_id"),
        "botId": _column("bot_id"),
        "customerPhone": _column("customer_phone"),
        "customerName": _column("customer_name"),
        "status": _column("status", lambda e: _enum(ConversationStatus, e)),
        "lastMessageAt": _column("last_message_at", _iso),
        "lastInboundAt": _column("last_inbound_at", _iso),
        "unreadCount": _column("unread_count"),
        "isBotActive": _column("is_bot_active"),
        "createdAt": _column("created_at", _iso),
        "updatedAt": _column("updated_at", _iso),
        "cursor": _NULL,
        "waitingForStaff": _expr(
            "({r}.status = 'active' AND NOT {r}.is_bot_active"
            " AND {r}.last_inbound_at IS NOT NULL AND {r}.last_inbound_at >= {r}.last_message_at)"
        ),
        "bot": _bot,
        "lastMessage": _last_message,
        "messages": _messages,
    },
    "Message": {
        "id": _column("id"),
        "conversationId": _column("conversation_id"),
        "restaurantId": _column("restaurant_id"),
        "direction": _column("direction", lambda e: _enum(Direction, e)),
        "author": _column("author"),
        "messageType": _column("message_type"),
        "content": _column("content"),
        "mediaUrl": _expr("({r}.media_urls ->> 0)"),
        "mediaUrls": _column("media_urls"),
        "waSid": _column("wa_sid"),
        "deliveryStatus": _column("delivery_status"),
        "errorCode": _column("error_code"),
        "errorMessage": _column("error_message"),
        "metadata": _expr("({r}.metadata - 'twilio')"),
        "createdAt": _column("created_at", _iso),
        "updatedAt": _column("updated_at", _iso),
        "cursor": _NULL,
    },
    "Bot": {
        "id": _column("id"),
        "restaurantId": _column("restaurant_id"),
        "name": _column("name"),
        "restaurantName": _column("restaurant_name"),
        "whatsappNumber": _column("whatsapp_number"),
        "status": _column("status", lambda e: _enum(BotStatus, e)),
        "isActive": _expr("({r}.is_active AND {r}.deleted_at IS NULL)"),
        "supportContact": _column("support_contact"),
        "paymentLink": _column("payment_link"),
        "maxMessagesPerMin": _column("max_messages_per_min"),
        "maxMessagesPerDay": _column("max_messages_per_day"),
        "createdAt": _column("created_at", _iso),
        "updatedAt": _column("updated_at", _iso),
        "cursor": _NULL,
    },
}


# -- the root fields -----------------------------------------------------------------------------


def _root(info: Any) -> tuple[_Compiler, list[FieldDetails]] | None:
    from app.graphql.shared import ROOT_EXECUTOR

    executor = ROOT_EXECUTOR.get()
    raw = info._raw_info
    if executor is None or executor.operation is not raw.operation:
        return None
    return _Compiler(executor), [FieldDetails(node, None) for node in raw.field_nodes]


def _tenant_filter(c: _Compiler, restaurant_id: str, bot_id: str | None, row: str = "") -> str:
    """The caller's rows; the only place the caller's restaurant and bot become parameters."""
    assert c.tenant is None
    where = f"{row}restaurant_id = {c.param(restaurant_id, 'text')}"
    restaurant_at, bot_at = len(c.params) - 1, None
    if bot_id is not None:
        where += f" AND {row}bot_id = {c.param(bot_id, 'text')}"
        bot_at = len(c.params) - 1
    c.tenant = (restaurant_at, bot_at)
    return where


Statement = Callable[[_Compiler, list[FieldDetails], str], str]


def _compile(
    info: Any, restaurant_id: str, bot_id: str | None, statement: Statement, row: str = ""
) -> Compiled | None:
    """A root field's statement: `statement(compiler, selection, the caller's filter on `row`)`; None
    when it must be resolved field by field."""
    root = _root(info)
    if root is None:
        return None
    c, details = root
    try:
        sql = statement(c, details, _tenant_filter(c, restaurant_id, bot_id, row))
    except Unsupported:
        return None
    assert c.tenant is not None
    raw = info._raw_info
    return Compiled(
        sql,
        tuple(c.params),
        key=raw.path.key,
        nullable=not isinstance(raw.return_type, GraphQLNonNull),
        tenant=c.tenant,
    )


def conversations(
    info: Any,
    *,
    restaurant_id: str,
    bot_id: str | None,
    status: str | None,
    first: int,
    offset: int,
    after: tuple[datetime, str] | None,
) -> Compiled | None:
    """Query.conversations (newest activity first), or None when it must be resolved field by field."""

    def statement(c: _Compiler, details: list[FieldDetails], filters: str) -> str:
        if status is not None:
            filters += f" AND status = {c.param(status, 'text')}"
        keyset = (
            f" AND (last_message_at, id) < ({c.param(after[0], 'timestamptz')}, {c.param(after[1], 'text')})"
            if after
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
                        "hasPreviousPage": "true" if after is not None or offset > 0 else "false",
                        "startCursor": f"(SELECT {cursor} FROM page c {newest_first} LIMIT 1)",
                        "endCursor": f"(SELECT {cursor} {listed} ORDER BY c.last_message_at, c.id LIMIT 1)",
                    },
                ),
            },
        )
        return f"WITH page AS ({page}) SELECT {connection}::text"

    return _compile(info, restaurant_id, bot_id, statement)


def stats(info: Any, *, restaurant_id: str, bot_id: str | None) -> Compiled | None:
    """Query.stats: the counters over the caller's conversations, and the restaurant's activity (the
    service's own SQL, app.services.conversations)."""

    def statement(c: _Compiler, details: list[FieldDetails], where: str) -> str:
        restaurant = f"${c.tenant[0] + 1}::text"  # type: ignore[index]  # the caller's parameter: rebound per caller

        def activity(sql: str) -> str:
            return "(" + re.sub(r"(?<![:\w]):r\b", lambda _m: restaurant, sql) + ")"

        waiting = ROWS["Conversation"]["waitingForStaff"](c, "conversation", [], None)  # type: ignore[arg-type]
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
            f" coalesce(sum(unread_count), 0) AS unread, count(*) FILTER (WHERE {waiting}) AS waiting"
            f" FROM conversation WHERE {where}"
        )
        return f"SELECT {value}::text FROM ({counts}) k"

    return _compile(info, restaurant_id, bot_id, statement)


def conversation(
    info: Any, *, restaurant_id: str, bot_id: str | None, conversation_id: str
) -> Compiled | None:
    """Query.conversation(id): null when missing, another restaurant's or another bot's."""
    return _of_conversation(
        info, restaurant_id, bot_id, conversation_id, lambda c, details: c.row("Conversation", details, "c")
    )


def messages(info: Any, *, restaurant_id: str, bot_id: str | None, conversation_id: str) -> Compiled | None:
    """Query.messages(conversationId): the conversation's page, null when the conversation isn't the caller's."""
    field = info._raw_info.parent_type.fields[info._raw_info.field_name]
    return _of_conversation(
        info, restaurant_id, bot_id, conversation_id, lambda c, details: _messages(c, "c", details, field)
    )


def _of_conversation(
    info: Any,
    restaurant_id: str,
    bot_id: str | None,
    conversation_id: str,
    value: Callable[[_Compiler, list[FieldDetails]], str],
) -> Compiled | None:
    """A root field's value computed from one conversation row of the caller's (none: null)."""
    return _compile(
        info,
        restaurant_id,
        bot_id,
        lambda c, details, where: (
            f"SELECT {value(c, details)}::text FROM conversation c WHERE {where}"
            f" AND c.id = {c.param(conversation_id, 'text')}"
        ),
        row="c.",
    )

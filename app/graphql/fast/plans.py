"""Queries answered again without GraphQL: a known document's statements, run for the next caller.

A dashboard sends the same few documents again and again: the conversation list, a conversation's
messages. Once compiled (app.graphql.fast.sql), the database writes their JSON; what is left per
request is GraphQL's own work, and it is the same every time: parse the body, run the extensions,
validate, execute the operation, complete the fields, write the response.

So the first request for a (document, operation name, variables) goes the ordinary way. When its
operation turned out to be a query whose every root field was compiled (each value in its answer is
`RawJSON`, which holds the statement that wrote it), and the answer had no error, the statements are
kept (`Plan`); they hold the caller's
restaurant and bot as parameters, and nothing else of the caller's. The next request with the same
document, name and variables, from any caller whose authentication this process remembers
(app.auth.cache), runs them with its own restaurant and bot and writes the response around the JSON
they return:

    POST /graphql {"query": "query Q1 { conversations(first: 20) { nodes { id status } } }"}
        first time:  strawberry → validation, limits → execution → compiled SQL   (recorded)
        then:        plan → SELECT … WHERE restaurant_id = $1 … → {"data":{"conversations":…}}

Everything else goes the ordinary way and answers exactly as it did: an unknown document, a caller
not remembered (or refused: the error comes from the ordinary path), a body that isn't one JSON
object, a statement that fails. Whether a document passes validation and the limits depends on its
text alone, and the compiled statements depend on the document, the variables and whether the
caller has a bot, which is what the key holds, so a plan answers what the ordinary path would. So
does the cost limit (app.graphql.cost), which depends on the document and the variables: a refused
operation has an error, so it is never planned.

A plan skips the schema's extensions, so each is named in `BYPASSED` with why skipping it answers
the same; a schema with an extension not named there is refused when the view starts (`check`).

The key holds a digest of the document, operation name and variables (BLAKE2b, 16 bytes), not their
text: a cache of plans must not keep what clients send alive (a plan holds its statements only).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from graphql import ExecutionResult
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from strawberry.extensions import DisableIntrospection, MaskErrors, MaxTokensLimiter

from app.auth import credentials
from app.context import AppContext
from app.errors import StatementTimeout
from app.graphql.context import graphql_error
from app.graphql.cost import CostLimit
from app.graphql.documents import CachedDocuments
from app.graphql.fast.sql import Compiled, RawJSON
from app.graphql.schema import CloseSession, HideSuggestions, Limits, RefuseNulCharacters

log = logging.getLogger("sufrah.graphql")

Key = tuple[bytes, bool]  # digest of (query, operation name, variables JSON); the caller has a bot


@dataclass(frozen=True, slots=True)
class Plan:
    fields: tuple[Compiled, ...]  # the root fields, in response order


def plan_of(result: ExecutionResult) -> Plan | None:
    """The plan of an answer without errors whose every root field a compiled statement wrote."""
    data = result.data
    if result.errors or not isinstance(data, dict) or not data or result.extensions:
        return None
    if any(type(value) is not RawJSON or value.compiled.key != key for key, value in data.items()):
        return None
    return Plan(tuple(value.compiled for value in data.values()))


# What a plan skips, and why its answer is the same without it. An extension missing here would be
# skipped silently: `check` refuses such a schema.
BYPASSED: dict[type[Any], str] = {
    CloseSession: "a plan opens and closes its own connection",
    RefuseNulCharacters: "a document with NUL in a literal or variable fails validation: no plan",
    MaskErrors: "a plan's answer has no error (a failing statement goes the ordinary way)",
    CachedDocuments: "parsing and validation depend on the text alone, which the key holds",
    Limits: "depth and aliases depend on the text alone: a refused document has no plan",
    MaxTokensLimiter: "tokens depend on the text alone: a refused document has no plan",
    CostLimit: "the cost depends on the document and variables, which the key holds",
    DisableIntrospection: "introspection fields are never compiled: no plan",
    HideSuggestions: "only rewrites validation errors: a document with errors has no plan",
}


def check(extensions: Iterable[Any]) -> None:
    """Refuse (at start) a schema with an extension a plan would skip without saying why it may."""
    for extension in extensions:
        kind = extension.func if isinstance(extension, partial) else extension
        kind = kind if isinstance(kind, type) else type(kind)
        if kind not in BYPASSED:
            raise RuntimeError(
                f"plans skip the schema extension {kind.__name__}: say in app.graphql.fast.plans.BYPASSED"
                " why its answer is the same without it, or make it run on planned queries too"
            )


@dataclass(frozen=True, slots=True)
class Wanted:
    """A POST body that may be answered by a plan, once the caller is known."""

    query: str
    operation_name: str | None
    variables: str

    def digest(self) -> bytes:
        """The key's digest of the three, each part length-prefixed (a name of None is no length)."""
        h = hashlib.blake2b(digest_size=16)
        for part in (self.query, self.operation_name, self.variables):
            if part is None:
                h.update(b"\xff" * 8)
            else:
                encoded = part.encode("utf-8", "surrogatepass")
                h.update(len(encoded).to_bytes(8, "little"))
                h.update(encoded)
        return h.digest()


def _parse(body: bytes) -> Wanted | None:
    """The parts of the key from a body of one GraphQL request; None for anything else."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # the ordinary path says what is wrong with it
        return None
    if type(data) is not dict or data.keys() - {"query", "operationName", "variables", "extensions"}:
        return None
    query, name, variables = data.get("query"), data.get("operationName"), data.get("variables")
    if (
        type(query) is not str
        or not (name is None or type(name) is str)
        or data.get("extensions") is not None
    ):
        return None
    if variables is None or variables == {}:
        encoded = ""
    elif type(variables) is dict:
        encoded = json.dumps(variables, sort_keys=True, separators=(",", ":"))
    else:
        return None
    return Wanted(query, name, encoded)


class Plans:
    """Plans by key, at most `maxsize` (emptied when full: a refill is one ordinary request each)."""

    def __init__(self, maxsize: int = 1000) -> None:
        self.maxsize = maxsize
        self.answered = 0  # requests answered from a plan
        self._plans: dict[Key, Plan] = {}

    def learn(self, key: Key, result: ExecutionResult) -> None:
        """Keep the plan of the ordinary answer to `key`, if it has one."""
        plan = plan_of(result)
        if plan is None:
            return
        if len(self._plans) >= self.maxsize:
            self._plans.clear()
        self._plans[key] = plan

    async def answer(self, request: Request, ctx: AppContext) -> tuple[Response | None, Key | None]:
        """The response from a plan, or None and the key to learn (None: not a request to learn from)."""
        if not request.headers.get("content-type", "").startswith("application/json"):
            return None, None
        wanted = _parse(await request.body())
        if wanted is None:
            return None, None
        caller = credentials.from_headers(request.headers)
        tenant = ctx.auth.cached_tenant(token=caller.token, tenant_ref=caller.tenant_ref)
        if tenant is None:
            return None, None  # authenticated (or refused) the ordinary way; learned next time
        key = (wanted.digest(), tenant.bot_id is not None)
        plan = self._plans.get(key)
        if plan is None:
            return None, key
        try:
            body = await self._run(plan, ctx, tenant.restaurant_id, tenant.bot_id)
        except StatementTimeout as exc:  # the ordinary way would only wait as long again
            return JSONResponse({"data": None, "errors": [graphql_error(exc).formatted]}), None
        except Exception as exc:  # noqa: BLE001  (the ordinary path answers, and reports the error as it does)
            log.debug("prepared query failed (%s); answering the ordinary way", type(exc).__name__)
            return None, None
        if body is None:
            return None, None
        self.answered += 1
        return Response(body, media_type="application/json"), None

    @staticmethod
    async def _run(plan: Plan, ctx: AppContext, restaurant_id: str, bot_id: str | None) -> str | None:
        parts = []
        async with ctx.db.engine.connect() as connection:
            for compiled in plan.fields:
                text = await compiled.run(connection, compiled.bind(restaurant_id, bot_id))
                if text is None and not compiled.nullable:
                    return None
                parts.append(f'"{compiled.key}":{"null" if text is None else text}')
        return '{"data":{' + ",".join(parts) + "}}"

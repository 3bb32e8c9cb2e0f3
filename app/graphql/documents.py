"""Parsed and validated documents, cached by a digest of their text, within a byte budget.

A dashboard sends the same few documents all day, so parsing and validating each is done once per
process. strawberry's ParserCache and ValidationCache keep an `lru_cache` keyed on the query text
and on the parsed document: every distinct text stays as a key, whatever its size (an anonymous 3 MiB
body pinned ~7 MiB, for good), and each validation lookup hashes the whole syntax tree again.

Here, instead:

- a query text over `max_bytes` (32 KiB by default; the dashboard's longest is under 1 KiB) is refused
  before it is parsed: a GraphQL error `QUERY_TOO_LARGE` (HTTP 413 on /graphql), whether it came in a
  POST body, a GET parameter or a socket frame;
- documents are kept under a 16-byte BLAKE2b digest of their text (`key_of`), at most `maxsize` of
  them and `budget` bytes of their texts together (least recently used first out). A syntax tree
  takes up to ~90 bytes per byte of text (measured on token-dense documents; 2,000 tokens at most,
  see MaxTokensLimiter), so the default 1 MiB bounds the cache near 100 MB at the very worst, while
  a dashboard's documents (a few hundred bytes each) fill it to a few MB;
- a document's validation errors are kept beside it, per set of validation rules (the rules are the
  same classes on every request, see `Limits` in app.graphql.schema).

The other per-document caches (the NUL check in app.graphql.schema, costs in app.graphql.cost, plans
in app.graphql.fast.plans) key on the same digests, so no cache holds a query text as its key.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from graphql import DocumentNode, GraphQLError, parse
from starlette.responses import Response
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

KiB = 1024

_last: tuple[str, bytes, int] = ("", hashlib.blake2b(b"", digest_size=16).digest(), 0)


def key_of(query: str) -> tuple[bytes, int]:
    """The digest of a query text and its size in UTF-8 bytes. The extensions of one request ask about
    the same string object one after another, so the last answer is kept for it (by identity)."""
    global _last
    last = _last
    if last[0] is query:
        return last[1], last[2]
    encoded = query.encode("utf-8", "surrogatepass")  # JSON may carry lone surrogates
    digest = hashlib.blake2b(encoded, digest_size=16).digest()
    _last = (query, digest, len(encoded))
    return digest, len(encoded)


def too_large(execution_context: Any, size: int, limit: int) -> GraphQLError:
    """The error for a query text over the limit; on HTTP the response becomes a 413."""
    response = getattr(execution_context.context, "response", None)
    if isinstance(response, Response):  # strawberry's sub-response of an HTTP request (not a socket)
        response.status_code = 413
    return GraphQLError(
        f"the query text is {size:,} bytes; at most {limit:,} are accepted",
        extensions={"code": "QUERY_TOO_LARGE", "size": size, "limit": limit},
    )


@dataclass(slots=True)
class _Entry:
    document: DocumentNode
    size: int
    errors: dict[tuple[type, ...], list[GraphQLError]] = field(default_factory=dict)  # by validation rules


class DocumentCache:
    """Parsed documents by digest: at most `maxsize` of them and `budget` bytes of their texts."""

    def __init__(self, *, maxsize: int = 1000, budget: int = 1024 * KiB) -> None:
        self.maxsize = maxsize
        self.budget = budget
        self.size = 0  # bytes of query text held
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> list[bytes]:
        return list(self._entries)

    def get(self, digest: bytes) -> _Entry | None:
        entry = self._entries.get(digest)
        if entry is not None:
            self._entries.move_to_end(digest)
        return entry

    def put(self, digest: bytes, document: DocumentNode, size: int) -> _Entry:
        entry = _Entry(document, size)
        if size > self.budget:
            return entry  # used for this request only
        while self._entries and (len(self._entries) >= self.maxsize or self.size + size > self.budget):
            _, old = self._entries.popitem(last=False)
            self.size -= old.size
        self._entries[digest] = entry
        self.size += size
        return entry


class CachedDocuments(SchemaExtension):
    """Refuse oversize query texts, then parse and validate through a `DocumentCache` (instead of
    strawberry's ParserCache and ValidationCache)."""

    def __init__(self, cache: DocumentCache, *, max_bytes: int) -> None:
        self.cache = cache
        self.max_bytes = max_bytes
        self._entry: _Entry | None = None

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        query = ctx.query
        if ctx.graphql_document is None and query:
            digest, size = key_of(query)
            if size > self.max_bytes:
                raise too_large(ctx, size, self.max_bytes)
            entry = self.cache.get(digest)
            if entry is None:
                # A syntax error raises here, and strawberry answers it as it answers its own.
                entry = self.cache.put(digest, parse(query, **ctx.parse_options), size)
            self._entry = entry
            ctx.graphql_document = entry.document
        yield

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        entry = self._entry
        if entry is not None and ctx.pre_execution_errors is None and ctx.graphql_document is entry.document:
            rules = ctx.validation_rules
            errors = entry.errors.get(rules)
            if errors is None:
                if len(entry.errors) >= 4:  # the rules are the same few tuples of classes; never many
                    entry.errors.clear()
                errors = entry.errors[rules] = validate_document(ctx.schema._schema, entry.document, rules)
            ctx.pre_execution_errors = errors
        yield

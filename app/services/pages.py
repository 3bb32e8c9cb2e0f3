"""How much one request may page through: the limits every edge applies, written once.

GraphQL's `first`/`last` (conversations, orders, a conversation's messages) and the legacy REST
`limit` are page sizes; `offset` skips rows. The cost estimate (app.graphql.cost) counts a page by
the same bound, so a size the fields refuse costs nothing there either. The legacy contract keeps its
own, wider bounds (its dashboards page messages by 1,000 and never cap `offset`): they are passed as
`high` (below), and the rule and its wording stay these.
"""

from __future__ import annotations

from app.errors import ValidationFailed

MAX_PAGE = 200  # rows in one page of any list
MAX_OFFSET = 10_000  # rows a GraphQL `offset` may skip (deeper: page by cursor)
# The legacy REST contract's `limit` of messages and its `offset` (PostgreSQL's OFFSET is a bigint;
# nobody pages this far). Its `limit` of conversations is MAX_PAGE.
LEGACY_MAX_MESSAGES = 1_000
LEGACY_MAX_OFFSET = 2**31 - 1


def page_size(value: int, *, field: str, high: int = MAX_PAGE) -> int:
    """`value` when it is a page size from 1 to `high`; ValidationFailed naming `field` otherwise."""
    if not 1 <= value <= high:
        raise ValidationFailed(f"{field} must be from 1 to {high}", field=field)
    return value


def offset(value: int, *, field: str = "offset", high: int = MAX_OFFSET) -> int:
    """`value` when it is a number of rows to skip from 0 to `high`; ValidationFailed otherwise."""
    if not 0 <= value <= high:
        raise ValidationFailed(f"{field} must be from 0 to {high}", field=field)
    return value

"""Database access: the engine and sessions (`engine`), the embedded server (`embedded`), migrations.

`rowcount` is here because SQLAlchemy types every `Session.execute` result as a plain `Result`,
while an UPDATE or DELETE without RETURNING gives a `CursorResult`, the one that counts its rows.
`in_sql` is here because SQLModel's constructors are typed for Python values only, while the ORM
writes a SQL expression given as a column's value into the INSERT (e.g. the database's clock).
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Result


def rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE (without RETURNING) touched."""
    return int(cast("CursorResult[Any]", result).rowcount or 0)


def in_sql(expr: ColumnElement[Any]) -> Any:
    """A SQL expression as a new row's column value (`created_at=in_sql(func.clock_timestamp())`)."""
    return expr

"""Database access: the engine and sessions (`engine`), the embedded server (`embedded`), migrations.

`rowcount` is here because SQLAlchemy types every `Session.execute` result as a plain `Result`,
while an UPDATE or DELETE without RETURNING gives a `CursorResult`, the one that counts its rows.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Result


def rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE (without RETURNING) touched."""
    return int(cast("CursorResult[Any]", result).rowcount or 0)

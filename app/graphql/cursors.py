"""Opaque keyset cursors for lists: base64 of (timestamp, id)."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from app.errors import ValidationFailed


def encode(at: datetime, row_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([at.isoformat(), row_id]).encode()).decode().rstrip("=")


def decode(cursor: str, *, field: str) -> tuple[datetime, str]:
    try:
        at, row_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        value = datetime.fromisoformat(at)
        if not isinstance(row_id, str) or value.tzinfo is None:
            raise ValueError(cursor)
    except (ValueError, TypeError, UnicodeDecodeError, binascii.Error, RecursionError):
        raise ValidationFailed(f"malformed cursor in {field}", field=field) from None
    return value, row_id

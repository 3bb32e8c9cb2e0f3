"""Responses written around JSON text the fast path already holds.

Two kinds of value arrive as text: a root field the database answered (`RawJSON`, app.graphql.fast.sql)
and a subscription event's data, encoded once for every socket it goes to (`SharedData`,
app.graphql.fast.execution). The view writes a response, a batch of them or a socket frame around
that text (`encode`) instead of encoding it again.
"""

from __future__ import annotations

import json
from typing import Any

from app.graphql.fast.sql import RawJSON


class SharedData(dict[str, Any]):
    """A result's `data`, encoded to JSON once: for every socket that sends a subscription event, and
    around the root fields that arrive as JSON text already (`RawJSON`)."""

    __slots__ = ("_encoded",)

    @property
    def encoded(self) -> str:
        try:
            return self._encoded
        except AttributeError:
            raw = any(type(value) is RawJSON for value in self.values())
            self._encoded: str = _object(self, 0) if raw else _dumps(self)
            return self._encoded


def splice(value: Any, depth: int) -> str:
    """JSON text of `value` (a response, a batch of them, a frame), writing as it is the text
    already encoded that it holds within `depth` levels."""
    if type(value) is RawJSON:
        return value.text
    if isinstance(value, SharedData):
        return value.encoded
    if depth and type(value) is dict:
        return _object(value, depth - 1)
    if depth and type(value) is list:
        return "[" + ",".join(splice(item, depth - 1) for item in value) + "]"
    return _dumps(value)


def _object(fields: dict[str, Any], depth: int) -> str:
    return "{" + ",".join(f"{_dumps(key)}:{splice(value, depth)}" for key, value in fields.items()) + "}"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def frame_head(operation_id: str, frame_type: str) -> str:
    """A `next`/`data` frame up to its data's JSON; the frame is `head + encoded + "}}"`."""
    return f'{{"id":{json.dumps(operation_id)},"type":"{frame_type}","payload":{{"data":'


def _holds_shared(value: object, depth: int) -> bool:
    """Whether a response (a dict, a batch of them, or a frame) holds `SharedData` within `depth`."""
    if isinstance(value, SharedData):
        return True
    if depth and type(value) is dict:
        return any(_holds_shared(v, depth - 1) for v in value.values())
    if depth and type(value) is list:
        return any(_holds_shared(v, depth - 1) for v in value)
    return False


def encode(data: object) -> str | None:
    """The JSON text of a response or frame holding text already encoded; None when it holds none
    (the view encodes it as usual)."""
    if type(data) is dict and data.get("type") in ("next", "data"):
        payload = data.get("payload")
        if (
            type(payload) is dict
            and len(payload) == 1
            and isinstance(shared := payload.get("data"), SharedData)
        ):
            return f"{frame_head(data['id'], data['type'])}{shared.encoded}}}}}"
    if _holds_shared(data, 3):
        return splice(data, 3)
    return None

"""The `events` stream's envelope: what happened (`kind`), where it is in the log (`cursor`), and the
row it names as it is now (`node`).

The row alone did not say what happened to it: a new message and a delivery-status change are both a
`Message`. The kind comes from the event log row (app.realtime.events), so a client that follows only
`events` can tell them apart, and resume from the envelope's cursor without reading it off the node.
Both the envelope and its node are made once per event for every subscriber (kept on the event's
`shared`), which the compiled path relies on to execute a selection once (app.graphql.fast.execution).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any

import strawberry

from app import models
from app.graphql import notifications as n
from app.graphql.types import (
    BOT,
    CONVERSATION,
    MESSAGE,
    ORDER,
    RESTAURANT,
    Bot,
    Conversation,
    Message,
    Order,
    Restaurant,
)
from app.realtime import events
from app.realtime.hub import Delivered


@strawberry.enum(description="What happened, as the event log recorded it.")
class EventKind(Enum):
    MESSAGE_CREATED = strawberry.enum_value(
        events.MESSAGE_CREATED,
        description="A message was stored: a customer's, or one the bot, staff or the system sent (node: Message).",
    )
    MESSAGE_UPDATED = strawberry.enum_value(
        events.MESSAGE_UPDATED,
        description=(
            "A message changed: an outgoing one's delivery status, or an attachment was stored (node: Message)."
        ),
    )
    CONVERSATION_UPDATED = strawberry.enum_value(
        events.CONVERSATION_UPDATED,
        description=(
            "A conversation was started or changed: new activity, read, closed or reopened, bot switched"
            " (node: Conversation)."
        ),
    )
    RESTAURANT_UPDATED = strawberry.enum_value(
        events.RESTAURANT_UPDATED,
        description="The restaurant's settings changed, e.g. its bot switched on or off (node: Restaurant).",
    )
    BOT_STATUS_UPDATED = strawberry.enum_value(
        events.BOT_UPDATED, description="A WhatsApp sender's status changed (node: Bot)."
    )
    ORDER_UPDATED = strawberry.enum_value(
        events.ORDER_UPDATED,
        description="An order was placed or changed: status, rating, branch (node: Order).",
    )
    NOTIFICATION_CREATED = strawberry.enum_value(
        events.NOTIFICATION_CREATED, description="A staff notification was raised (node: Notification)."
    )


EventNode = Annotated[
    Message | Conversation | Restaurant | Bot | Order | n.Notification, strawberry.union("EventNode")
]


@strawberry.type(description="One change of the restaurant, in log order.")
class Event:
    kind: EventKind = strawberry.field(description="What happened to `node`.")
    cursor: str = strawberry.field(
        description="This event's position: subscribe with after: cursor to resume."
    )
    node: EventNode = strawberry.field(description="The row the event names, as it is now.")


_OBJECTS: dict[type[Any], Callable[[Any, str], Any]] = {
    models.Message: lambda row, cursor: MESSAGE.from_row(row, cursor=cursor),
    models.Conversation: lambda row, cursor: CONVERSATION.from_row(row, cursor=cursor),
    models.Restaurant: lambda row, cursor: RESTAURANT.from_row(row, cursor=cursor),
    models.Bot: lambda row, cursor: BOT.from_row(row, cursor=cursor),
    models.Order: lambda row, cursor: ORDER.from_row(row, cursor=cursor),
    models.Notification: lambda row, cursor: n.NOTIFICATION.from_row(row, cursor=cursor),
}
# (strawberry.enum_value leaves each member its plain value, which the checker can't follow)
_KINDS: dict[str, EventKind] = {str(kind.value): kind for kind in EventKind}
_UNSET = object()


def event_object(item: Delivered) -> Any:
    """The GraphQL object of a delivered event (None when its row is gone), made once for all the
    subscribers it is delivered to (kept on the event)."""
    obj = item.shared.get("graphql", _UNSET)
    if obj is _UNSET:
        build = _OBJECTS.get(type(item.payload))
        obj = item.shared["graphql"] = build(item.payload, item.cursor) if build is not None else None
    return obj


def event_envelope(item: Delivered) -> Event | None:
    """The `events` stream's envelope of a delivered event (None when its row is gone, or its kind is
    not one the schema names), made once for all its subscribers like its node."""
    envelope = item.shared.get("graphql.event", _UNSET)
    if envelope is _UNSET:
        node, kind = event_object(item), _KINDS.get(item.kind)
        envelope = item.shared["graphql.event"] = (
            Event(kind=kind, cursor=item.cursor, node=node) if node is not None and kind is not None else None
        )
    assert envelope is None or isinstance(envelope, Event)
    return envelope

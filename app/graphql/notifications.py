"""GraphQL of the staff notifications (app/services/notifications.py): the bell's list with its
unread count, and the type the live event delivers."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from app import models
from app.graphql.projection import Derived, Projection
from app.graphql.results import ValidationError


@strawberry.enum
class NotificationKind(Enum):
    ORDER_CREATED = "order_created"
    HANDOFF_REQUESTED = "handoff_requested"
    CONVERSATION_STARTED = "conversation_started"
    USAGE_NEAR_LIMIT = "usage_near_limit"
    USAGE_LIMIT_REACHED = "usage_limit_reached"


@strawberry.type
class Notification:
    id: strawberry.ID
    kind: NotificationKind
    title: str
    body: str
    metadata: JSON = strawberry.field(description="conversationId and orderId (null when none), and more.")
    conversation_id: strawberry.ID | None
    order_id: strawberry.ID | None
    read: bool
    read_at: datetime | None
    created_at: datetime
    cursor: str | None = None


NOTIFICATION = Projection(
    Notification,
    models.Notification,
    derived={
        "metadata": Derived(python=lambda n: n.meta, sql=lambda r: f"{r}.metadata"),
        "conversation_id": Derived(
            python=lambda n: n.meta.get("conversationId"),
            sql=lambda r: f"({r}.metadata ->> 'conversationId')",
        ),
        "order_id": Derived(
            python=lambda n: n.meta.get("orderId"), sql=lambda r: f"({r}.metadata ->> 'orderId')"
        ),
        "read": Derived(python=lambda n: n.read_at is not None, sql=lambda r: f"({r}.read_at IS NOT NULL)"),
    },
    absent={"cursor"},
)


@strawberry.type
class NotificationEdge:
    cursor: str
    node: Notification


@strawberry.type
class NotificationConnection:
    edges: list[NotificationEdge]
    has_next_page: bool
    end_cursor: str | None
    unread_count: int = strawberry.field(description="The restaurant's unread notifications (all pages).")

    @strawberry.field
    def nodes(self) -> list[Notification]:
        return [edge.node for edge in self.edges]


@strawberry.type
class NotificationsRead:
    updated_count: int
    unread_count: int


MarkNotificationsReadResult = Annotated[
    NotificationsRead | ValidationError, strawberry.union("MarkNotificationsReadResult")
]

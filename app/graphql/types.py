"""GraphQL types, mapped explicitly from rows (`from_row`): a column such as a bot's encrypted auth
token can't reach the schema by accident."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON

from app import models
from app.graphql import cursors

if TYPE_CHECKING:
    from app.graphql.context import Context

MAX_MESSAGES_PAGE = 200


@strawberry.enum
class Direction(Enum):
    IN = "IN"
    OUT = "OUT"


@strawberry.enum
class ConversationStatus(Enum):
    ACTIVE = "active"
    CLOSED = "closed"


@strawberry.enum
class BotStatus(Enum):
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    FAILED = "FAILED"
    VERIFYING = "VERIFYING"


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Message:
    id: strawberry.ID
    conversation_id: strawberry.ID
    restaurant_id: strawberry.ID
    direction: Direction
    author: str | None = strawberry.field(description="customer, bot, staff or system")
    message_type: str
    content: str
    media_url: str | None
    media_urls: list[str]
    wa_sid: str | None
    delivery_status: str | None
    error_code: str | None
    error_message: str | None
    metadata: JSON
    created_at: datetime
    updated_at: datetime
    cursor: str | None = strawberry.field(
        default=None, description="Position of the event that delivered this object (subscriptions only)."
    )

    @strawberry.field(description="The conversation this message belongs to.")
    async def conversation(self, info: strawberry.Info[Context]) -> Conversation | None:
        row = await info.context.loaders.conversation.load(str(self.conversation_id))
        return Conversation.from_row(row) if row is not None else None

    @classmethod
    def from_row(cls, row: models.Message, cursor: str | None = None) -> Message:
        return cls(
            id=strawberry.ID(row.id),
            conversation_id=strawberry.ID(row.conversation_id),
            restaurant_id=strawberry.ID(row.restaurant_id),
            direction=Direction(row.direction),
            author=row.author,
            message_type=row.message_type,
            content=row.content,
            media_url=row.media_urls[0] if row.media_urls else None,
            media_urls=list(row.media_urls),
            wa_sid=row.wa_sid,
            delivery_status=row.delivery_status,
            error_code=row.error_code,
            error_message=row.error_message,
            metadata={k: v for k, v in row.meta.items() if k != "twilio"},
            created_at=row.created_at,
            updated_at=row.updated_at,
            cursor=cursor,
        )


@strawberry.type
class MessageEdge:
    cursor: str
    node: Message


@strawberry.type
class MessageConnection:
    edges: list[MessageEdge]
    page_info: PageInfo

    @strawberry.field(description="The messages of the page, oldest first.")
    def nodes(self) -> list[Message]:
        return [edge.node for edge in self.edges]

    @classmethod
    def from_rows(cls, rows: list[models.Message], last: int) -> MessageConnection:
        """`rows` newest first, possibly one more than `last` (then there is an older page)."""
        has_older = len(rows) > last
        page = list(reversed(rows[:last]))
        edges = [
            MessageEdge(cursor=cursors.encode(m.created_at, m.id), node=Message.from_row(m)) for m in page
        ]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=False,
                has_previous_page=has_older,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )


@strawberry.type
class Bot:
    id: strawberry.ID
    restaurant_id: strawberry.ID
    name: str
    restaurant_name: str
    whatsapp_number: str
    status: BotStatus
    is_active: bool
    support_contact: str | None
    payment_link: str | None
    max_messages_per_min: int
    max_messages_per_day: int
    created_at: datetime
    updated_at: datetime
    cursor: str | None = None

    @classmethod
    def from_row(cls, row: models.Bot, cursor: str | None = None) -> Bot:
        return cls(
            id=strawberry.ID(row.id),
            restaurant_id=strawberry.ID(row.restaurant_id),
            name=row.name,
            restaurant_name=row.restaurant_name,
            whatsapp_number=row.whatsapp_number,
            status=BotStatus(row.status),
            is_active=row.is_active and row.deleted_at is None,
            support_contact=row.support_contact,
            payment_link=row.payment_link,
            max_messages_per_min=row.max_messages_per_min,
            max_messages_per_day=row.max_messages_per_day,
            created_at=row.created_at,
            updated_at=row.updated_at,
            cursor=cursor,
        )


@strawberry.type
class Restaurant:
    id: strawberry.ID
    name: str
    currency: str
    timezone: str
    bot_enabled: bool
    created_at: datetime
    cursor: str | None = None

    @classmethod
    def from_row(cls, row: models.Restaurant, cursor: str | None = None) -> Restaurant:
        return cls(
            id=strawberry.ID(row.id),
            name=row.name,
            currency=row.currency,
            timezone=row.timezone,
            bot_enabled=row.bot_enabled,
            created_at=row.created_at,
            cursor=cursor,
        )


@strawberry.type
class Conversation:
    id: strawberry.ID
    restaurant_id: strawberry.ID
    bot_id: strawberry.ID
    customer_phone: str
    customer_name: str | None
    status: ConversationStatus
    last_message_at: datetime
    last_inbound_at: datetime | None
    unread_count: int
    is_bot_active: bool
    created_at: datetime
    updated_at: datetime
    cursor: str | None = None

    @strawberry.field(description="The customer wrote last, the bot is off and the conversation is open.")
    def waiting_for_staff(self) -> bool:
        return (
            self.status is ConversationStatus.ACTIVE
            and not self.is_bot_active
            and self.last_inbound_at is not None
            and self.last_inbound_at >= self.last_message_at
        )

    @strawberry.field(description="The sender (WhatsApp number) the customer wrote to.")
    async def bot(self, info: strawberry.Info[Context]) -> Bot | None:
        row = await info.context.loaders.bot.load(str(self.bot_id))
        return Bot.from_row(row) if row is not None else None

    @strawberry.field
    async def last_message(self, info: strawberry.Info[Context]) -> Message | None:
        row = await info.context.loaders.last_message.load(str(self.id))
        return Message.from_row(row) if row is not None else None

    @strawberry.field(description="The newest `last` messages before `before`, oldest first.")
    async def messages(
        self, info: strawberry.Info[Context], last: int = 50, before: str | None = None
    ) -> MessageConnection:
        from app.errors import ValidationFailed
        from app.graphql.context import graphql_error

        if not 1 <= last <= MAX_MESSAGES_PAGE:
            raise graphql_error(ValidationFailed(f"last must be from 1 to {MAX_MESSAGES_PAGE}", field="last"))
        try:
            at, row_id = cursors.decode(before, field="before") if before else (None, None)
        except ValidationFailed as exc:
            raise graphql_error(exc) from None
        rows = await info.context.loaders.messages.load((str(self.id), last, at, row_id))
        return MessageConnection.from_rows(rows, last)

    @classmethod
    def from_row(cls, row: models.Conversation, cursor: str | None = None) -> Conversation:
        return cls(
            id=strawberry.ID(row.id),
            restaurant_id=strawberry.ID(row.restaurant_id),
            bot_id=strawberry.ID(row.bot_id),
            customer_phone=row.customer_phone,
            customer_name=row.customer_name,
            status=ConversationStatus(row.status),
            last_message_at=row.last_message_at,
            last_inbound_at=row.last_inbound_at,
            unread_count=row.unread_count,
            is_bot_active=row.is_bot_active,
            created_at=row.created_at,
            updated_at=row.updated_at,
            cursor=cursor,
        )


@strawberry.type
class ConversationEdge:
    cursor: str
    node: Conversation


@strawberry.type
class ConversationConnection:
    edges: list[ConversationEdge]
    page_info: PageInfo
    total_count: int

    @strawberry.field
    def nodes(self) -> list[Conversation]:
        return [edge.node for edge in self.edges]


@strawberry.type
class Stats:
    total_conversations: int
    active_conversations: int
    total_unread: int
    waiting_for_staff: int
    messages_today: int
    median_first_response_seconds: float | None


# -- expected failures: members of mutation result unions ---------------------------------------


@strawberry.type
class NotFoundError:
    message: str


@strawberry.type
class ForbiddenError:
    message: str


@strawberry.type
class ValidationError:
    message: str
    field: str | None


@strawberry.type
class OutsideCustomerWindowError:
    message: str


ConversationResult = Annotated[
    Conversation | NotFoundError | ForbiddenError | ValidationError, strawberry.union("ConversationResult")
]
RestaurantResult = Annotated[
    Restaurant | NotFoundError | ForbiddenError | ValidationError, strawberry.union("RestaurantResult")
]
SendMessageResult = Annotated[
    Message | NotFoundError | ForbiddenError | ValidationError | OutsideCustomerWindowError,
    strawberry.union("SendMessageResult"),
]


def _event_union() -> object:
    from app.graphql.ordering import Order

    return Annotated[Message | Conversation | Restaurant | Bot | Order, strawberry.union("Event")]


Event = _event_union()


def event_object(kind: str, payload: Any, cursor: str) -> Any:
    """The GraphQL object for a delivered event (None when its row is gone)."""
    if payload is None:
        return None
    if isinstance(payload, models.Message):
        return Message.from_row(payload, cursor)
    if isinstance(payload, models.Conversation):
        return Conversation.from_row(payload, cursor)
    if isinstance(payload, models.Restaurant):
        return Restaurant.from_row(payload, cursor)
    if isinstance(payload, models.Bot):
        return Bot.from_row(payload, cursor)
    if isinstance(payload, models.Order):
        from app.graphql.ordering import Order

        return Order.from_row(payload, cursor)
    return None

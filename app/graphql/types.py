"""GraphQL types of the inbox, each read from its table as its `Projection` (declared beside it) says:
a column such as a bot's encrypted auth token can't reach the schema by accident, and the compiled
path (app.graphql.fast) writes every field the way `from_row` does."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from app import models
from app.errors import ValidationFailed
from app.graphql import cursors
from app.graphql import settings as st
from app.graphql.context import graphql_error
from app.graphql.options import OrderLineOption, line_options
from app.graphql.orders import OrderAlert
from app.graphql.projection import Derived, Projection
from app.graphql.results import ForbiddenError, NotFoundError, OutsideCustomerWindowError, ValidationError
from app.services import order_history, pages
from app.services.conversations import waiting_for_staff, waiting_sql
from app.services.orders import NEXT

if TYPE_CHECKING:
    from app.graphql.context import OperationContext


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


EVENT_CURSOR = "Position of the event that delivered this object (subscriptions only)."


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
    cursor: str | None = strawberry.field(default=None, description=EVENT_CURSOR)

    @strawberry.field(description="The conversation this message belongs to.")
    async def conversation(self, info: strawberry.Info[OperationContext]) -> Conversation | None:
        row = await info.context.loaders.conversation.load(str(self.conversation_id))
        return CONVERSATION.from_row(row) if row is not None else None


MESSAGE = Projection(
    Message,
    models.Message,
    derived={
        # a stored attachment's signed link, in SQL by the function of migration 0008 (app/media/links.py)
        "media_url": Derived(
            python=lambda m: m.media_url,
            sql=lambda r: f"sufrah_media_url({r}.restaurant_id, {r}.media_urls ->> 0)",
        ),
        "media_urls": Derived(
            python=lambda m: m.public_media_urls,
            sql=lambda r: f"sufrah_media_urls({r}.restaurant_id, {r}.media_urls)",
        ),
        "metadata": Derived(python=lambda m: m.public_metadata, sql=lambda r: f"({r}.metadata - 'twilio')"),
    },
    resolved={"conversation"},
    absent={"cursor"},
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
            MessageEdge(cursor=cursors.encode(m.created_at, m.id), node=MESSAGE.from_row(m)) for m in page
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


BOT = Projection(
    Bot,
    models.Bot,
    derived={
        "is_active": Derived(
            python=lambda b: b.is_live, sql=lambda r: f"({r}.is_active AND {r}.deleted_at IS NULL)"
        ),
    },
    absent={"cursor"},
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
    pause_bot_on_staff_reply: bool = strawberry.field(
        default=True, description="A staff reply turns the bot off for that conversation."
    )
    # settings (#16): the profile and the opening state (app/graphql/settings.py)
    description: str | None = None
    address: str | None = None
    phone: str | None = None
    logo_url: str | None = None
    app_link: str | None = None
    accepts_orders_when_closed: bool = strawberry.field(
        default=False, description="Outside the hours the bot takes orders, prepared at the opening."
    )
    ordering_state: st.OrderingState = strawberry.field(
        default=st.OrderingState.OPEN, description="The busy/closed switch (OPEN follows the hours)."
    )
    ordering_state_until: datetime | None = strawberry.field(
        default=None, description="When the switch falls back to OPEN; null: until changed."
    )

    def _switch(self) -> st.Switch:
        return st.Switch(str(self.id), self.timezone, self.ordering_state.value, self.ordering_state_until)

    @strawberry.field(description="The weekly opening hours; none: always open.")
    async def opening_hours(self, info: strawberry.Info[OperationContext]) -> list[st.OpeningInterval]:
        return st.intervals(await st.schedule(info, str(self.id)))

    @strawberry.field(description="Dates with their own hours (holidays), from today on.")
    async def opening_exceptions(self, info: strawberry.Info[OperationContext]) -> list[st.OpeningException]:
        return st.exceptions(await st.schedule(info, str(self.id)), timezone=self.timezone)

    @strawberry.field(description="Open, busy or closed now: the hours, exceptions and the switch.")
    async def open_status(self, info: strawberry.Info[OperationContext]) -> st.OpenStatus:
        return st.OpenStatus((await st.judged(info, self._switch())).status)

    @strawberry.field(description="Takes orders now (open or busy).")
    async def is_open_now(self, info: strawberry.Info[OperationContext]) -> bool:
        return (await st.judged(info, self._switch())).is_open

    @strawberry.field(
        description="When closed: the next opening, restaurant time; null when open or unknown."
    )
    async def next_opens_at(self, info: strawberry.Info[OperationContext]) -> datetime | None:
        return (await st.judged(info, self._switch())).next_opens_at

    @strawberry.field(
        description="When open: the end of this opening; null when closed or open around the clock."
    )
    async def closes_at(self, info: strawberry.Info[OperationContext]) -> datetime | None:
        return (await st.judged(info, self._switch())).closes_at

    @strawberry.field(description="When an exception day closes the restaurant: its note (e.g. Eid).")
    async def closed_note(self, info: strawberry.Info[OperationContext]) -> str | None:
        return (await st.judged(info, self._switch())).note or None


RESTAURANT = Projection(
    Restaurant,
    models.Restaurant,
    resolved={
        "opening_hours",
        "opening_exceptions",
        "open_status",
        "is_open_now",
        "next_opens_at",
        "closes_at",
        "closed_note",
    },
    absent={"cursor"},
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
    waiting_for_staff: bool = strawberry.field(
        description="The customer wrote last, the bot is off and the conversation is open."
    )

    @strawberry.field(description="The sender (WhatsApp number) the customer wrote to.")
    async def bot(self, info: strawberry.Info[OperationContext]) -> Bot | None:
        row = await info.context.loaders.bot.load(str(self.bot_id))
        return BOT.from_row(row) if row is not None else None

    @strawberry.field
    async def last_message(self, info: strawberry.Info[OperationContext]) -> Message | None:
        row = await info.context.loaders.last_message.load(str(self.id))
        return MESSAGE.from_row(row) if row is not None else None

    @strawberry.field(description="The newest `last` messages before `before`, oldest first.")
    async def messages(
        self, info: strawberry.Info[OperationContext], last: int = 50, before: str | None = None
    ) -> MessageConnection:
        try:
            pages.page_size(last, field="last")
            at, row_id = cursors.decode(before, field="before") if before else (None, None)
        except ValidationFailed as exc:
            raise graphql_error(exc) from None
        rows = await info.context.loaders.messages.load((str(self.id), last, at, row_id))
        return MessageConnection.from_rows(rows, last)

    @strawberry.field(description="The orders placed in this conversation, newest first (keyset pagination).")
    async def orders(
        self, info: strawberry.Info[OperationContext], first: int = 20, after: str | None = None
    ) -> OrderConnection:
        try:
            pages.page_size(first, field="first")
            at, row_id = cursors.decode(after, field="after") if after else (None, None)
        except ValidationFailed as exc:
            raise graphql_error(exc) from None
        loaders = info.context.loaders
        rows = await loaders.conversation_orders.load((str(self.id), first, at, row_id))
        total = await loaders.conversation_order_count.load(str(self.id))
        return OrderConnection.from_rows(rows, first, total_count=total, after=after)


CONVERSATION = Projection(
    Conversation,
    models.Conversation,
    derived={"waiting_for_staff": Derived(python=waiting_for_staff, sql=waiting_sql)},
    resolved={"bot", "last_message", "messages", "orders"},
    absent={"cursor"},
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


# -- Orders: an order's conversation and a conversation's orders refer to each other -----------


@strawberry.enum
class OrderStatus(Enum):
    CONFIRMED = "CONFIRMED"
    PREPARING = "PREPARING"
    OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
    READY = "READY"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"


@strawberry.enum
class OrderType(Enum):
    DELIVERY = "delivery"
    PICKUP = "pickup"


@strawberry.enum
class PaymentMethod(Enum):
    CASH = "cash"
    ONLINE = "online"


@strawberry.type
class Branch:
    id: strawberry.ID
    name_ar: str
    name_en: str
    address: str
    latitude: float
    longitude: float
    delivery_radius_km: float
    is_active: bool
    sort_order: int
    is_default: bool = strawberry.field(description="Delivers orders to a typed address (no coordinates).")
    alert_phone: str | None = strawberry.field(
        description="E.164 number that gets a WhatsApp alert for each new order of this branch."
    )


BRANCH = Projection(Branch, models.Branch)


@strawberry.type
class OrderLine:
    line_no: int
    item_id: strawberry.ID
    name_ar: str
    name_en: str
    unit_price: int = strawberry.field(description="The item's price plus its options' price deltas.")
    quantity: int
    options: list[OrderLineOption] = strawberry.field(
        description="The chosen options as they were when ordered (a later menu change leaves them)."
    )

    @strawberry.field
    def line_total(self) -> int:
        return self.unit_price * self.quantity


# `options`: the line's snapshot, read from its `options` column by `order_line`.
ORDER_LINE = Projection(OrderLine, models.OrderLine, resolved={"line_total"}, absent={"options"})


def order_line(row: models.OrderLine) -> OrderLine:
    return ORDER_LINE.from_row(row, options=line_options(row.options))


@strawberry.type
class Order:
    id: strawberry.ID
    reference: str = strawberry.field(
        description='The short per-restaurant reference, e.g. "#1042" (the Sufrah platform\'s number once it has one).'
    )
    number: int
    conversation_id: strawberry.ID
    bot_id: strawberry.ID
    customer_phone: str
    customer_name: str | None
    order_type: OrderType
    branch_id: strawberry.ID | None
    delivery_address: str | None
    delivery_latitude: float | None
    delivery_longitude: float | None
    payment_method: PaymentMethod
    subtotal: int
    total: int
    currency: str
    status: OrderStatus
    rating: int | None
    rating_comment: str | None
    created_at: datetime
    updated_at: datetime
    # The Sufrah merchant platform (#17): null for the orders of a local catalog.
    external_order_number: str | None = strawberry.field(description="The platform's order number.")
    external_payment_link: str | None = strawberry.field(description="The platform's payment link (online).")
    external_status: str | None = strawberry.field(description="The platform's last status, as it said it.")
    external_payment_status: str | None = strawberry.field(
        description='The platform\'s payment status ("Paid").'
    )
    external_submit_state: str | None = strawberry.field(
        description="Sending the order to the platform: pending, submitted or failed (see externalError)."
    )
    external_error: str | None = strawberry.field(description="The platform's last refusal or failure.")
    cursor: str | None = None
    paid_at: datetime | None = strawberry.field(
        default=None, description="When staff marked it paid (null: not yet)."
    )

    @strawberry.field(description="What needs a look: late against the preparation time, awaiting payment.")
    async def alerts(self, info: strawberry.Info[OperationContext]) -> list[OrderAlert]:
        restaurant = await info.context.loaders.restaurant.load(
            (await info.context.authenticate()).restaurant_id
        )
        found = order_history.alerts_of(
            status=self.status.value,
            payment_method=self.payment_method.value,
            paid_at=self.paid_at,
            created_at=self.created_at,
            preparation_minutes=restaurant.preparation_minutes if restaurant else 30,
            now=datetime.now(UTC),
        )
        return [OrderAlert(a) for a in found]

    @strawberry.field(description="The WhatsApp conversation the order was placed in.")
    async def conversation(self, info: strawberry.Info[OperationContext]) -> Conversation | None:
        row = await info.context.loaders.conversation.load(str(self.conversation_id))
        return CONVERSATION.from_row(row) if row is not None else None

    @strawberry.field(description="The branch that prepares the order (null: none left to assign).")
    async def branch(self, info: strawberry.Info[OperationContext]) -> Branch | None:
        if self.branch_id is None:
            return None
        row = await info.context.loaders.branch.load(str(self.branch_id))
        return BRANCH.from_row(row) if row is not None else None

    @strawberry.field
    async def lines(self, info: strawberry.Info[OperationContext]) -> list[OrderLine]:
        rows = await info.context.loaders.order_lines.load(str(self.id))
        return [order_line(r) for r in rows]

    @strawberry.field(description="The statuses staff may move this order to next.")
    def next_statuses(self) -> list[OrderStatus]:
        allowed = NEXT[self.status.value]
        wrong_kind = "READY" if self.order_type is OrderType.DELIVERY else "OUT_FOR_DELIVERY"
        return [OrderStatus(s) for s in models.ORDER_STATUSES if s in allowed and s != wrong_kind]


ORDER = Projection(
    Order,
    models.Order,
    derived={
        "reference": Derived(
            python=lambda o: o.reference,
            sql=lambda r: f"('#' || coalesce({r}.external_order_number, {r}.number::text))",
        )
    },
    resolved={"branch", "lines", "next_statuses", "alerts", "conversation"},
    absent={"cursor"},
)


@strawberry.type
class OrderEdge:
    cursor: str
    node: Order


@strawberry.type
class OrderConnection:
    edges: list[OrderEdge]
    has_next_page: bool
    end_cursor: str | None
    page_info: PageInfo
    total_count: int = strawberry.field(description="Orders matching the filter, on every page.")

    @strawberry.field
    def nodes(self) -> list[Order]:
        return [edge.node for edge in self.edges]

    @classmethod
    def from_rows(
        cls, rows: list[models.Order], first: int, *, total_count: int, after: str | None
    ) -> OrderConnection:
        """`rows` newest first, possibly one more than `first` (then there is a next page)."""
        edges = [
            OrderEdge(cursor=cursors.encode(r.created_at, r.id), node=ORDER.from_row(r)) for r in rows[:first]
        ]
        end_cursor = edges[-1].cursor if edges else None
        has_next = len(rows) > first
        return cls(
            edges=edges,
            has_next_page=has_next,
            end_cursor=end_cursor,
            total_count=total_count,
            page_info=PageInfo(
                has_next_page=has_next,
                has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=end_cursor,
            ),
        )

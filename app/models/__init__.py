"""SQLModel tables. Rows only: the API layers map them to their own types, so a column such as a
bot's encrypted auth token can never reach a response by accident.

Tenancy and distribution: every tenant-owned table carries `restaurant_id`, its primary key and
unique keys begin with it, and its foreign keys are composite `(restaurant_id, ...)` references. A
row can therefore never point at another restaurant's row, and the tables can later be distributed
by `restaurant_id` (Citus) as they are. The one global lookup is a WhatsApp number -> bot, needed to
route a webhook before the tenant is known: `bot` is small and would be a Citus reference table.
`plan` is global too (admin-managed offers that restaurants point at): small, a reference table.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Table,
    Text,
    UniqueConstraint,
    func,
    inspect,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

from app.media import links

BOT_STATUSES = ("PENDING", "ACTIVE", "FAILED", "VERIFYING")
CONVERSATION_STATUSES = ("active", "closed")
DIRECTIONS = ("IN", "OUT")
USAGE_LIMIT_ACTIONS = ("WARN", "PAUSE_BOT_EXTRAS")
ORDERING_STATES = ("OPEN", "BUSY", "CLOSED")


def table_of(model: type[SQLModel]) -> Table:
    """The `Table` of a table model, typed: SQLModel gives `__table__` no type."""
    table = inspect(model).local_table
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table


def _ts(*, nullable: bool = False, default_now: bool = True) -> Any:
    return Field(
        default=None,
        sa_column=Column(
            DateTime(timezone=True),
            nullable=nullable,
            server_default=func.now() if default_now else None,
        ),
    )


class Restaurant(SQLModel, table=True):
    __tablename__ = "restaurant"
    __table_args__ = (  # the templates chosen for messages outside WhatsApp's window (see MessageTemplate)
        CheckConstraint(f"ordering_state IN {ORDERING_STATES}", name="restaurant_ordering_state_valid"),
        Index("restaurant_merchant_id_key", "merchant_id", unique=True),  # /status names the merchant
        CheckConstraint("catalog_provider IN ('local', 'sufrah')", name="restaurant_catalog_provider_valid"),
        CheckConstraint(
            "catalog_provider <> 'sufrah' OR merchant_id IS NOT NULL", name="restaurant_sufrah_needs_merchant"
        ),
        ForeignKeyConstraint(
            ["id", "follow_up_template_id"],
            ["message_template.restaurant_id", "message_template.id"],
            name="restaurant_follow_up_template_id_fkey",
            use_alter=True,
        ),
        ForeignKeyConstraint(
            ["id", "order_status_template_id"],
            ["message_template.restaurant_id", "message_template.id"],
            name="restaurant_order_status_template_id_fkey",
            use_alter=True,
        ),
        ForeignKeyConstraint(["plan_id"], ["plan.id"], name="restaurant_plan_id_fkey"),  # usage (#16)
        CheckConstraint(
            f"usage_limit_action IN {USAGE_LIMIT_ACTIONS}", name="restaurant_usage_limit_action_valid"
        ),
        CheckConstraint(
            "usage_near_limit_percent BETWEEN 1 AND 100", name="restaurant_usage_near_limit_valid"
        ),
        CheckConstraint(
            "preparation_minutes BETWEEN 1 AND 1440", name="restaurant_preparation_minutes_valid"
        ),
    )

    id: str = Field(primary_key=True)
    name: str
    currency: str = Field(default="SAR", sa_column_kwargs={"server_default": "SAR"})
    bot_enabled: bool = Field(default=True, sa_column_kwargs={"server_default": text("true")})
    timezone: str = Field(default="Asia/Riyadh", sa_column_kwargs={"server_default": "Asia/Riyadh"})
    min_delivery_total: int = Field(default=0, sa_column_kwargs={"server_default": "0"})  # minor units
    # A staff reply turns the bot off for that conversation (as the earlier backend did).
    pause_bot_on_staff_reply: bool = Field(default=True, sa_column_kwargs={"server_default": text("true")})
    # Usage and plans (#16, app/services/usage.py): the plan whose allowance applies (none: no
    # allowance), what happens once it is used up, and when staff are warned it is near.
    plan_id: str | None = None
    usage_limit_action: str = Field(default="WARN", sa_column_kwargs={"server_default": "WARN"})
    usage_near_limit_percent: int = Field(default=80, sa_column_kwargs={"server_default": "80"})
    # Orders (#16): an order still CONFIRMED or PREPARING after this many minutes is late.
    preparation_minutes: int = Field(default=30, sa_column_kwargs={"server_default": "30"})
    # Settings (#16): the profile, and whether the bot takes orders (see OpeningHours, app.services.hours)
    description: str | None = None
    address: str | None = None
    phone: str | None = None  # E.164
    logo_url: str | None = None  # http(s)
    app_link: str | None = None  # http(s): the restaurant's own ordering app
    accepts_orders_when_closed: bool = Field(
        default=False, sa_column_kwargs={"server_default": text("false")}
    )  # outside the hours the bot takes orders prepared at the next opening
    ordering_state: str = Field(
        default="OPEN", sa_column_kwargs={"server_default": "OPEN"}
    )  # OPEN|BUSY|CLOSED
    ordering_state_until: datetime | None = _ts(nullable=True, default_now=False)  # None: until changed
    # Overview (#16): a customer waiting for staff longer than this is an SLA breach (1..1440).
    sla_minutes: int = Field(default=15, sa_column_kwargs={"server_default": "15"})
    # The Sufrah merchant platform (#17): where the menu comes from and where orders go. 'local' (the
    # default): kept here. 'sufrah': synced from the platform's merchant `merchant_id` (app/services/merchant.py).
    catalog_provider: str = Field(default="local", sa_column_kwargs={"server_default": "local"})
    merchant_id: str | None = None
    created_at: datetime = _ts()
    follow_up_template_id: str | None = None  # staff replies outside the window: text as {{1}}
    order_status_template_id: str | None = None  # order status notices outside the window
    updated_at: datetime = _ts()


class Bot(SQLModel, table=True):
    """A WhatsApp sender (a Twilio number) that belongs to one restaurant."""

    __tablename__ = "bot"
    __table_args__ = (
        ForeignKeyConstraint(["restaurant_id"], ["restaurant.id"], ondelete="CASCADE"),
        CheckConstraint(f"status IN {BOT_STATUSES}", name="bot_status_valid"),
        Index("bot_id_key", "id", unique=True),
        Index(
            "bot_whatsapp_number_live_key",
            "whatsapp_number",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    restaurant_id: str = Field(primary_key=True)
    id: str = Field(primary_key=True)
    name: str
    restaurant_name: str
    whatsapp_number: str  # E.164, e.g. +966508034010
    account_sid: str
    subaccount_sid: str | None = None
    auth_token_encrypted: str  # Fernet token; see app.auth.crypto
    sender_sid: str | None = None
    waba_id: str | None = None
    status: str = Field(default="PENDING", sa_column_kwargs={"server_default": "PENDING"})
    is_active: bool = Field(default=True, sa_column_kwargs={"server_default": text("true")})
    support_contact: str | None = None
    payment_link: str | None = None
    max_messages_per_min: int = Field(default=60, sa_column_kwargs={"server_default": "60"})
    max_messages_per_day: int = Field(default=1000, sa_column_kwargs={"server_default": "1000"})
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    deleted_at: datetime | None = _ts(nullable=True, default_now=False)

    @property
    def is_live(self) -> bool:
        """Switched on and not retired: what every API shows as the bot's `isActive`."""
        return self.is_active and self.deleted_at is None


class UnlinkedSender(SQLModel, table=True):
    """A WhatsApp sender an admin registered without a restaurant (the earlier backend's shared
    senders, `restaurantId` null), waiting to be linked. Not tenant data: only the admin API reads
    it, nothing routes to it (its number's webhooks are answered as an unknown number's) and nothing
    sends from it. Linking moves the row into `bot`, same id, in one transaction (app/services/bots.py)."""

    __tablename__ = "unlinked_sender"
    __table_args__ = (
        CheckConstraint(f"status IN {BOT_STATUSES}", name="unlinked_sender_status_valid"),
        Index("unlinked_sender_whatsapp_number_key", "whatsapp_number", unique=True),
    )

    id: str = Field(primary_key=True)
    name: str
    restaurant_name: str
    whatsapp_number: str  # E.164
    account_sid: str
    subaccount_sid: str | None = None
    auth_token_encrypted: str  # Fernet token; see app.auth.crypto
    sender_sid: str | None = None
    waba_id: str | None = None
    status: str = Field(default="PENDING", sa_column_kwargs={"server_default": "PENDING"})
    is_active: bool = Field(default=True, sa_column_kwargs={"server_default": text("true")})
    support_contact: str | None = None
    payment_link: str | None = None
    max_messages_per_min: int = Field(default=60, sa_column_kwargs={"server_default": "60"})
    max_messages_per_day: int = Field(default=1000, sa_column_kwargs={"server_default": "1000"})
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Conversation(SQLModel, table=True):
    """One customer talking to one bot (sender) of a restaurant."""

    __tablename__ = "conversation"
    __table_args__ = (
        ForeignKeyConstraint(["restaurant_id", "bot_id"], ["bot.restaurant_id", "bot.id"]),
        UniqueConstraint("restaurant_id", "bot_id", "customer_phone", name="conversation_customer_key"),
        CheckConstraint(f"status IN {CONVERSATION_STATUSES}", name="conversation_status_valid"),
        CheckConstraint("unread_count >= 0", name="conversation_unread_nonnegative"),
        # The dashboard's list: newest activity first, with keyset pagination, no sort step.
        Index("conversation_by_activity", "restaurant_id", text("last_message_at DESC"), text("id DESC")),
        Index(
            "conversation_by_status_activity",
            "restaurant_id",
            "status",
            text("last_message_at DESC"),
            text("id DESC"),
        ),
        Index(
            "conversation_by_bot_activity",
            "restaurant_id",
            "bot_id",
            text("last_message_at DESC"),
            text("id DESC"),
        ),
    )

    restaurant_id: str = Field(primary_key=True)
    id: str = Field(primary_key=True)
    bot_id: str
    customer_phone: str  # E.164
    customer_name: str | None = None
    status: str = Field(default="active", sa_column_kwargs={"server_default": "active"})
    last_message_at: datetime = _ts()
    last_inbound_at: datetime | None = _ts(nullable=True, default_now=False)
    unread_count: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    is_bot_active: bool = Field(default=True, sa_column_kwargs={"server_default": text("true")})
    # When the customer asked for staff ("talk to staff"); read by the "waiting for staff" rule.
    staff_requested_at: datetime | None = _ts(nullable=True, default_now=False)
    # When its current WhatsApp session (a 24-hour billing window) opened; see ConversationSession.
    session_started_at: datetime | None = _ts(nullable=True, default_now=False)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Message(SQLModel, table=True):
    __tablename__ = "message"
    __table_args__ = (
        ForeignKeyConstraint(
            ["restaurant_id", "conversation_id"], ["conversation.restaurant_id", "conversation.id"]
        ),
        # Twilio's MessageSid: the idempotency key of inbound webhooks and the link of status callbacks.
        UniqueConstraint("restaurant_id", "wa_sid", name="message_wa_sid_key"),
        CheckConstraint(f"direction IN {DIRECTIONS}", name="message_direction_valid"),
        # A conversation's history by time, newest first or oldest first, with keyset pagination.
        Index("message_by_conversation_time", "restaurant_id", "conversation_id", "created_at", "id"),
        Index("message_by_restaurant_time", "restaurant_id", "created_at"),  # stats: today's messages
        # Stats: staff replies and the previous one in their conversation (response times).
        Index(
            "message_staff_reply",
            "restaurant_id",
            "conversation_id",
            "created_at",
            postgresql_where=text("author = 'staff'"),
        ),
        # The bot's work queue: inbound messages awaiting their turn.
        Index("message_bot_pending", "created_at", postgresql_where=text("bot_turn = 'pending'")),
        # The outbox: outgoing messages due for a send attempt.
        Index(
            "message_outbox_due",
            "next_attempt_at",
            postgresql_where=text("send_state IN ('pending', 'sending', 'unknown')"),
        ),
        # Per-sender rate limits count what was sent in the last minute and day.
        Index(
            "message_sent_by_bot",
            "restaurant_id",
            "bot_id",
            "sent_at",
            postgresql_where=text("sent_at IS NOT NULL"),
        ),
    )

    restaurant_id: str = Field(primary_key=True)
    id: str = Field(primary_key=True)
    conversation_id: str
    direction: str
    author: str | None = None  # customer | bot | staff | system
    message_type: str = "text"
    content: str = Field(default="", sa_column_kwargs={"server_default": ""})
    media_urls: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    )
    wa_sid: str | None = None
    delivery_status: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    meta: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column("metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    bot_turn: str | None = None  # inbound: pending | done | skipped
    bot_id: str | None = None  # outbound: the sender it leaves from
    send_state: str | None = None  # outbound: pending | sending | unknown | sent | failed
    send_attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    next_attempt_at: datetime | None = _ts(nullable=True, default_now=False)
    sent_at: datetime | None = _ts(nullable=True, default_now=False)
    content_sid: str | None = None  # outbound template: the approved Content API SID ("HX…")
    content_variables: dict[str, str] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    template_name: str | None = None  # outbound template: its name; `content` holds the rendered text

    @property
    def media_url(self) -> str | None:
        """The first attachment, what every API shows as `mediaUrl` (a stored one as our signed link)."""
        return links.shown(self.restaurant_id, self.media_urls[0]) if self.media_urls else None

    @property
    def public_media_urls(self) -> list[str]:
        """Every attachment as the APIs show it (`mediaUrls`); SQL's twin is `sufrah_media_urls`."""
        return [links.shown(self.restaurant_id, url) or "" for url in self.media_urls]

    @property
    def public_metadata(self) -> dict[str, Any]:
        """`metadata` as the APIs show it: without Twilio's raw webhook fields (kept for support)."""
        return {k: v for k, v in self.meta.items() if k != "twilio"}


class ApiToken(SQLModel, table=True):
    """An API credential. Only a SHA-256 of the token is stored; the token is shown once."""

    __tablename__ = "api_token"
    __table_args__ = (UniqueConstraint("token_hash", name="api_token_hash_key"),)

    id: str = Field(primary_key=True)
    name: str
    token_hash: str
    token_prefix: str  # the first characters, so operators can tell tokens apart in listings
    is_admin: bool = False
    restaurant_ids: list[str] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    )
    created_at: datetime = _ts()
    last_used_at: datetime | None = _ts(nullable=True, default_now=False)
    revoked_at: datetime | None = _ts(nullable=True, default_now=False)


class EventCounter(SQLModel, table=True):
    """The last event number taken by each restaurant. Taking the next one locks this row until the
    writing transaction ends, so one restaurant's events commit in number order: "after N" is gapless."""

    __tablename__ = "event_counter"
    __table_args__ = (ForeignKeyConstraint(["restaurant_id"], ["restaurant.id"], ondelete="CASCADE"),)

    restaurant_id: str = Field(primary_key=True)
    last_seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))


class Event(SQLModel, table=True):
    """One change a dashboard may want to hear about. Holds ids, not payloads: subscribers read the
    current row, so a replay never shows stale state and the log stays small."""

    __tablename__ = "event"
    __table_args__ = (
        ForeignKeyConstraint(["restaurant_id"], ["restaurant.id"], ondelete="CASCADE"),
        Index("event_by_time", "created_at"),  # retention pruning
    )

    restaurant_id: str = Field(primary_key=True)
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    kind: str  # message.created | conversation.updated | bot.status.updated | order.updated
    entity_id: str
    conversation_id: str | None = None
    created_at: datetime = _ts()


def _tenant_fk(column: str, table: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["restaurant_id", column], [f"{table}.restaurant_id", f"{table}.id"])


class Branch(SQLModel, table=True):
    __tablename__ = "branch"
    __table_args__ = (
        ForeignKeyConstraint(["restaurant_id"], ["restaurant.id"], ondelete="CASCADE"),
        # At most one default branch per restaurant (it delivers orders to a typed address).
        Index("branch_default_key", "restaurant_id", unique=True, postgresql_where=text("is_default")),
    )

    restaurant_id: str = Field(primary_key=True)
    id: str = Field(primary_key=True)
    name_ar: str
    name_en: str
    address: str = Field(default="", sa_column_kwargs={"server_default": ""})
    latitude: float
    longitude: float
    delivery_radius_km: float = Field(default=5.0, sa_column_kwargs={"server_default": "5"})
    is_active: bool = Field(default=True, sa_column_kwargs={"server_default": text("true")})
    sort_order: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    is_default: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    alert_phone: str | None = None  # E.164: gets a WhatsApp alert for each new order of this branch
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class MenuCategory(SQLModel, table=True):
    __tablename__ = "menu_category"
    __table_args__ = (ForeignKeyConstraint(["restaurant_id"], ["restaurant.id"], ondelete="CASCADE"),)

    restaurant_id: str = Field(primary_key=True)
    id: str = Field(primary_key=True)
    name_ar: str
    name_en: str
    is_active: bool = Field(default=True, sa_column_kwargs={"server_default": text("true")})
    sort_order: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class MenuItem(SQLModel, table=True):
    __tablename__ = "menu_item"
    __table_args__ = (
        _tenant_fk("category_id", "menu_category"),
        CheckConstraint("price >= 0", name="menu_item_price_nonnegative"),
        CheckConstraint("max_quantity >= 1", name="menu_item_max_quantity_positive"),
    )

    restaurant_id: str = Field(primary_key=True)
    id: str = Field(primary_key=True)
    category_id: str
    name_ar: str
    name_en: str
    price: int  # minor units (halalas)
    currency: str = Field(default="SAR", sa_column_kwargs={"server_default": "SAR"})
    available: bool = Field(default=True, sa_column_kwargs={"server_default": text("true")})
    max_quantity: int = Field(default=10, sa_column_kwargs={"server_default": "10"})
    sort_order: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    image_url: str | None = None  # a public http(s) photo, sent when the bot shows the item
    description_ar: str | None = None  # shown with the item (its photo's caption)
    description_en: str | None = None
    price_before: int | None = None  # minor units: the price before a discount, shown struck through
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class MenuItemBranch(SQLModel, table=True):
    """An item's price and availability at one branch, as the Sufrah platform lists products per branch.
    The bot applies them once the customer's branch is known (app/services/merchant.py)."""

    __tablename__ = "menu_item_branch"
    __table_args__ = (
        ForeignKeyConstraint(
            ["restaurant_id", "item_id"], ["menu_item.restaurant_id", "menu_item.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["restaurant_id", "branch_id"], ["branch.restaurant_id", "branch.id"], ondelete="CASCADE"
        ),
        CheckConstraint("price >= 0", name="menu_item_branch_price_nonnegative"),
    )

    restaurant_id: str = Field(primary_key=True)
    item_id: str = Field(primary_key=True)
    branch_id: str = Field(primary_key=True)
    price: int
    price_before: int | None = None
    available: bool = Field(default=True, sa_column_kwargs={"server_default": text("true")})
    updated_at: datetime = _ts()


class MenuSync(SQLModel, table=True):
    """A Sufrah-platform restaurant's menu sync: the worker's queue (`next_sync_at`, a lease while a
    sync runs) and what the dashboard shows of the last one."""

    __tablename__ = "menu_sync"
    __table_args__ = (
        ForeignKeyConstraint(["restaurant_id"], ["restaurant.id"], ondelete="CASCADE"),
        Index("menu_sync_due", "next_sync_at", postgresql_where=text("next_sync_at IS NOT NULL")),
    )

    restaurant_id: str = Field(primary_key=True)
    next_sync_at: datetime | None = _ts(nullable=True, default_now=False)
    last_attempt_at: datetime | None = _ts(nullable=True, default_now=False)
    last_success_at: datetime | None = _ts(nullable=True, default_now=False)
    last_error: str | None = None
    last_error_at: datetime | None = _ts(nullable=True, default_now=False)
    items_synced: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    categories_synced: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    branches_synced: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class MenuOptionGroup(SQLModel, table=True):
    """A choice the customer makes about an item, asked in `sort_order` after they pick it: "Size"
    (exactly one: min 1, max 1), "Add-ons" (up to three: min 0, max 3). Goes with its item."""

    __tablename__ = "menu_option_group"
    __table_args__ = (
        ForeignKeyConstraint(
            ["restaurant_id", "item_id"], ["menu_item.restaurant_id", "menu_item.id"], ondelete="CASCADE"
        ),
        CheckConstraint(
            "min_select >= 0 AND max_select >= 1 AND min_select <= max_select", name="menu_option_group_range"
        ),
        Index("menu_option_group_by_item", "restaurant_id", "item_id", "sort_order"),
    )

    restaurant_id: str = Field(primary_key=True)
    id: str = Field(primary_key=True)
    item_id: str
    name_ar: str
    name_en: str
    min_select: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    max_select: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    sort_order: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class MenuOption(SQLModel, table=True):
    """One answer of an option group ("Large", "Extra cheese") and what it adds to the item's price
    (minor units, never negative: price the item at its smallest size). Goes with its group."""

    __tablename__ = "menu_option"
    __table_args__ = (
        ForeignKeyConstraint(
            ["restaurant_id", "group_id"],
            ["menu_option_group.restaurant_id", "menu_option_group.id"],
            ondelete="CASCADE",
        ),
        CheckConstraint("price_delta >= 0", name="menu_option_price_delta_nonnegative"),
        Index("menu_option_by_group", "restaurant_id", "group_id", "sort_order"),
    )

    restaurant_id: str = Field(primary_key=True)
    id: str = Field(primary_key=True)
    group_id: str
    name_ar: str
    name_en: str
    price_delta: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    available: bool = Field(default=True, sa_column_kwargs={"server_default": text("true")})
    sort_order: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class OrderCounter(SQLModel, table=True):
    """The last order number of each restaurant: references like #1042 are short and per restaurant."""

    __tablename__ = "order_counter"
    __table_args__ = (ForeignKeyConstraint(["restaurant_id"], ["restaurant.id"], ondelete="CASCADE"),)

    restaurant_id: str = Field(primary_key=True)
    last_number: int = Field(default=1000, sa_column_kwargs={"server_default": "1000"})


ORDER_STATUSES = ("CONFIRMED", "PREPARING", "OUT_FOR_DELIVERY", "READY", "DELIVERED", "CANCELLED")


class Order(SQLModel, table=True):
    __tablename__ = "customer_order"
    __table_args__ = (
        UniqueConstraint("restaurant_id", "number", name="customer_order_number_key"),
        _tenant_fk("conversation_id", "conversation"),
        CheckConstraint("order_type IN ('delivery', 'pickup')", name="customer_order_type_valid"),
        CheckConstraint("payment_method IN ('cash', 'online')", name="customer_order_payment_valid"),
        CheckConstraint(f"status IN {ORDER_STATUSES}", name="customer_order_status_valid"),
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="customer_order_rating_valid"),
        CheckConstraint(
            "external_submit_state IS NULL OR external_submit_state IN ('pending', 'submitted', 'failed')",
            name="customer_order_external_submit_state_valid",
        ),
        Index("customer_order_by_time", "restaurant_id", text("created_at DESC"), text("id DESC")),
        Index(
            "customer_order_by_status_time",
            "restaurant_id",
            "status",
            text("created_at DESC"),
            text("id DESC"),
        ),
        Index("customer_order_by_conversation", "restaurant_id", "conversation_id", text("created_at DESC")),
        # The history filtered by branch (newest first, keyset pagination).
        Index(
            "customer_order_by_branch_time",
            "restaurant_id",
            "branch_id",
            text("created_at DESC"),
            text("id DESC"),
        ),
        # Ratings (#16): the rated orders of a period, newest rating first (timeline and reviews).
        Index(
            "customer_order_rated",
            "restaurant_id",
            text("rated_at DESC"),
            text("id DESC"),
            postgresql_where=text("rating IS NOT NULL"),
        ),
        Index(  # the Sufrah platform's order number: its /status callbacks name it
            "customer_order_external_number_key",
            "restaurant_id",
            "external_order_number",
            unique=True,
            postgresql_where=text("external_order_number IS NOT NULL"),
        ),
        Index(  # the submission outbox: orders due to be sent to the platform
            "customer_order_submit_due",
            "external_next_attempt_at",
            postgresql_where=text("external_submit_state = 'pending'"),
        ),
    )

    restaurant_id: str = Field(primary_key=True)
    id: str = Field(primary_key=True)
    number: int
    conversation_id: str
    bot_id: str
    customer_phone: str
    customer_name: str | None = None
    order_type: str
    branch_id: str | None = None
    delivery_address: str | None = None
    delivery_latitude: float | None = None
    delivery_longitude: float | None = None
    payment_method: str
    subtotal: int
    total: int
    currency: str
    status: str = Field(default="CONFIRMED", sa_column_kwargs={"server_default": "CONFIRMED"})
    rating: int | None = None
    rating_comment: str | None = None
    rated_at: datetime | None = _ts(nullable=True, default_now=False)
    lang: str = Field(default="ar", sa_column_kwargs={"server_default": "ar"})
    # The Sufrah merchant platform (#17): what it gave the order, and its submission outbox.
    external_order_number: str | None = None
    external_payment_link: str | None = None
    external_status: str | None = None  # its last status, as it said it (e.g. "InProgress")
    external_payment_status: str | None = None  # e.g. "Pending", "Paid"
    external_paid_at: datetime | None = _ts(nullable=True, default_now=False)
    external_submit_state: str | None = None  # pending | submitted | failed; None: a local order
    external_submit_attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    external_next_attempt_at: datetime | None = _ts(nullable=True, default_now=False)
    external_error: str | None = None
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    paid_at: datetime | None = _ts(nullable=True, default_now=False)  # staff marked it paid

    @property
    def reference(self) -> str:
        """What the customer and staff call the order: the platform's number once it has one."""
        return f"#{self.external_order_number or self.number}"


class OrderLine(SQLModel, table=True):
    __tablename__ = "order_line"
    __table_args__ = (
        ForeignKeyConstraint(
            ["restaurant_id", "order_id"],
            ["customer_order.restaurant_id", "customer_order.id"],
            ondelete="CASCADE",
        ),
        CheckConstraint("quantity >= 1", name="order_line_quantity_positive"),
    )

    restaurant_id: str = Field(primary_key=True)
    order_id: str = Field(primary_key=True)
    line_no: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    item_id: str
    name_ar: str
    name_en: str
    unit_price: int  # the item's price plus its chosen options' price deltas, when ordered
    quantity: int
    # The chosen options as they were when ordered: [{group_ar, group_en, name_ar, name_en,
    # price_delta}], in the order they were asked; a later menu change leaves them as they are.
    options: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    )


class BotState(SQLModel, table=True):
    """The bot's memory of one conversation (step, cart, language): in the database, so a restart or
    another process answers the customer from the step they were at."""

    __tablename__ = "bot_state"
    __table_args__ = (_tenant_fk("conversation_id", "conversation"),)

    restaurant_id: str = Field(primary_key=True)
    conversation_id: str = Field(primary_key=True)
    state: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    )
    updated_at: datetime = _ts()


NOTIFICATION_KINDS = (
    "order_created",
    "handoff_requested",
    "conversation_started",
    "usage_near_limit",  # usage (#16): raised from SQL (sufrah_open_session, migration 0013)
    "usage_limit_reached",
)


class Notification(SQLModel, table=True):
    """A staff notification (a new order, a customer asking for staff, a new conversation), with its
    read state; raised in the transaction of what caused it (app/services/notifications.py)."""

    __tablename__ = "notification"
    __table_args__ = (
        ForeignKeyConstraint(["restaurant_id"], ["restaurant.id"], ondelete="CASCADE"),
        CheckConstraint(f"kind IN {NOTIFICATION_KINDS}", name="notification_kind_valid"),
        # The bell's list: newest first, keyset pagination; and its unread count.
        Index("notification_by_time", "restaurant_id", text("created_at DESC"), text("id DESC")),
        Index("notification_unread", "restaurant_id", postgresql_where=text("read_at IS NULL")),
    )

    restaurant_id: str = Field(primary_key=True)
    id: str = Field(primary_key=True)
    kind: str
    title: str
    body: str = Field(default="", sa_column_kwargs={"server_default": ""})
    meta: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column("metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    read_at: datetime | None = _ts(nullable=True, default_now=False)
    created_at: datetime = _ts()


TEMPLATE_CATEGORIES = ("UTILITY", "MARKETING", "AUTHENTICATION")
TEMPLATE_STATUSES = ("draft", "pending", "approved", "rejected")


class MessageTemplate(SQLModel, table=True):
    """A restaurant's WhatsApp template: a Twilio Content API content, approved by WhatsApp before it
    may open a conversation outside the 24-hour window. `next_sync_at` is the template worker's queue
    (submit, poll the review, delete retired contents at Twilio; app/workers/templates.py); a deleted
    template keeps its row (`deleted_at`) until its contents are gone at Twilio too."""

    __tablename__ = "message_template"
    __table_args__ = (
        ForeignKeyConstraint(["restaurant_id"], ["restaurant.id"], ondelete="CASCADE"),
        CheckConstraint(f"category IN {TEMPLATE_CATEGORIES}", name="message_template_category_valid"),
        CheckConstraint(f"status IN {TEMPLATE_STATUSES}", name="message_template_status_valid"),
        CheckConstraint("usage_count >= 0", name="message_template_usage_nonnegative"),
        Index(
            "message_template_name_key",
            "restaurant_id",
            "name",
            "language",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("message_template_sync_due", "next_sync_at", postgresql_where=text("next_sync_at IS NOT NULL")),
    )

    restaurant_id: str = Field(primary_key=True)
    id: str = Field(primary_key=True)
    name: str  # WhatsApp's template name: [a-z0-9_]
    friendly_name: str
    language: str  # e.g. "ar", "en"
    category: str
    body: str  # with {{1}}…{{n}} variables
    footer: str | None = None
    buttons: list[dict[str, str]] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    variables: dict[str, str] = Field(  # sample values, as WhatsApp's review asks for them
        default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    )
    content_sid: str | None = None
    status: str = Field(default="draft", sa_column_kwargs={"server_default": "draft"})
    rejection_reason: str | None = None
    approved_at: datetime | None = _ts(nullable=True, default_now=False)
    usage_count: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    last_used_at: datetime | None = _ts(nullable=True, default_now=False)
    retired_content_sids: list[str] = Field(  # contents replaced by an edit, still to delete at Twilio
        default_factory=list, sa_column=Column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    )
    next_sync_at: datetime | None = _ts(nullable=True, default_now=False)
    sync_error: str | None = None  # the last Twilio failure, shown to staff
    deleted_at: datetime | None = _ts(nullable=True, default_now=False)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class InteractiveContent(SQLModel, table=True):
    """A Content API content (quick-reply buttons or a list picker) created for the bot's interactive
    messages: created once per Twilio account and content JSON (`content_hash`), then reused by SID.

    Tenant-owned (restaurant_id leads the key) although a content belongs to a Twilio account: the
    content JSON carries the restaurant's name and menu, the outbox reads it beside the restaurant's
    messages (one shard under Citus, distributed by restaurant_id like every tenant table), and the
    rows go with the restaurant. Restaurants sharing an account each create their own copy of a
    generic content (e.g. delivery/pickup buttons): a few extra creates, instead of a cross-tenant
    reference table written to from the send path."""

    __tablename__ = "interactive_content"
    __table_args__ = (ForeignKeyConstraint(["restaurant_id"], ["restaurant.id"], ondelete="CASCADE"),)

    restaurant_id: str = Field(primary_key=True)
    account_sid: str = Field(primary_key=True)
    content_hash: str = Field(primary_key=True)  # sha256 of the canonical content JSON
    content_sid: str  # "HX…"
    content_type: str  # twilio/quick-reply | twilio/list-picker
    created_at: datetime = _ts()


MEDIA_STATES = ("pending", "stored", "failed")


class MessageMedia(SQLModel, table=True):
    """One attachment of a message in our media store (app/media). Inbound ones start `pending` and
    are downloaded from Twilio by app/workers/media.py; staff uploads are `stored` at once (their
    message is created when they are sent)."""

    __tablename__ = "message_media"
    __table_args__ = (
        ForeignKeyConstraint(
            ["restaurant_id", "message_id"], ["message.restaurant_id", "message.id"], ondelete="CASCADE"
        ),
        UniqueConstraint("restaurant_id", "message_id", "position", name="message_media_position_key"),
        CheckConstraint(f"state IN {MEDIA_STATES}", name="message_media_state_valid"),
        Index("message_media_due", "next_attempt_at", postgresql_where=text("state = 'pending'")),
    )

    restaurant_id: str = Field(primary_key=True)
    id: str = Field(primary_key=True)
    message_id: str | None = None  # a staff upload has none until it is sent
    position: int = 0  # its index in the message's media_urls
    state: str = Field(default="pending", sa_column_kwargs={"server_default": "pending"})
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    next_attempt_at: datetime | None = _ts(nullable=True, default_now=False)
    error: str | None = None
    source_url: str | None = None  # Twilio's MediaUrl (inbound)
    content_type: str | None = None
    size_bytes: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    storage_key: str | None = None
    filename: str | None = None
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Plan(SQLModel, table=True):
    """An offer restaurants are put on by admins: how many WhatsApp sessions a month it includes.
    Global, not tenant-owned (see the module docstring)."""

    __tablename__ = "plan"
    __table_args__ = (
        UniqueConstraint("name", name="plan_name_key"),
        CheckConstraint("monthly_sessions >= 0", name="plan_sessions_nonnegative"),
        CheckConstraint("price >= 0", name="plan_price_nonnegative"),
    )

    id: str = Field(primary_key=True)
    name: str
    monthly_sessions: int
    price: int = Field(default=0, sa_column_kwargs={"server_default": "0"})  # minor units, a month
    currency: str = Field(default="SAR", sa_column_kwargs={"server_default": "SAR"})
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class ConversationSession(SQLModel, table=True):
    """A WhatsApp conversation session: 24 hours from the message (in or out) that opened it, what
    WhatsApp bills. Recorded with that message, in its transaction (sufrah_open_session, migration
    0013); `ordinal` is its number in the restaurant's month, `over_allowance` whether the month's
    allowance was used up when it opened (the bot's extras pause for it; app/services/usage.py)."""

    __tablename__ = "conversation_session"
    __table_args__ = (
        _tenant_fk("conversation_id", "conversation"),
        _tenant_fk("message_id", "message"),
        CheckConstraint(f"direction IN {DIRECTIONS}", name="conversation_session_direction_valid"),
        Index("conversation_session_by_time", "restaurant_id", "started_at"),  # the daily breakdown
        Index("conversation_session_by_conversation", "restaurant_id", "conversation_id", "started_at"),
    )

    restaurant_id: str = Field(primary_key=True)
    id: str = Field(primary_key=True)
    conversation_id: str
    bot_id: str
    message_id: str
    direction: str
    started_at: datetime = _ts()
    month: date  # the restaurant's month (first day), in its time zone
    ordinal: int
    over_allowance: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})


class UsageMonth(SQLModel, table=True):
    """The sessions a restaurant opened in one of its months (a counter, so reading usage is O(1)),
    and when staff were told it came near the allowance and reached it (once a month each)."""

    __tablename__ = "usage_month"
    __table_args__ = (ForeignKeyConstraint(["restaurant_id"], ["restaurant.id"], ondelete="CASCADE"),)

    restaurant_id: str = Field(primary_key=True)
    month: date = Field(primary_key=True)
    sessions: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    near_limit_notified_at: datetime | None = _ts(nullable=True, default_now=False)
    limit_notified_at: datetime | None = _ts(nullable=True, default_now=False)


class UsageAdjustment(SQLModel, table=True):
    """Sessions an admin added to (or took from) one restaurant's allowance for one month, and why."""

    __tablename__ = "usage_adjustment"
    __table_args__ = (
        ForeignKeyConstraint(["restaurant_id"], ["restaurant.id"], ondelete="CASCADE"),
        CheckConstraint("sessions <> 0", name="usage_adjustment_sessions_nonzero"),
        Index("usage_adjustment_by_month", "restaurant_id", "month"),
    )

    restaurant_id: str = Field(primary_key=True)
    id: str = Field(primary_key=True)
    month: date
    sessions: int
    reason: str
    created_by: str  # the admin token's id, or "DASHBOARD_PAT"
    created_at: datetime = _ts()


class OpeningHours(SQLModel, table=True):
    """One opening interval of the week, on the weekday it starts (0 = Monday). It may cross midnight:
    `closes <= opens` ends the next day (see app.services.hours). A restaurant without any row is
    always open."""

    __tablename__ = "opening_hours"
    __table_args__ = (
        ForeignKeyConstraint(["restaurant_id"], ["restaurant.id"], ondelete="CASCADE"),
        CheckConstraint("weekday BETWEEN 0 AND 6", name="opening_hours_weekday_valid"),
    )

    restaurant_id: str = Field(primary_key=True)
    weekday: int = Field(primary_key=True)
    opens: time = Field(primary_key=True)
    closes: time


class OpeningException(SQLModel, table=True):
    """A date with its own hours (a holiday): closed all day (no times) or one special interval."""

    __tablename__ = "opening_exception"
    __table_args__ = (
        ForeignKeyConstraint(["restaurant_id"], ["restaurant.id"], ondelete="CASCADE"),
        CheckConstraint("(opens IS NULL) = (closes IS NULL)", name="opening_exception_times_paired"),
    )

    restaurant_id: str = Field(primary_key=True)
    day: date = Field(primary_key=True)
    opens: time | None = None
    closes: time | None = None
    note: str = Field(default="", sa_column_kwargs={"server_default": ""})

"""Ordering: branches, menu, orders and their lines, the bot's per-conversation state, the bot's
work queue (inbound messages awaiting their turn) and the outbox (outgoing messages to send).

Revision ID: 0003_ordering
Revises: 0002_event_log
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_ordering"
down_revision = "0002_event_log"
branch_labels = None
depends_on = None


def _ts(name: str, *, nullable: bool = False, default_now: bool = True) -> sa.Column:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=sa.func.now() if default_now else None,
    )


def _tenant_fk(*columns: str, table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["restaurant_id", *columns], [f"{table}.restaurant_id", f"{table}.id"])


def upgrade() -> None:
    op.add_column(
        "restaurant", sa.Column("min_delivery_total", sa.Integer(), nullable=False, server_default="0")
    )

    op.create_table(
        "branch",
        sa.Column("restaurant_id", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name_ar", sa.String(), nullable=False),
        sa.Column("name_en", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False, server_default=""),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("delivery_radius_km", sa.Float(), nullable=False, server_default="5"),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("sort_order", sa.Integer(), nullable=False, server_default="0"),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("restaurant_id", "id"),
        sa.ForeignKeyConstraint(["restaurant_id"], ["restaurant.id"], ondelete="CASCADE"),
    )
    op.create_table(
        "menu_category",
        sa.Column("restaurant_id", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name_ar", sa.String(), nullable=False),
        sa.Column("name_en", sa.String(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("sort_order", sa.Integer(), nullable=False, server_default="0"),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("restaurant_id", "id"),
        sa.ForeignKeyConstraint(["restaurant_id"], ["restaurant.id"], ondelete="CASCADE"),
    )
    op.create_table(
        "menu_item",
        sa.Column("restaurant_id", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("category_id", sa.String(), nullable=False),
        sa.Column("name_ar", sa.String(), nullable=False),
        sa.Column("name_en", sa.String(), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False, server_default="SAR"),
        sa.Column("available", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("max_quantity", sa.Integer(), nullable=False, server_default="10"),
        sa.Column("sort_order", sa.Integer(), nullable=False, server_default="0"),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("restaurant_id", "id"),
        _tenant_fk("category_id", table="menu_category"),
        sa.CheckConstraint("price >= 0", name="menu_item_price_nonnegative"),
        sa.CheckConstraint("max_quantity >= 1", name="menu_item_max_quantity_positive"),
    )
    op.create_table(
        "order_counter",
        sa.Column("restaurant_id", sa.String(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False, server_default="1000"),
        sa.PrimaryKeyConstraint("restaurant_id"),
        sa.ForeignKeyConstraint(["restaurant_id"], ["restaurant.id"], ondelete="CASCADE"),
    )
    op.create_table(
        "customer_order",
        sa.Column("restaurant_id", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(), nullable=False),
        sa.Column("bot_id", sa.String(), nullable=False),
        sa.Column("customer_phone", sa.String(), nullable=False),
        sa.Column("customer_name", sa.String(), nullable=True),
        sa.Column("order_type", sa.String(), nullable=False),
        sa.Column("branch_id", sa.String(), nullable=True),
        sa.Column("delivery_address", sa.String(), nullable=True),
        sa.Column("delivery_latitude", sa.Float(), nullable=True),
        sa.Column("delivery_longitude", sa.Float(), nullable=True),
        sa.Column("payment_method", sa.String(), nullable=False),
        sa.Column("subtotal", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False, server_default="CONFIRMED"),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("rating_comment", sa.String(), nullable=True),
        sa.Column("lang", sa.String(), nullable=False, server_default="ar"),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("restaurant_id", "id"),
        sa.UniqueConstraint("restaurant_id", "number", name="customer_order_number_key"),
        _tenant_fk("conversation_id", table="conversation"),
        sa.CheckConstraint("order_type IN ('delivery', 'pickup')", name="customer_order_type_valid"),
        sa.CheckConstraint("payment_method IN ('cash', 'online')", name="customer_order_payment_valid"),
        sa.CheckConstraint(
            "status IN ('CONFIRMED', 'PREPARING', 'OUT_FOR_DELIVERY', 'READY', 'DELIVERED', 'CANCELLED')",
            name="customer_order_status_valid",
        ),
        sa.CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="customer_order_rating_valid"),
    )
    op.create_index(
        "customer_order_by_time",
        "customer_order",
        ["restaurant_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    op.create_index(
        "customer_order_by_status_time",
        "customer_order",
        ["restaurant_id", "status", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    op.create_index(
        "customer_order_by_conversation",
        "customer_order",
        ["restaurant_id", "conversation_id", sa.text("created_at DESC")],
    )
    op.create_table(
        "order_line",
        sa.Column("restaurant_id", sa.String(), nullable=False),
        sa.Column("order_id", sa.String(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(), nullable=False),
        sa.Column("name_ar", sa.String(), nullable=False),
        sa.Column("name_en", sa.String(), nullable=False),
        sa.Column("unit_price", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("restaurant_id", "order_id", "line_no"),
        sa.ForeignKeyConstraint(
            ["restaurant_id", "order_id"],
            ["customer_order.restaurant_id", "customer_order.id"],
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("quantity >= 1", name="order_line_quantity_positive"),
    )
    op.create_table(
        "bot_state",
        sa.Column("restaurant_id", sa.String(), nullable=False),
        sa.Column("conversation_id", sa.String(), nullable=False),
        sa.Column("state", postgresql.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("restaurant_id", "conversation_id"),
        _tenant_fk("conversation_id", table="conversation"),
    )
    # The bot's work queue: inbound messages awaiting their turn.
    op.add_column("message", sa.Column("bot_turn", sa.String(), nullable=True))
    op.create_index(
        "message_bot_pending", "message", ["created_at"], postgresql_where=sa.text("bot_turn = 'pending'")
    )
    # The outbox: outgoing messages and their sending state.
    op.add_column("message", sa.Column("bot_id", sa.String(), nullable=True))
    op.add_column("message", sa.Column("send_state", sa.String(), nullable=True))
    op.add_column("message", sa.Column("send_attempts", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("message", sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("message", sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "message_outbox_due",
        "message",
        ["next_attempt_at"],
        postgresql_where=sa.text("send_state IN ('pending', 'sending', 'unknown')"),
    )
    op.create_index(
        "message_sent_by_bot",
        "message",
        ["restaurant_id", "bot_id", "sent_at"],
        postgresql_where=sa.text("sent_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("message_sent_by_bot", table_name="message")
    op.drop_index("message_outbox_due", table_name="message")
    for column in ("sent_at", "next_attempt_at", "send_attempts", "send_state", "bot_id"):
        op.drop_column("message", column)
    op.drop_index("message_bot_pending", table_name="message")
    op.drop_column("message", "bot_turn")
    op.drop_table("bot_state")
    op.drop_table("order_line")
    op.drop_index("customer_order_by_conversation", table_name="customer_order")
    op.drop_index("customer_order_by_status_time", table_name="customer_order")
    op.drop_index("customer_order_by_time", table_name="customer_order")
    op.drop_table("customer_order")
    op.drop_table("order_counter")
    op.drop_table("menu_item")
    op.drop_table("menu_category")
    op.drop_table("branch")
    op.drop_column("restaurant", "min_delivery_total")

"""Core tables: restaurants, bots (WhatsApp senders), conversations, messages, API tokens.

Revision ID: 0001_core
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None


def _ts(name: str, *, nullable: bool = False, default_now: bool = True) -> sa.Column:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=sa.func.now() if default_now else None,
    )


def upgrade() -> None:
    op.create_table(
        "restaurant",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False, server_default="SAR"),
        sa.Column("bot_enabled", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "bot",
        sa.Column("restaurant_id", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("restaurant_name", sa.String(), nullable=False),
        sa.Column("whatsapp_number", sa.String(), nullable=False),
        sa.Column("account_sid", sa.String(), nullable=False),
        sa.Column("subaccount_sid", sa.String(), nullable=True),
        sa.Column("auth_token_encrypted", sa.String(), nullable=False),
        sa.Column("sender_sid", sa.String(), nullable=True),
        sa.Column("waba_id", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False, server_default="PENDING"),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("support_contact", sa.String(), nullable=True),
        sa.Column("payment_link", sa.String(), nullable=True),
        sa.Column("max_messages_per_min", sa.Integer(), nullable=False, server_default="60"),
        sa.Column("max_messages_per_day", sa.Integer(), nullable=False, server_default="1000"),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("deleted_at", nullable=True, default_now=False),
        sa.PrimaryKeyConstraint("restaurant_id", "id"),
        sa.ForeignKeyConstraint(["restaurant_id"], ["restaurant.id"], ondelete="CASCADE"),
        sa.CheckConstraint("status IN ('PENDING', 'ACTIVE', 'FAILED', 'VERIFYING')", name="bot_status_valid"),
    )
    op.create_index("bot_id_key", "bot", ["id"], unique=True)
    op.create_index(
        "bot_whatsapp_number_live_key",
        "bot",
        ["whatsapp_number"],
        unique=True,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "conversation",
        sa.Column("restaurant_id", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("bot_id", sa.String(), nullable=False),
        sa.Column("customer_phone", sa.String(), nullable=False),
        sa.Column("customer_name", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False, server_default="active"),
        _ts("last_message_at"),
        _ts("last_inbound_at", nullable=True, default_now=False),
        sa.Column("unread_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("is_bot_active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("restaurant_id", "id"),
        sa.ForeignKeyConstraint(["restaurant_id", "bot_id"], ["bot.restaurant_id", "bot.id"]),
        sa.UniqueConstraint("restaurant_id", "bot_id", "customer_phone", name="conversation_customer_key"),
        sa.CheckConstraint("status IN ('active', 'closed')", name="conversation_status_valid"),
        sa.CheckConstraint("unread_count >= 0", name="conversation_unread_nonnegative"),
    )
    op.create_index(
        "conversation_by_activity",
        "conversation",
        ["restaurant_id", sa.text("last_message_at DESC"), sa.text("id DESC")],
    )
    op.create_index(
        "conversation_by_status_activity",
        "conversation",
        ["restaurant_id", "status", sa.text("last_message_at DESC"), sa.text("id DESC")],
    )
    op.create_index(
        "conversation_by_bot_activity",
        "conversation",
        ["restaurant_id", "bot_id", sa.text("last_message_at DESC"), sa.text("id DESC")],
    )
    op.create_table(
        "message",
        sa.Column("restaurant_id", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("conversation_id", sa.String(), nullable=False),
        sa.Column("direction", sa.String(), nullable=False),
        sa.Column("message_type", sa.String(), nullable=False),
        sa.Column("content", sa.String(), nullable=False, server_default=""),
        sa.Column("media_urls", postgresql.JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("wa_sid", sa.String(), nullable=True),
        sa.Column("delivery_status", sa.String(), nullable=True),
        sa.Column("error_code", sa.String(), nullable=True),
        sa.Column("error_message", sa.String(), nullable=True),
        sa.Column("metadata", postgresql.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("restaurant_id", "id"),
        sa.ForeignKeyConstraint(
            ["restaurant_id", "conversation_id"], ["conversation.restaurant_id", "conversation.id"]
        ),
        sa.UniqueConstraint("restaurant_id", "wa_sid", name="message_wa_sid_key"),
        sa.CheckConstraint("direction IN ('IN', 'OUT')", name="message_direction_valid"),
    )
    op.create_index(
        "message_by_conversation_time",
        "message",
        ["restaurant_id", "conversation_id", "created_at", "id"],
    )
    op.create_table(
        "api_token",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("token_hash", sa.String(), nullable=False),
        sa.Column("token_prefix", sa.String(), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column(
            "restaurant_ids",
            postgresql.ARRAY(sa.Text()),
            nullable=False,
            server_default=sa.text("'{}'::text[]"),
        ),
        _ts("created_at"),
        _ts("last_used_at", nullable=True, default_now=False),
        _ts("revoked_at", nullable=True, default_now=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash", name="api_token_hash_key"),
    )


def downgrade() -> None:
    op.drop_table("api_token")
    op.drop_index("message_by_conversation_time", table_name="message")
    op.drop_table("message")
    op.drop_index("conversation_by_bot_activity", table_name="conversation")
    op.drop_index("conversation_by_status_activity", table_name="conversation")
    op.drop_index("conversation_by_activity", table_name="conversation")
    op.drop_table("conversation")
    op.drop_index("bot_whatsapp_number_live_key", table_name="bot")
    op.drop_index("bot_id_key", table_name="bot")
    op.drop_table("bot")
    op.drop_table("restaurant")

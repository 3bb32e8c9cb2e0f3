"""Message templates (Twilio Content API, WhatsApp approval): each restaurant's library, its chosen
follow-up and order-status templates, and what a templated message carried (content SID, variables,
template name) so the conversation shows what was sent.

Revision ID: 0007_templates
Revises: 0006_staff_reply_index
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007_templates"
down_revision = "0006_staff_reply_index"
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
        "message_template",
        sa.Column("restaurant_id", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("friendly_name", sa.String(), nullable=False),
        sa.Column("language", sa.String(), nullable=False),
        sa.Column("category", sa.String(), nullable=False),
        sa.Column("body", sa.String(), nullable=False),
        sa.Column("footer", sa.String(), nullable=True),
        sa.Column("buttons", postgresql.JSONB(), nullable=True),
        sa.Column("variables", postgresql.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("content_sid", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False, server_default="draft"),
        sa.Column("rejection_reason", sa.String(), nullable=True),
        _ts("approved_at", nullable=True, default_now=False),
        sa.Column("usage_count", sa.Integer(), nullable=False, server_default="0"),
        _ts("last_used_at", nullable=True, default_now=False),
        sa.Column(
            "retired_content_sids", postgresql.JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")
        ),
        _ts("next_sync_at", nullable=True, default_now=False),
        sa.Column("sync_error", sa.String(), nullable=True),
        _ts("deleted_at", nullable=True, default_now=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("restaurant_id", "id"),
        sa.ForeignKeyConstraint(["restaurant_id"], ["restaurant.id"], ondelete="CASCADE"),
        sa.CheckConstraint(
            "category IN ('UTILITY', 'MARKETING', 'AUTHENTICATION')", name="message_template_category_valid"
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'pending', 'approved', 'rejected')", name="message_template_status_valid"
        ),
        sa.CheckConstraint("usage_count >= 0", name="message_template_usage_nonnegative"),
    )
    op.create_index(
        "message_template_name_key",
        "message_template",
        ["restaurant_id", "name", "language"],
        unique=True,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_index(
        "message_template_sync_due",
        "message_template",
        ["next_sync_at"],
        postgresql_where=sa.text("next_sync_at IS NOT NULL"),
    )
    op.add_column("restaurant", sa.Column("follow_up_template_id", sa.String(), nullable=True))
    op.add_column("restaurant", sa.Column("order_status_template_id", sa.String(), nullable=True))
    for column in ("follow_up_template_id", "order_status_template_id"):
        op.create_foreign_key(
            f"restaurant_{column}_fkey",
            "restaurant",
            "message_template",
            ["id", column],
            ["restaurant_id", "id"],
        )
    op.add_column("message", sa.Column("content_sid", sa.String(), nullable=True))
    op.add_column("message", sa.Column("content_variables", postgresql.JSONB(), nullable=True))
    op.add_column("message", sa.Column("template_name", sa.String(), nullable=True))


def downgrade() -> None:
    op.drop_column("message", "template_name")
    op.drop_column("message", "content_variables")
    op.drop_column("message", "content_sid")
    for column in ("follow_up_template_id", "order_status_template_id"):
        op.drop_constraint(f"restaurant_{column}_fkey", "restaurant", type_="foreignkey")
        op.drop_column("restaurant", column)
    op.drop_index("message_template_sync_due", table_name="message_template")
    op.drop_index("message_template_name_key", table_name="message_template")
    op.drop_table("message_template")

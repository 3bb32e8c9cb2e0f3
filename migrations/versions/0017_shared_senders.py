"""Shared senders: WhatsApp senders registered without a restaurant, waiting to be linked.

The earlier backend let an admin register a sender with `restaurantId` null and link it later (its
dashboard's onboarding lists those and links one). Our `bot` rows belong to a restaurant (the key is
`(restaurant_id, id)`), so such a sender waits in a global, admin-only table and moves into `bot`,
keeping its id, when it is linked.

Revision ID: 0017_shared_senders
Revises: 0015_overview
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_shared_senders"
down_revision = "0015_overview"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "unlinked_sender",
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
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id"),
        sa.CheckConstraint(
            "status IN ('PENDING', 'ACTIVE', 'FAILED', 'VERIFYING')", name="unlinked_sender_status_valid"
        ),
    )
    op.create_index(
        "unlinked_sender_whatsapp_number_key", "unlinked_sender", ["whatsapp_number"], unique=True
    )


def downgrade() -> None:
    op.drop_index("unlinked_sender_whatsapp_number_key", table_name="unlinked_sender")
    op.drop_table("unlinked_sender")

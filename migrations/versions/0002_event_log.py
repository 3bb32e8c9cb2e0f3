"""Event log (a per-restaurant, gapless, durable sequence of changes that subscriptions resume from);
message authors and the indexes the dashboard's stats need; restaurant time zone.

Revision ID: 0002_event_log
Revises: 0001_core
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_event_log"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_counter",
        sa.Column("restaurant_id", sa.String(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("restaurant_id"),
        sa.ForeignKeyConstraint(["restaurant_id"], ["restaurant.id"], ondelete="CASCADE"),
    )
    op.create_table(
        "event",
        sa.Column("restaurant_id", sa.String(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("entity_id", sa.String(), nullable=False),
        sa.Column("conversation_id", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("restaurant_id", "seq"),
        sa.ForeignKeyConstraint(["restaurant_id"], ["restaurant.id"], ondelete="CASCADE"),
    )
    op.create_index("event_by_time", "event", ["created_at"])
    op.add_column("message", sa.Column("author", sa.String(), nullable=True))
    op.create_index("message_by_restaurant_time", "message", ["restaurant_id", "created_at"])
    op.add_column(
        "restaurant", sa.Column("timezone", sa.String(), nullable=False, server_default="Asia/Riyadh")
    )


def downgrade() -> None:
    op.drop_column("restaurant", "timezone")
    op.drop_index("message_by_restaurant_time", table_name="message")
    op.drop_column("message", "author")
    op.drop_index("event_by_time", table_name="event")
    op.drop_table("event")
    op.drop_table("event_counter")

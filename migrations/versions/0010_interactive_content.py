"""Interactive bot messages (#15): the cache of Content API contents the bot's buttons and list
pickers were created as (one per Twilio account and content JSON, never created twice), and an
optional photo per menu item.

The cache is keyed (restaurant_id, account_sid, content_hash): tenant-owned like every table here, so
it distributes by restaurant_id (see app.models.InteractiveContent for why not per account alone).

Revision ID: 0010_interactive_content
Revises: 0009_notifications
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_interactive_content"
down_revision = "0009_notifications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "interactive_content",
        sa.Column("restaurant_id", sa.String(), nullable=False),
        sa.Column("account_sid", sa.String(), nullable=False),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("content_sid", sa.String(), nullable=False),
        sa.Column("content_type", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("restaurant_id", "account_sid", "content_hash"),
        sa.ForeignKeyConstraint(["restaurant_id"], ["restaurant.id"], ondelete="CASCADE"),
    )
    op.add_column("menu_item", sa.Column("image_url", sa.String(), nullable=True))
    op.add_column("menu_item", sa.Column("description_ar", sa.String(), nullable=True))
    op.add_column("menu_item", sa.Column("description_en", sa.String(), nullable=True))


def downgrade() -> None:
    op.drop_column("menu_item", "description_en")
    op.drop_column("menu_item", "description_ar")
    op.drop_column("menu_item", "image_url")
    op.drop_table("interactive_content")

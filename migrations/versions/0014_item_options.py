"""Item options (#16): option groups per menu item ("Size": exactly one; "Add-ons": up to N), each
option with a price delta, and the chosen options' snapshot on each order line.

An order line's `unit_price` includes its options' deltas, so every total and report stays a sum of
`unit_price * quantity`; `options` keeps the names and deltas as ordered (JSONB, `[]` for a line
without options, which every existing line is).

Revision ID: 0014_item_options
Revises: 0013_usage
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014_item_options"
down_revision = "0013_usage"
branch_labels = None
depends_on = None


def _ts(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    op.create_table(
        "menu_option_group",
        sa.Column("restaurant_id", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("item_id", sa.String(), nullable=False),
        sa.Column("name_ar", sa.String(), nullable=False),
        sa.Column("name_en", sa.String(), nullable=False),
        sa.Column("min_select", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("max_select", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("sort_order", sa.Integer(), nullable=False, server_default="0"),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("restaurant_id", "id"),
        sa.ForeignKeyConstraint(
            ["restaurant_id", "item_id"], ["menu_item.restaurant_id", "menu_item.id"], ondelete="CASCADE"
        ),
        sa.CheckConstraint(
            "min_select >= 0 AND max_select >= 1 AND min_select <= max_select", name="menu_option_group_range"
        ),
    )
    op.create_index(
        "menu_option_group_by_item", "menu_option_group", ["restaurant_id", "item_id", "sort_order"]
    )
    op.create_table(
        "menu_option",
        sa.Column("restaurant_id", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("group_id", sa.String(), nullable=False),
        sa.Column("name_ar", sa.String(), nullable=False),
        sa.Column("name_en", sa.String(), nullable=False),
        sa.Column("price_delta", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("available", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("sort_order", sa.Integer(), nullable=False, server_default="0"),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("restaurant_id", "id"),
        sa.ForeignKeyConstraint(
            ["restaurant_id", "group_id"],
            ["menu_option_group.restaurant_id", "menu_option_group.id"],
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("price_delta >= 0", name="menu_option_price_delta_nonnegative"),
    )
    op.create_index("menu_option_by_group", "menu_option", ["restaurant_id", "group_id", "sort_order"])
    op.add_column(
        "order_line",
        sa.Column(
            "options",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=False,
            server_default=sa.text("'[]'::jsonb"),
        ),
    )


def downgrade() -> None:
    op.drop_column("order_line", "options")
    op.drop_index("menu_option_by_group", table_name="menu_option")
    op.drop_table("menu_option")
    op.drop_index("menu_option_group_by_item", table_name="menu_option_group")
    op.drop_table("menu_option_group")

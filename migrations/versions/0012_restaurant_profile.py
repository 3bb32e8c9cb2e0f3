"""Restaurant settings (#16): the profile (description, address, phone, logo, app link), the weekly
opening hours with dated exceptions, and the busy/closed switch with its optional end.

A restaurant without opening hours stays always open, so existing restaurants change nothing.

Revision ID: 0012_restaurant_profile
Revises: 0011_order_insights
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_restaurant_profile"
down_revision = "0011_order_insights"
branch_labels = None
depends_on = None

_PROFILE = ("description", "address", "phone", "logo_url", "app_link")


def upgrade() -> None:
    for name in _PROFILE:
        op.add_column("restaurant", sa.Column(name, sa.String(), nullable=True))
    op.add_column(
        "restaurant",
        sa.Column(
            "accepts_orders_when_closed", sa.Boolean(), nullable=False, server_default=sa.text("false")
        ),
    )
    op.add_column(
        "restaurant", sa.Column("ordering_state", sa.String(), nullable=False, server_default="OPEN")
    )
    op.add_column("restaurant", sa.Column("ordering_state_until", sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint(
        "restaurant_ordering_state_valid", "restaurant", "ordering_state IN ('OPEN', 'BUSY', 'CLOSED')"
    )
    op.create_table(
        "opening_hours",
        sa.Column("restaurant_id", sa.String(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("opens", sa.Time(), nullable=False),
        sa.Column("closes", sa.Time(), nullable=False),
        sa.PrimaryKeyConstraint("restaurant_id", "weekday", "opens"),
        sa.ForeignKeyConstraint(["restaurant_id"], ["restaurant.id"], ondelete="CASCADE"),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name="opening_hours_weekday_valid"),
    )
    op.create_table(
        "opening_exception",
        sa.Column("restaurant_id", sa.String(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("opens", sa.Time(), nullable=True),
        sa.Column("closes", sa.Time(), nullable=True),
        sa.Column("note", sa.String(), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("restaurant_id", "day"),
        sa.ForeignKeyConstraint(["restaurant_id"], ["restaurant.id"], ondelete="CASCADE"),
        sa.CheckConstraint("(opens IS NULL) = (closes IS NULL)", name="opening_exception_times_paired"),
    )


def downgrade() -> None:
    op.drop_table("opening_exception")
    op.drop_table("opening_hours")
    op.drop_constraint("restaurant_ordering_state_valid", "restaurant", type_="check")
    for name in ("ordering_state_until", "ordering_state", "accepts_orders_when_closed", *reversed(_PROFILE)):
        op.drop_column("restaurant", name)

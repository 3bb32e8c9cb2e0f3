"""Order history and its alerts (#16): when an online order was paid, how long a kitchen takes
(late orders are those older than it), and an index for the history filtered by branch.

`customer_order.paid_at` is set by staff ("mark paid"); an online-payment order without it is
awaiting payment. `restaurant.preparation_minutes` (1..1440, default 30): an order still CONFIRMED
or PREPARING after that long is late. The history's other filters ride the existing indexes: time
(`customer_order_by_time`), status (`customer_order_by_status_time`), a conversation's orders
(`customer_order_by_conversation`), a reference (`customer_order_number_key`).

Revision ID: 0011_order_insights
Revises: 0010_interactive_content
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_order_insights"
down_revision = "0010_interactive_content"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("customer_order", sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "customer_order_by_branch_time",
        "customer_order",
        ["restaurant_id", "branch_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    op.add_column(
        "restaurant",
        sa.Column("preparation_minutes", sa.Integer(), nullable=False, server_default="30"),
    )
    op.create_check_constraint(
        "restaurant_preparation_minutes_valid", "restaurant", "preparation_minutes BETWEEN 1 AND 1440"
    )


def downgrade() -> None:
    op.drop_constraint("restaurant_preparation_minutes_valid", "restaurant", type_="check")
    op.drop_column("restaurant", "preparation_minutes")
    op.drop_index("customer_order_by_branch_time", table_name="customer_order")
    op.drop_column("customer_order", "paid_at")

"""Overview and ratings (#16): the restaurant's answer-time target for staff (`sla_minutes`, the
overview's SLA breaches) and when an order was rated (`rated_at`, the ratings timeline and reviews).

Orders rated before this revision get their `updated_at` as `rated_at`: rating was the last change
the customer made to them, and staff seldom move a delivered order on.

Revision ID: 0015_overview
Revises: 0014_item_options
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_overview"
down_revision = "0014_item_options"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("restaurant", sa.Column("sla_minutes", sa.Integer(), nullable=False, server_default="15"))
    op.add_column("customer_order", sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE customer_order SET rated_at = updated_at WHERE rating IS NOT NULL")
    op.create_index(
        "customer_order_rated",
        "customer_order",
        ["restaurant_id", sa.text("rated_at DESC"), sa.text("id DESC")],
        postgresql_where=sa.text("rating IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("customer_order_rated", table_name="customer_order")
    op.drop_column("customer_order", "rated_at")
    op.drop_column("restaurant", "sla_minutes")

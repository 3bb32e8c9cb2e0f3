"""The Sufrah merchant platform (#17): a restaurant's catalog may come from the platform
(`catalog_provider = 'sufrah'` with its `merchant_id`) instead of being kept here.

- restaurant: `catalog_provider` ('local', the default, or 'sufrah') and `merchant_id` (unique: the
  platform's /status callbacks name the merchant, and that decides the tenant).
- menu_sync: one row per platform restaurant, the menu sync worker's queue (`next_sync_at`, a lease
  as in the template worker) and what the dashboard shows of the last sync.
- menu_item.price_before: the price before a discount (the platform's `price` when `priceAfter` is
  lower); shown struck through beside the price the customer pays.
- menu_item_branch: the platform lists products per branch, each with its own price and availability.
- customer_order: what the platform gave the order (its number, payment link, status, payment status)
  and its submission outbox (`external_submit_state`, attempts, next attempt, last error).

Revision ID: 0018_merchant_platform
Revises: 0017_shared_senders
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_merchant_platform"
down_revision = "0017_shared_senders"
branch_labels = None
depends_on = None


def _ts(name: str, *, nullable: bool = True, now: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        name, sa.DateTime(timezone=True), nullable=nullable, server_default=sa.func.now() if now else None
    )


def upgrade() -> None:
    op.add_column(
        "restaurant", sa.Column("catalog_provider", sa.String(), nullable=False, server_default="local")
    )
    op.add_column("restaurant", sa.Column("merchant_id", sa.String(), nullable=True))
    op.create_check_constraint(
        "restaurant_catalog_provider_valid", "restaurant", "catalog_provider IN ('local', 'sufrah')"
    )
    op.create_check_constraint(
        "restaurant_sufrah_needs_merchant",
        "restaurant",
        "catalog_provider <> 'sufrah' OR merchant_id IS NOT NULL",
    )
    op.create_index("restaurant_merchant_id_key", "restaurant", ["merchant_id"], unique=True)

    op.create_table(
        "menu_sync",
        sa.Column("restaurant_id", sa.String(), nullable=False),
        _ts("next_sync_at"),
        _ts("last_attempt_at"),
        _ts("last_success_at"),
        sa.Column("last_error", sa.String(), nullable=True),
        _ts("last_error_at"),
        sa.Column("items_synced", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("categories_synced", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("branches_synced", sa.Integer(), nullable=False, server_default="0"),
        _ts("created_at", nullable=False, now=True),
        _ts("updated_at", nullable=False, now=True),
        sa.PrimaryKeyConstraint("restaurant_id"),
        sa.ForeignKeyConstraint(["restaurant_id"], ["restaurant.id"], ondelete="CASCADE"),
    )
    op.create_index(
        "menu_sync_due", "menu_sync", ["next_sync_at"], postgresql_where=sa.text("next_sync_at IS NOT NULL")
    )

    op.add_column("menu_item", sa.Column("price_before", sa.Integer(), nullable=True))
    op.create_table(
        "menu_item_branch",
        sa.Column("restaurant_id", sa.String(), nullable=False),
        sa.Column("item_id", sa.String(), nullable=False),
        sa.Column("branch_id", sa.String(), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("price_before", sa.Integer(), nullable=True),
        sa.Column("available", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        _ts("updated_at", nullable=False, now=True),
        sa.PrimaryKeyConstraint("restaurant_id", "item_id", "branch_id"),
        sa.ForeignKeyConstraint(
            ["restaurant_id", "item_id"], ["menu_item.restaurant_id", "menu_item.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["restaurant_id", "branch_id"], ["branch.restaurant_id", "branch.id"], ondelete="CASCADE"
        ),
        sa.CheckConstraint("price >= 0", name="menu_item_branch_price_nonnegative"),
    )

    op.add_column("customer_order", sa.Column("external_order_number", sa.String(), nullable=True))
    op.add_column("customer_order", sa.Column("external_payment_link", sa.String(), nullable=True))
    op.add_column("customer_order", sa.Column("external_status", sa.String(), nullable=True))
    op.add_column("customer_order", sa.Column("external_payment_status", sa.String(), nullable=True))
    op.add_column("customer_order", _ts("external_paid_at"))
    op.add_column("customer_order", sa.Column("external_submit_state", sa.String(), nullable=True))
    op.add_column(
        "customer_order",
        sa.Column("external_submit_attempts", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column("customer_order", _ts("external_next_attempt_at"))
    op.add_column("customer_order", sa.Column("external_error", sa.String(), nullable=True))
    op.create_check_constraint(
        "customer_order_external_submit_state_valid",
        "customer_order",
        "external_submit_state IS NULL OR external_submit_state IN ('pending', 'submitted', 'failed')",
    )
    op.create_index(
        "customer_order_external_number_key",
        "customer_order",
        ["restaurant_id", "external_order_number"],
        unique=True,
        postgresql_where=sa.text("external_order_number IS NOT NULL"),
    )
    op.create_index(
        "customer_order_submit_due",
        "customer_order",
        ["external_next_attempt_at"],
        postgresql_where=sa.text("external_submit_state = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("customer_order_submit_due", table_name="customer_order")
    op.drop_index("customer_order_external_number_key", table_name="customer_order")
    op.drop_constraint("customer_order_external_submit_state_valid", "customer_order")
    for column in (
        "external_error",
        "external_next_attempt_at",
        "external_submit_attempts",
        "external_submit_state",
        "external_paid_at",
        "external_payment_status",
        "external_status",
        "external_payment_link",
        "external_order_number",
    ):
        op.drop_column("customer_order", column)
    op.drop_table("menu_item_branch")
    op.drop_column("menu_item", "price_before")
    op.drop_index("menu_sync_due", table_name="menu_sync")
    op.drop_table("menu_sync")
    op.drop_index("restaurant_merchant_id_key", table_name="restaurant")
    op.drop_constraint("restaurant_sufrah_needs_merchant", "restaurant")
    op.drop_constraint("restaurant_catalog_provider_valid", "restaurant")
    op.drop_column("restaurant", "merchant_id")
    op.drop_column("restaurant", "catalog_provider")

"""Tell every server process when something authentication depends on changes, so each may keep
what it learned about tokens and tenants between requests (app/auth/cache.py): a statement that
updates, deletes or truncates `api_token` or `bot`, or deletes or truncates `restaurant`, sends a
NOTIFY on `sufrah_auth` when it commits.

Revision ID: 0005_auth_notify
Revises: 0004_ingest_function
Create Date: 2026-11-25
"""

from alembic import op

revision = "0005_auth_notify"
down_revision = "0004_ingest_function"
branch_labels = None
depends_on = None

# Statement-level: one notification per statement, however many rows it touched (identical payloads
# in one transaction are folded into one by PostgreSQL).
TRIGGERS = {
    "api_token": "UPDATE OR DELETE OR TRUNCATE",
    "bot": "UPDATE OR DELETE OR TRUNCATE",
    "restaurant": "DELETE OR TRUNCATE",
}


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION sufrah_auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('sufrah_auth', TG_TABLE_NAME);
            RETURN NULL;
        END;
        $$
        """
    )
    for table, events in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {table}_auth_changed AFTER {events} ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION sufrah_auth_changed()"
        )


def downgrade() -> None:
    for table in TRIGGERS:
        op.execute(f"DROP TRIGGER {table}_auth_changed ON {table}")
    op.execute("DROP FUNCTION sufrah_auth_changed()")

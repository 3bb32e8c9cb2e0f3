"""Staff replies indexed by conversation and time: the dashboard's median first-response time looks
up each recent staff reply and the one before it in its conversation (app/services/conversations.py);
without this index both scans read every message of the restaurant's last week.

Revision ID: 0006_staff_reply_index
Revises: 0005_auth_notify
Create Date: 2026-11-25
"""

from alembic import op

revision = "0006_staff_reply_index"
down_revision = "0005_auth_notify"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "message_staff_reply",
        "message",
        ["restaurant_id", "conversation_id", "created_at"],
        postgresql_where="author = 'staff'",
    )


def downgrade() -> None:
    op.drop_index("message_staff_reply", table_name="message")

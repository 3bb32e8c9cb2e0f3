"""Alerts and handoff: staff notifications, branch alert numbers and the default branch, "talk to
staff" recorded on the conversation, and the restaurant's "a staff reply pauses the bot" setting.

The ingest function (0004) is replaced by one that also raises the `conversation_started`
notification when a message opens a new conversation: the webhook's hot path stays one statement,
and the notification commits with the message that caused it.

Revision ID: 0009_notifications
Revises: 0008_media
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009_notifications"
down_revision = "0008_media"
branch_labels = None
depends_on = None

_SIGNATURE = "sufrah_ingest(text, text, text, text, text, text, text, text, jsonb, text, jsonb)"

# 0004's function, and the same with the notification: a conversation is new when the upsert kept
# the id this call brought (ids are fresh per call). The notification's id is the conversation's
# with another prefix: a conversation starts once, so it is unique and time-ordered like new_id's.
_HEAD = """
CREATE OR REPLACE FUNCTION sufrah_ingest(
    p_restaurant_id text, p_bot_id text, p_conversation_id text, p_message_id text,
    p_customer_phone text, p_customer_name text, p_message_type text, p_content text,
    p_media_urls jsonb, p_wa_sid text, p_metadata jsonb
) RETURNS TABLE (conversation_id text, message_id text, bot_live boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_conversation text;
    v_message text;
    v_seq bigint;
    v_events int := 2;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM bot b WHERE b.restaurant_id = p_restaurant_id AND b.id = p_bot_id
                   AND b.deleted_at IS NULL) THEN
        RETURN QUERY SELECT NULL::text, NULL::text, false;
        RETURN;
    END IF;
    INSERT INTO conversation AS c (restaurant_id, id, bot_id, customer_phone, customer_name)
    VALUES (p_restaurant_id, p_conversation_id, p_bot_id, p_customer_phone, p_customer_name)
    ON CONFLICT ON CONSTRAINT conversation_customer_key DO UPDATE SET bot_id = c.bot_id
    RETURNING c.id INTO v_conversation;

    INSERT INTO message (restaurant_id, id, conversation_id, direction, author, bot_turn, message_type,
                         content, media_urls, wa_sid, delivery_status, metadata, created_at)
    VALUES (p_restaurant_id, p_message_id, v_conversation, 'IN', 'customer', 'pending', p_message_type,
            p_content, p_media_urls, p_wa_sid, 'received', p_metadata, clock_timestamp())
    ON CONFLICT ON CONSTRAINT message_wa_sid_key DO NOTHING
    RETURNING id INTO v_message;

    IF v_message IS NOT NULL THEN
        UPDATE conversation SET last_message_at = now(), last_inbound_at = now(),
               unread_count = unread_count + 1, status = 'active',
               customer_name = coalesce(p_customer_name, customer_name), updated_at = now()
        WHERE restaurant_id = p_restaurant_id AND id = v_conversation;
"""
_NOTIFY = """
        IF v_conversation = p_conversation_id THEN
            v_events := 3;
            INSERT INTO notification (restaurant_id, id, kind, title, body, metadata)
            VALUES (p_restaurant_id, 'ntf_' || substr(p_conversation_id, 5), 'conversation_started',
                    'New conversation',
                    coalesce(p_customer_name, p_customer_phone) || ': '
                        || left(coalesce(nullif(p_content, ''), '[' || p_message_type || ']'), 140),
                    jsonb_build_object('conversationId', v_conversation, 'orderId', NULL,
                                       'customerPhone', p_customer_phone, 'customerName', p_customer_name));
        END IF;
"""
_TAIL = """
        INSERT INTO event_counter AS ec (restaurant_id, last_seq) VALUES (p_restaurant_id, v_events)
        ON CONFLICT (restaurant_id) DO UPDATE SET last_seq = ec.last_seq + v_events
        RETURNING last_seq INTO v_seq;
        INSERT INTO event (restaurant_id, seq, kind, entity_id, conversation_id) VALUES
            (p_restaurant_id, v_seq - v_events + 1, 'message.created', v_message, v_conversation),
            (p_restaurant_id, v_seq - v_events + 2, 'conversation.updated', v_conversation, v_conversation);
        IF v_events = 3 THEN
            INSERT INTO event (restaurant_id, seq, kind, entity_id, conversation_id) VALUES
                (p_restaurant_id, v_seq, 'notification.created', 'ntf_' || substr(p_conversation_id, 5),
                 v_conversation);
        END IF;
    END IF;
    RETURN QUERY SELECT v_conversation, v_message, true;
END;
$$;
"""


def upgrade() -> None:
    op.create_table(
        "notification",
        sa.Column("restaurant_id", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("body", sa.String(), nullable=False, server_default=""),
        sa.Column("metadata", postgresql.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("restaurant_id", "id"),
        sa.ForeignKeyConstraint(["restaurant_id"], ["restaurant.id"], ondelete="CASCADE"),
        sa.CheckConstraint(
            "kind IN ('order_created', 'handoff_requested', 'conversation_started')",
            name="notification_kind_valid",
        ),
    )
    op.create_index(
        "notification_by_time",
        "notification",
        ["restaurant_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    op.create_index(
        "notification_unread", "notification", ["restaurant_id"], postgresql_where="read_at IS NULL"
    )
    op.add_column(
        "branch", sa.Column("is_default", sa.Boolean(), nullable=False, server_default=sa.text("false"))
    )
    op.create_index(
        "branch_default_key", "branch", ["restaurant_id"], unique=True, postgresql_where="is_default"
    )
    op.add_column("branch", sa.Column("alert_phone", sa.String(), nullable=True))
    op.add_column(
        "restaurant",
        sa.Column("pause_bot_on_staff_reply", sa.Boolean(), nullable=False, server_default=sa.text("true")),
    )
    op.add_column("conversation", sa.Column("staff_requested_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(_HEAD + _NOTIFY + _TAIL)


def downgrade() -> None:
    op.execute(_HEAD + _TAIL)  # without the notification (v_events stays 2): 0004's behaviour
    op.drop_column("conversation", "staff_requested_at")
    op.drop_column("restaurant", "pause_bot_on_staff_reply")
    op.drop_index("branch_default_key", table_name="branch")
    op.drop_column("branch", "alert_phone")
    op.drop_column("branch", "is_default")
    op.drop_index("notification_unread", table_name="notification")
    op.drop_index("notification_by_time", table_name="notification")
    op.drop_table("notification")

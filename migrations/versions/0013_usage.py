"""Usage and plans (#16): WhatsApp's 24-hour conversation sessions, counted per restaurant and month
against a plan's allowance plus admins' adjustments, and what happens at the limit.

A session opens with a message, inbound or outbound, when the conversation has no open session:
none yet, or its latest opened 24 hours ago or more (WhatsApp's billing window runs 24 h from the
opening message). So the first message after 24 h of silence always opens one, and a chat going on
for longer than a day opens the next when the window ends, as WhatsApp bills it.

`sufrah_open_session` records one (session row, the month's counter, the near-limit and limit
notifications once a month) and is called in the message's transaction: from the ingest function,
replaced here so the webhook's hot path stays one statement (the conversation upsert already returns
`session_started_at`; an open session costs nothing more), and from outbound.queue. The month is the
restaurant's, in its time zone.

Revision ID: 0013_usage
Revises: 0012_restaurant_profile
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_usage"
down_revision = "0012_restaurant_profile"
branch_labels = None
depends_on = None

_KINDS_BEFORE = "('order_created', 'handoff_requested', 'conversation_started')"
_KINDS = "('order_created', 'handoff_requested', 'conversation_started', 'usage_near_limit', 'usage_limit_reached')"

_OPEN_SESSION = """
CREATE FUNCTION sufrah_open_session(
    p_restaurant_id text, p_conversation_id text, p_bot_id text, p_message_id text, p_direction text,
    p_at timestamptz DEFAULT now()  -- when it opens: the message's transaction (tests name an instant)
) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_tz text;
    v_plan int;
    v_near int;
    v_month date;
    v_count int;
    v_allowance int;
    v_over boolean;
    v_kind text;
    v_title text;
    v_seq bigint;
    v_ntf text := 'ntf_' || substr(p_message_id, 5);
BEGIN
    SELECT r.timezone, p.monthly_sessions, r.usage_near_limit_percent INTO v_tz, v_plan, v_near
    FROM restaurant r LEFT JOIN plan p ON p.id = r.plan_id WHERE r.id = p_restaurant_id;
    v_month := date_trunc('month', p_at AT TIME ZONE v_tz)::date;
    INSERT INTO usage_month AS u (restaurant_id, month, sessions) VALUES (p_restaurant_id, v_month, 1)
    ON CONFLICT (restaurant_id, month) DO UPDATE SET sessions = u.sessions + 1
    RETURNING u.sessions INTO v_count;
    IF v_plan IS NOT NULL THEN  -- without a plan there is no allowance (nothing is held back)
        SELECT greatest(0, v_plan + coalesce(sum(a.sessions), 0)) INTO v_allowance
        FROM usage_adjustment a WHERE a.restaurant_id = p_restaurant_id AND a.month = v_month;
    END IF;
    v_over := v_allowance IS NOT NULL AND v_count > v_allowance;
    INSERT INTO conversation_session (restaurant_id, id, conversation_id, bot_id, message_id, direction,
                                      started_at, month, ordinal, over_allowance)
    VALUES (p_restaurant_id, 'ses_' || substr(p_message_id, 5), p_conversation_id, p_bot_id, p_message_id,
            p_direction, p_at, v_month, v_count, v_over);
    IF v_allowance IS NOT NULL THEN
        IF v_count >= v_allowance THEN
            UPDATE usage_month
            SET limit_notified_at = now(), near_limit_notified_at = coalesce(near_limit_notified_at, now())
            WHERE restaurant_id = p_restaurant_id AND month = v_month AND limit_notified_at IS NULL;
            IF FOUND THEN
                v_kind := 'usage_limit_reached';
                v_title := 'This month''s WhatsApp sessions are used up';
            END IF;
        ELSIF v_count * 100 >= v_allowance * v_near THEN
            UPDATE usage_month SET near_limit_notified_at = now()
            WHERE restaurant_id = p_restaurant_id AND month = v_month AND near_limit_notified_at IS NULL;
            IF FOUND THEN
                v_kind := 'usage_near_limit';
                v_title := 'WhatsApp sessions are near this month''s allowance';
            END IF;
        END IF;
        IF v_kind IS NOT NULL THEN
            INSERT INTO notification (restaurant_id, id, kind, title, body, metadata, created_at)
            VALUES (p_restaurant_id, v_ntf, v_kind, v_title,
                    v_count || ' of ' || v_allowance || ' sessions used in ' || to_char(v_month, 'FMMonth YYYY'),
                    jsonb_build_object('conversationId', NULL, 'orderId', NULL,
                                       'month', to_char(v_month, 'YYYY-MM'), 'sessions', v_count,
                                       'allowance', v_allowance),
                    clock_timestamp());
            INSERT INTO event_counter AS ec (restaurant_id, last_seq) VALUES (p_restaurant_id, 1)
            ON CONFLICT (restaurant_id) DO UPDATE SET last_seq = ec.last_seq + 1
            RETURNING last_seq INTO v_seq;
            INSERT INTO event (restaurant_id, seq, kind, entity_id, conversation_id)
            VALUES (p_restaurant_id, v_seq, 'notification.created', v_ntf, NULL);
        END IF;
    END IF;
    RETURN v_over;
END;
$$;
"""

# The ingest function as 0009 left it, and the same recording sessions: the upsert returns the
# conversation's `session_started_at` (the no-op update returns the stored row), so knowing whether
# this message opens a session costs no extra read.
_INGEST = """
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
    v_session_started timestamptz;
    v_opens boolean;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM bot b WHERE b.restaurant_id = p_restaurant_id AND b.id = p_bot_id
                   AND b.deleted_at IS NULL) THEN
        RETURN QUERY SELECT NULL::text, NULL::text, false;
        RETURN;
    END IF;
    INSERT INTO conversation AS c (restaurant_id, id, bot_id, customer_phone, customer_name)
    VALUES (p_restaurant_id, p_conversation_id, p_bot_id, p_customer_phone, p_customer_name)
    ON CONFLICT ON CONSTRAINT conversation_customer_key DO UPDATE SET bot_id = c.bot_id
    RETURNING c.id, c.session_started_at INTO v_conversation, v_session_started;

    INSERT INTO message (restaurant_id, id, conversation_id, direction, author, bot_turn, message_type,
                         content, media_urls, wa_sid, delivery_status, metadata, created_at)
    VALUES (p_restaurant_id, p_message_id, v_conversation, 'IN', 'customer', 'pending', p_message_type,
            p_content, p_media_urls, p_wa_sid, 'received', p_metadata, clock_timestamp())
    ON CONFLICT ON CONSTRAINT message_wa_sid_key DO NOTHING
    RETURNING id INTO v_message;

    IF v_message IS NOT NULL THEN
        v_opens := v_session_started IS NULL OR v_session_started <= now() - interval '24 hours';
        UPDATE conversation SET last_message_at = now(), last_inbound_at = now(),
               unread_count = unread_count + 1, status = 'active',
               customer_name = coalesce(p_customer_name, customer_name), updated_at = now(),
               session_started_at = CASE WHEN v_opens THEN now() ELSE session_started_at END
        WHERE restaurant_id = p_restaurant_id AND id = v_conversation;
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
        IF v_opens THEN
            PERFORM sufrah_open_session(p_restaurant_id, v_conversation, p_bot_id, v_message, 'IN');
        END IF;
    END IF;
    RETURN QUERY SELECT v_conversation, v_message, true;
END;
$$;
"""

# 0009's body, word for word, for the downgrade.
_INGEST_0009 = """
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


def _ts(name: str, *, nullable: bool = False, now: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        name, sa.DateTime(timezone=True), nullable=nullable, server_default=sa.func.now() if now else None
    )


def upgrade() -> None:
    op.create_table(
        "plan",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("monthly_sessions", sa.Integer(), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("currency", sa.String(), nullable=False, server_default="SAR"),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", name="plan_name_key"),
        sa.CheckConstraint("monthly_sessions >= 0", name="plan_sessions_nonnegative"),
        sa.CheckConstraint("price >= 0", name="plan_price_nonnegative"),
    )
    op.add_column("restaurant", sa.Column("plan_id", sa.String(), nullable=True))
    op.add_column(
        "restaurant", sa.Column("usage_limit_action", sa.String(), nullable=False, server_default="WARN")
    )
    op.add_column(
        "restaurant",
        sa.Column("usage_near_limit_percent", sa.Integer(), nullable=False, server_default="80"),
    )
    op.create_foreign_key("restaurant_plan_id_fkey", "restaurant", "plan", ["plan_id"], ["id"])
    op.create_check_constraint(
        "restaurant_usage_limit_action_valid",
        "restaurant",
        "usage_limit_action IN ('WARN', 'PAUSE_BOT_EXTRAS')",
    )
    op.create_check_constraint(
        "restaurant_usage_near_limit_valid", "restaurant", "usage_near_limit_percent BETWEEN 1 AND 100"
    )
    op.add_column("conversation", sa.Column("session_started_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "usage_month",
        sa.Column("restaurant_id", sa.String(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False, server_default="0"),
        _ts("near_limit_notified_at", nullable=True, now=False),
        _ts("limit_notified_at", nullable=True, now=False),
        sa.PrimaryKeyConstraint("restaurant_id", "month"),
        sa.ForeignKeyConstraint(["restaurant_id"], ["restaurant.id"], ondelete="CASCADE"),
    )
    op.create_table(
        "usage_adjustment",
        sa.Column("restaurant_id", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("restaurant_id", "id"),
        sa.ForeignKeyConstraint(["restaurant_id"], ["restaurant.id"], ondelete="CASCADE"),
        sa.CheckConstraint("sessions <> 0", name="usage_adjustment_sessions_nonzero"),
    )
    op.create_index("usage_adjustment_by_month", "usage_adjustment", ["restaurant_id", "month"])
    op.create_table(
        "conversation_session",
        sa.Column("restaurant_id", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("conversation_id", sa.String(), nullable=False),
        sa.Column("bot_id", sa.String(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("direction", sa.String(), nullable=False),
        _ts("started_at"),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("over_allowance", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.PrimaryKeyConstraint("restaurant_id", "id"),
        sa.ForeignKeyConstraint(
            ["restaurant_id", "conversation_id"], ["conversation.restaurant_id", "conversation.id"]
        ),
        sa.ForeignKeyConstraint(["restaurant_id", "message_id"], ["message.restaurant_id", "message.id"]),
        sa.CheckConstraint("direction IN ('IN', 'OUT')", name="conversation_session_direction_valid"),
    )
    op.create_index("conversation_session_by_time", "conversation_session", ["restaurant_id", "started_at"])
    op.create_index(
        "conversation_session_by_conversation",
        "conversation_session",
        ["restaurant_id", "conversation_id", "started_at"],
    )
    op.drop_constraint("notification_kind_valid", "notification", type_="check")
    op.create_check_constraint("notification_kind_valid", "notification", f"kind IN {_KINDS}")
    op.execute(_OPEN_SESSION)
    op.execute(_INGEST)


def downgrade() -> None:
    op.execute(_INGEST_0009)
    op.execute("DROP FUNCTION sufrah_open_session(text, text, text, text, text, timestamptz)")
    op.execute("DELETE FROM notification WHERE kind IN ('usage_near_limit', 'usage_limit_reached')")
    op.drop_constraint("notification_kind_valid", "notification", type_="check")
    op.create_check_constraint("notification_kind_valid", "notification", f"kind IN {_KINDS_BEFORE}")
    op.drop_table("conversation_session")
    op.drop_table("usage_adjustment")
    op.drop_table("usage_month")
    op.drop_column("conversation", "session_started_at")
    op.drop_constraint("restaurant_usage_near_limit_valid", "restaurant", type_="check")
    op.drop_constraint("restaurant_usage_limit_action_valid", "restaurant", type_="check")
    op.drop_constraint("restaurant_plan_id_fkey", "restaurant", type_="foreignkey")
    op.drop_column("restaurant", "usage_near_limit_percent")
    op.drop_column("restaurant", "usage_limit_action")
    op.drop_column("restaurant", "plan_id")
    op.drop_table("plan")

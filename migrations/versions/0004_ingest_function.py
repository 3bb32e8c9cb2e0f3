"""Ingest in one round trip: a SQL function that stores an inbound message the way
app/services/inbound.ingest does (conversation upsert, message insert keyed by MessageSid, counters,
event log), so the webhook's hot path is a single statement.

Revision ID: 0004_ingest_function
Revises: 0003_ordering
Create Date: 2026-11-24
"""

from alembic import op

revision = "0004_ingest_function"
down_revision = "0003_ordering"
branch_labels = None
depends_on = None

FUNCTION = """
CREATE FUNCTION sufrah_ingest(
    p_restaurant_id text, p_bot_id text, p_conversation_id text, p_message_id text,
    p_customer_phone text, p_customer_name text, p_message_type text, p_content text,
    p_media_urls jsonb, p_wa_sid text, p_metadata jsonb
) RETURNS TABLE (conversation_id text, message_id text, bot_live boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_conversation text;
    v_message text;
    v_seq bigint;
BEGIN
    -- The bot must still be live: a webhook routed from a cached directory must not revive a
    -- deleted sender.
    IF NOT EXISTS (SELECT 1 FROM bot b WHERE b.restaurant_id = p_restaurant_id AND b.id = p_bot_id
                   AND b.deleted_at IS NULL) THEN
        RETURN QUERY SELECT NULL::text, NULL::text, false;
        RETURN;
    END IF;
    -- Find or create the conversation; the no-op update locks the row, so redeliveries of one
    -- message (and one customer's messages) serialize here.
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
        -- Two events from the restaurant's counter (see app/realtime/events.py for why a counter).
        INSERT INTO event_counter AS ec (restaurant_id, last_seq) VALUES (p_restaurant_id, 2)
        ON CONFLICT (restaurant_id) DO UPDATE SET last_seq = ec.last_seq + 2
        RETURNING last_seq INTO v_seq;
        INSERT INTO event (restaurant_id, seq, kind, entity_id, conversation_id) VALUES
            (p_restaurant_id, v_seq - 1, 'message.created', v_message, v_conversation),
            (p_restaurant_id, v_seq, 'conversation.updated', v_conversation, v_conversation);
    END IF;
    RETURN QUERY SELECT v_conversation, v_message, true;
END;
$$;
"""


def upgrade() -> None:
    op.execute(FUNCTION)


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION sufrah_ingest(text, text, text, text, text, text, text, text, jsonb, text, jsonb)"
    )

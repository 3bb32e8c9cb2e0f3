"""Media objects: each attachment of a message, downloaded from Twilio (inbound) or uploaded by staff
(outbound), kept in the media store (app/media/store.py) and shown through our own signed links.

`message_media` is also the download job's queue (app/workers/media.py): `pending` rows are claimed
with a lease (`next_attempt_at`), like the outbox's messages. `sufrah_media_url(s)` write a stored
attachment's signed link in SQL, the way app/media/links.py writes it in Python, so the compiled
GraphQL path (app/graphql/fast) keeps answering `mediaUrl` without a resolver: the signing key
reaches SQL as a setting of the server's connections (app/db/engine.py), never as a statement
parameter or a column.

Revision ID: 0008_media
Revises: 0007_templates
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_media"
down_revision = "0007_templates"
branch_labels = None
depends_on = None

# HMAC-SHA256 from PostgreSQL's own sha256() (no extension): the connection carries the key's inner
# and outer pads (sufrah.media_ipad / sufrah.media_opad, hex), and links expire at the end of the
# next whole period of sufrah.media_ttl seconds, so a link is the same for up to a period (browsers
# cache the image) and valid for at least one.
FUNCTIONS = (
    """
CREATE FUNCTION sufrah_media_url(p_restaurant_id text, p_url text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN p_url IS NULL OR p_url NOT LIKE 'media:%' THEN p_url
        WHEN coalesce(current_setting('sufrah.media_ipad', true), '') = '' THEN
            '/media/' || p_restaurant_id || '/' || substr(p_url, 7)
        ELSE (
            SELECT '/media/' || p_restaurant_id || '/' || substr(p_url, 7) || '?exp=' || e.exp || '&sig=' ||
                   encode(sha256(decode(current_setting('sufrah.media_opad'), 'hex') ||
                                 sha256(decode(current_setting('sufrah.media_ipad'), 'hex') ||
                                        convert_to(p_restaurant_id || '/' || substr(p_url, 7) || '/' || e.exp,
                                                   'UTF8'))), 'hex')
            FROM (SELECT ((floor(extract(epoch FROM now()) / t.ttl)::bigint + 2) * t.ttl)::text AS exp
                  FROM (SELECT current_setting('sufrah.media_ttl')::bigint AS ttl) t) e
        )
    END
$$
""",
    """
CREATE FUNCTION sufrah_media_urls(p_restaurant_id text, p_urls jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(to_jsonb(sufrah_media_url(p_restaurant_id, u.value)) ORDER BY u.n), '[]'::jsonb)
    FROM jsonb_array_elements_text(p_urls) WITH ORDINALITY AS u(value, n)
$$
""",
)


def upgrade() -> None:
    op.create_table(
        "message_media",
        sa.Column("restaurant_id", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=True),  # a staff upload: none until sent
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("source_url", sa.String(), nullable=True),
        sa.Column("content_type", sa.String(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("storage_key", sa.String(), nullable=True),
        sa.Column("filename", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("restaurant_id", "id"),
        sa.ForeignKeyConstraint(
            ["restaurant_id", "message_id"],
            ["message.restaurant_id", "message.id"],
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("restaurant_id", "message_id", "position", name="message_media_position_key"),
        sa.CheckConstraint("state IN ('pending', 'stored', 'failed')", name="message_media_state_valid"),
    )
    op.create_index(
        "message_media_due",
        "message_media",
        ["next_attempt_at"],
        postgresql_where=sa.text("state = 'pending'"),
    )
    for function in FUNCTIONS:
        op.execute(function)


def downgrade() -> None:
    op.execute("DROP FUNCTION sufrah_media_urls(text, jsonb)")
    op.execute("DROP FUNCTION sufrah_media_url(text, text)")
    op.drop_index("message_media_due", table_name="message_media")
    op.drop_table("message_media")

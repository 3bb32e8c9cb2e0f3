"""One Settings object, read from the environment (and an optional `.env` file).

Every variable is documented in the README. In production (`ENV=production`) the settings refuse to
start without the secrets a real deployment must choose itself; in development they fall back to
safe local defaults (an embedded PostgreSQL and a secret key generated once into the data folder).
"""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    env: Literal["development", "production", "test"] = "development"
    database_url: str | None = Field(
        default=None,
        description="postgresql+asyncpg://user:pass@host/db; unset: an embedded PostgreSQL under DATA_DIR.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    public_base_url: str | None = Field(
        default=None,
        description="The URL Twilio calls (scheme://host[:port]); signatures are checked against it.",
    )
    dashboard_pat: str | None = Field(default=None, description="Accepted as an admin token when set.")
    # Switching from the earlier backend (app/rest/notify.py, CORS in app/main.py).
    whatsapp_send_token: str | None = Field(
        default=None,
        description="Bearer token of /api/whatsapp/send (other platforms' texts, the dashboard's sign-in "
        "code); unset: that route answers 503.",
    )
    whatsapp_send_from: str | None = Field(
        default=None,
        description="The sender /api/whatsapp/send uses without fromNumber; unset: the only live sender.",
    )
    cors_origins: str | None = Field(
        default=None,
        description="Comma-separated browser origins (https://dash.example.com) allowed to call the API; "
        "unset: no CORS headers.",
    )
    secret_key: str | None = Field(default=None, description="Encrypts Twilio auth tokens at rest.")
    log_level: str = "INFO"
    data_dir: Path = PROJECT_ROOT / ".sufrah"
    # A fixed pool: requests beyond it wait for a connection. Overflow connections are opened and
    # closed again under load (each a backend started, its caches and plans cold): that churn cost
    # PostgreSQL more than the webhooks themselves (bench.ingest: 785 sessions for 5,300 messages).
    # Several processes on one server: keep processes x (size + overflow) under max_connections.
    db_pool_size: int = 20
    db_max_overflow: int = 0
    # Bounded cost per request (app/rest/limits.py, app/graphql/documents.py, app/graphql/cost.py).
    db_statement_timeout_seconds: float = Field(
        default=15.0,
        ge=0,
        description="PostgreSQL statement_timeout of the server's pool: a longer statement is cancelled and the "
        "caller told (GraphQL TIMEOUT, REST 503); 0 turns it off. Migrations and LISTEN are not affected.",
    )
    db_idle_in_transaction_timeout_seconds: float = Field(
        default=60.0,
        ge=0,
        description="PostgreSQL idle_in_transaction_session_timeout of the server's pool; 0 turns it off.",
    )
    max_body_bytes: int = Field(
        default=256 * 1024, ge=1, description="Largest GraphQL or REST request body (413)."
    )
    max_webhook_body_bytes: int = Field(
        default=64 * 1024, ge=1, description="Largest Twilio webhook body (413)."
    )
    max_ws_frame_bytes: int = Field(
        default=256 * 1024, ge=1, description="Largest WebSocket message a client may send (closed 1009)."
    )
    graphql_max_query_bytes: int = Field(
        default=32 * 1024, ge=1, description="Longest GraphQL query text (QUERY_TOO_LARGE, HTTP 413)."
    )
    graphql_max_cost: int = Field(
        default=10_000,
        ge=1,
        description="Most objects an operation may ask for, estimated before it runs (QUERY_TOO_COSTLY).",
    )
    graphql_max_response_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1,
        description="Largest GraphQL HTTP response (RESPONSE_TOO_LARGE instead).",
    )
    twilio_api_base_url: str | None = Field(
        default=None, description="Where the Twilio Messages API is reached; unset: api.twilio.com."
    )
    twilio_timeout_seconds: float = 10.0
    # The Sufrah merchant platform (app/channels/sufrah): menus and orders of restaurants whose catalog
    # provider is "sufrah".
    sufrah_api_base: str = Field(
        default="https://api.sufrah.sa/api/v1/external",
        description="The Sufrah merchant platform's external API (merchants, categories, products, orders).",
    )
    sufrah_api_key: str | None = Field(
        default=None,
        description="Sent as the Authorization header to the platform; unset: no platform calls.",
    )
    sufrah_timeout_seconds: float = Field(default=10.0, gt=0, description="Bounds each platform call.")
    sufrah_webhook_secret: str | None = Field(
        default=None,
        description="The shared secret of POST /status (Authorization: Bearer <secret>, or an HMAC-SHA256 of the "
        "body in X-Sufrah-Signature); unset: /status answers 503.",
    )
    sufrah_menu_sync_minutes: float = Field(
        default=15.0, gt=0, description="How often a platform restaurant's menu is synced."
    )
    run_workers: bool = Field(default=True, description="Run the bot and outbox workers in this process.")
    socket_recheck_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Open sockets' credentials are re-checked on every sufrah_auth notification, and this "
        "often anyway (app/auth/sockets.py).",
    )
    ws_auth_timeout_seconds: float = Field(
        default=3.0,
        gt=0,
        description='How long a /ws client without ?token= has to send its {"type": "auth"} frame.',
    )
    graphql_ws_init_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="A GraphQL socket (either subprotocol) that hasn't sent connection_init by then is closed (4408).",
    )
    graphql_ws_max_sockets_per_token: int = Field(
        default=100,
        ge=1,
        description="Open GraphQL sockets one token may hold per process; one more is closed (4429).",
    )
    graphql_ws_max_operations: int = Field(
        default=50,
        ge=1,
        description="Operations (subscriptions, queries, mutations) running at once on one GraphQL socket; "
        'one more is answered "Subscription limit reached".',
    )
    graphql_compile: bool = Field(
        default=True,
        description="Answer hot GraphQL selections (conversation lists, message pages, stats) with one SQL "
        "statement that builds their JSON, and a query asked again from its plan; false resolves every field in Python.",
    )

    # Media (app/media): inbound photos, voice notes and documents, and staff uploads.
    media_max_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1,
        description="Largest media file downloaded from Twilio or uploaded by staff.",
    )
    media_url_ttl_seconds: int = Field(
        default=3600,
        ge=60,
        description="How long a staff media link stays valid (at least this, at most twice).",
    )
    media_send_ttl_seconds: int = Field(
        default=7 * 24 * 3600,
        ge=60,
        description="How long the link of a staff upload sent to WhatsApp stays valid (Twilio fetches it later).",
    )
    media_s3_bucket: str | None = Field(
        default=None,
        description="Keep media in this S3-compatible bucket; unset: a folder under DATA_DIR/media.",
    )
    media_s3_endpoint_url: str | None = Field(
        default=None, description="S3 endpoint (MinIO, R2, ...); unset: AWS."
    )
    media_s3_region: str | None = None
    media_s3_access_key_id: str | None = None
    media_s3_secret_access_key: str | None = None
    media_s3_prefix: str = Field(default="media/", description="Key prefix of media objects in the bucket.")

    @model_validator(mode="after")
    def _production_needs_real_secrets(self) -> Settings:
        if self.env == "production":
            missing = [
                name
                for name, value in (
                    ("DATABASE_URL", self.database_url),
                    ("SECRET_KEY", self.secret_key),
                    ("PUBLIC_BASE_URL", self.public_base_url),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"ENV=production requires {', '.join(missing)}")
            if self.secret_key and len(self.secret_key) < 32:
                raise ValueError("SECRET_KEY must be at least 32 characters in production")
            if self.sufrah_webhook_secret and len(self.sufrah_webhook_secret) < 32:
                raise ValueError("SUFRAH_WEBHOOK_SECRET must be at least 32 characters in production")
            if self.dashboard_pat and len(self.dashboard_pat) < 32:  # an admin token: as hard to guess as one
                raise ValueError("DASHBOARD_PAT must be at least 32 characters in production")
            if self.whatsapp_send_token and len(self.whatsapp_send_token) < 32:
                raise ValueError("WHATSAPP_SEND_TOKEN must be at least 32 characters in production")
        return self

    @property
    def cors_origin_list(self) -> list[str]:
        """CORS_ORIGINS as a list, each without a trailing slash (browsers send none)."""
        return [o.strip().rstrip("/") for o in (self.cors_origins or "").split(",") if o.strip()]

    @property
    def base_url(self) -> str:
        """The public URL the outside world (Twilio) uses to reach us, without a trailing slash."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        return f"http://{self.host}:{self.port}"

    @cached_property
    def effective_secret_key(self) -> str:
        """SECRET_KEY, or in development a key generated once and kept beside the embedded database."""
        if self.secret_key:
            return self.secret_key
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key_file = self.data_dir / "secret_key"
        try:  # created 0600: never readable by others, not even between a write and a chmod
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            if key_file.stat().st_mode & 0o077:  # written by an older version
                key_file.chmod(0o600)
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48))
        return key_file.read_text().strip()


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (tests, CLI flags) on top."""
    return Settings(**overrides)  # type: ignore[arg-type]

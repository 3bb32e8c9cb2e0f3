"""One Settings object, read from the environment (and an optional `.env` file).

Every variable is documented in the README. In production (`ENV=production`) the settings refuse to
start without the secrets a real deployment must choose itself; in development they fall back to
safe local defaults (an embedded PostgreSQL and a secret key generated once into the data folder).
"""

from __future__ import annotations

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
    secret_key: str | None = Field(default=None, description="Encrypts Twilio auth tokens at rest.")
    log_level: str = "INFO"
    data_dir: Path = PROJECT_ROOT / ".sufrah"
    # A fixed pool: requests beyond it wait for a connection. Overflow connections are opened and
    # closed again under load (each a backend started, its caches and plans cold): that churn cost
    # PostgreSQL more than the webhooks themselves (bench.ingest: 785 sessions for 5,300 messages).
    # Several processes on one server: keep processes x (size + overflow) under max_connections.
    db_pool_size: int = 20
    db_max_overflow: int = 0
    twilio_api_base_url: str | None = Field(
        default=None, description="Where the Twilio Messages API is reached; unset: api.twilio.com."
    )
    twilio_timeout_seconds: float = 10.0
    run_workers: bool = Field(default=True, description="Run the bot and outbox workers in this process.")
    graphql_compile: bool = Field(
        default=True,
        description="Answer hot GraphQL selections (conversation lists, message pages, stats) with one SQL "
        "statement that builds their JSON, and a query asked again from its plan; false resolves every field in Python.",
    )

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
        return self

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
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        return key_file.read_text().strip()


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (tests, CLI flags) on top."""
    return Settings(**overrides)  # type: ignore[arg-type]

"""Settings refuse unsafe production configurations and keep development zero-config."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.auth.crypto import SecretBox
from app.settings import load_settings


def test_production_requires_real_secrets():
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        load_settings(
            env="production", database_url="postgresql+asyncpg://x/y", public_base_url="https://a.b"
        )
    with pytest.raises(ValidationError, match="at least 32"):
        load_settings(
            env="production",
            database_url="postgresql+asyncpg://x/y",
            public_base_url="https://a.b",
            secret_key="short",
        )


def test_development_generates_and_keeps_a_secret_key(tmp_path):
    first = load_settings(env="development", data_dir=tmp_path, secret_key=None).effective_secret_key
    second = load_settings(env="development", data_dir=tmp_path, secret_key=None).effective_secret_key
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_secrets_are_encrypted_and_bound_to_the_key():
    box = SecretBox("a" * 40)
    sealed = box.encrypt("twilio-auth-token")
    assert "twilio-auth-token" not in sealed and box.decrypt(sealed) == "twilio-auth-token"
    with pytest.raises(ValueError):
        SecretBox("b" * 40).decrypt(sealed)


def test_production_refuses_a_short_dashboard_pat():
    production = dict(
        env="production",
        database_url="postgresql+asyncpg://x/y",
        public_base_url="https://a.b",
        secret_key="k" * 40,
    )
    with pytest.raises(ValidationError, match="DASHBOARD_PAT must be at least 32"):
        load_settings(**production, dashboard_pat="admin-pat-2024")
    assert load_settings(**production, dashboard_pat="p" * 32).dashboard_pat == "p" * 32
    assert load_settings(**production, dashboard_pat=None).dashboard_pat is None  # no PAT at all is fine
    assert load_settings(env="development", dashboard_pat="short").dashboard_pat == "short"


def test_production_refuses_a_short_status_webhook_secret():
    production = dict(
        env="production",
        database_url="postgresql+asyncpg://x/y",
        public_base_url="https://a.b",
        secret_key="k" * 40,
    )
    with pytest.raises(ValidationError, match="SUFRAH_WEBHOOK_SECRET must be at least 32"):
        load_settings(**production, sufrah_webhook_secret="sufrah")
    assert load_settings(**production, sufrah_webhook_secret="s" * 32).sufrah_webhook_secret == "s" * 32


def test_the_development_secret_key_is_created_private_and_an_older_loose_one_tightened(
    tmp_path, monkeypatch
):
    old_umask = os.umask(0o022)
    try:
        with monkeypatch.context() as patched:  # created 0600: never readable by others, even for an instant
            patched.setattr(Path, "chmod", lambda *a, **k: pytest.fail("created readable, then tightened"))
            load_settings(env="development", data_dir=tmp_path, secret_key=None).effective_secret_key  # noqa: B018
        assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600

        older = tmp_path / "older"
        older.mkdir()
        (older / "secret_key").write_text("k" * 48)
        (older / "secret_key").chmod(0o644)
        assert (
            load_settings(env="development", data_dir=older, secret_key=None).effective_secret_key == "k" * 48
        )
        assert (older / "secret_key").stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old_umask)

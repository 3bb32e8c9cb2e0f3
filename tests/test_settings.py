"""Settings refuse unsafe production configurations and keep development zero-config."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.auth.crypto import SecretBox
from app.settings import load_settings


def test_production_requires_real_secrets():
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        load_settings(env="production", database_url="postgresql+asyncpg://x/y", public_base_url="https://a.b")
    with pytest.raises(ValidationError, match="at least 32"):
        load_settings(env="production", database_url="postgresql+asyncpg://x/y", public_base_url="https://a.b",
                      secret_key="short")


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

"""Secrets at rest. Twilio auth tokens are stored Fernet-encrypted (AES-128-CBC + HMAC-SHA256) under a
key derived from SECRET_KEY; they are decrypted only to check a webhook signature or to send."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    def __init__(self, secret_key: str) -> None:
        key = base64.urlsafe_b64encode(hashlib.sha256(f"sufrah:{secret_key}".encode()).digest())
        self._fernet = Fernet(key)
        self._plain: dict[str, str] = {}

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        """Raises ValueError when the value was encrypted under another SECRET_KEY."""
        # Webhooks decrypt the same few tokens on every request: remember the last ones.
        cached = self._plain.get(ciphertext)
        if cached is not None:
            return cached
        plaintext = self._decrypt(ciphertext)
        if len(self._plain) >= 1024:
            self._plain.clear()
        self._plain[ciphertext] = plaintext
        return plaintext

    def _decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("secret was encrypted with a different SECRET_KEY") from exc

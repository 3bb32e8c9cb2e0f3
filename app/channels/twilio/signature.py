"""X-Twilio-Signature: checked with the twilio library's validator against the PUBLIC url.

Behind a proxy the URL Starlette sees (http://10.0.0.5:8000/...) is not the one Twilio signed
(https://bot.example.com/...), so the URL is rebuilt from PUBLIC_BASE_URL + path + query.
"""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator


def public_url(base_url: str, path: str, query: str) -> str:
    return f"{base_url.rstrip('/')}{path}" + (f"?{query}" if query else "")


def is_valid(*, url: str, params: Mapping[str, str], signature: str | None, auth_token: str) -> bool:
    if not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))

"""WhatsApp addresses. Stored as E.164 (`+966501234567`); Twilio speaks `whatsapp:+966501234567`."""

from __future__ import annotations

import re

from app.errors import ValidationFailed

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
PREFIX = "whatsapp:"


def to_e164(address: str, *, field: str = "whatsappNumber") -> str:
    """`whatsapp:+9665...`, `+9665...` or `+966 50 ...` -> `+9665...`; anything else is a ValidationFailed."""
    value = address.strip()
    if value.lower().startswith(PREFIX):
        value = value[len(PREFIX) :]
    value = re.sub(r"[\s\-()]", "", value)
    if not _E164.match(value):
        raise ValidationFailed(f"{field} must be an E.164 number such as +966501234567", field=field)
    return value


def to_whatsapp(e164: str) -> str:
    return e164 if e164.startswith(PREFIX) else PREFIX + e164


def loose_e164(address: str, *, field: str) -> str:
    """`to_e164`, also taking a number written without its `+` (`966501234567`, `00966501234567`) as
    the earlier backend's callers send them."""
    value = re.sub(r"[\s\-()]", "", address.strip())
    if value.lower().startswith(PREFIX):
        value = value[len(PREFIX) :]
    if value.isdigit():
        value = "+" + value.removeprefix("00")
    return to_e164(value, field=field)

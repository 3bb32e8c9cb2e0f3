"""Twilio's form-encoded webhook parameters, parsed into typed values (the whitelist), the rest kept."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.errors import ValidationFailed
from app.phone import to_e164

_MEDIA_KINDS = {"image": "image", "audio": "audio", "video": "video"}


@dataclass(frozen=True, kw_only=True)
class InboundMessage:
    """One customer message as Twilio delivered it."""

    message_sid: str
    account_sid: str | None
    from_phone: str  # E.164 customer number
    to_phone: str  # E.164 bot number
    body: str
    profile_name: str | None
    message_type: str  # text | image | audio | video | document | location | button | list_reply
    media: tuple[tuple[str, str | None], ...]  # (url, content type)
    latitude: float | None = None
    longitude: float | None = None
    address: str | None = None
    label: str | None = None
    button_payload: str | None = None
    button_text: str | None = None
    list_id: str | None = None
    list_title: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)  # everything Twilio sent, verbatim

    def metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "fromPhone": f"whatsapp:{self.from_phone}",
            "toPhone": f"whatsapp:{self.to_phone}",
            "twilio": dict(self.params),
        }
        if self.profile_name:
            meta["profileName"] = self.profile_name
        if self.media:
            meta["media"] = [{"url": url, "contentType": ctype} for url, ctype in self.media]
        if self.latitude is not None and self.longitude is not None:
            meta["location"] = {
                "latitude": self.latitude,
                "longitude": self.longitude,
                "address": self.address,
                "label": self.label,
            }
        if self.button_payload or self.button_text:
            meta["button"] = {"payload": self.button_payload, "text": self.button_text}
        if self.list_id:
            meta["listReply"] = {"id": self.list_id, "title": self.list_title}
        return meta


def _text(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    return value if value not in (None, "") else None


def _coordinate(params: Mapping[str, str], name: str, bound: float) -> float | None:
    raw = _text(params, name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be a number", field=name) from None
    if not -bound <= value <= bound:
        raise ValidationFailed(f"{name} is out of range", field=name)
    return value


def parse_inbound(params: Mapping[str, str]) -> InboundMessage:
    """Parse an inbound-message webhook; ValidationFailed when a required parameter is missing."""
    sid = _text(params, "MessageSid") or _text(params, "SmsMessageSid")
    if not sid:
        raise ValidationFailed("MessageSid is required", field="MessageSid")
    if not _text(params, "From"):
        raise ValidationFailed("From is required", field="From")
    if not _text(params, "To"):
        raise ValidationFailed("To is required", field="To")
    try:
        num_media = int(params.get("NumMedia") or 0)
    except ValueError:
        raise ValidationFailed("NumMedia must be a whole number", field="NumMedia") from None
    media = tuple(
        (params[f"MediaUrl{i}"], _text(params, f"MediaContentType{i}"))
        for i in range(min(max(num_media, 0), 10))
        if _text(params, f"MediaUrl{i}")
    )
    latitude = _coordinate(params, "Latitude", 90)
    longitude = _coordinate(params, "Longitude", 180)
    button_payload, button_text = _text(params, "ButtonPayload"), _text(params, "ButtonText")
    list_id = _text(params, "ListId")
    if latitude is not None and longitude is not None:
        kind = "location"
    elif list_id:
        kind = "list_reply"
    elif button_payload or button_text:
        kind = "button"
    elif media:
        major = (media[0][1] or "").split("/", 1)[0]
        kind = _MEDIA_KINDS.get(major, "document")
    else:
        kind = "text"
    return InboundMessage(
        message_sid=sid,
        account_sid=_text(params, "AccountSid"),
        from_phone=to_e164(params["From"], field="From"),
        to_phone=to_e164(params["To"], field="To"),
        body=params.get("Body") or "",
        profile_name=_text(params, "ProfileName"),
        message_type=kind,
        media=media,
        latitude=latitude if kind == "location" else None,
        longitude=longitude if kind == "location" else None,
        address=_text(params, "Address"),
        label=_text(params, "Label"),
        button_payload=button_payload,
        button_text=button_text,
        list_id=list_id,
        list_title=_text(params, "ListTitle"),
        params=dict(params),
    )


@dataclass(frozen=True, kw_only=True)
class StatusCallback:
    message_sid: str
    status: str
    from_phone: str | None
    to_phone: str | None
    error_code: str | None
    error_message: str | None


def parse_status(params: Mapping[str, str]) -> StatusCallback:
    sid = _text(params, "MessageSid") or _text(params, "SmsSid")
    status = _text(params, "MessageStatus") or _text(params, "SmsStatus")
    if not sid:
        raise ValidationFailed("MessageSid is required", field="MessageSid")
    if not status:
        raise ValidationFailed("MessageStatus is required", field="MessageStatus")

    def phone(name: str) -> str | None:
        value = _text(params, name)
        try:
            return to_e164(value, field=name) if value else None
        except ValidationFailed:
            return None

    return StatusCallback(
        message_sid=sid,
        status=status.lower(),
        from_phone=phone("From"),
        to_phone=phone("To"),
        error_code=_text(params, "ErrorCode"),
        error_message=_text(params, "ErrorMessage"),
    )

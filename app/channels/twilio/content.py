"""Twilio's Content API: the templates WhatsApp sends outside its 24-hour window, and (later) the
quick-reply buttons and list pickers of interactive bot messages.

    create(types={"twilio/text": {...}})  ──►  HX… content  ──submit──►  WhatsApp review
                                                                       received / pending
                                                           approved ◄──┴──► rejected (+ reason)

A content is created once and referenced by its SID ("HX…") in a message's ContentSid. WhatsApp
must approve it before it may open a conversation outside the customer's window; Twilio sends no
callback when the review ends, so the caller polls `approval()` (app/workers/templates.py).

This is a sibling of `TwilioSender` on the same seam, not a second HTTP stack: it runs every request
through `TwilioSender.call`, i.e. the sender's per-account client cache, its one aiohttp session
(routed to TWILIO_API_BASE_URL in tests), its timeout and its exception family: `TwilioRejectedError`
for a 4xx (bad credentials: 401, code 20003; an invalid content: 400), `TwilioRetryableError` for
429/5xx/timeouts (try again later). Nothing here retries on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twilio.rest.content.v1.content import ContentList
from twilio.rest.content.v1.content.approval_create import ApprovalCreateList

from app.channels.twilio.sender import TwilioError, TwilioRejectedError, TwilioSender

CONTENT_TYPES = ("twilio/text", "twilio/quick-reply", "twilio/list-picker", "twilio/card")
WHATSAPP_CATEGORIES = ("UTILITY", "MARKETING", "AUTHENTICATION")


@dataclass(frozen=True, slots=True)
class Content:
    sid: str  # "HX…"
    friendly_name: str
    language: str
    variables: dict[str, str]
    types: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Approval:
    """WhatsApp's review of one content. `status` as Twilio spells it: unsubmitted, received, pending,
    approved, rejected, paused, disabled; `rejection_reason` is "" unless rejected."""

    status: str
    rejection_reason: str
    name: str | None = None
    category: str | None = None


class TwilioContent:
    """The Content API for many accounts, over a `TwilioSender`'s clients and session."""

    def __init__(self, sender: TwilioSender) -> None:
        self._sender = sender

    async def create(
        self,
        *,
        account_sid: str,
        auth_token: str,
        friendly_name: str,
        language: str,
        types: dict[str, Any],
        variables: dict[str, str] | None = None,
    ) -> Content:
        """Create a content; `types` maps one of CONTENT_TYPES to its JSON as Twilio documents it,
        e.g. {"twilio/text": {"body": "Hi {{1}}"}}; `variables` are sample values ({"1": "Sara"})."""
        unknown = set(types) - set(CONTENT_TYPES)
        if not types or unknown:
            raise ValueError(f"types must use {CONTENT_TYPES}, got {sorted(types)}")
        request = ContentList.ContentCreateRequest(
            {
                "friendly_name": friendly_name,
                "language": language,
                "variables": variables or {},
                "types": types,
            }
        )
        instance = await self._sender.call(
            account_sid=account_sid,
            auth_token=auth_token,
            request=lambda client: client.content.v1.contents.create_async(request),
        )
        if not instance.sid:
            raise TwilioError("Twilio answered 2xx without a content SID")
        return _content(instance)

    async def fetch(self, *, account_sid: str, auth_token: str, content_sid: str) -> Content:
        """One content by SID (TwilioRejectedError with status 404 when it is gone)."""
        instance = await self._sender.call(
            account_sid=account_sid,
            auth_token=auth_token,
            request=lambda client: client.content.v1.contents(content_sid).fetch_async(),
        )
        return _content(instance)

    async def submit_for_whatsapp(
        self, *, account_sid: str, auth_token: str, content_sid: str, name: str, category: str
    ) -> Approval:
        """Ask WhatsApp to approve a content as template `name` (lowercase, digits, _) in `category`."""
        request = ApprovalCreateList.ContentApprovalRequest({"name": name, "category": category})
        answer = await self._sender.call(
            account_sid=account_sid,
            auth_token=auth_token,
            request=lambda client: client.content.v1.contents(content_sid).approval_create.create_async(
                request
            ),
        )
        return Approval(
            status=answer.status or "received",
            rejection_reason=answer.rejection_reason or "",
            name=answer.name,
            category=answer.category,
        )

    async def approval(self, *, account_sid: str, auth_token: str, content_sid: str) -> Approval:
        """Where WhatsApp's review of a content stands ("unsubmitted" if never submitted)."""
        answer = await self._sender.call(
            account_sid=account_sid,
            auth_token=auth_token,
            request=lambda client: client.content.v1.contents(content_sid).approval_fetch().fetch_async(),
        )
        whatsapp: dict[str, Any] = dict(answer.whatsapp or {})
        return Approval(
            status=str(whatsapp.get("status") or "unsubmitted"),
            rejection_reason=str(whatsapp.get("rejection_reason") or ""),
            name=whatsapp.get("name"),
            category=whatsapp.get("category"),
        )

    async def delete(self, *, account_sid: str, auth_token: str, content_sid: str) -> None:
        """Delete a content; one already gone (404) counts as deleted."""
        try:
            await self._sender.call(
                account_sid=account_sid,
                auth_token=auth_token,
                request=lambda client: client.content.v1.contents(content_sid).delete_async(),
            )
        except TwilioRejectedError as exc:
            if exc.status != 404:
                raise


def _content(instance: Any) -> Content:
    return Content(
        sid=str(instance.sid),
        friendly_name=instance.friendly_name or "",
        language=instance.language or "",
        variables={str(k): str(v) for k, v in (instance.variables or {}).items()},
        types=dict(instance.types or {}),
    )

"""Outgoing messages. Every message to a customer is first a row (the outbox): it shows in the
conversation at once, and a sender delivers it through Twilio after the transaction commits.

WhatsApp's 24-hour customer window is decided here, once: inside it anything goes; outside it only
an approved template (ContentSid + ContentVariables). A message that must still go out names a
`TemplateFallback` (the restaurant's template for that purpose, e.g. order status notices); a staff
reply falls back to the restaurant's follow-up template with the staff text as {{1}}; staff may also
pick a template themselves (`template_id`). The stored content is the rendered text, so the
conversation shows what the customer reads; `template_name` and `content_sid` say it was a template.
Without a suitable approved template, a message that enforces the window is refused
(OutsideCustomerWindow), as before templates existed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, not_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.bot import flow
from app.db import in_sql
from app.errors import NotFound, OutsideCustomerWindow, ValidationFailed
from app.ids import new_id
from app.models import Bot, Conversation, Message, MessageTemplate, Restaurant
from app.phone import to_whatsapp
from app.realtime import events
from app.realtime.events import Change
from app.services import conversations, interactive, templates, usage

CUSTOMER_WINDOW = timedelta(hours=24)
MAX_BODY = 4096  # WhatsApp's limit for a text message body


@dataclass(frozen=True, slots=True)
class TemplateFallback:
    """Outside the window, send the restaurant's approved template for `purpose` with `variables`."""

    purpose: templates.Purpose
    variables: dict[str, str]


async def queue_reply(
    session: AsyncSession,
    *,
    restaurant_id: str,
    conversation_id: str,
    reply: flow.Reply,
    lang: str,
    fallback: TemplateFallback | None = None,
) -> Message:
    """Queue a bot Reply: its numbered text (and photo) is the message staff see, its choices go along
    for the outbox to send as buttons or a list (app/services/interactive.py)."""
    return await queue(
        session,
        restaurant_id=restaurant_id,
        conversation_id=conversation_id,
        body=reply.text,
        media_url=reply.media_url,
        author="bot",
        enforce_window=False,
        fallback=fallback,
        choices=interactive.describe(reply, lang=lang),
    )


def _check_media_url(media_url: str) -> None:
    if not media_url.startswith(("https://", "http://")) or len(media_url) > 2048:
        raise ValidationFailed("mediaUrl must be an http(s) URL", field="mediaUrl")


def _bot_after_staff_reply(restaurant_id: str) -> ColumnElement[bool]:
    paused = select(col(Restaurant.pause_bot_on_staff_reply)).where(col(Restaurant.id) == restaurant_id)
    return and_(col(Conversation.is_bot_active), not_(paused.scalar_subquery()))


async def queue(
    session: AsyncSession,
    *,
    restaurant_id: str,
    conversation_id: str,
    body: str,
    media_url: str | None = None,
    author: str,
    bot_id: str | None = None,
    enforce_window: bool = True,
    fallback: TemplateFallback | None = None,
    template_id: str | None = None,
    variables: dict[str, str] | None = None,
    choices: dict[str, Any] | None = None,
) -> Message:
    """Store an outgoing message as `queued` in the caller's transaction.

    Free-form messages may only reach a customer within 24 hours of their last message (WhatsApp's
    customer service window); outside it a template goes instead (see the module docstring), or the
    message is refused with OutsideCustomerWindow. `template_id` + `variables`: that template, in
    or outside the window. `enforce_window=False`: without a template, send the text anyway. `choices`:
    interactive.describe() of a bot Reply, sent as buttons or a list unless a template goes. `bot_id`
    narrows like `conversations.scope` (a caller that named one sender may only write to its
    conversations)."""
    body = body.strip() if body else ""
    template: MessageTemplate | None = None
    if template_id is not None:
        template = await templates.usable(session, restaurant_id=restaurant_id, template_id=template_id)
        variables = templates.check_variables(template, variables or {})
        body, media_url = templates.rendered_text(template, variables), None
    if not body and not media_url:
        raise ValidationFailed("a message needs a body or a mediaUrl", field="body")
    if len(body) > MAX_BODY:
        raise ValidationFailed(f"body is longer than {MAX_BODY} characters", field="body")
    if media_url:
        _check_media_url(media_url)
    conversation = (
        await session.execute(
            select(Conversation)
            .where(*conversations.in_scope(restaurant_id=restaurant_id, bot_id=bot_id))
            .where(col(Conversation.id) == conversation_id)
            .with_for_update()
            .execution_options(populate_existing=True)  # the locked row as it is now (its session)
        )
    ).scalar_one_or_none()
    if conversation is None:
        raise NotFound("conversation not found")
    now = (await session.execute(select(func.now()))).scalar_one()
    if template is None:  # noqa: SIM102  (kept apart: a template goes in or outside the window)
        if conversation.last_inbound_at is None or now - conversation.last_inbound_at > CUSTOMER_WINDOW:
            if fallback is None and author == "staff" and body and not media_url:
                fallback = TemplateFallback("follow_up", {"1": body})
            if fallback is not None:
                template = await templates.approved_for(
                    session, restaurant_id=restaurant_id, purpose=fallback.purpose
                )
            if template is not None and fallback is not None:
                variables = templates.check_variables(template, fallback.variables)
                body, media_url = templates.rendered_text(template, variables), None
            elif enforce_window:
                raise OutsideCustomerWindow(
                    "the customer's last message is more than 24 hours old; WhatsApp only allows an "
                    "approved template now"
                    + (
                        ""
                        if fallback is None
                        else f" (the restaurant has no approved {fallback.purpose} template)"
                    )
                )
    from_number = await session.scalar(
        select(col(Bot.whatsapp_number)).where(
            col(Bot.restaurant_id) == restaurant_id, col(Bot.id) == conversation.bot_id
        )
    )
    message = Message(
        restaurant_id=restaurant_id,
        id=new_id("msg"),
        conversation_id=conversation_id,
        direction="OUT",
        author=author,
        message_type="image" if media_url and not body else ("media" if media_url else "text"),
        content=body,
        media_urls=[media_url] if media_url else [],
        delivery_status="queued",
        bot_id=conversation.bot_id,
        send_state="pending",
        next_attempt_at=in_sql(func.now()),
        created_at=in_sql(func.clock_timestamp()),  # distinct and ordered within one transaction
        meta={
            "fromPhone": to_whatsapp(from_number) if from_number else None,
            "toPhone": to_whatsapp(conversation.customer_phone),
            "botId": conversation.bot_id,
            "author": author,
            **({"interactive": choices} if choices is not None and template is None else {}),
            **(
                {}
                if template is None
                else {
                    "template": {"id": template.id, "name": template.name, "contentSid": template.content_sid}
                }
            ),
        },
    )
    if template is not None:
        message.message_type = "template"
        message.content_sid, message.content_variables = template.content_sid, variables
        message.template_name = template.name
        await templates.count_use(session, restaurant_id=restaurant_id, template_id=template.id)
    session.add(message)
    await session.flush()
    # WhatsApp's billing: this message may open the conversation's next 24-hour session.
    opens = usage.opens_session(conversation.session_started_at, now)
    if opens:
        await usage.open_session(
            session,
            restaurant_id=restaurant_id,
            conversation_id=conversation_id,
            bot_id=conversation.bot_id,
            message_id=message.id,
            direction="OUT",
        )
    await session.execute(
        update(Conversation)
        .where(col(Conversation.restaurant_id) == restaurant_id, col(Conversation.id) == conversation_id)
        # A staff reply means staff have read the conversation, and (the restaurant's setting, on by
        # default) that staff took it over: the bot pauses for it.
        .values(
            last_message_at=func.now(),
            updated_at=func.now(),
            **({"session_started_at": func.now()} if opens else {}),
            **(
                {"unread_count": 0, "is_bot_active": _bot_after_staff_reply(restaurant_id)}
                if author == "staff"
                else {}
            ),
        )
    )
    await events.record(
        session,
        restaurant_id=restaurant_id,
        changes=[
            Change(events.MESSAGE_CREATED, message.id, conversation_id),
            Change(events.CONVERSATION_UPDATED, conversation_id, conversation_id),
        ],
    )
    await session.refresh(message)
    return message

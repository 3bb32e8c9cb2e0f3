"""WhatsApp message templates: each restaurant's library, and the rules that make one sendable.

WhatsApp lets a business write first (or again, 24 hours after the customer's last message) only
with a template it approved. A template here is a Twilio Content API content plus WhatsApp's review:

    create / edit ──► pending (no content yet) ──worker: create content, submit──► pending (HX…)
                                                    ──worker polls the review──► approved | rejected
    edit of a submitted template: a new content (the old SID retired), pending again
    delete: hidden at once; the worker deletes its contents at Twilio, then the row

Nothing here talks to Twilio: the request that creates or edits a template only writes the row and
queues it (`next_sync_at`); app/workers/templates.py does the Twilio work after the commit and
records the outcome with `record_*` below. So a GraphQL mutation never waits on Twilio, and a
process that dies mid-submission leaves a row another process picks up again.

Which template a message outside the window uses is decided in app/services/outbound.py; this
module says which templates are usable (`approved_for`, `usable`) and how they render.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db import in_sql
from app.errors import NotFound, OutsideCustomerWindow, ValidationFailed
from app.ids import new_id
from app.models import TEMPLATE_CATEGORIES, TEMPLATE_STATUSES, Bot, MessageTemplate, Restaurant

MAX_BODY = 1024  # WhatsApp's limit for a template body
MAX_FOOTER = 60
MAX_BUTTONS = 3  # quick replies in a template
MAX_BUTTON_TITLE = 20
MAX_VARIABLE = 1024
NAME = re.compile(r"[a-z0-9_]{1,512}")
LANGUAGE = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?")
VARIABLE = re.compile(r"\{\{\s*(\d+)\s*\}\}")
POLL = timedelta(seconds=60)  # how often a pending review is asked about

Purpose = Literal["follow_up", "order_status"]
_SETTING: dict[Purpose, Any] = {
    "follow_up": col(Restaurant.follow_up_template_id),
    "order_status": col(Restaurant.order_status_template_id),
}
_UNSET: Any = object()


def placeholders(body: str) -> list[int]:
    """The variable numbers a body uses, in order of first use ({{1}} -> 1)."""
    seen: list[int] = []
    for match in VARIABLE.finditer(body):
        number = int(match.group(1))
        if number not in seen:
            seen.append(number)
    return seen


def render(body: str, variables: dict[str, str]) -> str:
    """The body with each {{n}} replaced by variables["n"] (a missing one stays as written)."""
    return VARIABLE.sub(lambda m: variables.get(m.group(1), m.group(0)), body)


def rendered_text(template: MessageTemplate, variables: dict[str, str]) -> str:
    """What the customer reads: the rendered body, then the footer; shown in the conversation."""
    body = render(template.body, variables)
    return f"{body}\n\n{template.footer}" if template.footer else body


def validate(
    *,
    name: str,
    language: str,
    category: str,
    body: str,
    footer: str | None,
    buttons: list[dict[str, str]] | None,
    variables: dict[str, str],
) -> None:
    """ValidationFailed (with the field) unless WhatsApp could accept this template."""
    if not NAME.fullmatch(name):
        raise ValidationFailed("name may only hold lowercase letters, digits and _", field="name")
    if not LANGUAGE.fullmatch(language):
        raise ValidationFailed("language must be a code such as ar, en or en_US", field="language")
    if category not in TEMPLATE_CATEGORIES:
        raise ValidationFailed(f"category must be one of {', '.join(TEMPLATE_CATEGORIES)}", field="category")
    if not body.strip():
        raise ValidationFailed("a template needs a body", field="body")
    if len(body) > MAX_BODY:
        raise ValidationFailed(f"body is longer than {MAX_BODY} characters", field="body")
    numbers = placeholders(body)
    if sorted(numbers) != list(range(1, len(numbers) + 1)):
        raise ValidationFailed("variables must be numbered {{1}}, {{2}}, … without gaps", field="body")
    if set(variables) - {str(n) for n in numbers}:
        raise ValidationFailed("sample values given for variables the body does not use", field="variables")
    if footer is not None and (len(footer) > MAX_FOOTER or VARIABLE.search(footer)):
        raise ValidationFailed(f"footer: at most {MAX_FOOTER} characters, no variables", field="footer")
    if buttons is not None:
        if len(buttons) > MAX_BUTTONS:
            raise ValidationFailed(f"at most {MAX_BUTTONS} buttons", field="buttons")
        for button in buttons:
            title = button.get("title", "")
            if not title.strip() or len(title) > MAX_BUTTON_TITLE:
                raise ValidationFailed(
                    f"a button needs a title of 1–{MAX_BUTTON_TITLE} characters", field="buttons"
                )


def check_variables(template: MessageTemplate, variables: dict[str, str]) -> dict[str, str]:
    """The variables for one send: exactly those the body uses, none blank (ValidationFailed), each on
    one line: WhatsApp refuses a parameter with new lines, tabs or more than four spaces in a row
    (error 132018), so a multi-line staff reply or alert is sent with its whitespace folded."""
    wanted = {str(n) for n in placeholders(template.body)}
    given = {str(k): " ".join(str(v).split()) for k, v in variables.items()}
    if set(given) != wanted or any(not v or len(v) > MAX_VARIABLE for v in given.values()):
        numbers = ", ".join(f"{{{{{n}}}}}" for n in sorted(wanted, key=int)) or "none"
        raise ValidationFailed(f"fill exactly the template's variables ({numbers})", field="variables")
    return given


def content_types(template: MessageTemplate) -> dict[str, Any]:
    """The Content API `types` for a template: text; quick replies when it has buttons; a card
    (body as title, footer as subtitle) when it has a footer."""
    actions = [
        {"title": b["title"], "id": b.get("id") or f"btn_{i}"}
        for i, b in enumerate(template.buttons or [], 1)
    ]
    if template.footer:
        card: dict[str, Any] = {"title": template.body, "subtitle": template.footer}
        if actions:
            card["actions"] = [{"type": "QUICK_REPLY", **a} for a in actions]
        return {"twilio/card": card}
    if actions:
        return {"twilio/quick-reply": {"body": template.body, "actions": actions}}
    return {"twilio/text": {"body": template.body}}


def _live() -> Any:
    return col(MessageTemplate.deleted_at).is_(None)


async def _find(session: AsyncSession, *, restaurant_id: str, template_id: str) -> MessageTemplate | None:
    return (
        await session.execute(
            select(MessageTemplate).where(
                col(MessageTemplate.restaurant_id) == restaurant_id,
                col(MessageTemplate.id) == template_id,
                _live(),
            )
        )
    ).scalar_one_or_none()


async def get(session: AsyncSession, *, restaurant_id: str, template_id: str) -> MessageTemplate:
    """One template of this restaurant; NotFound when missing, deleted or another restaurant's."""
    row = await _find(session, restaurant_id=restaurant_id, template_id=template_id)
    if row is None:
        raise NotFound("template not found")
    return row


async def list_templates(
    session: AsyncSession, *, restaurant_id: str, status: str | None = None, category: str | None = None
) -> list[MessageTemplate]:
    """The restaurant's templates by name and language, optionally of one status or category."""
    if status is not None and status not in TEMPLATE_STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(TEMPLATE_STATUSES)}", field="status")
    query = select(MessageTemplate).where(col(MessageTemplate.restaurant_id) == restaurant_id, _live())
    if status is not None:
        query = query.where(col(MessageTemplate.status) == status)
    if category is not None:
        query = query.where(col(MessageTemplate.category) == category)
    return list(
        (
            await session.execute(query.order_by(col(MessageTemplate.name), col(MessageTemplate.language)))
        ).scalars()
    )


@dataclass(frozen=True, slots=True)
class Counts:
    total: int
    approved: int
    pending: int
    rejected: int


async def counts(session: AsyncSession, *, restaurant_id: str) -> Counts:
    """How many templates the restaurant has, by review status (the legacy list's `stats`)."""
    rows = (
        await session.execute(
            select(col(MessageTemplate.status), func.count())
            .where(col(MessageTemplate.restaurant_id) == restaurant_id, _live())
            .group_by(col(MessageTemplate.status))
        )
    ).all()
    by = {status: n for status, n in rows}
    return Counts(sum(by.values()), by.get("approved", 0), by.get("pending", 0), by.get("rejected", 0))


async def _check_unique(
    session: AsyncSession, *, restaurant_id: str, name: str, language: str, template_id: str | None
) -> None:
    clash = await session.scalar(
        select(col(MessageTemplate.id)).where(
            col(MessageTemplate.restaurant_id) == restaurant_id,
            col(MessageTemplate.name) == name,
            col(MessageTemplate.language) == language,
            _live(),
            col(MessageTemplate.id) != (template_id or ""),
        )
    )
    if clash is not None:
        raise ValidationFailed(f"a template named {name} in {language} already exists", field="name")


async def create(
    session: AsyncSession,
    *,
    restaurant_id: str,
    name: str,
    language: str,
    category: str,
    body: str,
    footer: str | None = None,
    buttons: list[dict[str, str]] | None = None,
    variables: dict[str, str] | None = None,
    friendly_name: str | None = None,
) -> MessageTemplate:
    """Add a template, queued for submission to Twilio and WhatsApp's review (status pending)."""
    name, category, footer = name.strip(), category.upper(), (footer or "").strip() or None
    variables = {str(k): str(v) for k, v in (variables or {}).items()}
    validate(
        name=name,
        language=language,
        category=category,
        body=body,
        footer=footer,
        buttons=buttons,
        variables=variables,
    )
    await _check_unique(session, restaurant_id=restaurant_id, name=name, language=language, template_id=None)
    row = MessageTemplate(
        restaurant_id=restaurant_id,
        id=new_id("tpl"),
        name=name,
        friendly_name=(friendly_name or "").strip() or name,
        language=language,
        category=category,
        body=body,
        footer=footer,
        buttons=buttons or None,
        variables=variables,
        status="pending",
        next_sync_at=in_sql(func.now()),  # the database's clock
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return row


async def edit(
    session: AsyncSession,
    *,
    restaurant_id: str,
    template_id: str,
    name: str | None = None,
    language: str | None = None,
    category: str | None = None,
    body: str | None = None,
    footer: str | None = _UNSET,
    buttons: list[dict[str, str]] | None = _UNSET,
    variables: dict[str, str] | None = None,
    friendly_name: str | None = None,
) -> MessageTemplate:
    """Edit a template; a change WhatsApp reviews makes a new content (the old one retired) and
    sends it for review again (status pending)."""
    row = await get(session, restaurant_id=restaurant_id, template_id=template_id)
    changes: dict[str, Any] = {
        "name": row.name if name is None else name.strip(),
        "language": language or row.language,
        "category": (category or row.category).upper(),
        "body": row.body if body is None else body,
        "footer": row.footer if footer is _UNSET else ((footer or "").strip() or None),
        "buttons": row.buttons if buttons is _UNSET else (buttons or None),
        "variables": row.variables if variables is None else {str(k): str(v) for k, v in variables.items()},
    }
    validate(**changes)
    if (changes["name"], changes["language"]) != (row.name, row.language):
        await _check_unique(
            session,
            restaurant_id=restaurant_id,
            name=changes["name"],
            language=changes["language"],
            template_id=template_id,
        )
    values: dict[str, Any] = {"updated_at": func.now()}
    if friendly_name is not None and friendly_name.strip():
        values["friendly_name"] = friendly_name.strip()
    if any(changes[k] != getattr(row, k) for k in changes):
        values.update(
            changes,
            status="pending",
            content_sid=None,
            retired_content_sids=row.retired_content_sids + ([row.content_sid] if row.content_sid else []),
            rejection_reason=None,
            approved_at=None,
            sync_error=None,
            next_sync_at=func.now(),
        )
    return (
        await session.execute(
            update(MessageTemplate)
            .where(
                col(MessageTemplate.restaurant_id) == restaurant_id, col(MessageTemplate.id) == template_id
            )
            .values(**values)
            .returning(MessageTemplate)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()


async def delete(session: AsyncSession, *, restaurant_id: str, template_id: str) -> None:
    """Delete a template: gone from the library at once (and from the restaurant's settings); its
    contents are deleted at Twilio by the worker."""
    row = await get(session, restaurant_id=restaurant_id, template_id=template_id)
    for purpose, column in _SETTING.items():
        await session.execute(
            update(Restaurant)
            .where(col(Restaurant.id) == restaurant_id, column == template_id)
            .values({f"{purpose}_template_id": None, "updated_at": func.now()})
        )
    await session.execute(
        update(MessageTemplate)
        .where(col(MessageTemplate.restaurant_id) == restaurant_id, col(MessageTemplate.id) == template_id)
        .values(
            deleted_at=func.now(),
            updated_at=func.now(),
            content_sid=None,
            retired_content_sids=row.retired_content_sids + ([row.content_sid] if row.content_sid else []),
            next_sync_at=func.now(),
        )
    )


async def set_purposes(
    session: AsyncSession,
    *,
    restaurant_id: str,
    follow_up_template_id: str | None = _UNSET,
    order_status_template_id: str | None = _UNSET,
) -> Restaurant:
    """Choose the restaurant's follow-up and order-status templates (None: none; omitted: as is)."""
    values: dict[str, Any] = {"updated_at": func.now()}
    for key, template_id in (
        ("follow_up_template_id", follow_up_template_id),
        ("order_status_template_id", order_status_template_id),
    ):
        if template_id is _UNSET:
            continue
        if template_id is not None:
            await get(session, restaurant_id=restaurant_id, template_id=template_id)
        values[key] = template_id
    row = (
        await session.execute(
            update(Restaurant)
            .where(col(Restaurant.id) == restaurant_id)
            .values(**values)
            .returning(Restaurant)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("restaurant not found")
    return row


async def approved_for(
    session: AsyncSession, *, restaurant_id: str, purpose: Purpose
) -> MessageTemplate | None:
    """The restaurant's template for `purpose` if it is chosen and approved, else None."""
    return (
        await session.execute(
            select(MessageTemplate)
            .join(Restaurant, col(Restaurant.id) == col(MessageTemplate.restaurant_id))
            .where(
                col(Restaurant.id) == restaurant_id,
                col(MessageTemplate.id) == _SETTING[purpose],
                col(MessageTemplate.status) == "approved",
                col(MessageTemplate.content_sid).is_not(None),
                _live(),
            )
        )
    ).scalar_one_or_none()


async def usable(session: AsyncSession, *, restaurant_id: str, template_id: str) -> MessageTemplate:
    """A template staff picked to send: NotFound, or OutsideCustomerWindow unless approved."""
    row = await get(session, restaurant_id=restaurant_id, template_id=template_id)
    if row.status != "approved" or row.content_sid is None:
        raise OutsideCustomerWindow(
            f"template {row.name} is {row.status}; only a template WhatsApp approved can be sent"
        )
    return row


async def count_use(session: AsyncSession, *, restaurant_id: str, template_id: str) -> None:
    """One more message sent with this template."""
    await session.execute(
        update(MessageTemplate)
        .where(col(MessageTemplate.restaurant_id) == restaurant_id, col(MessageTemplate.id) == template_id)
        .values(usage_count=col(MessageTemplate.usage_count) + 1, last_used_at=func.now())
    )


# The worker's side (app/workers/templates.py): claim due templates, record what Twilio said.

_CLAIM = text(
    """
    UPDATE message_template SET next_sync_at = now() + make_interval(secs => :lease)
    WHERE (restaurant_id, id) IN (
        SELECT restaurant_id, id FROM message_template
        WHERE next_sync_at <= now()
        ORDER BY next_sync_at
        LIMIT :n
        FOR UPDATE SKIP LOCKED
    )
    RETURNING restaurant_id, id
    """
)


@dataclass(frozen=True, slots=True)
class SyncJob:
    template: MessageTemplate
    bot: Bot | None  # the restaurant's Twilio account: its first live sender


async def claim_due(session: AsyncSession, *, limit: int, lease: timedelta) -> list[SyncJob]:
    """Templates with Twilio work due, leased to the caller (another process skips them)."""
    keys = (await session.execute(_CLAIM, {"n": limit, "lease": lease.total_seconds()})).all()
    jobs = []
    for restaurant_id, template_id in keys:
        template = (
            await session.execute(
                select(MessageTemplate)
                .where(
                    col(MessageTemplate.restaurant_id) == restaurant_id,
                    col(MessageTemplate.id) == template_id,
                )
                .execution_options(populate_existing=True)
            )
        ).scalar_one()
        bot = (
            await session.execute(
                select(Bot)
                .where(col(Bot.restaurant_id) == restaurant_id, col(Bot.deleted_at).is_(None))
                .order_by(col(Bot.created_at), col(Bot.id))
                .limit(1)
            )
        ).scalar_one_or_none()
        jobs.append(SyncJob(template, bot))
    return jobs


def _same_version(template: MessageTemplate) -> Any:
    """Only the version the worker read: an edit made meanwhile wins (and is submitted next)."""
    return (
        (col(MessageTemplate.restaurant_id) == template.restaurant_id)
        & (col(MessageTemplate.id) == template.id)
        & (col(MessageTemplate.updated_at) == template.updated_at)
    )


async def record_submitted(
    session: AsyncSession, *, restaurant_id: str, template: MessageTemplate, content_sid: str
) -> bool:
    """The content exists and is under review; False if the template changed meanwhile (the
    caller then retires `content_sid`)."""
    assert template.restaurant_id == restaurant_id
    done = await session.execute(
        update(MessageTemplate)
        .where(_same_version(template))
        .values(content_sid=content_sid, sync_error=None, next_sync_at=func.now() + POLL)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


async def record_review(
    session: AsyncSession, *, restaurant_id: str, template: MessageTemplate, status: str, reason: str
) -> None:
    """WhatsApp's review as Twilio reported it: approved, rejected (with reason) or still going."""
    values: dict[str, Any] = {"sync_error": None}
    if status == "approved":
        values.update(status="approved", approved_at=func.now(), rejection_reason=None, next_sync_at=None)
    elif status in ("rejected", "paused", "disabled"):
        values.update(status="rejected", rejection_reason=reason or status, next_sync_at=None)
    else:  # unsubmitted, received, pending
        values.update(next_sync_at=func.now() + POLL)
    await session.execute(
        update(MessageTemplate)
        .where(_same_version(template), col(MessageTemplate.restaurant_id) == restaurant_id)
        .values(updated_at=func.now(), **values)
    )


async def record_refused(
    session: AsyncSession, *, restaurant_id: str, template: MessageTemplate, reason: str
) -> None:
    """Twilio refused the content or its submission for good: rejected, with Twilio's reason."""
    await session.execute(
        update(MessageTemplate)
        .where(_same_version(template), col(MessageTemplate.restaurant_id) == restaurant_id)
        .values(
            status="rejected",
            rejection_reason=reason,
            sync_error=reason,
            next_sync_at=None,
            updated_at=func.now(),
        )
    )


async def record_failure(
    session: AsyncSession, *, restaurant_id: str, template: MessageTemplate, error: str, retry_in: timedelta
) -> None:
    """Twilio could not be asked now (down, no sender): try again after `retry_in`."""
    await session.execute(
        update(MessageTemplate)
        .where(col(MessageTemplate.restaurant_id) == restaurant_id, col(MessageTemplate.id) == template.id)
        .values(sync_error=error, next_sync_at=func.now() + retry_in)
    )


async def record_retired(
    session: AsyncSession, *, restaurant_id: str, template: MessageTemplate, content_sids: list[str]
) -> None:
    """These contents are gone at Twilio; a deleted template with nothing left there goes too."""
    row = (
        await session.execute(
            select(MessageTemplate)
            .where(
                col(MessageTemplate.restaurant_id) == restaurant_id, col(MessageTemplate.id) == template.id
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    remaining = [sid for sid in row.retired_content_sids if sid not in content_sids]
    if row.deleted_at is not None and not remaining:
        await session.delete(row)
        return
    next_sync_at: Any = None  # more to do for this row? a version to submit, a review to poll
    if remaining or (row.status == "pending" and row.content_sid is None):
        next_sync_at = func.now()
    elif row.status == "pending":
        next_sync_at = func.now() + POLL
    await session.execute(
        update(MessageTemplate)
        .where(col(MessageTemplate.restaurant_id) == restaurant_id, col(MessageTemplate.id) == template.id)
        .values(retired_content_sids=remaining, next_sync_at=next_sync_at)
    )


def needs(template: MessageTemplate) -> Literal["retire", "submit", "poll", "nothing"]:
    """What the worker should do next for a claimed template."""
    if template.retired_content_sids or template.deleted_at is not None:
        return "retire"
    if template.status == "pending":
        return "poll" if template.content_sid else "submit"
    return "nothing"


async def purposes(
    session: AsyncSession, *, restaurant_id: str
) -> tuple[MessageTemplate | None, MessageTemplate | None]:
    """The restaurant's chosen (follow-up, order-status) templates, whatever their review status."""
    restaurant = await session.get(Restaurant, restaurant_id)
    if restaurant is None:
        raise NotFound("restaurant not found")
    chosen = []
    for template_id in (restaurant.follow_up_template_id, restaurant.order_status_template_id):
        row = None
        if template_id is not None:
            row = await _find(session, restaurant_id=restaurant_id, template_id=template_id)
        chosen.append(row)
    return chosen[0], chosen[1]

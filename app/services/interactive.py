"""Interactive bot messages: the bot's choices as WhatsApp quick-reply buttons or list pickers.

The pure flow gives a `Reply` abstract choices beside its numbered text (app/bot/flow.py); this
module decides how they look on WhatsApp and gets the Twilio content that shows them:

    Reply ──describe()──► message.meta["interactive"]    (queued with the numbered text as content)
                               │  at send time, in the outbox
                               ▼
    content_types(): ≤ 3 choices → twilio/quick-reply, 4–10 → twilio/list-picker,
                     more → list picker pages of 9 rows + a "more" row (payload flow.MORE);
                     choices with a description (a price, an address) → a list even when ≤ 3,
                     as a button has no room for it
                               │
    content_sid(): the cache interactive_content (restaurant, account, sha256 of the content JSON)
                   or one Content API create, under an advisory lock + ON CONFLICT: never twice
                               ▼
    ContentSid (+ ContentVariables: the customer's name in the welcome) on the Messages API

If the Content API fails (5xx, timeout, a rejected content), the outbox sends the numbered text as
the Body instead: the customer always gets the step's answer (app/workers/outbox.py).

WhatsApp's limits, applied here and nowhere else: a reply button's title ≤ 20 characters, a list
row's title ≤ 24 and description ≤ 72, the list's button ≤ 20, a body ≤ 1024, ≤ 10 rows.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from app.bot import flow
from app.bot.texts import t
from app.channels.twilio.content import TwilioContent
from app.db.engine import Database
from app.models import InteractiveContent

BUTTON_TITLE, ROW_TITLE, ROW_DESCRIPTION, LIST_BUTTON, BODY = 20, 24, 72, 20, 1024
MAX_BUTTONS, MAX_ROWS = 3, 10
PAGE_ROWS = MAX_ROWS - 1  # and the "more" row
SAMPLE_NAME = "Customer"  # the sample value WhatsApp shows for the welcome's {{1}}
NAME_PREFIX = "sufrah_bot_"  # the friendly name of the bot's contents (templates are named by staff)

_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:r || '/' || :a || '/' || :h, 7412))")


def describe(reply: flow.Reply, *, lang: str) -> dict[str, Any] | None:
    """What a queued message keeps of a Reply's choices (its meta["interactive"]); None: plain text.
    A reply with a photo goes as the photo with its numbered text (WhatsApp buttons carry no image)."""
    if not reply.choices or reply.media_url:
        return None
    return {
        "body": reply.body or reply.text,
        "choices": [
            {"id": c.id, "title": c.title, **({"description": c.description} if c.description else {})}
            for c in reply.choices
        ],
        "variables": dict(reply.variables),
        "page": reply.page,
        "lang": lang,
    }


def fit(value: str, limit: int) -> str:
    """`value` within `limit` characters: cut at a word boundary when one is near, with an ellipsis."""
    value = " ".join(value.split())
    if len(value) <= limit:
        return value
    cut = value[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space >= limit // 2 else cut).rstrip(" ,.-—") + "…"


def content_types(interactive: dict[str, Any]) -> dict[str, Any]:
    """The Content API `types` for a described message: buttons, a list, or a page of a long list."""
    choices: list[dict[str, str]] = interactive["choices"]
    body = interactive["body"][:BODY]
    lang = interactive.get("lang") or "ar"
    if len(choices) <= MAX_BUTTONS and not any(c.get("description") for c in choices):
        actions = [{"id": c["id"], "title": fit(c["title"], BUTTON_TITLE)} for c in choices]
        return {"twilio/quick-reply": {"body": body, "actions": actions}}
    rows, numbered = choices, list(enumerate(choices, start=1))
    if len(choices) > MAX_ROWS:
        pages = (len(choices) + PAGE_ROWS - 1) // PAGE_ROWS
        page = int(interactive.get("page") or 0) % pages
        numbered = numbered[page * PAGE_ROWS : (page + 1) * PAGE_ROWS]
        more = {"id": flow.MORE, "title": t("choice_more", lang), "description": f"{page + 1}/{pages}"}
        rows = [c for _, c in numbered] + [more]
    items = [
        {
            "id": c["id"],
            "item": fit(c["title"], ROW_TITLE),
            **({"description": fit(c["description"], ROW_DESCRIPTION)} if c.get("description") else {}),
        }
        for c in rows
    ]
    button = fit(t("list_button", lang), LIST_BUTTON)
    # twilio/text: the same step as numbered text, for a channel without lists (numbers as the flow reads them)
    listed = "\n".join(f"{n}. {c['title']}" for n, c in numbered)
    return {
        "twilio/list-picker": {"body": body, "button": button, "items": items},
        "twilio/text": {"body": f"{body}\n{listed}"[:BODY]},
    }


def _canonical(language: str, types: dict[str, Any], variables: dict[str, str]) -> str:
    return json.dumps(
        {"language": language, "types": types, "variables": variables},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )


async def content_sid(
    db: Database,
    api: TwilioContent,
    *,
    restaurant_id: str,
    account_sid: str,
    auth_token: str,
    interactive: dict[str, Any],
) -> str:
    """The SID of the content showing `interactive`, created at Twilio only the first time (TwilioError
    from the Content API when it can't be created). Opens its own short transaction: the create is a
    network call, and concurrent senders of the same content wait on one advisory lock for it."""
    language = interactive.get("lang") or "ar"
    types = content_types(interactive)
    samples = {key: SAMPLE_NAME for key in interactive.get("variables") or {}}
    digest = hashlib.sha256(_canonical(language, types, samples).encode()).hexdigest()
    cached = select(col(InteractiveContent.content_sid)).where(
        col(InteractiveContent.restaurant_id) == restaurant_id,
        col(InteractiveContent.account_sid) == account_sid,
        col(InteractiveContent.content_hash) == digest,
    )
    async with db.session() as session:
        if sid := await session.scalar(cached):
            return sid
        await session.execute(_LOCK, {"r": restaurant_id, "a": account_sid, "h": digest})
        if sid := await session.scalar(cached):  # created while we waited for the lock
            return sid
        created = await api.create(
            account_sid=account_sid,
            auth_token=auth_token,
            friendly_name=f"{NAME_PREFIX}{digest[:16]}",
            language=language,
            types=types,
            variables=samples,
        )
        row = insert(InteractiveContent).values(
            restaurant_id=restaurant_id,
            account_sid=account_sid,
            content_hash=digest,
            content_sid=created.sid,
            content_type=next(iter(types)),
        )
        await session.execute(row.on_conflict_do_nothing())
        sid = await session.scalar(cached)
        await session.commit()
        return sid or created.sid


async def forget(db: Database, *, restaurant_id: str, account_sid: str, content_sid: str) -> None:
    """Drop a cached content Twilio no longer accepts (deleted at Twilio): the next use creates it anew."""
    async with db.session() as session:
        await session.execute(
            delete(InteractiveContent).where(
                col(InteractiveContent.restaurant_id) == restaurant_id,
                col(InteractiveContent.account_sid) == account_sid,
                col(InteractiveContent.content_sid) == content_sid,
            )
        )
        await session.commit()

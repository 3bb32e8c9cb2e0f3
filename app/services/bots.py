"""Bots: a restaurant's WhatsApp senders (Twilio numbers) and their Twilio credentials.

A sender may also be registered without a restaurant (a shared sender, `UnlinkedSender`) and linked
to one later: `link` moves it into `bot`, keeping its id. Ids and numbers are unique across both
tables; the writes that could break that take one advisory lock (`_lock_registry`), admin-rare.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.crypto import SecretBox
from app.errors import Conflict, NotFound, ValidationFailed
from app.ids import new_id
from app.models import BOT_STATUSES, Bot, UnlinkedSender
from app.phone import to_e164
from app.realtime import events
from app.realtime.events import Change


@dataclass(frozen=True, kw_only=True)
class BotChanges:
    """Writable bot fields; None means "leave as it is" (or the default, on create)."""

    name: str | None = None
    restaurant_name: str | None = None
    whatsapp_number: str | None = None
    account_sid: str | None = None
    auth_token: str | None = None  # write-only: stored encrypted, never returned
    subaccount_sid: str | None = None
    sender_sid: str | None = None
    waba_id: str | None = None
    status: str | None = None
    is_active: bool | None = None
    support_contact: str | None = None
    payment_link: str | None = None
    max_messages_per_min: int | None = None
    max_messages_per_day: int | None = None

    def columns(self, box: SecretBox) -> dict[str, Any]:
        """Validated column values for the fields that were given."""
        values: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, str) and f.name not in ("auth_token",):
                value = value.strip()
            if f.name in ("name", "restaurant_name", "account_sid", "auth_token") and not value:
                raise ValidationFailed(f"{_camel(f.name)} must not be empty", field=_camel(f.name))
            if f.name == "whatsapp_number":
                value = to_e164(value)
            if f.name == "status" and value not in BOT_STATUSES:
                raise ValidationFailed(f"status must be one of {', '.join(BOT_STATUSES)}", field="status")
            if f.name.startswith("max_messages") and not (isinstance(value, int) and 1 <= value <= 1_000_000):
                raise ValidationFailed(
                    f"{_camel(f.name)} must be a whole number from 1 to 1000000", field=_camel(f.name)
                )
            if f.name == "auth_token":
                values["auth_token_encrypted"] = box.encrypt(value)
                continue
            values[f.name] = value
        return values


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


REQUIRED_ON_CREATE = ("name", "restaurant_name", "whatsapp_number", "account_sid", "auth_token")


SENDER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _required(changes: BotChanges) -> None:
    for name in REQUIRED_ON_CREATE:
        if getattr(changes, name) is None:
            raise ValidationFailed(f"{_camel(name)} is required", field=_camel(name))


async def _lock_registry(session: AsyncSession) -> None:
    """Serialize the writes that pick a sender id or number (until the transaction ends)."""
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext("sufrah_sender_registry"))))


async def _check_free(
    session: AsyncSession,
    *,
    number: str | None = None,
    sender_id: str | None = None,
    owner: str | None = None,
) -> None:
    """Conflict when another sender (`owner` is the one being changed) has `number` or `sender_id`."""
    if number is not None:
        live = [col(Bot.whatsapp_number) == number, col(Bot.deleted_at).is_(None)]
        waiting = [col(UnlinkedSender.whatsapp_number) == number]
        if owner is not None:
            live.append(col(Bot.id) != owner)
            waiting.append(col(UnlinkedSender.id) != owner)
        taken = await session.scalar(select(func.count()).select_from(Bot).where(*live))
        taken = taken or await session.scalar(
            select(func.count()).select_from(UnlinkedSender).where(*waiting)
        )
        if taken:
            raise Conflict("this WhatsApp number is already registered")
    if sender_id is not None:
        if not SENDER_ID.fullmatch(sender_id):
            raise ValidationFailed("id may hold 1-64 letters, digits, _ and -", field="id")
        if await session.scalar(select(col(Bot.id)).where(col(Bot.id) == sender_id)) or await get_unlinked(
            session, sender_id=sender_id
        ):
            raise Conflict("a sender with this id is already registered")


async def register(
    session: AsyncSession,
    *,
    restaurant_id: str,
    changes: BotChanges,
    box: SecretBox,
    bot_id: str | None = None,
) -> Bot:
    """Register a WhatsApp sender for a restaurant (`bot_id`: keep an id from another system).
    Conflict when the number or the id is already registered."""
    _required(changes)
    values = changes.columns(box)
    await _lock_registry(session)
    await _check_free(session, number=values["whatsapp_number"], sender_id=bot_id)
    bot = Bot(id=bot_id or new_id("bot"), restaurant_id=restaurant_id, **values)
    try:
        async with session.begin_nested():
            session.add(bot)
    except IntegrityError as exc:
        raise _conflict(exc) from exc
    await session.refresh(bot)
    await _changed(session, bot)
    return bot


async def update_bot(
    session: AsyncSession, *, restaurant_id: str | None, bot_id: str, changes: BotChanges, box: SecretBox
) -> Bot:
    """Change a bot. `restaurant_id=None` only for admins, who address bots by id alone."""
    values = changes.columns(box)
    if "whatsapp_number" in values:
        await _lock_registry(session)
        await _check_free(session, number=values["whatsapp_number"], owner=bot_id)
    stmt = update(Bot).where(col(Bot.id) == bot_id, col(Bot.deleted_at).is_(None))
    if restaurant_id is not None:
        stmt = stmt.where(col(Bot.restaurant_id) == restaurant_id)
    try:
        async with session.begin_nested():
            row = (
                await session.execute(stmt.values(**values, updated_at=func.now()).returning(Bot))
            ).scalar_one_or_none()
    except IntegrityError as exc:
        raise _conflict(exc) from exc
    if row is None:
        raise NotFound("bot not found")
    await _changed(session, row)
    return row


async def _changed(session: AsyncSession, bot: Bot) -> None:
    await events.record(
        session, restaurant_id=bot.restaurant_id, changes=[Change(events.BOT_UPDATED, bot.id)]
    )


def _conflict(exc: IntegrityError) -> Exception:
    if "bot_whatsapp_number_live_key" in str(exc.orig):
        return Conflict("this WhatsApp number is already registered")
    return exc


async def get(session: AsyncSession, *, restaurant_id: str | None, bot_id: str) -> Bot:
    """A live bot; `restaurant_id=None` only for admins."""
    stmt = select(Bot).where(col(Bot.id) == bot_id, col(Bot.deleted_at).is_(None))
    if restaurant_id is not None:
        stmt = stmt.where(col(Bot.restaurant_id) == restaurant_id)
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound("bot not found")
    return row


async def list_for(session: AsyncSession, *, restaurant_id: str | None) -> list[Bot]:
    """The live bots of a restaurant, or of every restaurant when `restaurant_id` is None (admins)."""
    stmt = select(Bot).where(col(Bot.deleted_at).is_(None)).order_by(col(Bot.created_at), col(Bot.id))
    if restaurant_id is not None:
        stmt = stmt.where(col(Bot.restaurant_id) == restaurant_id)
    return list((await session.execute(stmt)).scalars())


async def delete(session: AsyncSession, *, restaurant_id: str | None, bot_id: str) -> None:
    """Retire a bot. Its conversations and messages stay; its number may be registered again."""
    stmt = update(Bot).where(col(Bot.id) == bot_id, col(Bot.deleted_at).is_(None))
    if restaurant_id is not None:
        stmt = stmt.where(col(Bot.restaurant_id) == restaurant_id)
    row = (
        await session.execute(
            stmt.values(deleted_at=func.now(), is_active=False, updated_at=func.now()).returning(Bot)
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("bot not found")
    await _changed(session, row)


async def get_many(session: AsyncSession, *, restaurant_id: str, ids: list[str]) -> dict[str, Bot]:
    """Bots by id, deleted ones included (an old conversation still names its sender)."""
    stmt = select(Bot).where(col(Bot.restaurant_id) == restaurant_id, col(Bot.id).in_(ids))
    return {row.id: row for row in (await session.execute(stmt)).scalars()}


async def find_by_number(session: AsyncSession, *, whatsapp_number: str) -> Bot | None:
    """Route a webhook: the live bot that owns a number. The one lookup made before the tenant is known."""
    try:
        number = to_e164(whatsapp_number)
    except ValidationFailed:
        return None
    stmt = select(Bot).where(col(Bot.whatsapp_number) == number, col(Bot.deleted_at).is_(None))
    return (await session.execute(stmt)).scalar_one_or_none()


async def sender_for(session: AsyncSession, *, from_number: str | None, default_number: str | None) -> Bot:
    """The live sender an external send (/api/whatsapp/send) leaves from: the one with `from_number`,
    else the one with `default_number` (WHATSAPP_SEND_FROM), else the only live sender there is.
    NotFound for a number no live sender has (a shared sender not yet linked has no restaurant to send
    for); ValidationFailed when several senders leave the choice open."""
    number = from_number or default_number
    if number is not None:
        bot = await find_by_number(session, whatsapp_number=number)
        if bot is None:
            raise NotFound(f"no sender has the number {number}")
        return bot
    live = list((await session.execute(select(Bot).where(col(Bot.deleted_at).is_(None)).limit(2))).scalars())
    if len(live) != 1:
        raise ValidationFailed(
            "fromNumber is required: there is no single sender to default to", field="fromNumber"
        )
    return live[0]


# -- shared senders (admins only: no restaurant yet) -----------------------------------------------


async def register_unlinked(
    session: AsyncSession, *, changes: BotChanges, box: SecretBox, sender_id: str | None = None
) -> UnlinkedSender:
    """Register a sender without a restaurant, to be linked later. Conflict like `register`."""
    _required(changes)
    values = changes.columns(box)
    await _lock_registry(session)
    await _check_free(session, number=values["whatsapp_number"], sender_id=sender_id)
    sender = UnlinkedSender(id=sender_id or new_id("bot"), **values)
    session.add(sender)
    await session.flush()
    await session.refresh(sender)
    return sender


async def get_unlinked(session: AsyncSession, *, sender_id: str) -> UnlinkedSender | None:
    """A shared sender by id, or None."""
    stmt = select(UnlinkedSender).where(col(UnlinkedSender.id) == sender_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_unlinked(session: AsyncSession) -> list[UnlinkedSender]:
    """Every shared sender, oldest first."""
    stmt = select(UnlinkedSender).order_by(col(UnlinkedSender.created_at), col(UnlinkedSender.id))
    return list((await session.execute(stmt)).scalars())


async def update_unlinked(
    session: AsyncSession, *, sender_id: str, changes: BotChanges, box: SecretBox
) -> UnlinkedSender:
    """Change a shared sender's fields. NotFound when there is none with this id."""
    values = changes.columns(box)
    if "whatsapp_number" in values:
        await _lock_registry(session)
        await _check_free(session, number=values["whatsapp_number"], owner=sender_id)
    row = (
        await session.execute(
            update(UnlinkedSender)
            .where(col(UnlinkedSender.id) == sender_id)
            .values(**values, updated_at=func.now())
            .returning(UnlinkedSender)
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("bot not found")
    return row


async def link(
    session: AsyncSession, *, restaurant_id: str, sender_id: str, changes: BotChanges, box: SecretBox
) -> Bot:
    """Link a shared sender to a restaurant: it becomes the restaurant's bot with the same id, its
    other `changes` applied, in the caller's transaction. NotFound when there is no such sender."""
    values = changes.columns(box)
    await _lock_registry(session)
    row = (
        await session.execute(
            sql_delete(UnlinkedSender).where(col(UnlinkedSender.id) == sender_id).returning(UnlinkedSender)
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("bot not found")
    kept = {c: getattr(row, c) for c in _SENDER_COLUMNS}
    if "whatsapp_number" in values:
        await _check_free(session, number=values["whatsapp_number"], owner=sender_id)
    bot = Bot(restaurant_id=restaurant_id, id=row.id, **(kept | values), created_at=row.created_at)
    session.add(bot)
    await session.flush()
    await session.refresh(bot)
    await _changed(session, bot)
    return bot


async def delete_unlinked(session: AsyncSession, *, sender_id: str) -> bool:
    """Remove a shared sender (nothing refers to it); False when there is none with this id."""
    result = await session.execute(
        sql_delete(UnlinkedSender)
        .where(col(UnlinkedSender.id) == sender_id)
        .returning(col(UnlinkedSender.id))
    )
    return result.scalar_one_or_none() is not None


_SENDER_COLUMNS = [f.name for f in fields(BotChanges) if f.name != "auth_token"] + ["auth_token_encrypted"]

"""Bots: a restaurant's WhatsApp senders (Twilio numbers) and their Twilio credentials."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.crypto import SecretBox
from app.errors import Conflict, NotFound, ValidationFailed
from app.ids import new_id
from app.models import BOT_STATUSES, Bot
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


async def register(session: AsyncSession, *, restaurant_id: str, changes: BotChanges, box: SecretBox) -> Bot:
    """Register a WhatsApp sender for a restaurant. Conflict when the number is already registered."""
    for name in REQUIRED_ON_CREATE:
        if getattr(changes, name) is None:
            raise ValidationFailed(f"{_camel(name)} is required", field=_camel(name))
    bot = Bot(id=new_id("bot"), restaurant_id=restaurant_id, **changes.columns(box))
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

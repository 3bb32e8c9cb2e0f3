"""Receiving what Twilio delivers: inbound messages (idempotent by MessageSid) and delivery statuses.

The webhook edge (app/rest/webhooks.py) reads the form and hands it here; `receive` and
`receive_status` route, verify, store (or spool) and log, and answer with an `Outcome` the edge maps
to its HTTP answer. They take no `restaurant_id`: the tenant isn't known until the number a message
was sent to has named its bot (bots.find_by_number, or the directory).

Routing: the bot directory (app/spool.py) routes without a database round trip while its route for
the number is current (read since the last bot change was notified) and the signature checks out
against it; otherwise the database routes, and the directory remembers. A cached bot that turns out
to be gone (deleted just now, its number maybe moved to a new bot before this process heard of it)
is routed again through the database, never answered "unknown" from the cache alone: Twilio does
not redeliver.

When the database is unreachable, a webhook whose signature checks out against the directory's
snapshot is spooled to local disk (`Outcome.SPOOLED`) and replayed by `keep_spool` once the
database is back; one for a number the snapshot doesn't know raises `Unreachable` (503).

What a refusal logs comes from the caller: it is escaped, and at most a few lines a minute per kind
are written (app/logs.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, case, func, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped
from sqlmodel import col

from app.auth.crypto import SecretBox
from app.channels.twilio.inbound import InboundMessage, StatusCallback, parse_inbound, parse_status
from app.channels.twilio.signature import is_valid
from app.db.engine import Database, on_driver
from app.errors import NotFound
from app.ids import new_id
from app.logs import Throttled, untrusted
from app.models import Message
from app.realtime import events
from app.realtime.events import Change
from app.services import bots, media
from app.spool import BotDirectory, Spool, Spooled, database_unavailable

log = logging.getLogger("sufrah.webhooks")
_log = Throttled(log)  # every line about a webhook: the caller chooses how many there are
_upkeep_log = logging.getLogger("sufrah")

# How far along a delivery status is. A callback may only move a message forward, so a late or
# duplicated "sent" never overwrites "delivered", and "read" is final.
STATUS_RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 0,
    "sending": 1,
    "sent": 2,
    "failed": 3,
    "undelivered": 3,
    "canceled": 3,
    "delivered": 4,
    "read": 5,
}


@dataclass(frozen=True, slots=True)
class Ingested:
    created: bool  # False when this MessageSid was already stored (a redelivery)
    restaurant_id: str
    conversation_id: str
    message_id: str | None


# One round trip (the SQL function from migration 0004_ingest_function):
# - the conversation is found or created by (restaurant, bot, customer) with one upsert, so two
#   first messages arriving at once make one conversation;
# - the message insert is a no-op when the MessageSid is already stored, and only a new message moves
#   the conversation's counters (in SQL, never read-modify-written) and appends to the event log.
_ARGUMENTS = (
    "r",
    "b",
    "conversation_id",
    "message_id",
    "phone",
    "name",
    "kind",
    "content",
    "media",
    "sid",
    "meta",
)
_JSONB = {"media", "meta"}
_INGEST_CALL = "SELECT conversation_id, message_id, bot_live FROM sufrah_ingest({})"
_INGEST = text(
    _INGEST_CALL.format(", ".join(f"CAST(:{a} AS jsonb)" if a in _JSONB else f":{a}" for a in _ARGUMENTS))
)
# the same call for asyncpg itself (the webhook's path)
_INGEST_DRIVER = _INGEST_CALL.format(
    ", ".join(f"${i}::jsonb" if a in _JSONB else f"${i}::text" for i, a in enumerate(_ARGUMENTS, 1))
)


def _params(restaurant_id: str, bot_id: str, inbound: InboundMessage) -> dict[str, object]:
    return {
        "r": restaurant_id,
        "b": bot_id,
        "conversation_id": new_id("cnv"),
        "message_id": new_id("msg"),
        "phone": inbound.from_phone,
        "name": inbound.profile_name,
        "kind": inbound.message_type,
        "content": inbound.body,
        "media": json.dumps([url for url, _ in inbound.media]),
        "sid": inbound.message_sid,
        "meta": json.dumps(inbound.metadata(), ensure_ascii=False),
    }


def _result(restaurant_id: str, row: Mapping[Any, Any]) -> Ingested:
    if not row["bot_live"]:
        raise NotFound("no bot is registered for this number")
    return Ingested(row["message_id"] is not None, restaurant_id, row["conversation_id"], row["message_id"])


async def ingest(
    session: AsyncSession, *, restaurant_id: str, bot_id: str, inbound: InboundMessage
) -> Ingested:
    """Store one inbound message in the caller's transaction. Safe under redelivery and races."""
    result = _result(
        restaurant_id,
        (await session.execute(_INGEST, _params(restaurant_id, bot_id, inbound))).one()._mapping,
    )
    if result.created:
        session.info.setdefault(events.TOUCHED, set()).add(restaurant_id)
        if inbound.media:  # its attachments' download jobs, in the message's transaction
            await media.record_inbound(
                session, restaurant_id=restaurant_id, message_id=result.message_id or "", media=inbound.media
            )
    return result


async def ingest_now(db: Database, *, restaurant_id: str, bot_id: str, inbound: InboundMessage) -> Ingested:
    """The webhook's hot path: the same, as one autocommitted statement (one round trip); a message
    with attachments takes a transaction, so its media rows commit with it."""
    if inbound.media:
        async with db.session() as session:
            result = await ingest(session, restaurant_id=restaurant_id, bot_id=bot_id, inbound=inbound)
            await session.commit()
        return result
    params = _params(restaurant_id, bot_id, inbound)
    async with db.engine.connect() as conn:
        row = await on_driver(
            conn, lambda driver: driver.fetchrow(_INGEST_DRIVER, *(params[a] for a in _ARGUMENTS))
        )
    result = _result(restaurant_id, row)
    if result.created:
        db.committed({restaurant_id})
    return result


async def apply_spooled(db: Database, *, entry: Spooled) -> None:
    """Apply a webhook kept in the outage spool (app/spool.py), in a transaction of its own. Safe to
    repeat (MessageSid keys inbound messages, statuses only move forward); raises NotFound when its
    bot is gone and ValidationFailed when it doesn't parse: the spool keeps such an entry aside."""
    async with db.session() as session:
        if entry.kind == "inbound":
            await ingest(
                session,
                restaurant_id=entry.restaurant_id,
                bot_id=entry.bot_id,
                inbound=parse_inbound(entry.params),
            )
        else:
            await apply_status(
                session,
                restaurant_id=entry.restaurant_id,
                callback=parse_status(entry.params),
                message_id=entry.query.get("m"),
            )
        await session.commit()


def _rank(column: Mapped[str | None]) -> ColumnElement[int]:
    return case(*((column == status, rank) for status, rank in STATUS_RANK.items()), else_=-1)


async def apply_status(
    session: AsyncSession, *, restaurant_id: str, callback: StatusCallback, message_id: str | None = None
) -> Message | None:
    """Record a delivery status on the outbound message it names, if that moves it forward.

    `message_id` is our id, carried in the status callback URL: it links a message whose send
    outcome we never learned (a timeout, a crash mid-send) to the waSid Twilio gave it, so the
    outbox knows Twilio has it and never sends it again.
    Returns the updated message, or None when nothing changed (unknown sid, duplicate, stale)."""
    if message_id:
        await session.execute(
            update(Message)
            .where(
                col(Message.restaurant_id) == restaurant_id,
                col(Message.id) == message_id,
                col(Message.direction) == "OUT",
                col(Message.wa_sid).is_(None),
            )
            .values(
                wa_sid=callback.message_sid,
                send_state="sent",
                sent_at=func.coalesce(Message.sent_at, func.now()),
                next_attempt_at=None,
                error_message=None,
            )
        )
    if callback.status not in STATUS_RANK:
        return None
    values: dict[str, object] = {"delivery_status": callback.status, "updated_at": func.now()}
    if callback.error_code:
        values["error_code"] = callback.error_code
    if callback.error_message:
        values["error_message"] = callback.error_message
    result = await session.execute(
        update(Message)
        .where(
            col(Message.restaurant_id) == restaurant_id,
            col(Message.wa_sid) == callback.message_sid,
            col(Message.direction) == "OUT",
            _rank(col(Message.delivery_status)) < STATUS_RANK[callback.status],
        )
        .values(**values)
        .returning(Message)
    )
    message = result.scalar_one_or_none()
    if message is not None:
        await events.record(
            session,
            restaurant_id=restaurant_id,
            changes=[Change(events.MESSAGE_UPDATED, message.id, message.conversation_id)],
        )
    return message


# -- receiving a webhook ---------------------------------------------------------------------------


class Outcome(enum.StrEnum):
    """What became of one webhook (the edge's answer, and what an operator counts)."""

    STORED = "stored"  # a new message stored, or a status that moved a message forward
    DUPLICATE = "duplicate"  # already stored (a redelivery); for a status: it changed nothing
    UNKNOWN_NUMBER = "unknown_number"  # no live bot has the number
    BAD_SIGNATURE = "bad_signature"  # X-Twilio-Signature doesn't verify against the bot's auth token
    SPOOLED = "spooled"  # the database is away: kept on local disk, replayed when it is back


class Unreachable(Exception):
    """The database can't be reached and the webhook can't be kept for later: its number isn't in the
    bot directory's snapshot, so its signature can't be checked. The edge answers 503."""


@dataclass(frozen=True, slots=True)
class Webhook:
    """One Twilio POST as the edge read it; `url` is the public URL Twilio signed (behind any proxy)."""

    params: dict[str, str]
    query: dict[str, str]
    url: str
    signature: str | None


def _signed(box: SecretBox, webhook: Webhook, auth_token_encrypted: str) -> bool:
    try:
        auth_token = box.decrypt(auth_token_encrypted)
    except ValueError:
        _log.error("a bot's auth token is unreadable under this SECRET_KEY")
        return False
    return is_valid(
        url=webhook.url, params=webhook.params, signature=webhook.signature, auth_token=auth_token
    )


async def receive(
    *,
    db: Database,
    directory: BotDirectory,
    spool: Spool,
    box: SecretBox,
    webhook: Webhook,
    message: InboundMessage,
) -> Outcome:
    """Route, verify and store (or spool) one customer message; raises Unreachable (see Outcome)."""
    try:
        result = None
        route = directory.get(message.to_phone)  # current: no database round trip
        if route is not None and _signed(box, webhook, route.auth_token_encrypted):
            # NotFound: the bot is gone since it was read; the database knows where its number went
            with contextlib.suppress(NotFound):
                result = await ingest_now(
                    db, restaurant_id=route.restaurant_id, bot_id=route.bot_id, inbound=message
                )
        if result is None:
            generation = directory.generation
            async with db.session() as session:
                bot = await bots.find_by_number(session, whatsapp_number=message.to_phone)
            if bot is None:
                directory.forget(message.to_phone)
                _log.warning(
                    "inbound message for unknown number %s (MessageSid %s)",
                    untrusted(message.to_phone),
                    untrusted(message.message_sid),
                )
                return Outcome.UNKNOWN_NUMBER
            if not _signed(box, webhook, bot.auth_token_encrypted):
                _log.warning("bad signature on inbound message for bot %s", bot.id)
                return Outcome.BAD_SIGNATURE
            route = directory.remember(bot, generation=generation)
            result = await ingest_now(
                db, restaurant_id=route.restaurant_id, bot_id=route.bot_id, inbound=message
            )
    except NotFound:  # deleted between the lookup and the insert
        directory.forget(message.to_phone)
        return Outcome.UNKNOWN_NUMBER
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        return await _keep(directory, spool, box, webhook, kind="inbound", number=message.to_phone)
    if not result.created:
        _log.info("duplicate delivery of %s ignored", untrusted(message.message_sid))
        return Outcome.DUPLICATE
    return Outcome.STORED


async def receive_status(
    *,
    db: Database,
    directory: BotDirectory,
    spool: Spool,
    box: SecretBox,
    webhook: Webhook,
    callback: StatusCallback,
) -> Outcome:
    """Route, verify and apply (or spool) one delivery status callback; raises Unreachable."""
    try:
        async with db.session() as session:
            bot = None
            for number in (callback.from_phone, callback.to_phone):
                if number and bot is None:
                    bot = await bots.find_by_number(session, whatsapp_number=number)
            if bot is None:
                _log.warning(
                    "status callback for unknown numbers (MessageSid %s)", untrusted(callback.message_sid)
                )
                return Outcome.UNKNOWN_NUMBER
            if not _signed(box, webhook, bot.auth_token_encrypted):
                return Outcome.BAD_SIGNATURE
            updated = await apply_status(
                session, restaurant_id=bot.restaurant_id, callback=callback, message_id=webhook.query.get("m")
            )
            await session.commit()
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        return await _keep(directory, spool, box, webhook, kind="status", number=callback.from_phone or "")
    if updated is None:
        _log.info(
            "status %s for %s changed nothing", untrusted(callback.status), untrusted(callback.message_sid)
        )
        return Outcome.DUPLICATE
    return Outcome.STORED


async def _keep(
    directory: BotDirectory, spool: Spool, box: SecretBox, webhook: Webhook, *, kind: str, number: str
) -> Outcome:
    """The database is away: keep a correctly signed webhook on local disk, to be acknowledged."""
    route = directory.snapshot(number)
    if route is None:
        _log.error(
            "database unavailable and %s is not in the local bot directory: answering 503", untrusted(number)
        )
        raise Unreachable(number)
    if not _signed(box, webhook, route.auth_token_encrypted):
        return Outcome.BAD_SIGNATURE
    await spool.append(
        Spooled(
            kind=kind,
            restaurant_id=route.restaurant_id,
            bot_id=route.bot_id,
            params=webhook.params,
            query=webhook.query,
            received_at=time.time(),
        )
    )
    _log.warning(
        "database unavailable: %s webhook %s spooled", kind, untrusted(webhook.params.get("MessageSid"))
    )
    return Outcome.SPOOLED


async def keep_spool(
    *, db: Database, directory: BotDirectory, spool: Spool, interval: float = 1.0, refresh_every: float = 30.0
) -> None:
    """Run for the process's lifetime: keep the bot directory fresh (soon after a bot changes, and
    every `refresh_every` seconds anyway), and replay spooled webhooks once the database is back."""
    last_refresh = float("-inf")
    failing = False
    while True:
        failed: Exception | None = None
        try:
            if directory.stale or time.monotonic() - last_refresh > refresh_every:
                last_refresh = time.monotonic()
                await directory.refresh(db)
        except Exception as exc:  # noqa: BLE001  (the replay below finds out whether the database is back)
            failed = exc
        try:
            if spool.has_work():
                replayed = await spool.replay(lambda entry: apply_spooled(db, entry=entry))
                if replayed:
                    _upkeep_log.warning("replayed %d spooled webhooks into the database", replayed)
        except Exception as exc:  # noqa: BLE001  (logged once below; retried on the next round)
            failed = exc
        if failed is not None and not failing:
            _upkeep_log.warning("spool upkeep failed (%s); retrying", type(failed).__name__)
        failing = failed is not None
        await asyncio.sleep(interval)

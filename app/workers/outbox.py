"""The outbox: sends queued outgoing messages through Twilio, with retries, rate limits, and no
duplicates.

    pending ──claim──► sending ──Twilio 201──► sent (waSid stored; status callbacks take it on)
       ▲                 │ 429 / 5xx / refused connection: back to pending after a backoff,
       │                 │   failed after MAX_ATTEMPTS (the error is shown to staff)
       │                 │ other 4xx: failed at once (e.g. outside WhatsApp's window)
       │                 └ timeout / dropped connection: unknown (Twilio may have it)
       └──── after GRACE, unless a status callback for it arrived ───────────┘

A claim is a lease (`next_attempt_at` moves LEASE ahead): a process that dies mid-send leaves the
message `sending`, and it is picked up again only after the lease, like an unknown outcome. Every
send carries a status callback URL naming our message id, so a message Twilio did accept is linked
to its waSid by the first callback and never sent again.

A bot message with choices (meta["interactive"]) goes as its cached Content API content (ContentSid
+ ContentVariables), created here on first use (app/services/interactive.py). When the Content API
fails, or the Messages API refuses that content, the same message goes out at once as its numbered
text (Body): the customer is never left without an answer because buttons could not be made.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.crypto import SecretBox
from app.channels.twilio.content import TwilioContent
from app.channels.twilio.sender import (
    SendResult,
    TwilioError,
    TwilioRejectedError,
    TwilioRetryableError,
    TwilioSender,
)
from app.db.engine import Database
from app.models import Bot, Conversation, Message
from app.realtime import events
from app.realtime.events import Change
from app.services import interactive

log = logging.getLogger("sufrah.outbox")

MAX_ATTEMPTS = 6
# Twilio's refusals of a content itself, not of the message: an invalid ContentSid, its variables
_INVALID_CONTENT_SID = 21655
_CONTENT_REFUSED = (_INVALID_CONTENT_SID, 21656)
LEASE = timedelta(seconds=60)

_CLAIM = text(
    """
    UPDATE message SET send_state = 'sending', send_attempts = send_attempts + 1,
                       next_attempt_at = now() + make_interval(secs => :lease)
    WHERE (restaurant_id, id) IN (
        SELECT restaurant_id, id FROM message
        WHERE send_state IN ('pending', 'sending', 'unknown') AND next_attempt_at <= now()
        ORDER BY next_attempt_at, created_at
        LIMIT :n
        FOR UPDATE SKIP LOCKED
    )
    RETURNING restaurant_id, id
    """
)
_SENT_SINCE = text(
    """
    SELECT count(*) FILTER (WHERE sent_at > now() - interval '1 minute'),
           count(*),
           min(sent_at) FILTER (WHERE sent_at > now() - interval '1 minute'),
           min(sent_at)
    FROM message
    WHERE restaurant_id = :r AND bot_id = :b AND sent_at > now() - interval '1 day'
    """
)


@dataclass(frozen=True, slots=True)
class _Job:
    message: Message
    conversation: Conversation
    bot: Bot


class Outbox:
    def __init__(
        self,
        db: Database,
        *,
        sender: TwilioSender,
        box: SecretBox,
        public_base_url: str,
        base_delay: float = 2.0,
        grace: timedelta = timedelta(seconds=60),
    ) -> None:
        self.db = db
        self.sender = sender
        self.content = TwilioContent(sender)
        self.box = box
        self.public_base_url = public_base_url.rstrip("/")
        self.base_delay = base_delay
        self.grace = grace

    async def send_due(self, *, limit: int = 50) -> int:
        """Send every message that is due now; returns how many were claimed."""
        total = 0
        while True:
            jobs = await self._claim(limit)
            if not jobs:
                return total
            total += len(jobs)
            by_conversation: dict[tuple[str, str], list[_Job]] = defaultdict(list)
            for job in jobs:
                by_conversation[(job.message.restaurant_id, job.message.conversation_id)].append(job)
            # Conversations in parallel; each conversation's messages in the order they were written.
            await asyncio.gather(*(self._send_in_order(group) for group in by_conversation.values()))

    async def _claim(self, limit: int) -> list[_Job]:
        async with self.db.session() as session:
            keys = (await session.execute(_CLAIM, {"n": limit, "lease": LEASE.total_seconds()})).all()
            await session.commit()
            if not keys:
                return []
            # The claimed messages with their conversations and senders, in one query.
            rows = await session.execute(
                select(Message, Conversation, Bot)
                .join(
                    Conversation,
                    (col(Conversation.restaurant_id) == col(Message.restaurant_id))
                    & (col(Conversation.id) == col(Message.conversation_id)),
                )
                .join(
                    Bot,
                    (col(Bot.restaurant_id) == col(Message.restaurant_id))
                    & (col(Bot.id) == func.coalesce(col(Message.bot_id), col(Conversation.bot_id))),
                )
                .where(tuple_(col(Message.restaurant_id), col(Message.id)).in_([tuple(k) for k in keys]))
                .order_by(col(Message.created_at), col(Message.id))
            )
            return [_Job(message, conversation, bot) for message, conversation, bot in rows]

    async def _send_in_order(self, jobs: list[_Job]) -> None:
        for job in jobs:
            try:
                await self._send(job)
            except Exception:  # one bad message must not stop the others
                log.exception("outbox: unexpected error sending %s", job.message.id)

    async def _send(self, job: _Job) -> None:
        message, bot = job.message, job.bot
        if bot.deleted_at is not None:
            await self._finish(message, state="failed", error="the sender was removed", code=None)
            return
        async with self.db.session() as session:
            wait = await self._rate_limited(session, bot)
        if wait is not None:
            await self._reschedule(message, delay=wait, state="pending", count_attempt=False)
            return
        try:
            auth_token = self.box.decrypt(bot.auth_token_encrypted)
        except ValueError:
            await self._finish(
                message, state="failed", error="the sender's Twilio auth token can't be read", code=None
            )
            return
        account_sid = bot.subaccount_sid or bot.account_sid
        # a template goes as its ContentSid + variables; its rendered text is for the inbox
        content_sid = message.content_sid
        variables = message.content_variables if message.content_sid else None
        choices = (message.meta or {}).get("interactive")
        if content_sid is None and choices:
            try:
                content_sid = await interactive.content_sid(
                    self.db,
                    self.content,
                    restaurant_id=message.restaurant_id,
                    account_sid=account_sid,
                    auth_token=auth_token,
                    interactive=choices,
                )
                variables = choices.get("variables") or None
            except TwilioError as exc:
                log.warning("outbox: no interactive content for %s, sending text: %s", message.id, exc)
        try:
            try:
                result = await self._deliver(job, auth_token, content_sid, variables)
            except TwilioRejectedError as exc:
                if message.content_sid or content_sid is None or exc.code not in _CONTENT_REFUSED:
                    raise
                # Twilio refused our cached content (e.g. deleted there): forget it, send the text
                if exc.code == _INVALID_CONTENT_SID:
                    await interactive.forget(
                        self.db,
                        restaurant_id=message.restaurant_id,
                        account_sid=account_sid,
                        content_sid=content_sid,
                    )
                log.warning("outbox: content %s refused for %s, sending text", content_sid, message.id)
                content_sid = None
                result = await self._deliver(job, auth_token, None, None)
        except TwilioRejectedError as exc:
            await self._finish(
                message, state="failed", error=str(exc), code=str(exc.code) if exc.code else None
            )
        except TwilioRetryableError as exc:
            if exc.ambiguous:
                await self._reschedule(
                    message, delay=self.grace.total_seconds(), state="unknown", error=str(exc)
                )
            elif message.send_attempts >= MAX_ATTEMPTS:
                await self._finish(
                    message,
                    state="failed",
                    error=f"gave up after {message.send_attempts} attempts: {exc}",
                    code=str(exc.status) if exc.status else None,
                )
            else:
                delay = (
                    exc.retry_after if exc.retry_after is not None else self._backoff(message.send_attempts)
                )
                await self._reschedule(message, delay=delay, state="pending", error=str(exc))
        except TwilioError as exc:  # 2xx we could not read: Twilio may well have it
            await self._reschedule(message, delay=self.grace.total_seconds(), state="unknown", error=str(exc))
        else:
            await self._sent(
                message, sid=result.sid, status=result.status or "queued", content_sid=content_sid
            )

    async def _deliver(
        self, job: _Job, auth_token: str, content_sid: str | None, variables: dict[str, str] | None
    ) -> SendResult:
        message, bot = job.message, job.bot
        return await self.sender.send(
            account_sid=bot.subaccount_sid or bot.account_sid,
            auth_token=auth_token,
            from_=bot.whatsapp_number,
            to=job.conversation.customer_phone,
            body=None if content_sid else (message.content or None),
            media_url=message.media_urls[0] if message.media_urls else None,
            content_sid=content_sid,
            content_variables=variables if content_sid else None,
            status_callback=f"{self.public_base_url}/whatsapp/status?m={message.id}",
        )

    def _backoff(self, attempts: int) -> float:
        return min(self.base_delay * 2.0 ** max(attempts - 1, 0), 300.0)

    async def _rate_limited(self, session: AsyncSession, bot: Bot) -> float | None:
        """Seconds to wait before this sender may send again, or None. Queued, never dropped."""
        sent: tuple[int, int, datetime | None, datetime | None] = tuple(
            (await session.execute(_SENT_SINCE, {"r": bot.restaurant_id, "b": bot.id})).one()
        )
        per_minute, per_day, oldest_minute, oldest_day = sent
        now = (await session.execute(select(func.now()))).scalar_one()
        if per_day >= bot.max_messages_per_day and oldest_day is not None:
            return max((oldest_day + timedelta(days=1) - now).total_seconds(), 1.0)
        if per_minute >= bot.max_messages_per_min and oldest_minute is not None:
            return max((oldest_minute + timedelta(minutes=1) - now).total_seconds(), 0.5)
        return None

    async def _sent(self, message: Message, *, sid: str, status: str, content_sid: str | None) -> None:
        async with self.db.session() as session:
            row = (
                await session.execute(
                    update(Message)
                    .where(col(Message.restaurant_id) == message.restaurant_id, col(Message.id) == message.id)
                    .values(
                        send_state="sent",
                        sent_at=func.now(),
                        wa_sid=func.coalesce(col(Message.wa_sid), sid),
                        content_sid=content_sid,  # an interactive send's content; None: it went as text
                        # a status callback may have overtaken us: keep what it said
                        delivery_status=func.coalesce(
                            func.nullif(col(Message.delivery_status), "queued"), status
                        ),
                        error_message=None,
                        next_attempt_at=None,
                        updated_at=func.now(),
                    )
                    .returning(Message)
                )
            ).scalar_one()
            await self._publish(session, row)
            await session.commit()

    async def _reschedule(
        self,
        message: Message,
        *,
        delay: float,
        state: str,
        error: str | None = None,
        count_attempt: bool = True,
    ) -> None:
        async with self.db.session() as session:
            values: dict[str, object] = {
                "send_state": state,
                "next_attempt_at": func.now() + timedelta(seconds=delay),
                "updated_at": func.now(),
            }
            if error:
                values["error_message"] = error
            if not count_attempt:
                values["send_attempts"] = col(Message.send_attempts) - 1
            await session.execute(
                update(Message)
                .where(
                    col(Message.restaurant_id) == message.restaurant_id,
                    col(Message.id) == message.id,
                    col(Message.send_state) == "sending",
                )
                .values(**values)
            )
            await session.commit()

    async def _finish(self, message: Message, *, state: str, error: str, code: str | None) -> None:
        log.warning("outbox: message %s failed: %s", message.id, error)
        async with self.db.session() as session:
            row = (
                await session.execute(
                    update(Message)
                    .where(col(Message.restaurant_id) == message.restaurant_id, col(Message.id) == message.id)
                    .values(
                        send_state=state,
                        delivery_status="failed",
                        error_message=error,
                        error_code=code,
                        next_attempt_at=None,
                        updated_at=func.now(),
                    )
                    .returning(Message)
                )
            ).scalar_one()
            await self._publish(session, row)
            await session.commit()

    @staticmethod
    async def _publish(session: AsyncSession, row: Message) -> None:
        await events.record(
            session,
            restaurant_id=row.restaurant_id,
            changes=[Change(events.MESSAGE_UPDATED, row.id, row.conversation_id)],
        )

"""Media downloads: each inbound attachment fetched from Twilio into the media store, after the
webhook's commit, by any process.

    pending ──claim (lease)──► downloading ──200──► stored (the message shows our link)
       ▲                          │ 404 / 429 / 5xx / timeout: back to pending after a backoff,
       │                          │   failed after MAX_ATTEMPTS
       │                          └ foreign host, type not allowed, too large, other 4xx: failed
       └──── a process that dies mid-download: picked up again after the lease ────┘

A claim moves `next_attempt_at` LEASE ahead and counts an attempt, as the outbox does (app/workers/
outbox.py): rows are claimed FOR UPDATE SKIP LOCKED, so two processes never fetch the same file at
once. "Downloading" is not a state of its own: it is a pending row whose lease has not run out.
The account's credentials are decrypted only here, and only the Twilio seam (app/channels/twilio/
media.py) decides where they may go.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text

from app.auth.crypto import SecretBox
from app.channels.twilio.media import MediaRefused, MediaRetryable, TwilioMediaFetcher
from app.db.engine import Database
from app.media.store import MediaStore
from app.services import media
from app.workers.queue import drain

log = logging.getLogger("sufrah.media")

MAX_ATTEMPTS = 8  # with a 2 s base: about four minutes of 404s before giving up
LEASE = timedelta(seconds=120)

_CLAIM = text(
    """
    WITH due AS (
        SELECT restaurant_id, id FROM message_media
        WHERE state = 'pending' AND next_attempt_at <= now()
        ORDER BY next_attempt_at
        LIMIT :n
        FOR UPDATE SKIP LOCKED
    ), claimed AS (
        UPDATE message_media mm SET attempts = mm.attempts + 1,
                                    next_attempt_at = now() + make_interval(secs => :lease)
        FROM due WHERE (mm.restaurant_id, mm.id) = (due.restaurant_id, due.id)
        RETURNING mm.restaurant_id, mm.id, mm.message_id, mm.source_url, mm.content_type, mm.attempts
    )
    SELECT c.restaurant_id, c.id, c.source_url, c.content_type, c.attempts,
           b.account_sid, b.subaccount_sid, b.auth_token_encrypted
    FROM claimed c
    JOIN message m ON (m.restaurant_id, m.id) = (c.restaurant_id, c.message_id)
    JOIN conversation cv ON (cv.restaurant_id, cv.id) = (m.restaurant_id, m.conversation_id)
    JOIN bot b ON (b.restaurant_id, b.id) = (cv.restaurant_id, cv.bot_id)
    """
)


@dataclass(frozen=True, slots=True)
class _Job:
    restaurant_id: str
    media_id: str
    source_url: str
    content_type: str | None
    attempts: int
    account_sid: str
    auth_token_encrypted: str


class MediaDownloads:
    def __init__(
        self,
        db: Database,
        *,
        fetcher: TwilioMediaFetcher,
        store: MediaStore,
        box: SecretBox,
        base_delay: float = 2.0,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.db = db
        self.fetcher = fetcher
        self.store = store
        self.box = box
        self.base_delay = base_delay
        self.max_attempts = max_attempts

    async def download_due(self, *, limit: int = 10) -> int:
        """Download every attachment that is due now; returns how many were claimed."""
        return await drain(
            lambda: self._claim(limit),
            self._download,
            log=log,
            name=lambda job: f"the download of {job.media_id}",
            together=True,
        )

    async def _claim(self, limit: int) -> list[_Job]:
        async with self.db.session() as session:
            rows = (await session.execute(_CLAIM, {"n": limit, "lease": LEASE.total_seconds()})).all()
            await session.commit()
        return [
            _Job(
                restaurant_id=r.restaurant_id,
                media_id=r.id,
                source_url=r.source_url or "",
                content_type=r.content_type,
                attempts=r.attempts,
                account_sid=r.subaccount_sid or r.account_sid,
                auth_token_encrypted=r.auth_token_encrypted,
            )
            for r in rows
        ]

    async def _download(self, job: _Job) -> None:
        try:
            auth_token = self.box.decrypt(job.auth_token_encrypted)
        except ValueError:
            await self._failed(job, "the sender's Twilio auth token can't be read")
            return
        try:
            fetched = await self.fetcher.fetch(
                job.source_url,
                account_sid=job.account_sid,
                auth_token=auth_token,
                declared_type=job.content_type,
            )
        except MediaRefused as exc:
            await self._failed(job, str(exc))
            return
        except MediaRetryable as exc:
            if job.attempts >= self.max_attempts:
                await self._failed(job, f"gave up after {job.attempts} attempts: {exc}")
            else:
                async with self.db.session() as session:
                    await media.retry_later(
                        session,
                        restaurant_id=job.restaurant_id,
                        media_id=job.media_id,
                        delay=min(self.base_delay * 2 ** (job.attempts - 1), 300.0),
                        error=str(exc),
                    )
                    await session.commit()
            return
        key = media.storage_key(
            restaurant_id=job.restaurant_id, media_id=job.media_id, content_type=fetched.content_type
        )
        await self.store.put(key, fetched.data, content_type=fetched.content_type)
        async with self.db.session() as session:
            await media.mark_stored(
                session,
                restaurant_id=job.restaurant_id,
                media_id=job.media_id,
                content_type=fetched.content_type,
                size=len(fetched.data),
                key=key,
            )
            await session.commit()

    async def _failed(self, job: _Job, error: str) -> None:
        log.warning("media %s not downloaded: %s", job.media_id, error)
        async with self.db.session() as session:
            await media.mark_failed(
                session, restaurant_id=job.restaurant_id, media_id=job.media_id, error=error
            )
            await session.commit()

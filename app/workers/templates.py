"""The template worker: does the Content API work that template edits queued, after their commit.

    next_sync_at due ──claim (a lease)──► retire: delete replaced/deleted contents at Twilio
                                          submit: create the content, ask WhatsApp to review it
                                          poll:   ask how the review stands (every POLL while pending)

Twilio sends no callback when WhatsApp's review ends, so pending templates are polled. A claim is a
lease, as in the outbox: a process that dies mid-way leaves the row to be claimed again after LEASE.
Twilio down or slow (TwilioRetryableError): the same step again after a backoff. Twilio refusing
the content (TwilioRejectedError): the template is rejected with Twilio's reason, shown to staff.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from app.auth.crypto import SecretBox
from app.channels.twilio.content import TwilioContent
from app.channels.twilio.sender import TwilioError, TwilioRejectedError
from app.db.engine import Database
from app.services import templates
from app.services.templates import SyncJob
from app.workers.queue import drain

log = logging.getLogger("sufrah.templates")

LEASE = timedelta(seconds=120)
RETRY = timedelta(seconds=60)


class TemplateSync:
    def __init__(self, db: Database, *, content: TwilioContent, box: SecretBox) -> None:
        self.db = db
        self.content = content
        self.box = box

    async def sync_due(self, *, limit: int = 20) -> int:
        """Do the Twilio work of every template that is due now; returns how many were handled."""

        async def claim() -> list[SyncJob]:
            async with self.db.session() as session:
                jobs = await templates.claim_due(session, limit=limit, lease=LEASE)
                await session.commit()
            return list(jobs)

        return await drain(claim, self._sync, log=log, name=lambda job: f"template {job.template.id}")

    async def _sync(self, job: SyncJob) -> None:
        template, bot = job.template, job.bot
        step = templates.needs(template)
        restaurant_id = template.restaurant_id
        if step == "nothing":
            return
        if bot is None or bot.deleted_at is not None:
            await self._failed(job, "the restaurant has no WhatsApp sender to submit templates with")
            return
        try:
            auth_token = self.box.decrypt(bot.auth_token_encrypted)
        except ValueError:
            await self._failed(job, "the sender's Twilio auth token can't be read")
            return
        account = {"account_sid": bot.subaccount_sid or bot.account_sid, "auth_token": auth_token}
        try:
            if step == "retire":
                for sid in template.retired_content_sids:
                    await self.content.delete(**account, content_sid=sid)
                async with self.db.session() as session:
                    await templates.record_retired(
                        session,
                        restaurant_id=restaurant_id,
                        template=template,
                        content_sids=template.retired_content_sids,
                    )
                    await session.commit()
            elif step == "submit":
                created = await self.content.create(
                    **account,
                    friendly_name=f"{template.name}_{template.language}",
                    language=template.language,
                    variables=template.variables,
                    types=templates.content_types(template),
                )
                await self.content.submit_for_whatsapp(
                    **account, content_sid=created.sid, name=template.name, category=template.category
                )
                async with self.db.session() as session:
                    current = await templates.record_submitted(
                        session, restaurant_id=restaurant_id, template=template, content_sid=created.sid
                    )
                    await session.commit()
                if not current:  # edited meanwhile: this content is already out of date
                    await self.content.delete(**account, content_sid=created.sid)
            else:
                review = await self.content.approval(**account, content_sid=str(template.content_sid))
                async with self.db.session() as session:
                    await templates.record_review(
                        session,
                        restaurant_id=restaurant_id,
                        template=template,
                        status=review.status,
                        reason=review.rejection_reason,
                    )
                    await session.commit()
        except TwilioRejectedError as exc:
            if step == "submit":
                async with self.db.session() as session:
                    await templates.record_refused(
                        session, restaurant_id=restaurant_id, template=template, reason=exc.message
                    )
                    await session.commit()
            else:
                await self._failed(job, str(exc))
        except TwilioError as exc:  # retryable, or a 2xx we could not read
            await self._failed(job, str(exc))

    async def _failed(self, job: SyncJob, error: str) -> None:
        log.warning("templates: %s: %s", job.template.id, error)
        async with self.db.session() as session:
            await templates.record_failure(
                session,
                restaurant_id=job.template.restaurant_id,
                template=job.template,
                error=error,
                retry_in=RETRY,
            )
            await session.commit()

"""Background work of a server process: the bot's turns, the outbox, template submission and
review polling (app/workers/templates.py), media downloads (app/workers/media.py), the Sufrah
platform's menu syncs and order submissions (app/workers/merchant.py), event-log retention.

Every piece claims its work from PostgreSQL, so any number of processes may run them side by side
and a process that dies leaves nothing behind that another can't finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import text

from app.auth.crypto import SecretBox
from app.bot.runner import BotRunner
from app.channels.sufrah import SufrahPlatform
from app.channels.twilio.content import TwilioContent
from app.channels.twilio.media import TwilioMediaFetcher
from app.channels.twilio.sender import TwilioSender
from app.db.engine import Database
from app.media.store import MediaStore, store_from_settings
from app.realtime import events
from app.settings import Settings
from app.workers.media import MediaDownloads
from app.workers.merchant import MerchantWork
from app.workers.outbox import Outbox
from app.workers.templates import TemplateSync

log = logging.getLogger("sufrah.workers")

EVENT_RETENTION_DAYS = 14


def platform_from_settings(settings: Settings) -> SufrahPlatform:
    """The Sufrah merchant platform's client (SUFRAH_API_BASE, SUFRAH_API_KEY)."""
    return SufrahPlatform(
        base_url=settings.sufrah_api_base,
        api_key=settings.sufrah_api_key,
        timeout=settings.sufrah_timeout_seconds,
    )


class Workers:
    """The bot runner, the outbox and media downloads, woken right after any local commit that may give them work,
    and by a short poll for work committed by other processes (or left by one that died)."""

    def __init__(
        self,
        db: Database,
        *,
        settings: Settings,
        box: SecretBox,
        store: MediaStore | None = None,
        platform: SufrahPlatform | None = None,
        poll_interval: float = 1.0,
    ) -> None:
        self.db = db
        self._own_platform = platform is None
        self.platform = platform or platform_from_settings(settings)
        self.runner = BotRunner(db, platform=self.platform)
        self.merchant = MerchantWork(
            db, platform=self.platform, sync_every=timedelta(minutes=settings.sufrah_menu_sync_minutes)
        )
        self.sender = TwilioSender(
            base_url=settings.twilio_api_base_url, timeout=settings.twilio_timeout_seconds
        )
        self.outbox = Outbox(db, sender=self.sender, box=box, public_base_url=settings.base_url)
        self.templates = TemplateSync(db, content=TwilioContent(self.sender), box=box)
        self.fetcher = TwilioMediaFetcher(
            base_url=settings.twilio_api_base_url,
            timeout=settings.twilio_timeout_seconds,
            max_bytes=settings.media_max_bytes,
        )
        self.media = MediaDownloads(
            db, fetcher=self.fetcher, store=store or store_from_settings(settings), box=box
        )
        self.poll_interval = poll_interval
        self._media_wake = asyncio.Event()
        self._bot_wake = asyncio.Event()
        self._outbox_wake = asyncio.Event()
        self._templates_wake = asyncio.Event()
        self._merchant_wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def _on_commit(self, _restaurants: set[str]) -> None:
        self._bot_wake.set()
        self._outbox_wake.set()
        self._templates_wake.set()
        self._media_wake.set()
        self._merchant_wake.set()

    async def start(self) -> None:
        self.db.commit_listeners.append(self._on_commit)
        self._tasks = [
            asyncio.create_task(
                self._loop("bot", self.runner.run_pending, self._bot_wake), name="worker:bot"
            ),
            asyncio.create_task(
                self._loop("outbox", self.outbox.send_due, self._outbox_wake), name="worker:outbox"
            ),
            asyncio.create_task(
                self._loop("templates", self.templates.sync_due, self._templates_wake),
                name="worker:templates",
            ),
            asyncio.create_task(
                self._loop("media", self.media.download_due, self._media_wake), name="worker:media"
            ),
            asyncio.create_task(  # apart: a long menu sync never holds up an order's submission
                self._loop("orders", self.merchant.submit_due, self._merchant_wake), name="worker:orders"
            ),
            asyncio.create_task(
                self._loop("menus", self.merchant.sync_due, asyncio.Event()), name="worker:menus"
            ),
            asyncio.create_task(self._prune_forever(), name="worker:prune"),
        ]

    async def stop(self) -> None:
        with contextlib.suppress(ValueError):
            self.db.commit_listeners.remove(self._on_commit)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.sender.aclose()
        await self.fetcher.aclose()
        if self._own_platform:
            await self.platform.aclose()

    async def _loop(self, name: str, work: Callable[[], Awaitable[int]], wake: asyncio.Event) -> None:
        failing = False
        while True:
            wake.clear()
            try:
                await work()
                failing = False
            except asyncio.CancelledError:
                raise
            except Exception:
                if not failing:  # once per outage, not once per second
                    log.warning("%s worker failed; retrying", name, exc_info=True)
                failing = True
            with contextlib.suppress(TimeoutError):  # asyncio.timeout: see app/auth/sockets.py
                async with asyncio.timeout(self.poll_interval):
                    await wake.wait()

    async def _prune_forever(self) -> None:
        while True:
            try:
                async with self.db.session() as session:
                    # A backlog of days may take longer than the pool's statement_timeout (app.db.engine):
                    # this transaction may (SET LOCAL: the connection goes back to the pool as it was).
                    await session.execute(text("SET LOCAL statement_timeout = 0"))
                    removed = await events.prune(session, older_than_days=EVENT_RETENTION_DAYS)
                    await session.commit()
                if removed:
                    log.info("pruned %d events older than %d days", removed, EVENT_RETENTION_DAYS)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.info("event pruning failed", exc_info=True)
            await asyncio.sleep(3600)

"""The Sufrah merchant platform's background work (app/services/merchant.py, merchant_orders.py):

    menu_sync.next_sync_at due ──claim (a lease)──► read the platform's menu ──► write it, next sync
                                                    in SUFRAH_MENU_SYNC_MINUTES (RETRY after a failure)
    customer_order submit due  ──claim (a lease)──► POST orders/submit ──► number + payment link
                                                    stored, customer told (or a backoff, or failed)

Both claim their rows from PostgreSQL, so any number of processes may run them; a process that dies
mid-way leaves the row to be claimed again when its lease ends. No transaction is open while the
platform answers.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from app.channels.sufrah import SufrahPlatform
from app.db.engine import Database
from app.errors import NotFound, PlatformFailed
from app.services import merchant, merchant_orders
from app.workers.queue import drain

log = logging.getLogger("sufrah.merchant")


class MerchantWork:
    def __init__(self, db: Database, *, platform: SufrahPlatform, sync_every: timedelta) -> None:
        self.db = db
        self.platform = platform
        self.sync_every = sync_every

    async def sync_due(self, *, limit: int = 5) -> int:
        """Sync every platform restaurant's menu that is due; returns how many were synced."""
        if not self.platform.configured:
            return 0

        async def claim() -> list[tuple[str, str]]:
            async with self.db.session() as session:
                due = await merchant.claim_due(session, limit=limit)
                await session.commit()
            return list(due)

        return await drain(
            claim, lambda job: self._sync(*job), log=log, name=lambda job: f"the menu sync of {job[0]}"
        )

    async def _sync(self, restaurant_id: str, merchant_id: str) -> None:
        try:
            menu = await merchant.fetch_menu(
                self.platform, restaurant_id=restaurant_id, merchant_id=merchant_id
            )
            async with self.db.session() as session:
                synced = await merchant.apply_menu(session, restaurant_id=restaurant_id, menu=menu)
                await merchant.record_success(
                    session, restaurant_id=restaurant_id, synced=synced, next_in=self.sync_every
                )
                await session.commit()
        except PlatformFailed as exc:
            async with self.db.session() as session:
                await merchant.record_failure(
                    session, restaurant_id=restaurant_id, error=exc.message, next_in=merchant.RETRY
                )
                await session.commit()

    async def submit_due(self, *, limit: int = 20) -> int:
        """Submit every order due an attempt; returns how many were tried."""
        if not self.platform.configured:
            return 0

        async def claim() -> list[tuple[str, str]]:
            async with self.db.session() as session:
                due = await merchant_orders.claim_due(session, limit=limit)
                await session.commit()
            return list(due)

        return await drain(
            claim,
            lambda job: self._submit(*job),
            log=log,
            name=lambda job: f"submitting order {job[0]}/{job[1]}",
        )

    async def _submit(self, restaurant_id: str, order_id: str) -> None:
        async with self.db.session() as session:
            try:
                job = await merchant_orders.submission(
                    session, restaurant_id=restaurant_id, order_id=order_id
                )
            except NotFound as exc:
                await merchant_orders.record_failure(
                    session,
                    restaurant_id=restaurant_id,
                    order_id=order_id,
                    error=exc.message,
                    retryable=False,
                )
                await session.commit()
                return
            await session.commit()
        try:
            submitted = await self.platform.submit_order(job.payload)
        except PlatformFailed as exc:
            async with self.db.session() as session:
                await merchant_orders.record_failure(
                    session,
                    restaurant_id=restaurant_id,
                    order_id=order_id,
                    error=exc.message,
                    retryable=exc.retryable,
                )
                await session.commit()
            return
        async with self.db.session() as session:
            await merchant_orders.record_submitted(
                session, restaurant_id=restaurant_id, order_id=order_id, submitted=submitted
            )
            await session.commit()

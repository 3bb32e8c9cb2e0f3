"""The async engine and its sessions.

One `Database` per process, created in the app's lifespan (never at import time). Edges open one
session per request (`async with db.session() as s`) and pass it down; services never open their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from app.settings import Settings


def resolve_url(settings: Settings) -> str:
    """DATABASE_URL when set, else the embedded server's (started on first call)."""
    if settings.database_url:
        url = settings.database_url
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+asyncpg://" + url.split("://", 1)[1]
        return url
    from app.db import embedded

    return embedded.start(settings.data_dir)


CommitListener = Callable[[set[str]], None]
T = TypeVar("T")

CONNECTION_LOST = (asyncpg.InterfaceError, asyncpg.PostgresConnectionError,
                   asyncpg.exceptions.OperatorInterventionError, OSError)


async def on_driver(connection: AsyncConnection, call: Callable[[Any], Awaitable[T]]) -> T:
    """`call` with the asyncpg connection under an SQLAlchemy one: the hottest statements (a webhook's
    ingest, a compiled query) skip SQLAlchemy's per-statement work and run as asyncpg's own prepared
    statements. No transaction is begun: each statement commits on its own."""
    raw = await connection.get_raw_connection()
    try:
        return await call(raw.driver_connection)
    except CONNECTION_LOST:
        # SQLAlchemy didn't see this statement fail: tell its pool the connection is gone, as it
        # does itself on a disconnect, so the next request doesn't get it again.
        await connection.invalidate()
        raise


@dataclass
class Database:
    url: str
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    commit_listeners: list[CommitListener] = field(default_factory=list)

    @property
    def asyncpg_dsn(self) -> str:
        """The URL in the form asyncpg.connect() takes (for the LISTEN connection)."""
        return self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def committed(self, restaurant_ids: set[str]) -> None:
        """Tell the listeners (live updates, workers) that these restaurants' event logs grew."""
        for listener in self.commit_listeners:
            listener(restaurant_ids)

    def _after_commit(self, session: Session) -> None:
        from app.realtime.events import TOUCHED

        touched = session.info.pop(TOUCHED, None)
        if touched:
            self.committed(touched)

    @staticmethod
    def _after_rollback(session: Session) -> None:
        from app.realtime.events import TOUCHED

        session.info.pop(TOUCHED, None)

    @classmethod
    def connect(cls, url: str, *, pool_size: int = 10, max_overflow: int = 10) -> Database:
        engine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            # No pre-ping (it costs round trips on every checkout): after a database restart the first
            # use of a dead connection fails, and SQLAlchemy then discards the whole pool at once.
            # Webhooks that fail that way are spooled, workers retry, dashboards retry.
            pool_pre_ping=False,
            pool_recycle=1800,
            connect_args={"server_settings": {"application_name": "sufrah"}},
        )
        # A session class of this Database's own, so its commit hook serves this engine only.
        session_class = type("SufrahSession", (Session,), {})
        db = cls(
            url=url,
            engine=engine,
            sessionmaker=async_sessionmaker(engine, expire_on_commit=False, sync_session_class=session_class),
        )
        event.listen(session_class, "after_commit", db._after_commit)
        event.listen(session_class, "after_soft_rollback", lambda s, _tx: db._after_rollback(s))
        return db

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()

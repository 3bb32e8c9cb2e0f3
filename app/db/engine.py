"""The async engine and its sessions.

One `Database` per process, created in the app's lifespan (never at import time). Edges open one
session per request (`async with db.session() as s`) and pass it down; services never open their own.

The server's pool runs with PostgreSQL's `statement_timeout` (DB_STATEMENT_TIMEOUT_SECONDS, 15 s) and
`idle_in_transaction_session_timeout` (60 s): no request can hold a backend, its locks or a snapshot
for longer, whatever it asked. A statement cancelled by the timeout raises `StatementTimeout` (REST
503, GraphQL `TIMEOUT`), through SQLAlchemy and through `on_driver` alike. Only this pool has them:
migrations (their own engine, app.db.migrate), the LISTEN connection (app.realtime.hub) and the
command line's pool run without.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from app.errors import StatementTimeout
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

CONNECTION_LOST = (
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    OSError,
)
# SQLSTATE query_canceled: statement_timeout (the only cause here, bar an operator's pg_cancel_backend,
# which deserves the same answer). The message text is not checked: it follows the server's lc_messages.
QUERY_CANCELED = "57014"


def _cancelled(exc: BaseException | None) -> bool:
    """Whether `exc` (asyncpg's, or SQLAlchemy's adaptation of it) is a cancelled statement."""
    return getattr(exc, "sqlstate", None) == QUERY_CANCELED


log = logging.getLogger("sufrah.db")


def _statement_timeout() -> StatementTimeout:
    log.warning("a statement ran past statement_timeout and was cancelled")  # one line, no traceback
    return StatementTimeout(
        "the database took too long to answer this request and cancelled it: "
        "ask for less (smaller pages), or try again later"
    )


def _translate(context: ExceptionContext) -> BaseException | None:
    """SQLAlchemy's handle_error hook: a cancelled statement becomes StatementTimeout."""
    return _statement_timeout() if _cancelled(context.original_exception) else None


async def on_driver(connection: AsyncConnection, call: Callable[[Any], Awaitable[T]]) -> T:
    """`call` with the asyncpg connection under an SQLAlchemy one: the hottest statements (a webhook's
    ingest, a compiled query) skip SQLAlchemy's per-statement work and run as asyncpg's own prepared
    statements. No transaction is begun: each statement commits on its own."""
    raw = await connection.get_raw_connection()
    try:
        return await call(raw.driver_connection)
    except asyncpg.exceptions.QueryCanceledError as exc:
        raise _statement_timeout() from exc
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
    def connect(
        cls,
        url: str,
        *,
        pool_size: int = 10,
        max_overflow: int = 10,
        statement_timeout: float = 0,
        idle_in_transaction_timeout: float = 0,
        server_settings: dict[str, str] | None = None,
    ) -> Database:
        """The engine and its pool. Timeouts in seconds (0: none), set on each connection as it opens,
        with `server_settings` (e.g. the media links' key, app/media/links.py)."""
        server_settings = {"application_name": "sufrah", **(server_settings or {})}
        for name, seconds in (
            ("statement_timeout", statement_timeout),
            ("idle_in_transaction_session_timeout", idle_in_transaction_timeout),
        ):
            if seconds:
                server_settings[name] = str(max(1, round(seconds * 1000)))  # milliseconds
        engine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            # No pre-ping (it costs round trips on every checkout): after a database restart the first
            # use of a dead connection fails, and SQLAlchemy then discards the whole pool at once.
            # Webhooks that fail that way are spooled, workers retry, dashboards retry.
            pool_pre_ping=False,
            pool_recycle=1800,
            connect_args={"server_settings": server_settings},
        )
        event.listen(engine.sync_engine, "handle_error", _translate, retval=True)
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

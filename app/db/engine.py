"""The async engine and its sessions.

One `Database` per process, created in the app's lifespan (never at import time). Edges open one
session per request (`async with db.session() as s`) and pass it down; services never open their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

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


@dataclass
class Database:
    url: str
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]

    @classmethod
    def connect(cls, url: str, *, pool_size: int = 10, max_overflow: int = 10) -> Database:
        engine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_pre_ping=True,  # a restarted database must not surface as one failed request per pooled connection
            pool_recycle=1800,
            connect_args={"server_settings": {"application_name": "sufrah"}},
        )
        return cls(url=url, engine=engine, sessionmaker=async_sessionmaker(engine, expire_on_commit=False))

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()

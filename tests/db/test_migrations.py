"""Migrations: reversible, and the models the code uses are exactly what they build."""

from __future__ import annotations

import asyncio

import asyncpg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

from app.db import migrate
from tests.conftest import _asyncpg_dsn, _with_database


async def _fresh_database(database_url: str, name: str) -> str:
    conn = await asyncpg.connect(_asyncpg_dsn(_with_database(database_url, "postgres")))
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return _with_database(database_url, name)


async def _drop(database_url: str, name: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(_with_database(database_url, "postgres")))
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


async def test_migrations_go_down_to_base_and_up_again(database_url):
    name = database_url.split("/")[-1].split("?")[0] + "_mig"
    url = await _fresh_database(database_url, name)
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        await asyncio.to_thread(migrate.downgrade, url, "base")
        engine = create_async_engine(url)
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: c.dialect.get_table_names(c))
        await engine.dispose()
        assert set(tables) <= {"alembic_version"}
        await asyncio.to_thread(migrate.upgrade, url)
    finally:
        await _drop(database_url, name)


async def test_models_match_the_migrated_schema(db):
    def diff(connection):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, SQLModel.metadata)

    async with db.engine.connect() as conn:
        changes = await conn.run_sync(diff)
    assert changes == []


async def test_readyz_reports_database_and_migration(client):
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "database": "ok",
        "migration": migrate.head(),
        "spooledWebhooks": 0,
        "deadLetteredWebhooks": 0,
        "orphanedSpoolFiles": 0,
    }
    assert (await client.get("/healthz")).json() == {"status": "ok"}

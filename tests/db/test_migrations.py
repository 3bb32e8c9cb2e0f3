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


async def test_orders_rated_before_0015_get_their_last_change_as_rated_at(database_url):
    """Migration 0015_overview: a rated order's `rated_at` is its `updated_at`; unrated ones stay null."""
    name = database_url.split("/")[-1].split("?")[0] + "_rated"
    url = await _fresh_database(database_url, name)
    try:
        await asyncio.to_thread(migrate.upgrade, url, "0010_interactive_content")
        conn = await asyncpg.connect(_asyncpg_dsn(url))
        try:
            await conn.execute(
                """
                INSERT INTO restaurant (id, name) VALUES ('rst_m', 'Old');
                INSERT INTO bot (restaurant_id, id, name, restaurant_name, whatsapp_number, account_sid,
                                 auth_token_encrypted)
                VALUES ('rst_m', 'bot_m', 'Bot', 'Old', '+966500000001', 'AC1', 'x');
                INSERT INTO conversation (restaurant_id, id, bot_id, customer_phone)
                VALUES ('rst_m', 'cnv_m', 'bot_m', '+966500000002');
                INSERT INTO customer_order (restaurant_id, id, number, conversation_id, bot_id, customer_phone,
                    order_type, payment_method, subtotal, total, currency, rating, updated_at)
                VALUES ('rst_m', 'ord_rated', 1001, 'cnv_m', 'bot_m', '+966500000002', 'pickup', 'cash', 1, 1,
                        'SAR', 4, '2026-11-02 10:00+00'),
                       ('rst_m', 'ord_plain', 1002, 'cnv_m', 'bot_m', '+966500000002', 'pickup', 'cash', 1, 1,
                        'SAR', NULL, '2026-11-02 11:00+00');
                """
            )
        finally:
            await conn.close()
        await asyncio.to_thread(migrate.upgrade, url)
        conn = await asyncpg.connect(_asyncpg_dsn(url))
        try:
            rows = await conn.fetch(
                "SELECT id, rated_at = updated_at AS same, rated_at FROM customer_order ORDER BY id"
            )
            sla = await conn.fetchval("SELECT sla_minutes FROM restaurant WHERE id = 'rst_m'")
        finally:
            await conn.close()
        assert [(r["id"], r["same"], r["rated_at"] is None) for r in rows] == [
            ("ord_plain", None, True),
            ("ord_rated", True, False),
        ]
        assert sla == 15
    finally:
        await _drop(database_url, name)

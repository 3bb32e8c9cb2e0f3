"""Test fixtures: a real PostgreSQL (embedded, or TEST_DATABASE_URL), real migrations, the real app.

Each test session gets a fresh database migrated to head; each test starts from empty tables.
Twilio is the only thing faked, at the HTTP boundary (tests/fakes/twilio_api.py), and webhook
signatures are computed with the twilio library itself.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel
from starlette.applications import Starlette

from app.context import AppContext
from app.db import migrate
from app.db.engine import Database
from app.main import create_app
from app.settings import PROJECT_ROOT, Settings, load_settings
from tests.support import PUBLIC_BASE_URL, Factory, lifespan

TEST_PG_DIR = PROJECT_ROOT / ".sufrah" / "test"


def _server_url() -> str:
    """A URL of a server we may create databases on: TEST_DATABASE_URL, or an embedded one."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url.replace("postgresql://", "postgresql+asyncpg://", 1)
    from app.db import embedded

    return embedded.start(TEST_PG_DIR, database="postgres")


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _with_database(url: str, name: str) -> str:
    head, sep, query = url.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{name}{sep}{query}"


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    server = _server_url()
    name = f"sufrah_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(_asyncpg_dsn(_with_database(server, "postgres")))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(server, name)
    await asyncio.to_thread(migrate.upgrade, url)
    try:
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


WHATSAPP_SEND_TOKEN = "test-whatsapp-send-token"  # /api/whatsapp/send (tests/rest/test_whatsapp_send.py)
DASHBOARD_ORIGIN = "https://dash.example.com"  # CORS_ORIGINS (tests/rest/test_cors.py)


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(
        env="test",
        database_url=database_url,
        public_base_url=PUBLIC_BASE_URL,
        dashboard_pat="test-dashboard-pat",
        whatsapp_send_token=WHATSAPP_SEND_TOKEN,
        cors_origins=f"{DASHBOARD_ORIGIN}/, https://admin.example.com",
        secret_key="test-secret-key-" + "x" * 32,
        data_dir=tmp_path_factory.mktemp("data"),
        run_workers=False,
    )


@pytest.fixture(scope="session")
async def app_and_db(settings: Settings) -> AsyncIterator[tuple[object, Database, AppContext, Starlette]]:
    """The app (with its lifespan's state), its database, its AppContext and the app as created."""
    app = create_app(settings)
    async with lifespan(app) as manager:
        ctx = manager._state["ctx"]  # type: ignore[attr-defined]
        yield manager.app, ctx.db, ctx, app


@pytest.fixture(scope="session")
async def resolver_app_and_db(settings: Settings) -> AsyncIterator[tuple[object, Database]]:
    """A second server process on the same database that resolves every GraphQL field in Python
    (GRAPHQL_COMPILE=false): the reference the compiled queries are compared with."""
    app = create_app(settings.model_copy(update={"graphql_compile": False}))
    async with lifespan(app) as manager:
        yield manager.app, manager._state["ctx"].db  # type: ignore[attr-defined]


@pytest.fixture
async def resolver_client(
    resolver_app_and_db: tuple[object, Database], db: Database
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=resolver_app_and_db[0])  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_BASE_URL) as c:
        yield c


@pytest.fixture
async def db(app_and_db: tuple[object, Database]) -> AsyncIterator[Database]:
    database = app_and_db[1]
    yield database
    tables = ", ".join(t.name for t in SQLModel.metadata.sorted_tables)
    async with database.engine.begin() as conn:
        await conn.exec_driver_sql(f"TRUNCATE {tables} CASCADE")


@pytest.fixture
async def session(db: Database) -> AsyncIterator[AsyncSession]:
    async with db.session() as s:
        yield s


@pytest.fixture
async def client(app_and_db: tuple[object, Database], db: Database) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_and_db[0])  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_BASE_URL) as c:
        yield c


@pytest.fixture
def factory(db: Database, settings: Settings) -> Factory:
    return Factory(db=db, settings=settings)


def pytest_report_header(config: pytest.Config) -> str:
    where = "TEST_DATABASE_URL" if os.environ.get("TEST_DATABASE_URL") else f"embedded ({TEST_PG_DIR})"
    return f"sufrah: PostgreSQL from {where}"


@pytest.fixture(scope="session")
async def live_url(app_and_db: tuple[object, Database]) -> AsyncIterator[str]:
    """The same app served by a real uvicorn on a loopback port (for WebSocket clients)."""
    from tests.servers import served

    async with served(app_and_db[0]) as url:
        yield url


@pytest.fixture
def pg_tmp() -> Iterator[Path]:
    """A scratch folder for an embedded PostgreSQL of a test's own. Not under pytest's tmp root:
    PostgreSQL runs as another user there, and pytest re-closes that root (0700) at every session."""
    import shutil
    import tempfile

    root = PROJECT_ROOT / ".sufrah" / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(dir=root))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)

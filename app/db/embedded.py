"""The zero-configuration database: a PostgreSQL server shipped inside the `pgserver` wheel.

Used when `DATABASE_URL` is not set. Its data lives in `<DATA_DIR>/pgdata` and survives restarts; it
listens on a Unix socket only. The server is shared by every process that uses the same folder and
keeps running after them (a crashed app leaves it up, and the next start reuses it).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

log = logging.getLogger(__name__)
DATABASE_NAME = "sufrah"


def start(data_dir: Path, *, database: str = DATABASE_NAME) -> str:
    """Start (or reuse) the embedded server, create `database` if needed, return its asyncpg URL."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on servers
        from pgserver.postgres_server import get_server

        data_dir.mkdir(parents=True, exist_ok=True)
        server = get_server(data_dir / "pgdata", cleanup_mode=None)
    socket_dir = server.get_postmaster_info().socket_dir
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
        log.info("created embedded database %s in %s", database, data_dir)
    return f"postgresql+asyncpg://postgres@/{database}?host={socket_dir}"


def is_running(data_dir: Path) -> bool:
    from pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(data_dir / "pgdata")
    return info is not None and info.is_running()


def stop(data_dir: Path) -> None:
    """Stop the embedded server (fast shutdown: open sessions are ended, committed data is safe)."""
    import os

    # pg_ctl is generated at import time (one function per bundled binary): no static attribute to see
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

    if is_running(data_dir):
        pg_ctl(
            ["-w", "-m", "fast", "stop"],
            pgdata=data_dir / "pgdata",
            user="pgserver" if os.geteuid() == 0 else None,
        )

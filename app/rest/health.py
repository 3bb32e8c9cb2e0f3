"""Liveness and readiness for load balancers and orchestrators.

`/readyz` also shows the outage spool (app/spool.py), whatever the database's state:
`spooledWebhooks` (entries this process holds that wait for the database), `deadLetteredWebhooks`
(entries in DATA_DIR/spool/dead-letters.jsonl: they will never apply, an operator must look at them)
and `orphanedSpoolFiles` (spool files of processes that are gone, not adopted by a live one yet).
"""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse

from app.context import app_context
from app.db import migrate


async def healthz(request: Request) -> JSONResponse:
    """The process is alive (says nothing about the database)."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """Ready to serve: the database answers and its schema is at the code's migration head."""
    ctx = app_context(request)
    head = migrate.head()
    spool = await asyncio.to_thread(ctx.spool.stats)
    try:
        async with ctx.db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        current = await migrate.current(ctx.db.engine)
    except Exception as exc:  # noqa: BLE001  (any failure to reach the database means "not ready")
        # Degraded, not down: signed webhooks are still accepted into the local spool.
        return JSONResponse(
            {"status": "degraded", "database": "unreachable", "detail": type(exc).__name__, **spool},
            status_code=503,
        )
    if current != head:
        return JSONResponse(
            {"status": "unavailable", "database": "ok", "migration": current, "expected": head, **spool},
            status_code=503,
        )
    return JSONResponse({"status": "ready", "database": "ok", "migration": current, **spool})

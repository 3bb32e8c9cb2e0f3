"""The ASGI application: `create_app()` wires routes, error handlers and the lifespan's resources."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute

from app.auth.crypto import SecretBox
from app.context import AppContext
from app.db import migrate
from app.db.engine import Database, resolve_url
from app.graphql.view import GraphQLApp
from app.realtime.hub import Hub
from app.realtime.payloads import LOADERS
from app.rest import health, legacy, webhooks
from app.rest.common import EXCEPTION_HANDLERS
from app.settings import Settings, load_settings

log = logging.getLogger("sufrah")


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, AppContext]]:
        url = resolve_url(settings)
        await migrate.upgrade_async(url)
        db = Database.connect(url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow)
        hub = Hub(db, loaders=LOADERS)
        await hub.start()
        ctx = AppContext(settings=settings, db=db, box=SecretBox(settings.effective_secret_key), hub=hub)
        log.info("sufrah ready (env=%s, public url %s)", settings.env, settings.base_url)
        try:
            yield {"ctx": ctx}
        finally:
            await hub.stop()
            await db.dispose()

    graphql = GraphQLApp(settings)
    routes = [
        Route("/healthz", health.healthz, methods=["GET"]),
        Route("/readyz", health.readyz, methods=["GET"]),
        Route("/whatsapp/webhook", webhooks.inbound_message, methods=["POST"]),
        Route("/webhook", webhooks.inbound_message, methods=["POST"]),
        Route("/whatsapp/status", webhooks.delivery_status, methods=["POST"]),
        *legacy.routes,
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
    ]
    return Starlette(routes=routes, lifespan=lifespan, exception_handlers=EXCEPTION_HANDLERS)  # type: ignore[arg-type]

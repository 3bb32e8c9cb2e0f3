"""The ASGI application: `create_app()` wires routes, error handlers and the lifespan's resources."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route, WebSocketRoute

from app import logs
from app.auth import cache as auth_cache
from app.auth.cache import Authenticator
from app.auth.crypto import SecretBox
from app.context import AppContext
from app.db import migrate
from app.db.engine import Database, resolve_url
from app.graphql.view import GraphQLApp
from app.inbox import routes as inbox_routes
from app.media import links as media_links
from app.media.links import MediaLinks
from app.media.store import store_from_settings
from app.realtime.hub import Hub
from app.realtime.payloads import LOADERS
from app.rest import admin, health, legacy, legacy_socket, media, merchant, notify, openapi, webhooks
from app.rest.common import EXCEPTION_HANDLERS
from app.rest.limits import Limits
from app.services import inbound
from app.settings import Settings, load_settings
from app.spool import BotDirectory, Spool
from app.workers import Workers, platform_from_settings

log = logging.getLogger("sufrah")


def create_app(settings: Settings | None = None, *, freeze_gc: bool = False) -> Starlette:
    """`freeze_gc` (what `sufrah serve` asks for): once started, move everything alive into the
    collector's permanent generation, so a collection doesn't scan the schema, the ORM mappers and the
    libraries again and again, and make full collections rare (their pauses were the p99 of live
    updates)."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, AppContext]]:
        logs.install()  # query-string tokens never reach a log line, however the server logs
        url = resolve_url(settings)
        await migrate.upgrade_async(url)
        links = MediaLinks(
            settings.effective_secret_key,
            ttl_seconds=settings.media_url_ttl_seconds,
            base_url=settings.base_url,
        )
        media_links.configure(links)
        db = Database.connect(
            url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            statement_timeout=settings.db_statement_timeout_seconds,
            idle_in_transaction_timeout=settings.db_idle_in_transaction_timeout_seconds,
            server_settings=links.server_settings(),  # sufrah_media_url signs links in SQL (migration 0008)
        )
        hub = Hub(db, loaders=LOADERS)
        auth = Authenticator(dashboard_pat=settings.dashboard_pat)
        hub.watch(auth_cache.CHANNEL, notified=auth.changed, listening=auth.listening)
        spool_dir = settings.data_dir / "spool"
        directory = BotDirectory(spool_dir / "bots.json")  # a changed bot makes its routes stale
        hub.watch(auth_cache.CHANNEL, notified=directory.changed, listening=directory.listening)
        await hub.start()
        auth.sockets.start(db, interval=settings.socket_recheck_seconds)
        ctx = AppContext(
            settings=settings,
            db=db,
            box=SecretBox(settings.effective_secret_key),
            hub=hub,
            auth=auth,
            spool=Spool(spool_dir),
            directory=directory,
            media_store=store_from_settings(settings),
            media_links=links,
            platform=platform_from_settings(settings),
        )
        spooler = asyncio.create_task(
            inbound.keep_spool(db=db, directory=directory, spool=ctx.spool), name="spool"
        )
        workers = (
            Workers(db, settings=settings, box=ctx.box, store=ctx.media_store, platform=ctx.platform)
            if settings.run_workers
            else None
        )
        if workers is not None:
            await workers.start()
        if freeze_gc:
            gc.collect()
            gc.freeze()
            # A full collection scans every tracked object, and 1,000 open subscriptions make that a
            # 200 ms pause (bench.fanout's p99). Only every 1,000th gen-1 collection may be a full one
            # (CPython's default: every 10th), so it comes minutes apart instead of seconds.
            gc.set_threshold(700, 10, 1000)
        log.info("sufrah ready (env=%s, public url %s)", settings.env, settings.base_url)
        try:
            yield {"ctx": ctx}
        finally:
            if workers is not None:
                await workers.stop()
            spooler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await spooler
            await auth.sockets.stop()
            if ctx.platform is not None:
                await ctx.platform.aclose()
            ctx.spool.close()
            await hub.stop()
            await db.dispose()

    graphql = GraphQLApp(settings)
    # Matched in order, one pattern after another: the busiest paths come first.
    routes = [
        Route("/whatsapp/webhook", webhooks.inbound_message, methods=["POST"]),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/whatsapp/status", webhooks.delivery_status, methods=["POST"]),
        Route("/webhook", webhooks.inbound_message, methods=["POST"]),
        Route("/healthz", health.healthz, methods=["GET"]),
        *merchant.routes,
        Route("/readyz", health.readyz, methods=["GET"]),
        *legacy.routes,
        *media.routes,
        *notify.routes,
        *admin.routes,
        *openapi.routes,
        WebSocketRoute("/ws", legacy_socket.legacy_socket),
        *inbox_routes,
    ]
    # Byte limits before anything is read: bodies by route, socket messages, GraphQL responses.
    limits = Middleware(
        Limits,
        body=settings.max_body_bytes,
        webhook_body=settings.max_webhook_body_bytes,
        upload_body=settings.media_max_bytes,
        ws_message=settings.max_ws_frame_bytes,
        graphql_response=settings.graphql_max_response_bytes,
    )
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[*_cors(settings), limits],
    )


# What the earlier backend's dashboard sends from a browser (its proxies call server to server).
CORS_HEADERS = ["Authorization", "Content-Type", "X-Restaurant-Id", "X-API-Key", "Accept-Language"]


def _cors(settings: Settings) -> list[Middleware]:
    """CORS for the configured dashboard origins only (outermost, so a preflight is answered before
    any limit or route). Unset CORS_ORIGINS: no CORS headers at all, browsers refuse other origins.
    Credentials are bearer headers, never cookies, so no Allow-Credentials."""
    origins = settings.cors_origin_list
    if not origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=CORS_HEADERS,
            max_age=600,
        )
    ]

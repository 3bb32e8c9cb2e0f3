"""Open sockets stay authenticated only as long as their credentials do.

An HTTP request is authenticated when it arrives; a WebSocket once, when it opens, and may then stay
open for days. So each process keeps a registry of its open, authenticated sockets (GraphQL, and the
legacy /ws): the tenant each was opened for (token, restaurant, and the bot when the socket named a
bot id) and how to close it. Whenever something authentication depends on may have changed, every
registered socket is re-checked against the database and those that no longer hold are closed:

- on every NOTIFY `sufrah_auth` (migration 0005: a statement that updates, deletes or truncates
  `api_token` or `bot`, or deletes or truncates `restaurant`; revoking a token, changing its scope,
  deleting a bot or a restaurant all do), which reaches every process's hub milliseconds after the
  commit (see Authenticator.changed);
- when the LISTEN connection comes back (what was notified while it was down is lost);
- every `interval` seconds anyway (SOCKET_RECHECK_SECONDS): the safety net.

A re-check costs at most three indexed queries per process however many sockets are open (the live
tokens among the sockets' token ids, the restaurants that still exist, the bots that still exist:
one `= ANY(...)` each), never one per socket or per event. Notifications that arrive while a
re-check runs are folded into one more re-check after it.

A socket whose credentials were looked up before a notification but that registers after it may
have read the rows as they were before the change: registering then asks for another re-check
(`generation`), so no socket slips between a notification and its registration.

What a socket that fails its re-check is told (each edge picks its close code):

    Unauthenticated  the token was revoked or deleted                       GraphQL 4403, /ws 4401
    Forbidden        the token's scope no longer covers the restaurant      GraphQL 4403, /ws 4403
    NotFound         the restaurant, or the bot the socket named, is gone   GraphQL 4403, /ws 4404
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Tenant
from app.db.engine import Database
from app.errors import Forbidden, NotFound, SufrahError, Unauthenticated
from app.services import tokens

log = logging.getLogger("sufrah.auth")

Close = Callable[[SufrahError], Awaitable[None]]


@dataclass(frozen=True, slots=True, eq=False)
class _Entry:
    tenant: Tenant
    close: Close


class SocketRegistry:
    def __init__(self) -> None:
        self.generation = 0
        self._entries: dict[object, _Entry] = {}
        self._due = asyncio.Event()
        self._db: Database | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._entries)

    # -- sockets ---------------------------------------------------------------------------------

    def add(self, key: object, tenant: Tenant, *, close: Close, generation: int) -> None:
        """Watch an authenticated socket (`key`: its connection object) until `discard(key)`.
        `generation` is `self.generation` as read before its credentials were looked up; `close`
        is awaited once, with the reason, if they stop holding."""
        self._entries[key] = _Entry(tenant, close)
        if generation != self.generation:
            self._due.set()  # a notification came in between: its re-check may have missed this socket

    def discard(self, key: object) -> None:
        self._entries.pop(key, None)

    # -- what the LISTEN connection tells us (through Authenticator) -----------------------------

    def changed(self) -> None:
        """Something authentication depends on may have changed: re-check every socket soon."""
        self.generation += 1
        self._due.set()

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self, db: Database, *, interval: float) -> None:
        self._db = db
        self._task = asyncio.create_task(self._run(interval), name="auth:sockets")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._closing) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = None

    async def _run(self, interval: float) -> None:
        failing = False
        while True:
            # asyncio.timeout, not wait_for: on 3.11 wait_for returns instead of raising when it is
            # cancelled in the instant its event is set, and stop() would then wait forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._due.wait()
            self._due.clear()
            try:
                await self.recheck()
                failing = False
            except asyncio.CancelledError:
                raise
            except Exception:
                if not failing:  # once per outage
                    log.warning("re-checking open sockets failed; retrying", exc_info=True)
                failing = True
                await asyncio.sleep(1.0)
                self._due.set()

    # -- the re-check ----------------------------------------------------------------------------

    async def recheck(self) -> int:
        """Re-check every registered socket now and close those whose credentials no longer hold;
        returns how many were closed."""
        entries = dict(self._entries)
        if not entries:
            return 0
        assert self._db is not None, "start() first"
        async with self._db.session() as session:
            refused = await refusals(session, {entry.tenant for entry in entries.values()})
        closed = 0
        for key, entry in entries.items():
            reason = refused.get(entry.tenant)
            if reason is None or self._entries.get(key) is not entry:
                continue  # still valid, or gone meanwhile
            del self._entries[key]
            log.info("closing a socket of restaurant %s: %s", entry.tenant.restaurant_id, reason.message)
            task = asyncio.create_task(_close(entry, reason), name="auth:close-socket")
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
            closed += 1
        return closed


async def _close(entry: _Entry, reason: SufrahError) -> None:
    try:
        await entry.close(reason)
    except asyncio.CancelledError:
        raise
    except Exception:  # the socket went away on its own meanwhile
        log.debug("closing a socket failed", exc_info=True)


async def refusals(session: AsyncSession, tenants: Iterable[Tenant]) -> dict[Tenant, SufrahError]:
    """The tenants among `tenants` whose credentials no longer hold, each with the reason."""
    tenants = list(tenants)
    token_ids = sorted({t.principal.token_id for t in tenants if t.principal.token_id is not None})
    restaurant_ids = sorted({t.restaurant_id for t in tenants})
    bot_ids = sorted({t.bot_id for t in tenants if t.bot_id is not None})
    live = await tokens.live_scopes(session, token_ids=token_ids) if token_ids else {}
    existing = await tokens.existing_restaurants(session, restaurant_ids=restaurant_ids)
    bot_owners = await tokens.live_bot_owners(session, bot_ids=bot_ids) if bot_ids else {}
    refused: dict[Tenant, SufrahError] = {}
    for tenant in tenants:
        token_id = tenant.principal.token_id
        if token_id is not None:  # None: DASHBOARD_PAT, which only a restart changes
            scope = live.get(token_id)
            if scope is None:
                refused[tenant] = Unauthenticated("this token was revoked")
                continue
            is_admin, restaurants = scope
            if not is_admin and tenant.restaurant_id not in restaurants:
                refused[tenant] = Forbidden("this token may no longer act for that restaurant")
                continue
        if tenant.restaurant_id not in existing:
            refused[tenant] = NotFound("this restaurant was deleted")
        elif tenant.bot_id is not None and bot_owners.get(tenant.bot_id) != tenant.restaurant_id:
            refused[tenant] = NotFound("this bot was deleted")
    return refused

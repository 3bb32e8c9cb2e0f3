"""Authentication remembered between requests, and forgotten the moment it may be wrong.

Turning a bearer token and an X-Restaurant-Id into a `Tenant` costs two indexed lookups, on every
request of every dashboard: for the conversation list that was two of its three queries. A process
keeps the answers while it is sure to hear of any change that could alter them:

- a trigger (migration 0005) sends NOTIFY `sufrah_auth` when a statement changes tokens or bots or
  deletes restaurants, and every notification empties the cache (changes are rare; a refill is two
  lookups per caller);
- nothing is kept while this process's LISTEN connection is down (notifications sent then are lost),
  and an entry is kept at most `max_age` seconds anyway;
- only successes are kept: an unknown token or a forbidden restaurant is looked up every time, so
  random tokens can't fill the memory;
- a lookup that began before a notification doesn't store what it read (`generation`).

A revoked token is therefore refused from the moment its revocation's NOTIFY reaches the process
(milliseconds after the commit), on every process. The same notification has the process's open
sockets re-checked (`sockets`, app/auth/sockets.py): those the change refuses are closed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal, Tenant
from app.auth.sockets import SocketRegistry
from app.services import tokens

CHANNEL = "sufrah_auth"
K = TypeVar("K")
V = TypeVar("V")


class Authenticator:
    def __init__(
        self,
        *,
        dashboard_pat: str | None,
        max_age: float = 60.0,
        maxsize: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.dashboard_pat = dashboard_pat
        self.max_age = max_age
        self.maxsize = maxsize
        self._clock = clock
        self._principals: dict[str, tuple[float, Principal]] = {}
        self._tenants: dict[tuple[str, str | None], tuple[float, Tenant]] = {}
        self.generation = 0
        self.live = False
        self.sockets = SocketRegistry()

    # -- what the LISTEN connection tells us (see Hub.watch) ------------------------------------

    def listening(self, live: bool) -> None:
        """The LISTEN connection started (or stopped) listening: what was kept may be stale, and
        what was notified while it was not listening is lost."""
        self.live = live
        self._forget()
        if live:
            self.sockets.changed()

    def changed(self, _payload: str = "") -> None:
        self._forget()
        self.sockets.changed()

    def _forget(self) -> None:
        self.generation += 1
        self._principals.clear()
        self._tenants.clear()

    # -- lookups ---------------------------------------------------------------------------------

    async def principal(self, session: AsyncSession, *, token: str | None) -> Principal:
        """The caller; raises Unauthenticated (see tokens.authenticate)."""
        key = tokens.hash_token(token) if token else None
        hit = self._get(self._principals, key)
        if hit is not None:
            return hit
        generation = self.generation
        principal = await tokens.authenticate(session, token=token, dashboard_pat=self.dashboard_pat)
        self._put(self._principals, key, principal, generation)
        return principal

    async def tenant(self, session: AsyncSession, *, token: str | None, tenant_ref: str | None) -> Tenant:
        """The caller acting for a restaurant; raises Unauthenticated, Forbidden, NotFound or
        ValidationFailed (see tokens.resolve_tenant)."""
        key = self._tenant_key(token, tenant_ref)
        hit = self._get(self._tenants, key)
        if hit is not None:
            return hit
        generation = self.generation
        principal = await self.principal(session, token=token)
        tenant = await tokens.resolve_tenant(session, principal=principal, tenant_ref=tenant_ref)
        self._put(self._tenants, key, tenant, generation)
        return tenant

    def cached_tenant(self, *, token: str | None, tenant_ref: str | None) -> Tenant | None:
        """The caller's tenant when it is remembered (`tenant` without the lookup); None otherwise."""
        return self._get(self._tenants, self._tenant_key(token, tenant_ref))

    @staticmethod
    def _tenant_key(token: str | None, tenant_ref: str | None) -> tuple[str, str | None] | None:
        return (tokens.hash_token(token), tenant_ref) if token else None

    def _get(self, entries: dict[K, tuple[float, V]], key: K | None) -> V | None:
        if key is None or not self.live:
            return None
        entry = entries.get(key)
        if entry is None:
            return None
        if self._clock() - entry[0] > self.max_age:
            entries.pop(key, None)
            return None
        return entry[1]

    def _put(self, entries: dict[K, tuple[float, V]], key: K | None, value: V, generation: int) -> None:
        if key is None or not self.live or generation != self.generation:
            return
        if len(entries) >= self.maxsize:
            entries.clear()  # simple and bounded; a refill costs two lookups per caller
        entries[key] = (self._clock(), value)

"""The per-operation context: who is asking, for which restaurant, one session and the loaders.

An HTTP request carries one operation and gets one context. A GraphQL WebSocket gets one for the
connection (its credentials, checked at `connection_init`), and every operation started on it runs
with a context of its own (`OperationContext.operation`, see app.graphql.view): its own session, transaction
and loaders, and its own check of the caller, so a query finishing never closes the session of a
mutation sent right after it, and a token revoked since the socket opened is refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from app.auth.principal import Principal, Tenant
from app.context import AppContext
from app.errors import SufrahError
from app.graphql.loaders import Loaders
from app.realtime.hub import Delivered, FastPath

T = TypeVar("T")


# Makes a subscription's fast path from the way its events become GraphQL objects (see `delivery`).
Delivery = Callable[[Callable[[Delivered], Any]], FastPath | None]


def graphql_error(exc: SufrahError) -> GraphQLError:
    """The GraphQL error for a domain error, with the code its class declares (app.errors)."""
    return GraphQLError(exc.message, extensions=exc.extensions)


def _unused(task: asyncio.Task[Any]) -> None:
    """A shielded task's outcome is its awaiters' to handle. When they were all cancelled (a sibling
    field failed first) nobody is left to: mark its exception seen, or asyncio logs it as "never
    retrieved" with a traceback, once per field of a refused request."""
    if not task.cancelled():
        task.exception()


@dataclass
class OperationContext:
    app: AppContext
    connection: HTTPConnection
    token: str | None
    tenant_ref: str | None
    connection_params: dict[str, Any] | None = None  # set by the WebSocket protocols from connection_init
    _session: AsyncSession | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _tenant: Tenant | None = None
    _principal: Principal | None = None
    # The caller is looked up once per operation, however many fields ask: the first starts the
    # lookup, the others wait for the same one, and a refusal is the answer for all of them.
    _tenant_lookup: asyncio.Future[Tenant] | None = None
    _principal_lookup: asyncio.Future[Principal] | None = None
    # strawberry sets these on the context object for HTTP requests
    request: Any = None
    response: Any = None
    # Set by an execution that can hand this subscription's events to its socket itself, without a
    # turn of the subscription's loop each (app.graphql.fast installs one); None: the loop does.
    delivery: Delivery | None = None

    @property
    def tenant(self) -> Tenant | None:
        """The caller's tenant once `authenticate` has found it."""
        return self._tenant

    async def run(self, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `fn` with the request's session. Sibling fields resolve concurrently; one session
        must not, so uses are serialized here (DataLoaders keep the number of turns small).

        Shielded: when a sibling field fails, GraphQL execution cancels the others, and a query
        cancelled halfway leaves its connection unusable; the query finishes, its result unused."""
        return await asyncio.shield(self._start(fn))

    def _start(self, fn: Callable[[AsyncSession], Awaitable[T]]) -> asyncio.Task[T]:
        task = asyncio.ensure_future(self._run(fn))
        task.add_done_callback(_unused)
        return task

    async def _run(self, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with self._lock:
            if self._session is None:
                self._session = self.app.db.sessionmaker()
            return await fn(self._session)

    async def commit(self) -> None:
        async with self._lock:
            if self._session is not None:
                await self._session.commit()

    async def close(self) -> None:
        async with self._lock:  # after any shielded query still running
            if self._session is not None:
                session, self._session = self._session, None
                await session.close()

    def fork(self) -> OperationContext:
        """The same caller with a session and loaders of its own (for work done on its behalf in
        another task)."""
        return OperationContext(
            app=self.app,
            connection=self.connection,
            token=self.token,
            tenant_ref=self.tenant_ref,
            connection_params=self.connection_params,
            _tenant=self._tenant,
            _principal=self._principal,
        )

    def operation(self) -> OperationContext:
        """A context for one operation started on a socket: the socket's credentials, with a
        session, loaders and a check of the caller of its own (nothing remembered is inherited)."""
        return OperationContext(
            app=self.app,
            connection=self.connection,
            token=self.token,
            tenant_ref=self.tenant_ref,
            connection_params=self.connection_params,
            request=self.request,
            response=self.response,
        )

    async def reset(self) -> None:
        """Between two events of a subscription: close the session nested fields opened, and start
        the loaders afresh (their cache would serve the previous event's rows)."""
        await self.close()
        self.__dict__.pop("loaders", None)

    async def authenticate(self) -> Tenant:
        """The caller's tenant (looked up once per operation); raises a GraphQL error with a code."""
        if self._tenant is None:
            if self._tenant_lookup is None:
                self._tenant_lookup = self._start(self._resolve)
            try:
                self._tenant = await asyncio.shield(self._tenant_lookup)
            except SufrahError as exc:
                raise graphql_error(exc) from None
        return self._tenant

    async def _resolve(self, session: AsyncSession) -> Tenant:
        tenant = await self.app.auth.tenant(session, token=self.token, tenant_ref=self.tenant_ref)
        self._principal = tenant.principal
        return tenant

    async def principal(self) -> Principal:
        """The caller, without requiring a restaurant (for admin-wide fields; looked up once too)."""
        if self._principal is None:
            if self._principal_lookup is None:
                self._principal_lookup = self._start(lambda s: self.app.auth.principal(s, token=self.token))
            try:
                self._principal = await asyncio.shield(self._principal_lookup)
            except SufrahError as exc:
                raise graphql_error(exc) from None
        return self._principal

    def subscribe(
        self,
        *,
        restaurant_id: str,
        after: int | None,
        accept: Callable[[Delivered], bool],
        build: Callable[[Delivered], Any],
    ) -> AsyncIterator[Delivered]:
        """The restaurant's events after `after` that `accept` takes (app.realtime.hub); `build`
        makes an event's GraphQL object, for a fast path that delivers it itself."""
        fast = self.delivery(build) if self.delivery is not None else None
        return self.app.hub.subscribe(restaurant_id=restaurant_id, after=after, accept=accept, fast=fast)

    @cached_property
    def loaders(self) -> Loaders:
        return Loaders(run=self.run, restaurant=self._restaurant_id)

    async def _restaurant_id(self) -> str:
        return (await self.authenticate()).restaurant_id

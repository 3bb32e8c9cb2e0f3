"""The per-request context: who is asking, for which restaurant, one session and the loaders."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from app.auth.principal import Principal, Tenant
from app.context import AppContext
from app.errors import Forbidden, NotFound, SufrahError, Unauthenticated, ValidationFailed

T = TypeVar("T")

ERROR_CODES = {Unauthenticated: "UNAUTHENTICATED", Forbidden: "FORBIDDEN", NotFound: "NOT_FOUND",
               ValidationFailed: "BAD_USER_INPUT"}


def graphql_error(exc: SufrahError) -> GraphQLError:
    return GraphQLError(exc.message, extensions={"code": ERROR_CODES.get(type(exc), "BAD_REQUEST")})


@dataclass
class Context:
    app: AppContext
    connection: HTTPConnection
    token: str | None
    tenant_ref: str | None
    connection_params: dict[str, Any] | None = None  # set by the WebSocket protocols from connection_init
    _session: AsyncSession | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _tenant: Tenant | None = None
    _principal: Principal | None = None
    # strawberry sets these on the context object for HTTP requests
    request: Any = None
    response: Any = None

    async def run(self, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `fn` with the request's session. Sibling fields resolve concurrently; one session
        must not, so uses are serialized here (DataLoaders keep the number of turns small).

        Shielded: when a sibling field fails, GraphQL execution cancels the others, and a query
        cancelled halfway leaves its connection unusable; the query finishes, its result unused."""
        return await asyncio.shield(self._run(fn))

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

    def fork(self) -> Context:
        """The same caller with a session and loaders of its own (for work done on its behalf in
        another task)."""
        return Context(app=self.app, connection=self.connection, token=self.token, tenant_ref=self.tenant_ref,
                       connection_params=self.connection_params, _tenant=self._tenant, _principal=self._principal)

    async def reset(self) -> None:
        """Between two events of a subscription: close the session nested fields opened, and start
        the loaders afresh (their cache would serve the previous event's rows)."""
        await self.close()
        self.__dict__.pop("loaders", None)

    async def authenticate(self) -> Tenant:
        """The caller's tenant (cached for the request); raises a GraphQL error with a code."""
        if self._tenant is None:
            try:
                self._tenant = await self.run(self._resolve)
            except SufrahError as exc:
                raise graphql_error(exc) from None
        return self._tenant

    async def _resolve(self, session: AsyncSession) -> Tenant:
        tenant = await self.app.auth.tenant(session, token=self.token, tenant_ref=self.tenant_ref)
        self._principal = tenant.principal
        return tenant

    async def _authenticate_principal(self, session: AsyncSession) -> Principal:
        if self._principal is None:
            self._principal = await self.app.auth.principal(session, token=self.token)
        return self._principal

    async def principal(self) -> Principal:
        """The caller, without requiring a restaurant (for admin-wide fields)."""
        try:
            return await self.run(self._authenticate_principal)
        except SufrahError as exc:
            raise graphql_error(exc) from None

    @cached_property
    def loaders(self) -> Any:
        from app.graphql.loaders import Loaders

        return Loaders(self)

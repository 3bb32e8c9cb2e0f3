"""What every REST edge shares: the error shape, the caller's tenant, JSON helpers."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.auth import credentials
from app.auth.principal import Principal, Tenant
from app.context import app_context
from app.errors import Forbidden, SufrahError, ValidationFailed

log = logging.getLogger("sufrah.http")


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SufrahError)
    return error(exc.http_status, exc.message)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error(exc.status_code, exc.detail or "error")


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error(500, "internal error")


EXCEPTION_HANDLERS = {SufrahError: domain_error, HTTPException: http_error, Exception: unexpected_error}


async def principal_of(request: Request, session: AsyncSession) -> Principal:
    """The caller of the request's bearer token; 401 without a valid one."""
    token = credentials.from_headers(request.headers).token
    return await app_context(request).auth.principal(session, token=token)


async def tenant_of(request: Request, session: AsyncSession, *, tenant_ref: str | None = None) -> Tenant:
    """Authenticate the bearer token and resolve the tenant: `tenant_ref` when the route names it
    (already clean), else X-Restaurant-Id; raises 401/403/404/400 domain errors."""
    caller = credentials.from_headers(request.headers)
    if tenant_ref is None and caller.tenant_ref is not None:
        tenant_ref = clean(caller.tenant_ref, "X-Restaurant-Id")
    return await app_context(request).auth.tenant(session, token=caller.token, tenant_ref=tenant_ref)


async def narrowed_tenant(request: Request, session: AsyncSession) -> Tenant:
    """`tenant_of`, narrowed by `?tenantId=` (a bot id or the restaurant's id) as the earlier
    backend's dashboard proxies send it beside X-Restaurant-Id. The query only ever narrows what the
    token is already allowed: it is resolved with the same token (a tenant the token may not act for
    is 403), must name the header's restaurant (else 403), and never widens a bot-narrowed header."""
    named = query_text(request, "tenantId")
    if named is None:
        return await tenant_of(request, session)
    by_query = await tenant_of(request, session, tenant_ref=named)
    if credentials.from_headers(request.headers).tenant_ref is None:
        return by_query
    by_header = await tenant_of(request, session)
    if by_query.restaurant_id != by_header.restaurant_id or (
        by_header.bot_id is not None and by_query.bot_id not in (None, by_header.bot_id)
    ):
        raise Forbidden("tenantId names another restaurant or sender than X-Restaurant-Id")
    return by_query if by_query.bot_id is not None else by_header


async def admin_of(request: Request, session: AsyncSession) -> Principal:
    """The caller, who must hold an admin token: 401 without a valid token, 403 with a scoped one."""
    principal = await principal_of(request, session)
    if not principal.is_admin:
        raise Forbidden("this endpoint needs an admin token")
    return principal


def clean(value: str, name: str) -> str:
    """Refuse text PostgreSQL can't store (NUL, lone surrogates) as bad input rather than a 500."""
    if "\x00" in value:
        raise ValidationFailed(f"{name} must not contain NUL characters", field=name)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationFailed(f"{name} is not valid UTF-8 text", field=name) from None
    return value


def path_param(request: Request, name: str) -> str:
    return clean(request.path_params[name], name)


def query_text(request: Request, name: str) -> str | None:
    """An optional text query parameter; empty counts as absent."""
    raw = request.query_params.get(name)
    return clean(raw, name) if raw else None


def iso(value: datetime | None) -> str | None:
    """The legacy timestamp shape: 2025-10-16T10:30:00.000Z."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def int_param(request: Request, name: str, default: int) -> int:
    """A whole-number query parameter (its bounds are the caller's: app.services.pages for pages)."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be a whole number", field=name) from None


def time_param(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        # In UTC now, so a time at the edge of the calendar (year 1 at +14:00) is refused here.
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValidationFailed(f"{name} must be an ISO 8601 time", field=name) from None


async def json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, RecursionError):
        raise ValidationFailed("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ValidationFailed("the body must be a JSON object")
    _check_strings(body)
    return body


def body_field(body: dict[str, Any], name: str, kind: type, *, required: bool = True) -> Any:
    """A body field of exactly this JSON type (a bool is not a number); null counts as absent."""
    value = body.get(name)
    if value is None:
        if required:
            raise ValidationFailed(f"{name} is required", field=name)
        return None
    if type(value) is not kind:
        raise ValidationFailed(f"{name} must be {_JSON_TYPE.get(kind, kind.__name__)}", field=name)
    return value


_JSON_TYPE = {str: "a string", bool: "true or false", int: "a whole number"}


def _check_strings(body: dict[str, Any]) -> None:
    """Every string in the body (keys too) must be text PostgreSQL can store."""
    pending: list[Any] = [body]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                clean(key, "body")
                pending.append(value)
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            clean(item, "body")

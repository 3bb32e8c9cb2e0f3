"""What every REST edge shares: the error shape, the caller's tenant, JSON helpers."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.auth.principal import Principal, Tenant
from app.context import app_context
from app.errors import (
    Conflict,
    Forbidden,
    InvalidSignature,
    NotFound,
    OutsideCustomerWindow,
    SufrahError,
    Unauthenticated,
    ValidationFailed,
)
from app.services import tokens

log = logging.getLogger("sufrah.http")

STATUS_OF: dict[type[SufrahError], int] = {
    ValidationFailed: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    InvalidSignature: 403,
    NotFound: 404,
    Conflict: 409,
    OutsideCustomerWindow: 422,
}


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SufrahError)
    return error(STATUS_OF.get(type(exc), 400), exc.message)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error(exc.status_code, exc.detail or "error")


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error(500, "internal error")


EXCEPTION_HANDLERS = {SufrahError: domain_error, HTTPException: http_error, Exception: unexpected_error}


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def principal_of(request: Request, session: AsyncSession) -> Principal:
    return await tokens.authenticate(
        session, token=bearer(request), dashboard_pat=app_context(request).settings.dashboard_pat
    )


async def tenant_of(request: Request, session: AsyncSession) -> Tenant:
    """Authenticate the bearer token and resolve X-Restaurant-Id; raises 401/403/404/400 domain errors."""
    principal = await principal_of(request, session)
    return await tokens.resolve_tenant(
        session, principal=principal, tenant_ref=request.headers.get("x-restaurant-id")
    )


def iso(value: datetime | None) -> str | None:
    """The legacy timestamp shape: 2025-10-16T10:30:00.000Z."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def int_param(request: Request, name: str, default: int, *, low: int = 0, high: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be a whole number", field=name) from None
    if value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise ValidationFailed(f"{name} must be {bound}", field=name)
    return value


def time_param(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(f"{name} must be an ISO 8601 time", field=name) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ValidationFailed("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ValidationFailed("the body must be a JSON object")
    return body

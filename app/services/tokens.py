"""API tokens: created random (256 bits), shown once, stored as SHA-256, revocable; and the tenancy rules."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.principal import Principal, Tenant
from app.db import rowcount
from app.errors import Forbidden, NotFound, Unauthenticated, ValidationFailed
from app.ids import new_id
from app.models import ApiToken, Bot, Restaurant

TOKEN_PREFIX = "sfr_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create(
    session: AsyncSession, *, name: str, is_admin: bool = False, restaurant_ids: list[str] | None = None
) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the plaintext, which is never stored or shown again."""
    restaurant_ids = sorted(set(restaurant_ids or []))
    if not is_admin and not restaurant_ids:
        raise ValidationFailed("a non-admin token needs at least one restaurant", field="restaurant_ids")
    if restaurant_ids:
        found = set(
            (
                await session.execute(
                    select(col(Restaurant.id)).where(col(Restaurant.id).in_(restaurant_ids))
                )
            ).scalars()
        )
        missing = [r for r in restaurant_ids if r not in found]
        if missing:
            raise NotFound(f"restaurant not found: {', '.join(missing)}")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        id=new_id("tok"),
        name=name,
        token_hash=hash_token(plaintext),
        token_prefix=plaintext[:10],
        is_admin=is_admin,
        restaurant_ids=restaurant_ids,
    )
    session.add(row)
    await session.flush()
    return row, plaintext


async def list_all(session: AsyncSession) -> list[ApiToken]:
    """Every token (hashes only), newest first."""
    rows = await session.execute(select(ApiToken).order_by(col(ApiToken.created_at).desc()))
    return list(rows.scalars())


async def revoke(session: AsyncSession, *, token_id: str) -> None:
    """Revoke a token; it stops working on the next request."""
    result = await session.execute(
        update(ApiToken)
        .where(col(ApiToken.id) == token_id, col(ApiToken.revoked_at).is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    if rowcount(result) == 0:
        raise NotFound(f"no active token {token_id}")


async def authenticate(session: AsyncSession, *, token: str | None, dashboard_pat: str | None) -> Principal:
    """The principal for a bearer token. Raises Unauthenticated for a missing, unknown or revoked token."""
    if not token:
        raise Unauthenticated("missing bearer token")
    if dashboard_pat and hmac.compare_digest(token.encode(), dashboard_pat.encode()):
        return Principal(token_id=None, is_admin=True, restaurant_ids=frozenset())
    digest = hash_token(token)
    row = (
        await session.execute(
            select(
                col(ApiToken.id),
                col(ApiToken.token_hash),
                col(ApiToken.is_admin),
                col(ApiToken.restaurant_ids),
            ).where(col(ApiToken.token_hash) == digest, col(ApiToken.revoked_at).is_(None))
        )
    ).one_or_none()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        raise Unauthenticated("invalid or revoked token")
    return Principal(token_id=row.id, is_admin=row.is_admin, restaurant_ids=frozenset(row.restaurant_ids))


async def resolve_tenant(session: AsyncSession, *, principal: Principal, tenant_ref: str | None) -> Tenant:
    """Turn X-Restaurant-Id (a restaurant id or one of its bot ids) into a Tenant the principal may act for.

    Without the header a token scoped to exactly one restaurant acts for it. An id outside a scoped
    token's restaurants is Forbidden whether or not it exists, so a token can't probe for other tenants.
    """
    if not tenant_ref:
        if not principal.is_admin and len(principal.restaurant_ids) == 1:
            return Tenant(principal=principal, restaurant_id=next(iter(principal.restaurant_ids)))
        raise ValidationFailed("X-Restaurant-Id header is required", field="X-Restaurant-Id")
    restaurant_id, bot_id = tenant_ref, None
    if not principal.is_admin and tenant_ref in principal.restaurant_ids:
        return Tenant(principal=principal, restaurant_id=tenant_ref)
    exists = await session.scalar(select(col(Restaurant.id)).where(col(Restaurant.id) == tenant_ref))
    if exists is None:
        owner = await session.scalar(
            select(col(Bot.restaurant_id)).where(col(Bot.id) == tenant_ref, col(Bot.deleted_at).is_(None))
        )
        if owner is None:
            if principal.is_admin:
                raise NotFound(f"no restaurant or bot {tenant_ref}")
            raise Forbidden("this token may not act for that restaurant")
        restaurant_id, bot_id = owner, tenant_ref
    if not principal.can_access(restaurant_id):
        raise Forbidden("this token may not act for that restaurant")
    return Tenant(principal=principal, restaurant_id=restaurant_id, bot_id=bot_id)


# -- what open sockets' credentials depend on (app.auth.sockets re-checks them in bulk) -----------
# One `= ANY(:ids)` statement each, however many sockets are open.

_LIVE_SCOPES = text(
    "SELECT id, is_admin, restaurant_ids FROM api_token WHERE id = ANY(:ids) AND revoked_at IS NULL"
)
_EXISTING_RESTAURANTS = text("SELECT id FROM restaurant WHERE id = ANY(:ids)")
_LIVE_BOT_OWNERS = text("SELECT id, restaurant_id FROM bot WHERE id = ANY(:ids) AND deleted_at IS NULL")


async def live_scopes(session: AsyncSession, *, token_ids: list[str]) -> dict[str, tuple[bool, list[str]]]:
    """Of `token_ids`, the tokens not revoked, each with (is_admin, restaurant_ids)."""
    rows = await session.execute(_LIVE_SCOPES, {"ids": token_ids})
    return {row.id: (row.is_admin, row.restaurant_ids) for row in rows}


async def existing_restaurants(session: AsyncSession, *, restaurant_ids: list[str]) -> set[str]:
    """Of `restaurant_ids`, those that still exist."""
    return set((await session.execute(_EXISTING_RESTAURANTS, {"ids": restaurant_ids})).scalars())


async def live_bot_owners(session: AsyncSession, *, bot_ids: list[str]) -> dict[str, str]:
    """Of `bot_ids`, the bots not deleted, each with its restaurant's id."""
    rows = await session.execute(_LIVE_BOT_OWNERS, {"ids": bot_ids})
    return {row.id: row.restaurant_id for row in rows}

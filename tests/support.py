"""Builders and helpers shared by the tests: data factories and Twilio-signed requests."""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from app.auth.crypto import SecretBox
from app.db.engine import Database
from app.models import ApiToken, Bot, Restaurant
from app.services import bots, restaurants, tokens
from app.services.bots import BotChanges
from app.settings import Settings

PUBLIC_BASE_URL = "https://bot.sufrah.test"


def lifespan(app: Any) -> LifespanManager:
    """The app's lifespan for a test. asgi-lifespan's 5 s default for start and stop is a timing
    assumption: on a loaded 2-core machine a start (pool, listener, first queries) took longer, and the
    test failed for it. A real hang still fails, at 60 s."""
    return LifespanManager(app, startup_timeout=60, shutdown_timeout=60)


T = TypeVar("T")
_numbers = itertools.count(500000001)


def new_number() -> str:
    return f"+966{next(_numbers)}"


def sign(url: str, params: dict[str, str], auth_token: str) -> str:
    """X-Twilio-Signature exactly as Twilio computes it (the twilio library's own signer)."""
    return RequestValidator(auth_token).compute_signature(url, params)


@dataclass
class BotHandle:
    restaurant: Restaurant
    bot: Bot
    auth_token: str

    @property
    def number(self) -> str:
        return self.bot.whatsapp_number


@dataclass
class Factory:
    db: Database
    settings: Settings

    async def restaurant(self, name: str = "Sufrah Grill", **kw: Any) -> Restaurant:
        async with self.db.session() as s:
            row = await restaurants.create(s, name=name, **kw)
            await s.commit()
            return row

    async def bot(
        self, restaurant: Restaurant | None = None, *, number: str | None = None, **kw: Any
    ) -> BotHandle:
        restaurant = restaurant or await self.restaurant()
        auth_token = secrets.token_hex(16)
        changes = BotChanges(
            name=kw.pop("name", "Sufrah Bot"),
            restaurant_name=restaurant.name,
            whatsapp_number=number or new_number(),
            account_sid="AC" + secrets.token_hex(16),
            auth_token=auth_token,
            status=kw.pop("status", "ACTIVE"),
            **kw,
        )
        async with self.db.session() as s:
            row = await bots.register(
                s,
                restaurant_id=restaurant.id,
                changes=changes,
                box=SecretBox(self.settings.effective_secret_key),
            )
            await s.commit()
        return BotHandle(restaurant=restaurant, bot=row, auth_token=auth_token)

    async def token(self, *restaurant_ids: str, admin: bool = False) -> str:
        async with self.db.session() as s:
            _, plaintext = await tokens.create(
                s, name="test", is_admin=admin, restaurant_ids=list(restaurant_ids)
            )
            await s.commit()
        return plaintext


def inbound_params(
    bot: BotHandle,
    *,
    customer: str = "+966501234567",
    body: str = "hello",
    sid: str | None = None,
    **extra: str,
) -> dict[str, str]:
    params = {
        "MessageSid": sid or "SM" + secrets.token_hex(16),
        "AccountSid": bot.bot.account_sid,
        "From": f"whatsapp:{customer}",
        "To": f"whatsapp:{bot.number}",
        "Body": body,
        "NumMedia": "0",
        "WaId": customer.lstrip("+"),
        "ApiVersion": "2010-04-01",
    }
    params.update(extra)
    return params


async def post_signed(
    client: httpx.AsyncClient,
    path: str,
    params: dict[str, str],
    auth_token: str,
    *,
    base_url: str = PUBLIC_BASE_URL,
) -> httpx.Response:
    signature = sign(base_url + path, params, auth_token)
    return await client.post(path, data=params, headers={"X-Twilio-Signature": signature})


def auth(token: str, restaurant: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if restaurant is not None:
        headers["X-Restaurant-Id"] = restaurant
    return headers


async def revoke(db: Database, token: str) -> None:
    """Revoke a token the way another process would: in a session of its own."""
    async with db.session() as s:
        row = (
            await s.execute(select(ApiToken).where(ApiToken.token_hash == tokens.hash_token(token)))
        ).scalar_one()
        await tokens.revoke(s, token_id=row.id)
        await s.commit()


async def eventually(
    request: Callable[[], Awaitable[T]], ok: Callable[[T], bool], *, timeout: float = 5.0
) -> T:
    """Repeat `request` until its answer satisfies `ok` or `timeout` seconds pass (then return the last
    answer, for the caller's assert). For what reaches a process through PostgreSQL's NOTIFY, such as
    a token revoked by another process: milliseconds, not the next instant."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        answer = await request()
        if ok(answer) or asyncio.get_running_loop().time() > deadline:
            return answer
        await asyncio.sleep(0.02)


def graphql_view(app: object) -> Any:
    """The fast path installed on the app's GraphQL endpoint (its plans)."""
    from starlette.routing import Route

    view = next(r.endpoint for r in app.routes if isinstance(r, Route) and r.path == "/graphql")  # type: ignore[attr-defined]
    assert view.fast is not None, "GRAPHQL_COMPILE is off"
    return view.fast

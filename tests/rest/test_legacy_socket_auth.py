"""/ws authenticates by its first message (no token in a URL), `?token=` still works for old
dashboards, and no token reaches a log line: uvicorn's access and socket lines show
`token=[redacted]`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets

from app.logs import redact
from tests.gql import gql
from tests.servers import ServerProcess
from tests.support import Factory, auth


@pytest.fixture
async def shop(factory: Factory):
    restaurant = await factory.restaurant()
    return restaurant.id, await factory.token(restaurant.id)


async def cursor_now(client: httpx.AsyncClient, token: str) -> str:
    return (await gql(client, "{ eventCursor }", token=token))["data"]["eventCursor"]  # type: ignore[no-any-return]


async def receive(ws: Any) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), 5))  # type: ignore[no-any-return]


async def closed_with(ws: Any, timeout: float = 10) -> tuple[int, str]:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def test_first_message_authentication(client, live_url, shop, factory: Factory):
    restaurant_id, token = shop
    admin = await factory.token(admin=True)
    for who, extra in ((token, {}), (admin, {"restaurantId": restaurant_id})):
        after = await cursor_now(client, token)
        async with websockets.connect(f"ws://{live_url}/ws") as ws:
            await ws.send(json.dumps({"type": "auth", "token": who, "after": after, **extra}))
            assert await receive(ws) == {"type": "auth.ok", "restaurantId": restaurant_id}
            await client.post("/api/bot/toggle", json={"enabled": False}, headers=auth(token))
            frame = await receive(ws)
            assert frame["type"] == "bot.status.updated" and frame["data"]["restaurantId"] == restaurant_id
            await ws.send("ping")
            assert await asyncio.wait_for(ws.recv(), 5) == "pong"


@pytest.mark.parametrize(
    "first",
    [
        None,  # nothing sent: closed once WS_AUTH_TIMEOUT_SECONDS pass
        "ping",
        json.dumps({"type": "ping"}),
        json.dumps({"type": "auth"}),
        json.dumps({"type": "auth", "token": "sfr_wrong"}),
        json.dumps({"type": "auth", "token": 42}),
    ],
)
async def test_a_missing_late_or_bad_auth_frame_closes_4401(live_url, shop, first):
    async with websockets.connect(f"ws://{live_url}/ws") as ws:
        if first is not None:
            await ws.send(first)
        code, reason = await closed_with(ws)
    assert code == 4401
    assert "auth" in reason or "token" in reason


async def test_the_query_string_token_still_works(client, live_url, shop):
    restaurant_id, token = shop
    after = await cursor_now(client, token)
    async with websockets.connect(f"ws://{live_url}/ws?token={token}&after={after}") as ws:
        await client.post("/api/bot/toggle", json={"enabled": False}, headers=auth(token))
        frame = await receive(ws)  # no auth.ok for old dashboards: the first frame is the change
        assert frame["type"] == "bot.status.updated" and frame["data"]["restaurantId"] == restaurant_id


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextlib.contextmanager
def uvicorn_lines() -> Iterator[list[str]]:
    """What uvicorn's access and socket loggers write at INFO (the default level of `sufrah serve`)."""
    handler = _Lines()
    loggers = [logging.getLogger(name) for name in ("uvicorn.access", "uvicorn.error")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


async def test_no_token_reaches_uvicorns_log_lines(live_url, shop):
    _, token = shop
    with uvicorn_lines() as lines:
        async with websockets.connect(f"ws://{live_url}/ws?token={token}") as ws:
            await ws.send("ping")
            assert await asyncio.wait_for(ws.recv(), 5) == "pong"
        async with httpx.AsyncClient(base_url=f"http://{live_url}") as http:
            await http.get("/healthz", params={"access_token": token, "ticket": token})
            await http.get("/api/db/conversations", params={"token": token})
    written = "\n".join(lines)
    assert (
        "/ws?token=[redacted]" in written and "/healthz?access_token=[redacted]&ticket=[redacted]" in written
    )
    assert token not in written


def test_redaction_keeps_what_is_not_a_secret():
    assert (
        redact("/ws?restaurantId=rst_1&token=sfr_x&after=ZXY")
        == "/ws?restaurantId=rst_1&token=[redacted]&after=ZXY"
    )
    assert redact("GET /api/x?API_KEY=k&page=2 HTTP/1.1") == "GET /api/x?API_KEY=[redacted]&page=2 HTTP/1.1"
    assert redact("/graphql?query=%7Bstats%7D") == "/graphql?query=%7Bstats%7D"


@pytest.mark.slow
async def test_sufrah_serve_writes_no_token_to_its_log(db, shop, database_url, settings, tmp_path):
    _, token = shop
    env = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": settings.secret_key or "",
        "LOG_LEVEL": "INFO",
        "DASHBOARD_PAT": "",
        "RUN_WORKERS": "false",
    }
    with ServerProcess(env=env, log_dir=tmp_path) as server:
        host = server.url.removeprefix("http://")
        async with websockets.connect(f"ws://{host}/ws?token={token}") as ws:
            await ws.send("ping")
            assert await asyncio.wait_for(ws.recv(), 5) == "pong"
        async with httpx.AsyncClient(base_url=server.url) as http:
            await http.get("/healthz", params={"token": token})
    written = server.log_path.read_text()
    assert "/ws?token=[redacted]" in written and "/healthz?token=[redacted]" in written
    assert token not in written

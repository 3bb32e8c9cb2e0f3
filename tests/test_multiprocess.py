"""Several server processes on one database: live updates cross processes and survive restarts."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.gql import Socket
from tests.servers import ServerProcess
from tests.support import Factory, inbound_params, sign

pytestmark = pytest.mark.slow

SUBSCRIPTION = "subscription($after: String) { messageCreated(after: $after) { content cursor } }"


@pytest.fixture
def server_env(database_url, settings) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "SECRET_KEY": settings.secret_key or "", "LOG_LEVEL": "WARNING",
            "DASHBOARD_PAT": ""}


async def say(server: ServerProcess, bot, body: str) -> None:
    params = inbound_params(bot, body=body)
    signature = sign(f"{server.url}/whatsapp/webhook", params, bot.auth_token)
    async with httpx.AsyncClient() as c:
        response = await c.post(f"{server.url}/whatsapp/webhook", data=params,
                                headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200


async def test_a_subscriber_on_one_process_hears_what_another_ingests(db, factory: Factory, server_env, tmp_path):
    bot = await factory.bot()
    token = await factory.token(bot.restaurant.id)
    with ServerProcess(env=server_env, log_dir=tmp_path) as a, ServerProcess(env=server_env, log_dir=tmp_path) as b:
        async with Socket(a.url.removeprefix("http://")) as ws:
            await ws.init(token, bot.restaurant.id)
            await ws.subscribe(SUBSCRIPTION)
            await asyncio.sleep(0.3)
            for i in range(3):
                await say(b, bot, f"through b {i}")
            got = [(await ws.next_data())["messageCreated"]["content"] for _ in range(3)]
            assert got == ["through b 0", "through b 1", "through b 2"]
            await ws.nothing_more()


@pytest.mark.parametrize("how", ["stop", "kill"])
async def test_resume_by_cursor_after_the_server_restarts(db, factory: Factory, server_env, tmp_path, how):
    bot = await factory.bot()
    token = await factory.token(bot.restaurant.id)
    first = ServerProcess(env=server_env, log_dir=tmp_path).start()
    port = first.port
    try:
        async with Socket(first.url.removeprefix("http://")) as ws:
            await ws.init(token, bot.restaurant.id)
            await ws.subscribe(SUBSCRIPTION)
            await asyncio.sleep(0.3)
            await say(first, bot, "seen before the restart")
            cursor = (await ws.next_data())["messageCreated"]["cursor"]
            first.kill() if how == "kill" else first.stop()
        with ServerProcess(env=server_env, log_dir=tmp_path) as other:
            await say(other, bot, "while the first was down")
        with ServerProcess(env=server_env, log_dir=tmp_path, port=port) as again:
            async with Socket(again.url.removeprefix("http://")) as ws:
                await ws.init(token, bot.restaurant.id)
                await ws.subscribe(SUBSCRIPTION, {"after": cursor})
                assert (await ws.next_data())["messageCreated"]["content"] == "while the first was down"
                await say(again, bot, "after the restart")
                assert (await ws.next_data())["messageCreated"]["content"] == "after the restart"
                await ws.nothing_more()
    finally:
        first.stop()

"""Several server processes on one database: live updates cross processes and survive restarts."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.gql import Socket
from tests.servers import ServerProcess
from tests.support import Factory, inbound_params, sign

pytestmark = pytest.mark.slow

SUBSCRIPTION = "subscription($after: String) { messageCreated(after: $after) { content cursor direction } }"


async def next_inbound(ws: Socket) -> dict:
    """The next customer message on the stream (the running bot's replies are on it too)."""
    while True:
        message = (await ws.next_data())["messageCreated"]
        if message["direction"] == "IN":
            return message


@pytest.fixture
def server_env(database_url, settings) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "SECRET_KEY": settings.secret_key or "",
        "LOG_LEVEL": "WARNING",
        "DASHBOARD_PAT": "",
    }


async def say(server: ServerProcess, bot, body: str) -> None:
    params = inbound_params(bot, body=body)
    signature = sign(f"{server.url}/whatsapp/webhook", params, bot.auth_token)
    async with httpx.AsyncClient() as c:
        response = await c.post(
            f"{server.url}/whatsapp/webhook", data=params, headers={"X-Twilio-Signature": signature}
        )
    assert response.status_code == 200


async def test_a_subscriber_on_one_process_hears_what_another_ingests(
    db, factory: Factory, server_env, tmp_path
):
    bot = await factory.bot()
    token = await factory.token(bot.restaurant.id)
    with (
        ServerProcess(env=server_env, log_dir=tmp_path) as a,
        ServerProcess(env=server_env, log_dir=tmp_path) as b,
    ):
        async with Socket(a.url.removeprefix("http://")) as ws:
            await ws.init(token, bot.restaurant.id)
            await ws.subscribe(SUBSCRIPTION)
            await asyncio.sleep(0.3)
            for i in range(3):
                await say(b, bot, f"through b {i}")
            got = [(await next_inbound(ws))["content"] for _ in range(3)]
            assert got == ["through b 0", "through b 1", "through b 2"]


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
            cursor = (await next_inbound(ws))["cursor"]
            first.kill() if how == "kill" else first.stop()
        with ServerProcess(env=server_env, log_dir=tmp_path) as other:
            await say(other, bot, "while the first was down")
        with ServerProcess(env=server_env, log_dir=tmp_path, port=port) as again:
            async with Socket(again.url.removeprefix("http://")) as ws:
                await ws.init(token, bot.restaurant.id)
                await ws.subscribe(SUBSCRIPTION, {"after": cursor})
                assert (await next_inbound(ws))["content"] == "while the first was down"
                await say(again, bot, "after the restart")
                assert (await next_inbound(ws))["content"] == "after the restart"
    finally:
        first.stop()


async def test_killed_between_commit_and_reply_the_restart_answers_once_from_the_right_step(
    db, factory: Factory, server_env, tmp_path
):
    from app.services import catalog
    from tests.fakes.twilio_api import FakeTwilio

    bot = await factory.bot()
    async with db.session() as s:
        await catalog.load_demo_menu(s, restaurant_id=bot.restaurant.id)
        await s.commit()
    async with FakeTwilio() as fake:
        fake.add_account(bot.bot.account_sid, bot.auth_token)
        env = {**server_env, "TWILIO_API_BASE_URL": fake.base_url}
        with ServerProcess(env=env, log_dir=tmp_path) as server:
            await say(server, bot, "hi")
            await say(server, bot, "1")
            await fake.wait_for(2)
        # A process that commits messages but dies before their turn (its workers never ran them).
        mute = ServerProcess(env={**env, "RUN_WORKERS": "false"}, log_dir=tmp_path).start()
        await say(mute, bot, "2")  # pickup
        mute.kill()
        assert len(fake.sent) == 2
        with ServerProcess(env=env, log_dir=tmp_path):
            replies = await fake.wait_for(3, timeout=15)
            await asyncio.sleep(1.5)  # time for any duplicate to show up
        assert len(fake.sent) == 3
        assert "Which branch" in fake.shown(replies[2])  # a list picker: the phone shows its body

"""Reliability under failure: kill -9 under load, and the database stopped under load.
Every acknowledged message is stored exactly once; every bot turn is done exactly once."""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from app.auth.crypto import SecretBox
from app.db import embedded
from app.db.engine import Database
from app.models import Message
from app.services import bots, restaurants
from app.services.bots import BotChanges
from tests.fakes.twilio_api import FakeTwilio
from tests.servers import ServerProcess
from tests.support import BotHandle, Factory, inbound_params, sign

pytestmark = pytest.mark.slow
SECRET = "reliability-secret-" + "x" * 32


async def fire(
    server_url: str,
    bot,
    sids: list[str],
    acknowledged: list[str],
    *,
    customers: int,
    rate: float,
    seconds: float,
) -> None:
    """Signed webhooks at a steady rate from several customers; remembers which Twilio saw answered 200."""
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=5) as c:
        i = 0
        while time.monotonic() < deadline:
            params = inbound_params(bot, customer=f"+9665{i % customers:08d}", body="hi")
            sids.append(params["MessageSid"])
            signature = sign(f"{server_url}/whatsapp/webhook", params, bot.auth_token)
            try:
                response = await c.post(
                    f"{server_url}/whatsapp/webhook", data=params, headers={"X-Twilio-Signature": signature}
                )
                if response.status_code == 200:
                    acknowledged.append(params["MessageSid"])
            except httpx.HTTPError:
                pass  # not acknowledged: Twilio would count it as failed
            i += 1
            await asyncio.sleep(1 / rate)


async def stored_sids(db: Database, restaurant_id: str) -> list[str]:
    async with db.session() as s:
        rows = await s.execute(
            select(Message.wa_sid).where(Message.restaurant_id == restaurant_id, Message.direction == "IN")
        )
        return [r for (r,) in rows]


async def test_kill_9_under_inbound_load_loses_and_repeats_nothing(
    db, factory: Factory, database_url, settings, tmp_path
):
    bot = await factory.bot()
    async with FakeTwilio() as fake:
        fake.add_account(bot.bot.account_sid, bot.auth_token)
        env = {
            "DATABASE_URL": database_url,
            "SECRET_KEY": settings.secret_key or "",
            "LOG_LEVEL": "WARNING",
            "TWILIO_API_BASE_URL": fake.base_url,
        }
        server = ServerProcess(env=env, log_dir=tmp_path).start()
        sids: list[str] = []
        acknowledged: list[str] = []
        load = asyncio.create_task(
            fire(server.url, bot, sids, acknowledged, customers=1000, rate=60, seconds=6)
        )
        await asyncio.sleep(2)
        server.kill()
        await asyncio.sleep(0.3)
        with ServerProcess(env=env, log_dir=tmp_path, port=server.port):
            await load
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                async with db.session() as s:
                    pending = await s.scalar(
                        select(func.count())
                        .select_from(Message)
                        .where(
                            (Message.bot_turn == "pending") | Message.send_state.in_(["pending", "sending"])
                        )
                    )
                if pending == 0:
                    break
                await asyncio.sleep(0.5)
        stored = await stored_sids(db, bot.restaurant.id)
        assert len(stored) == len(set(stored))  # exactly once
        assert set(acknowledged) <= set(stored)  # nothing acknowledged is lost
        assert (
            len(acknowledged) > 20
        )  # the load really ran across the kill (the count depends on the machine)
        async with db.session() as s:
            turns = (
                await s.execute(
                    select(Message.bot_turn, func.count())
                    .where(Message.direction == "IN")
                    .group_by(Message.bot_turn)
                )
            ).all()
            replies = await s.scalar(
                select(func.count()).select_from(Message).where(Message.direction == "OUT")
            )
        assert dict(turns) == {"done": len(stored)}
        # each customer wrote "hi" once and got exactly one welcome; Twilio got each reply once
        assert replies == len(stored)
        delivered = [m["To"] for m in fake.sent]
        assert len(delivered) == len(set(delivered)) <= replies


def _restart_embedded(data_dir: Path, socket_dir: str) -> None:
    import os

    from pgserver._commands import pg_ctl

    pg_ctl(
        ["-w", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(data_dir / "pgdata" / "log"), "start"],
        pgdata=data_dir / "pgdata",
        user="pgserver" if os.geteuid() == 0 else None,
        timeout=30,
    )


async def _shop_on(url: str, *, name: str, number: str) -> BotHandle:
    """A restaurant with a bot on the database at `url` (not the tests' own), for a server process."""
    db = Database.connect(url)
    auth_token = secrets.token_hex(16)
    try:
        async with db.session() as s:
            restaurant = await restaurants.create(s, name=name)
            bot = await bots.register(
                s,
                restaurant_id=restaurant.id,
                box=SecretBox(SECRET),
                changes=BotChanges(
                    name="b",
                    restaurant_name=name,
                    whatsapp_number=number,
                    account_sid="AC" + number[-1] * 32,
                    auth_token=auth_token,
                ),
            )
            await s.commit()
    finally:
        await db.dispose()
    return BotHandle(restaurant=restaurant, bot=bot, auth_token=auth_token)


async def test_database_stopped_for_20_seconds_under_load_loses_nothing(tmp_path, pg_tmp):
    data_dir = pg_tmp / "data"
    url = await asyncio.to_thread(embedded.start, data_dir)
    socket_dir = url.split("host=")[1]
    env = {"DATA_DIR": str(data_dir), "DATABASE_URL": "", "SECRET_KEY": SECRET, "LOG_LEVEL": "WARNING"}
    try:
        with ServerProcess(env=env, log_dir=tmp_path) as server:
            handle = await _shop_on(url, name="Outage", number="+966522223333")
            restaurant = handle.restaurant

            # The first message routes the bot into the local directory, as normal traffic would.
            sids: list[str] = []
            acknowledged: list[str] = []
            await fire(server.url, handle, sids, acknowledged, customers=50, rate=20, seconds=0.5)
            load = asyncio.create_task(
                fire(server.url, handle, sids, acknowledged, customers=50, rate=20, seconds=30)
            )
            await asyncio.sleep(3)
            await asyncio.to_thread(embedded.stop, data_dir)
            await asyncio.sleep(2)
            async with httpx.AsyncClient() as c:
                ready = await c.get(f"{server.url}/readyz")
            assert ready.status_code == 503 and ready.json()["status"] == "degraded"
            await asyncio.sleep(18)
            await asyncio.to_thread(_restart_embedded, data_dir, socket_dir)
            await load
            db = Database.connect(url)
            try:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    stored = await stored_sids(db, restaurant.id)
                    if set(acknowledged) <= set(stored):
                        break
                    await asyncio.sleep(0.5)
                assert len(stored) == len(set(stored))
                assert set(acknowledged) <= set(stored)
                assert len(acknowledged) >= 0.9 * len(sids)  # the outage was absorbed, not refused
            finally:
                await db.dispose()
            async with httpx.AsyncClient() as c:
                assert (await c.get(f"{server.url}/readyz")).json()["status"] == "ready"
    finally:
        await asyncio.to_thread(embedded.stop, data_dir)


async def test_a_process_killed_during_an_outage_has_its_spool_replayed_by_its_successor(tmp_path, pg_tmp):
    data_dir = pg_tmp / "data"
    url = await asyncio.to_thread(embedded.start, data_dir)
    socket_dir = url.split("host=")[1]
    env = {"DATA_DIR": str(data_dir), "DATABASE_URL": "", "SECRET_KEY": SECRET, "LOG_LEVEL": "WARNING"}
    server = ServerProcess(env=env, log_dir=tmp_path).start()
    try:
        handle = await _shop_on(url, name="Killed", number="+966522224444")
        restaurant, auth_token = handle.restaurant, handle.auth_token

        async def post(c: httpx.AsyncClient, params: dict[str, str]) -> int:
            signature = sign(f"{server.url}/whatsapp/webhook", params, auth_token)
            response = await c.post(
                f"{server.url}/whatsapp/webhook", data=params, headers={"X-Twilio-Signature": signature}
            )
            return response.status_code

        async with httpx.AsyncClient(timeout=10) as c:
            assert await post(c, inbound_params(handle, body="before")) == 200  # the directory learns the bot
            await asyncio.to_thread(embedded.stop, data_dir)
            during = [
                inbound_params(handle, customer=f"+96655{i:07d}", body=f"during {i}") for i in range(10)
            ]
            assert [await post(c, p) for p in during] == [200] * 10  # spooled, acknowledged
            ready = (await c.get(f"{server.url}/readyz")).json()
            assert (ready["status"], ready["spooledWebhooks"]) == ("degraded", 10)
        server.kill()  # with its spool unreplayed: an orphan now
        await asyncio.to_thread(_restart_embedded, data_dir, socket_dir)

        with ServerProcess(env=env, log_dir=tmp_path, port=server.port) as successor:
            db = Database.connect(url)
            try:
                wanted = {p["MessageSid"] for p in during}
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and not wanted <= set(await stored_sids(db, restaurant.id)):
                    await asyncio.sleep(0.2)
                stored = await stored_sids(db, restaurant.id)
            finally:
                await db.dispose()
            async with httpx.AsyncClient() as c:
                ready = (await c.get(f"{successor.url}/readyz")).json()
        assert wanted <= set(stored) and len(stored) == len(set(stored)) == 11
        assert (
            ready["status"],
            ready["spooledWebhooks"],
            ready["orphanedSpoolFiles"],
            ready["deadLetteredWebhooks"],
        ) == ("ready", 0, 0, 0)
        assert list((data_dir / "spool").glob("spool-*.jsonl")) == []
    finally:
        server.kill()
        await asyncio.to_thread(embedded.stop, data_dir)

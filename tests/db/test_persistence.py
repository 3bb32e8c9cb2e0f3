"""The zero-config path: `sufrah serve` on the embedded PostgreSQL keeps data across restarts."""

from __future__ import annotations

import asyncio
import secrets

import httpx
import pytest

from app.auth.crypto import SecretBox
from app.db import embedded
from app.db.engine import Database
from app.services import bots, restaurants
from app.services.bots import BotChanges
from tests.servers import ServerProcess
from tests.support import sign

pytestmark = pytest.mark.slow


async def test_messages_survive_a_restart_on_the_embedded_database(tmp_path, pg_tmp):
    data_dir = pg_tmp / "data"
    env = {
        "DATA_DIR": str(data_dir),
        "DASHBOARD_PAT": "pat-restart",
        "SECRET_KEY": "k" * 40,
        "DATABASE_URL": "",
        "LOG_LEVEL": "WARNING",
    }  # empty: the embedded database
    try:
        with ServerProcess(env=env, log_dir=tmp_path) as server:
            db = Database.connect(await asyncio.to_thread(embedded.start, data_dir))
            auth_token = secrets.token_hex(16)
            async with db.session() as s:
                restaurant = await restaurants.create(s, name="Persisted")
                await bots.register(
                    s,
                    restaurant_id=restaurant.id,
                    box=SecretBox("k" * 40),
                    changes=BotChanges(
                        name="b",
                        restaurant_name="Persisted",
                        whatsapp_number="+966511112222",
                        account_sid="AC" + "0" * 32,
                        auth_token=auth_token,
                    ),
                )
                await s.commit()
            await db.dispose()
            params = {
                "MessageSid": "SMpersist",
                "From": "whatsapp:+966533334444",
                "To": "whatsapp:+966511112222",
                "Body": "still here?",
            }
            signature = sign(f"{server.url}/whatsapp/webhook", params, auth_token)
            async with httpx.AsyncClient() as c:
                response = await c.post(
                    f"{server.url}/whatsapp/webhook", data=params, headers={"X-Twilio-Signature": signature}
                )
            assert response.status_code == 200

        with ServerProcess(env=env, log_dir=tmp_path) as server:
            headers = {"Authorization": "Bearer pat-restart", "X-Restaurant-Id": restaurant.id}
            async with httpx.AsyncClient(base_url=server.url, headers=headers) as c:
                [conversation] = (await c.get("/api/db/conversations")).json()
                messages = (await c.get(f"/api/db/conversations/{conversation['id']}/messages")).json()
        assert [m["content"] for m in messages if m["direction"] == "IN"] == ["still here?"]
        assert (data_dir / "pgdata" / "PG_VERSION").exists()
    finally:
        await asyncio.to_thread(embedded.stop, data_dir)

"""Each webhook outcome (app/services/inbound.py `Outcome`) as Twilio sees it, and what is stored.

Stored, duplicate, unknown number and bad signature for inbound messages are in tests/rest/test_webhooks.py;
here: the outcome set itself (an operator counts these), the status callback's answers, and the
outage: a webhook taken while the database is unreachable is spooled, acknowledged, and stored once
the database is back. The outage is a TCP proxy in front of PostgreSQL that the test cuts, so the app
fails the way it does when the network or the database goes away (the slow version, with PostgreSQL
itself stopped, is tests/test_reliability.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from app.db.engine import Database
from app.main import create_app
from app.models import Message
from app.services.inbound import Outcome
from app.settings import Settings
from tests.rest.test_webhooks import _outbound, status_params
from tests.support import PUBLIC_BASE_URL, Factory, inbound_params, lifespan, post_signed, sign


def test_the_outcomes_are_the_five_an_operator_counts():
    assert {o.value for o in Outcome} == {"stored", "duplicate", "unknown_number", "bad_signature", "spooled"}


async def _delivery(db: Database, sid: str) -> str | None:
    async with db.session() as s:
        return await s.scalar(select(Message.delivery_status).where(Message.wa_sid == sid))


async def _stored(db: Database, sid: str) -> bool:
    async with db.session() as s:
        return await s.scalar(select(Message.id).where(Message.wa_sid == sid)) is not None


async def test_status_callbacks_answer_each_outcome(client, db: Database, factory: Factory):
    bot = await factory.bot()
    await _outbound(db, bot, "SMout9")
    delivered = status_params(bot, "SMout9", "delivered")
    stored = await post_signed(client, "/whatsapp/status", delivered, bot.auth_token)
    assert (stored.status_code, await _delivery(db, "SMout9")) == (204, "delivered")
    stale = status_params(bot, "SMout9", "sent")
    duplicate = await post_signed(client, "/whatsapp/status", stale, bot.auth_token)
    assert (duplicate.status_code, await _delivery(db, "SMout9")) == (204, "delivered")
    unknown = dict(status_params(bot, "SMout9", "read"), From="whatsapp:+15550001111")
    response = await post_signed(client, "/whatsapp/status", unknown, bot.auth_token)
    assert response.status_code == 404 and response.json() == {
        "error": "no bot is registered for this number"
    }
    bad = await post_signed(client, "/whatsapp/status", status_params(bot, "SMout9", "read"), "wrong")
    assert bad.status_code == 403 and bad.json() == {"error": "invalid Twilio signature"}
    assert await _delivery(db, "SMout9") == "delivered"


class CuttableProxy:
    """A TCP proxy to PostgreSQL on a loopback port; `cut()` drops every connection and refuses new
    ones (an outage), `restore()` listens again on the same port."""

    def __init__(self, target_url: str) -> None:
        url = make_url(target_url)
        socket_dir = url.query.get("host")
        self._unix = f"{socket_dir}/.s.PGSQL.{url.port or 5432}" if socket_dir else None
        self._tcp = (url.host or "127.0.0.1", url.port or 5432)
        self._target = url
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return self._target.set(host="127.0.0.1", port=self.port, query={}).render_as_string(
            hide_password=False
        )

    async def restore(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._unix:
            up_reader, up_writer = await asyncio.open_unix_connection(self._unix)
        else:
            up_reader, up_writer = await asyncio.open_connection(*self._tcp)
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


def _spooled(directory: Path) -> list[dict]:
    return [
        json.loads(line)
        for path in sorted(directory.glob("spool-*.jsonl"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]


async def _eventually(check, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.1)
    return False


@pytest.fixture
async def proxy(settings: Settings):
    p = CuttableProxy(str(settings.database_url))
    await p.restore()
    yield p
    if p._server is not None:
        await p.cut()


async def test_while_the_database_is_away_webhooks_are_spooled_acknowledged_and_stored_later(
    db: Database, factory: Factory, settings: Settings, proxy: CuttableProxy, tmp_path: Path
):
    bot = await factory.bot()
    await _outbound(db, bot, "SMout8")
    app = create_app(settings.model_copy(update={"data_dir": tmp_path, "database_url": proxy.url}))
    async with lifespan(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_BASE_URL) as client:
            before = inbound_params(bot, body="before the outage")
            assert (await post_signed(client, "/whatsapp/webhook", before, bot.auth_token)).status_code == 200

            await proxy.cut()
            during = inbound_params(bot, body="during the outage")
            spooled = await post_signed(client, "/whatsapp/webhook", during, bot.auth_token)
            assert spooled.status_code == 200 and "<Response>" in spooled.text
            read = status_params(bot, "SMout8", "read")
            assert (
                await post_signed(client, "/whatsapp/status?m=x", read, bot.auth_token)
            ).status_code == 204
            wrong = sign(PUBLIC_BASE_URL + "/whatsapp/webhook", during, "not-the-token")
            forged = await client.post(
                "/whatsapp/webhook", data=inbound_params(bot), headers={"X-Twilio-Signature": wrong}
            )
            assert forged.status_code == 403 and forged.json() == {"error": "invalid Twilio signature"}
            never_seen = inbound_params(bot, To="whatsapp:+15550001111")
            refused = await post_signed(client, "/whatsapp/webhook", never_seen, bot.auth_token)
            assert refused.status_code == 503
            assert refused.json() == {"error": "the database is unavailable; try again"}
            kept = _spooled(tmp_path / "spool")
            assert [(e["kind"], e["params"]["MessageSid"], e["query"]) for e in kept] == [
                ("inbound", during["MessageSid"], {}),
                ("status", "SMout8", {"m": "x"}),
            ]
            assert not await _stored(db, during["MessageSid"])

            await proxy.restore()

            async def replayed() -> bool:
                return await _delivery(db, "SMout8") == "read" and await _stored(db, during["MessageSid"])

            assert await _eventually(replayed)
    async with db.session() as s:
        contents = (await s.execute(select(Message.content).where(Message.direction == "IN"))).scalars()
        assert sorted(contents) == ["before the outage", "during the outage"]

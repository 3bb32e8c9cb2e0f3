"""The outage spool: a bad entry never blocks the good ones after it, progress is kept without a
window for loss, orphans of dead processes are counted and adopted, and everything is private (0600).
The database outage itself is in tests/test_reliability.py (slow)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from app.db.engine import Database
from app.errors import NotFound
from app.main import create_app
from app.models import Conversation, Message
from app.services import bots
from app.settings import Settings
from app.spool import DEAD_LETTERS, BotDirectory, Route, Spool, Spooled
from tests.support import PUBLIC_BASE_URL, Factory, inbound_params, lifespan


def entry(sid: str, *, restaurant_id: str = "rst_1", bot_id: str = "bot_1") -> Spooled:
    params = {
        "MessageSid": sid,
        "From": "whatsapp:+966501234567",
        "To": "whatsapp:+966500000001",
        "Body": "hi",
    }
    return Spooled(
        kind="inbound",
        restaurant_id=restaurant_id,
        bot_id=bot_id,
        params=params,
        query={},
        received_at=time.time(),
    )


class Recorder:
    """A replay target: records what it applied, and fails the MessageSids it is told to."""

    def __init__(self, fail: dict[str, Exception] | None = None) -> None:
        self.applied: list[str] = []
        self.fail = fail or {}

    async def __call__(self, spooled: Spooled) -> None:
        sid = spooled.params["MessageSid"]
        if sid in self.fail:
            raise self.fail.pop(sid)
        self.applied.append(sid)


def dead_letters(directory: Path) -> list[dict]:
    path = directory / DEAD_LETTERS
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def spooled_sids(spool: Spool) -> list[str]:
    return [
        json.loads(line)["params"]["MessageSid"]
        for path in spool.files()
        for line in path.read_text().splitlines()
        if line.strip()
    ]


@pytest.fixture
def spools():
    """Spool(folder), closed again after the test (each holds its file open, as a process does)."""
    made: list[Spool] = []

    def make(directory: Path) -> Spool:
        made.append(Spool(directory))
        return made[-1]

    yield make
    for spool in made:
        spool.close()


@pytest.fixture
def umask_022():
    """The usual umask, under which a plain open() makes files anyone on the machine may read."""
    old = os.umask(0o022)
    yield
    os.umask(old)


async def test_a_bad_entry_is_dead_lettered_and_the_ones_after_it_are_replayed(spools, tmp_path, caplog):
    spool = spools(tmp_path)
    for sid in ("SM1", "SM2", "SM3"):
        await spool.append(entry(sid))
    apply = Recorder(fail={"SM1": NotFound("no bot is registered for this number")})

    with caplog.at_level(logging.ERROR, logger="sufrah.spool"):
        assert await spool.replay(apply) == 2

    assert apply.applied == ["SM2", "SM3"]
    [dead] = dead_letters(tmp_path)
    assert dead["entry"]["params"]["MessageSid"] == "SM1" and dead["entry"]["bot_id"] == "bot_1"
    assert dead["error"] == "NotFound: no bot is registered for this number"
    [line] = [r for r in caplog.records if r.name == "sufrah.spool"]
    assert line.levelno == logging.ERROR and "'SM1'" in line.getMessage() and line.exc_info is None
    assert spool.stats() == {"spooledWebhooks": 0, "deadLetteredWebhooks": 1, "orphanedSpoolFiles": 0}
    assert spool.dead_lettered == 1 and not spool.has_work() and spooled_sids(spool) == []
    assert await spool.replay(apply) == 0 and apply.applied == ["SM2", "SM3"]  # nothing twice


async def test_an_unreachable_database_stops_replay_and_keeps_the_rest_for_later(spools, tmp_path):
    spool = spools(tmp_path)
    for sid in ("SM1", "SM2", "SM3", "SM4"):
        await spool.append(entry(sid))
    apply = Recorder(fail={"SM2": NotFound("gone"), "SM3": ConnectionRefusedError("database is down")})

    with pytest.raises(ConnectionRefusedError):
        await spool.replay(apply)
    assert apply.applied == ["SM1"]
    assert spooled_sids(spool) == ["SM3", "SM4"]  # what was done (applied or dead) is not kept again
    assert spool.stats()["spooledWebhooks"] == 2 and spool.has_work()

    await spool.append(entry("SM5"))  # spooled while the database was still away
    assert await spool.replay(apply) == 3
    assert apply.applied == ["SM1", "SM3", "SM4", "SM5"]
    assert [d["entry"]["params"]["MessageSid"] for d in dead_letters(tmp_path)] == ["SM2"]
    assert spooled_sids(spool) == [] and spool.pending == 0


async def test_a_crash_while_keeping_progress_loses_nothing_and_dead_letters_once(
    spools, tmp_path, monkeypatch
):
    spool = spools(tmp_path)
    for sid in ("SM1", "SM2", "SM3"):
        await spool.append(entry(sid))
    before = [p.read_bytes() for p in spool.files()]

    def crash(*args: object) -> None:
        raise OSError("the machine went down here")

    with monkeypatch.context() as patched:  # the rest of the spool is written, and then the crash
        patched.setattr(os, "rename", crash)
        with pytest.raises(OSError):
            await spool.replay(Recorder(fail={"SM1": NotFound("gone"), "SM3": ConnectionRefusedError()}))
    assert [p.read_bytes() for p in spool.files()] == before  # the old file, whole
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]

    apply = Recorder(fail={"SM1": NotFound("gone")})
    assert await spool.replay(apply) == 2  # SM2 again: replays are deduplicated by MessageSid
    assert apply.applied == ["SM2", "SM3"] and spooled_sids(spool) == []
    assert len(dead_letters(tmp_path)) == 1


async def test_unreadable_lines_are_dead_lettered_not_dropped(spools, tmp_path):
    dead_process = spools(tmp_path)
    await dead_process.append(entry("SM1"))
    [path] = dead_process.files()
    dead_process.close()
    with path.open("ab") as f:
        f.write(b'{"kind": "inbound", "truncated by a cra')  # a write the crash cut short
    apply = Recorder()
    assert await spools(tmp_path).replay(apply) == 1
    assert apply.applied == ["SM1"]
    [dead] = dead_letters(tmp_path)
    assert (
        dead["unreadable"] == '{"kind": "inbound", "truncated by a cra' and "JSONDecodeError" in dead["error"]
    )
    assert not path.exists()


async def test_orphaned_files_are_counted_and_adopted_and_held_ones_left_alone(spools, tmp_path):
    dead_process = spools(tmp_path)
    await dead_process.append(entry("SM1"))
    dead_process.close()  # its lock went with it, as when a process dies
    live_process = spools(tmp_path)
    await live_process.append(entry("SM2"))
    me = spools(tmp_path)
    assert me.stats() == {"spooledWebhooks": 0, "deadLetteredWebhooks": 0, "orphanedSpoolFiles": 1}

    apply = Recorder()
    assert await me.replay(apply) == 1
    assert apply.applied == ["SM1"]
    assert len(me.files()) == 1 and me.stats()["orphanedSpoolFiles"] == 0

    live_process.close()
    assert me.stats()["orphanedSpoolFiles"] == 1
    assert await me.replay(apply) == 1
    assert apply.applied == ["SM1", "SM2"] and me.files() == []


async def test_spool_files_dead_letters_and_the_directory_snapshot_are_private(
    spools, tmp_path, umask_022, monkeypatch
):
    # created 0600 from the start, not tightened after the fact (so never readable by others)
    def no_chmod(*args: object, **kwargs: object) -> None:
        raise AssertionError("created readable by others, then tightened")

    with monkeypatch.context() as patched:
        patched.setattr(Path, "chmod", no_chmod)
        patched.setattr(os, "chmod", no_chmod)
        spool = spools(tmp_path / "spool")
        await spool.append(entry("SM1"))
        await spool.replay(Recorder(fail={"SM1": NotFound("gone")}))
        await spool.append(entry("SM2"))
        directory = BotDirectory(tmp_path / "spool" / "bots.json")

        class Row:  # what remember() reads from a bot
            restaurant_id, id, auth_token_encrypted, whatsapp_number = (
                "rst_1",
                "bot_1",
                "sealed",
                "+966500000001",
            )

        directory.remember(Row(), generation=directory.generation)  # type: ignore[arg-type]
    written = [*spool.files(), tmp_path / "spool" / DEAD_LETTERS, tmp_path / "spool" / "bots.json"]
    assert [oct(p.stat().st_mode & 0o777) for p in written] == [oct(0o600)] * 3


async def test_files_an_older_version_left_readable_are_tightened_on_start(spools, tmp_path, umask_022):
    folder = tmp_path / "spool"
    folder.mkdir()
    older = [folder / "spool-1-1.jsonl", folder / DEAD_LETTERS, folder / "bots.json"]
    for path in older:
        path.write_text("{}\n")
        path.chmod(0o644)
    spools(folder)
    BotDirectory(folder / "bots.json")
    assert [oct(p.stat().st_mode & 0o777) for p in older] == [oct(0o600)] * 3


async def eventually_stored(db: Database, sid: str, *, timeout: float = 10.0) -> Message | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with db.session() as s:
            row = (await s.execute(select(Message).where(Message.wa_sid == sid))).scalar_one_or_none()
        if row is not None:
            return row
        await asyncio.sleep(0.05)
    return None


async def test_a_restarted_process_adopts_the_dead_ones_spool_past_a_bot_deleted_meanwhile(
    db: Database, factory: Factory, settings: Settings, spools, tmp_path, caplog
):
    live = await factory.bot()
    gone = await factory.bot()
    async with db.session() as s:
        await bots.delete(s, restaurant_id=gone.restaurant.id, bot_id=gone.bot.id)
        await s.commit()
    # What a process killed during an outage left: a webhook for a bot deleted just before it, then
    # one for a live bot; nobody holds the file any more.
    for_gone, for_live = inbound_params(gone, body="too late"), inbound_params(live, body="kept for me")
    dead_process = spools(tmp_path / "spool")
    for handle, params in ((gone, for_gone), (live, for_live)):
        await dead_process.append(
            Spooled(
                kind="inbound",
                restaurant_id=handle.restaurant.id,
                bot_id=handle.bot.id,
                params=params,
                query={},
                received_at=time.time(),
            )
        )
    dead_process.close()

    app = create_app(settings.model_copy(update={"data_dir": tmp_path}))
    with caplog.at_level(logging.ERROR, logger="sufrah.spool"):
        async with lifespan(app) as manager:
            message = await eventually_stored(db, for_live["MessageSid"])
            transport = httpx.ASGITransport(app=manager.app)  # type: ignore[arg-type]
            async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_BASE_URL) as client:
                ready = await client.get("/readyz")

    assert message is not None and message.content == "kept for me"
    async with db.session() as s:
        conversation = await s.get(Conversation, (live.restaurant.id, message.conversation_id))
    assert conversation is not None and conversation.bot_id == live.bot.id
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert {
        k: ready.json()[k] for k in ("spooledWebhooks", "deadLetteredWebhooks", "orphanedSpoolFiles")
    } == {"spooledWebhooks": 0, "deadLetteredWebhooks": 1, "orphanedSpoolFiles": 0}
    [dead] = dead_letters(tmp_path / "spool")
    assert dead["entry"]["params"]["MessageSid"] == for_gone["MessageSid"] and dead["error"].startswith(
        "NotFound"
    )
    assert len([r for r in caplog.records if r.name == "sufrah.spool" and r.levelno == logging.ERROR]) == 1
    assert list((tmp_path / "spool").glob("spool-*.jsonl")) == []


async def test_the_directory_snapshot_keeps_routes_for_outages_but_trusts_only_current_ones(tmp_path):
    directory = BotDirectory(tmp_path / "bots.json")

    class Row:
        restaurant_id, id, auth_token_encrypted, whatsapp_number = "rst_1", "bot_1", "sealed", "+966500000001"

    directory.listening(True)
    directory.remember(Row(), generation=directory.generation)  # type: ignore[arg-type]
    assert directory.get("+966500000001") == Route("rst_1", "bot_1", "sealed")
    directory.changed("api_token")  # a token changed: routing is not affected
    assert directory.get("+966500000001") is not None
    directory.changed("bot")  # a bot changed: maybe this one (a rotated token, a moved number)
    assert directory.get("+966500000001") is None and directory.stale
    assert directory.snapshot("+966500000001") == Route("rst_1", "bot_1", "sealed")
    stale_read = directory.generation
    directory.changed("bot")
    directory.remember(Row(), generation=stale_read)  # type: ignore[arg-type]  (read before the change)
    assert directory.get("+966500000001") is None
    assert BotDirectory(tmp_path / "bots.json").snapshot("+966500000001") == Route("rst_1", "bot_1", "sealed")

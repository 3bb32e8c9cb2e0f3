"""Surviving a database outage: a signed webhook is written to a local spool (fsync'd before Twilio
gets its 200) and replayed into PostgreSQL, in order, when the database is back.

Why: Twilio does not redeliver an inbound message it got an error for, so answering 5xx during an
outage loses the customer's message. The signature is still checked during the outage, against a
small on-disk snapshot of the bots' routing data (their auth tokens stay Fernet-encrypted there, as
in the database).

Each process appends to a spool file of its own and holds an exclusive `flock` on it; a process
that finds a file nobody holds (its writer died) replays it too. Replay is idempotent: inbound
messages are keyed by MessageSid, status callbacks only ever move a message forward.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import exc as sa_exc
from sqlalchemy import select

from app.db.engine import Database
from app.models import Bot

log = logging.getLogger("sufrah.spool")


def database_unavailable(error: BaseException) -> bool:
    """True when `error` means "the database can't be reached", not "the query was wrong"."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, sa_exc.TimeoutError | OSError | asyncio.TimeoutError):
            return True
        if isinstance(current, asyncpg.PostgresConnectionError | asyncpg.InterfaceError
                      | asyncpg.CannotConnectNowError | asyncpg.AdminShutdownError
                      | asyncpg.CrashShutdownError | asyncpg.ConnectionDoesNotExistError):
            return True
        current = current.__cause__ or current.__context__ or getattr(current, "orig", None)
    return False


@dataclass(frozen=True, slots=True)
class Route:
    """What a webhook needs to know about a bot before the database answers."""

    restaurant_id: str
    bot_id: str
    auth_token_encrypted: str


class BotDirectory:
    """WhatsApp number -> bot routing, refreshed from the database and kept on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._routes: dict[str, Route] = {}
        with contextlib.suppress(OSError, ValueError, TypeError):
            raw = json.loads(path.read_text())
            self._routes = {number: Route(**route) for number, route in raw.items()}

    def get(self, number: str) -> Route | None:
        return self._routes.get(number)

    async def refresh(self, db: Database) -> None:
        async with db.session() as session:
            rows = (await session.execute(select(Bot).where(Bot.deleted_at.is_(None)))).scalars()
            routes = {b.whatsapp_number: Route(b.restaurant_id, b.id, b.auth_token_encrypted) for b in rows}
        if routes != self._routes:
            self._routes = routes
            self._save()

    def remember(self, bot: Bot) -> Route:
        """Called with a bot a webhook was just routed to: a new or changed bot is known at once."""
        route = Route(bot.restaurant_id, bot.id, bot.auth_token_encrypted)
        if self._routes.get(bot.whatsapp_number) != route:
            self._routes[bot.whatsapp_number] = route
            self._save()
        return route

    def forget(self, number: str) -> None:
        """A bot that turned out to be gone (deleted since the last refresh)."""
        if self._routes.pop(number, None) is not None:
            self._save()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({n: asdict(r) for n, r in self._routes.items()}))
        tmp.chmod(0o600)
        os.replace(tmp, self.path)


@dataclass(frozen=True, slots=True)
class Spooled:
    kind: str  # "inbound" | "status"
    restaurant_id: str
    bot_id: str
    params: dict[str, str]
    query: dict[str, str]
    received_at: float


Replayer = Callable[[Spooled], Awaitable[None]]


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._file: Any = None
        self._lock = asyncio.Lock()
        self.pending = 0

    def _own(self) -> Any:
        if self._file is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / f"spool-{os.getpid()}-{time.time_ns()}.jsonl"
            self._file = open(path, "a+b")  # noqa: SIM115  (held open and locked for the process's life)
            fcntl.flock(self._file, fcntl.LOCK_EX)
        return self._file

    async def append(self, entry: Spooled) -> None:
        """Durably keep one webhook: written and fsync'd before this returns."""
        line = (json.dumps(asdict(entry), ensure_ascii=False) + "\n").encode()
        async with self._lock:
            await asyncio.to_thread(self._write, line)
            self.pending += 1

    def _write(self, line: bytes) -> None:
        f = self._own()
        f.write(line)
        f.flush()
        os.fsync(f.fileno())

    def files(self) -> list[Path]:
        return sorted(self.directory.glob("spool-*.jsonl")) if self.directory.exists() else []

    def has_work(self) -> bool:
        return self.pending > 0 or any(p.stat().st_size > 0 for p in self.files() if p.exists())

    async def replay(self, apply: Replayer) -> int:
        """Replay every spool file this process may (its own and orphans), in order; returns how
        many entries were applied. Stops at the first entry that fails (the database went away
        again), leaving it and the rest for the next try."""
        applied = 0
        async with self._lock:
            own = Path(self._file.name) if self._file is not None else None
            for path in self.files():
                if path == own:
                    applied += await self._replay_file(self._file, apply, own=True)
                    continue
                try:
                    f = open(path, "r+b")  # noqa: SIM115
                except FileNotFoundError:
                    continue
                with f:
                    try:
                        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue  # a live process owns it
                    applied += await self._replay_file(f, apply, own=False)
                    if path.exists() and path.stat().st_size == 0:
                        path.unlink()
            if own is not None and self._file is not None and own.stat().st_size == 0:
                self.pending = 0
        return applied

    async def _replay_file(self, f: Any, apply: Replayer, *, own: bool) -> int:
        f.seek(0)
        lines = f.read().splitlines()
        done = 0
        for line in lines:
            if not line.strip():
                done += 1
                continue
            try:
                entry = Spooled(**json.loads(line))
            except (ValueError, TypeError):
                log.error("unreadable spool line skipped: %r", line[:200])
                done += 1
                continue
            await apply(entry)  # raises if the database is still away: keep the rest
            done += 1
        remaining = lines[done:]
        f.seek(0)
        f.truncate()
        if remaining:
            f.write(b"\n".join(remaining) + b"\n")
        f.flush()
        os.fsync(f.fileno())
        if own:
            self.pending = len(remaining)
        return done

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

"""Surviving a database outage: a signed webhook is written to a local spool (fsync'd before Twilio
gets its 200) and replayed into PostgreSQL, in order, when the database is back.

Why: Twilio does not redeliver an inbound message it got an error for, so answering 5xx during an
outage loses the customer's message. The signature is still checked during the outage, against a
small on-disk snapshot of the bots' routing data (their auth tokens stay Fernet-encrypted there, as
in the database).

    DATA_DIR/spool/
      spool-<pid>-<ns>.jsonl   one per process, appended and fsync'd, held under an exclusive flock
      dead-letters.jsonl       entries that can never be applied, each with its error
      bots.json                the bot directory's snapshot (see BotDirectory)

Each process appends to a spool file of its own and holds an exclusive `flock` on it; a file nobody
holds (its writer died: an orphan) is adopted and replayed by whichever process gets its lock first,
e.g. the restarted process. Replay is idempotent: inbound messages are keyed by MessageSid, status
callbacks only ever move a message forward.

Replay applies entries in order and stops at the first one that fails because the database is
unreachable (`database_unavailable`): it and the rest wait for the next try. An entry that fails for
any other reason (a webhook for a bot deleted just before the outage: NotFound) would fail the same
way forever, so it is moved to the dead-letter file, with one ERROR line, and replay goes on.

Progress is kept without a window for loss: the entries still to replay are written to a new file
under a temporary name (created 0600, locked, fsync'd) and renamed over the old one, then the folder
is fsync'd. A crash before the rename leaves the old file whole (entries replayed again are
deduplicated as above); a file that drained is truncated (ours) or removed (an orphan). Everything
here is created 0600 (the spool holds customers' messages); files left looser by older versions are
tightened when a process starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import asyncpg
from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from sqlmodel import col

from app.db.engine import Database
from app.logs import untrusted
from app.models import Bot

log = logging.getLogger("sufrah.spool")

SPOOL_FILES = "spool-*.jsonl"
DEAD_LETTERS = "dead-letters.jsonl"
STALE_TEMP_SECONDS = 600.0  # a temporary file this old that nobody holds was left by a crash


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
        if isinstance(
            current,
            asyncpg.PostgresConnectionError
            | asyncpg.InterfaceError
            | asyncpg.CannotConnectNowError
            | asyncpg.AdminShutdownError
            | asyncpg.CrashShutdownError
            | asyncpg.ConnectionDoesNotExistError
            | asyncpg.TooManyConnectionsError,
        ):
            return True
        current = current.__cause__ or current.__context__ or getattr(current, "orig", None)
    return False


def _private(path: Path) -> None:
    """Tighten a file written looser (by an older version, or by hand) to 0600."""
    with contextlib.suppress(FileNotFoundError):
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class Route:
    """What a webhook needs to know about a bot before the database answers."""

    restaurant_id: str
    bot_id: str
    auth_token_encrypted: str


class BotDirectory:
    """WhatsApp number -> bot routing, kept in memory and on disk, trusted only while it is current.

    - A route is *current* when it was read from the database after the last `sufrah_auth`
      notification (migration 0005: a bot updated or deleted, so a rotated token or a number moved
      to another bot) while this process's LISTEN connection was up. Webhooks route through current
      routes without asking the database (`get`); for anything else they ask it and `remember` the
      answer. A notification forgets which routes were current and asks for a `refresh`.
    - The snapshot (every route last read, current or not; `path`, 0600) is what a webhook's
      signature is checked against when the database can't be asked (`snapshot`).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._routes: dict[str, Route] = {}
        self._current: set[str] = set()
        self.generation = 0  # moves on every change notification: a lookup begun before it is stale
        self.live = False  # the LISTEN connection is up (changes would be heard of)
        self.stale = True  # a refresh is wanted
        _private(path)
        with contextlib.suppress(OSError, ValueError, TypeError):
            raw = json.loads(path.read_text())
            self._routes = {number: Route(**route) for number, route in raw.items()}

    # -- what the LISTEN connection tells us (see Hub.watch) ------------------------------------

    def listening(self, live: bool) -> None:
        """The LISTEN connection started (or stopped) listening: what was read may be stale."""
        self.live = live
        self.changed()

    def changed(self, payload: str = "") -> None:
        """A `sufrah_auth` notification; its payload names the table. API tokens don't route."""
        if _table(payload) == "api_token":
            return
        self.generation += 1
        self._current.clear()
        self.stale = True

    # -- lookups -----------------------------------------------------------------------------------

    def get(self, number: str) -> Route | None:
        """The route to use while the database is up: a current one, or None (ask the database)."""
        return self._routes.get(number) if number in self._current else None

    def snapshot(self, number: str) -> Route | None:
        """The last route read for `number`, current or not: for when the database can't be asked."""
        return self._routes.get(number)

    async def refresh(self, db: Database) -> None:
        generation = self.generation
        async with db.session() as session:
            rows = (await session.execute(select(Bot).where(col(Bot.deleted_at).is_(None)))).scalars()
            routes = {b.whatsapp_number: Route(b.restaurant_id, b.id, b.auth_token_encrypted) for b in rows}
        if routes != self._routes:
            self._routes = routes
            self._save()
        if generation == self.generation:
            self.stale = False
            if self.live:
                self._current = set(routes)

    def remember(self, bot: Bot, *, generation: int) -> Route:
        """Called with the bot a webhook was just routed to by the database, looked up when the
        directory was at `generation`: a new or changed bot is known at once."""
        route = Route(bot.restaurant_id, bot.id, bot.auth_token_encrypted)
        if self._routes.get(bot.whatsapp_number) != route:
            self._routes[bot.whatsapp_number] = route
            self._save()
        if generation == self.generation and self.live:
            self._current.add(bot.whatsapp_number)
        return route

    def forget(self, number: str) -> None:
        """A bot that turned out to be gone (deleted since the last refresh)."""
        self._current.discard(number)
        if self._routes.pop(number, None) is not None:
            self._save()

    def _save(self) -> None:
        data = json.dumps({n: asdict(r) for n, r in self._routes.items()}).encode()
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never readable by others
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, self.path)


def _table(payload: str) -> str:
    match = re.match(r"[a-z_]*", payload)
    return match.group() if match else ""


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
    """This process's spool file, and the orphans it adopts. See the module docstring."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._file: BinaryIO | None = None
        self._path: Path | None = None
        self._lock = asyncio.Lock()  # appends, and swapping our file for its rewritten self
        self._replaying = asyncio.Lock()
        self.pending = 0  # entries in this process's own file, not replayed yet
        self.dead_lettered = 0  # entries this process moved to the dead-letter file
        self._dead_count = ((-1, -1), 0)  # (size, mtime) of the dead-letter file -> its entries
        self._dead_known: set[str] | None = None  # what the dead-letter file holds, read once per replay
        self._tidy()

    # -- writing -------------------------------------------------------------------------------------

    async def append(self, entry: Spooled) -> None:
        """Durably keep one webhook: written and fsync'd before this returns."""
        line = (json.dumps(asdict(entry), ensure_ascii=False) + "\n").encode()
        async with self._lock:
            await asyncio.to_thread(self._write, line)
            self.pending += 1

    def _write(self, line: bytes) -> None:
        if self._file is None:
            path = self.directory / f"spool-{os.getpid()}-{time.time_ns()}.jsonl"
            self._file, self._path = self._create(path, b""), path
        self._file.write(line)
        self._file.flush()
        os.fsync(self._file.fileno())

    def _create(self, path: Path, data: bytes) -> BinaryIO:
        """`path` holding `data`, opened for appending under our exclusive lock. It is written under a
        temporary name (that no other process replays) and renamed into place already locked, so no
        other process sees it unlocked or half written; it is never readable by others (0600)."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()  # a rewrite of this very file that crashed (we hold the file's lock now)
        f = os.fdopen(os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600), "a+b")
        try:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            os.rename(tmp, path)
            _fsync_dir(self.directory)
        except BaseException:
            f.close()
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        return f

    # -- replaying -----------------------------------------------------------------------------------

    def files(self) -> list[Path]:
        return sorted(self.directory.glob(SPOOL_FILES)) if self.directory.exists() else []

    def has_work(self) -> bool:
        if self.pending:
            return True
        for path in self.files():
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_size:
                    return True
        return False

    async def replay(self, apply: Replayer) -> int:
        """Replay every spool file this process may (its own and orphans), in order; returns how
        many entries were applied. Raises the error of the first entry that found the database
        unreachable, after keeping it and the rest for the next try. Entries failing otherwise
        are dead letters (see the module docstring)."""
        applied = 0
        async with self._replaying:
            self._dead_known = None
            for path in self.files():
                if path == self._path:
                    applied += await self._replay_own(apply)
                    continue
                f = await asyncio.to_thread(_adopt, path)
                if f is None:
                    continue  # a live process holds it, or it is gone
                try:
                    applied += await self._replay_orphan(path, f, apply)
                finally:
                    f.close()
        return applied

    async def _replay_own(self, apply: Replayer) -> int:
        async with self._lock:
            assert self._file is not None
            data = await asyncio.to_thread(_read, self._file, 0)
        lines = data.split(b"\n")
        done, applied, stopped = await self._apply(lines, apply)
        if done:
            async with self._lock:  # appends wait while our file is swapped for its rest
                await asyncio.to_thread(self._keep_own, len(data), lines[done:])
        if stopped is not None:
            raise stopped
        return applied

    def _keep_own(self, size: int, rest: list[bytes]) -> None:
        assert self._file is not None and self._path is not None
        appended = _read(self._file, size)  # written while the entries before it were replayed
        keep = b"".join(line + b"\n" for line in rest if line.strip()) + appended
        if keep:
            new = self._create(self._path, keep)
            self._file.close()
            self._file = new
        else:
            os.ftruncate(self._file.fileno(), 0)
            os.fsync(self._file.fileno())
        self.pending = sum(1 for line in keep.split(b"\n") if line.strip())

    async def _replay_orphan(self, path: Path, f: BinaryIO, apply: Replayer) -> int:
        data = await asyncio.to_thread(_read, f, 0)
        lines = data.split(b"\n")
        done, applied, stopped = await self._apply(lines, apply)
        keep = b"".join(line + b"\n" for line in lines[done:] if line.strip())
        if not keep:
            path.unlink()
            await asyncio.to_thread(_fsync_dir, self.directory)
        elif done:
            rewritten = await asyncio.to_thread(self._create, path, keep)
            rewritten.close()  # an orphan again, until the next try adopts it
        if stopped is not None:
            raise stopped
        return applied

    async def _apply(self, lines: list[bytes], apply: Replayer) -> tuple[int, int, Exception | None]:
        """Apply entries in order until one finds the database unreachable: (lines done, entries
        applied, that error or None)."""
        done = applied = 0
        for line in lines:
            if line.strip():
                try:
                    entry = Spooled(**json.loads(line))
                except (ValueError, TypeError) as exc:
                    await asyncio.to_thread(self._dead_letter, line, None, exc)
                else:
                    try:
                        await apply(entry)
                        applied += 1
                    except Exception as exc:  # noqa: BLE001  (sorted below: outage, or a dead letter)
                        if database_unavailable(exc):
                            return done, applied, exc
                        await asyncio.to_thread(self._dead_letter, line, entry, exc)
            done += 1
        return done, applied, None

    def _dead_letter(self, line: bytes, entry: Spooled | None, error: Exception) -> None:
        """Keep an entry that can never be applied, with its error, durably (before the spool forgets
        it), once: an entry kept by a replay that stopped before it could forget it isn't kept again."""
        reason = f"{type(error).__name__}: {error}"
        record: dict[str, object] = {"deadAt": datetime.now(UTC).isoformat(), "error": reason}
        if entry is not None:
            record["entry"] = asdict(entry)
        else:
            record["unreadable"] = line.decode("utf-8", "replace")
        path = self.directory / DEAD_LETTERS
        known = self._dead_keys(path)
        key = _dead_key(record)
        if key in known:
            return
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # one whole line at a time, whichever process writes
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        known.add(key)
        self.dead_lettered += 1
        if entry is None:
            log.error("unreadable spool line moved to %s (%s)", path, reason)
        else:
            log.error(
                "spooled %s webhook %s for bot %s can't be applied (%s); moved to %s",
                entry.kind,
                untrusted(entry.params.get("MessageSid")),
                entry.bot_id,
                untrusted(reason),
                path,
            )

    def _dead_keys(self, path: Path) -> set[str]:
        if self._dead_known is None:
            self._dead_known = set()
            with contextlib.suppress(FileNotFoundError), open(path, "rb") as f:
                for line in f:
                    with contextlib.suppress(ValueError, TypeError, AttributeError):
                        self._dead_known.add(_dead_key(json.loads(line)))
        return self._dead_known

    # -- what /readyz reports --------------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """Entries waiting in this process's spool, entries in the dead-letter file (every process's),
        and spool files that no live process holds (waiting to be adopted)."""
        return {
            "spooledWebhooks": self.pending,
            "deadLetteredWebhooks": self._dead_letters(),
            "orphanedSpoolFiles": self._orphans(),
        }

    def _dead_letters(self) -> int:
        try:
            st = os.stat(self.directory / DEAD_LETTERS)
        except FileNotFoundError:
            return 0
        seen, count = self._dead_count
        if seen != (st.st_size, st.st_mtime_ns):
            with open(self.directory / DEAD_LETTERS, "rb") as f:
                count = sum(1 for line in f if line.strip())
            self._dead_count = ((st.st_size, st.st_mtime_ns), count)
        return count

    def _orphans(self) -> int:
        count = 0
        for path in self.files():
            if path == self._path:
                continue
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                count += 1
            except BlockingIOError:
                pass  # its writer is alive, or a process is replaying it right now
            finally:
                os.close(fd)
        return count

    # -- lifetime --------------------------------------------------------------------------------------

    def _tidy(self) -> None:
        """On start: tighten what older versions wrote to 0600, drop temporary files left by a crash."""
        if not self.directory.is_dir():
            return
        for path in self.directory.iterdir():
            if not path.is_file():
                continue
            if path.name.startswith(".") and path.name.endswith(".tmp"):
                with contextlib.suppress(OSError):
                    if time.time() - path.stat().st_mtime > STALE_TEMP_SECONDS and _unheld(path):
                        path.unlink()
                continue
            _private(path)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _dead_key(record: dict[str, object]) -> str:
    """What identifies a dead letter: its entry (or its unreadable line), not when or why it died."""
    if "entry" in record:
        return json.dumps(record["entry"], ensure_ascii=False, sort_keys=True)
    return str(record.get("unreadable"))


def _read(f: BinaryIO, offset: int) -> bytes:
    f.seek(offset)
    return f.read()


def _adopt(path: Path) -> BinaryIO | None:
    """An orphan spool file, opened under our exclusive lock; None when a live process holds it, or
    when the file we locked is no longer the one at `path` (replaced or removed since we opened it)."""
    try:
        f = open(path, "rb")  # noqa: SIM115  (closed by the caller)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.fstat(f.fileno()).st_ino == os.stat(path).st_ino:
            return f
    except (BlockingIOError, FileNotFoundError):
        pass
    f.close()
    return None


def _unheld(path: Path) -> bool:
    with open(path, "rb") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

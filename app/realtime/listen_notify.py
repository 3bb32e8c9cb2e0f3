"""LISTEN/NOTIFY as the hub needs it, behind one small interface.

The hub (app/realtime/hub.py) is a state machine: feeds, bounded queues, the fast path, resume,
overflow. What it needs from PostgreSQL's LISTEN/NOTIFY is little: hear a channel's notifications,
send some, and know when it is listening (what is sent while it is not is lost, so the hub catches
up and `Hub.watch`ers such as the auth cache stop trusting what they keep). Behind `ListenNotify`:

    PostgresListenNotify   one dedicated asyncpg connection, reconnecting (0.2 s, doubling to 5 s)
    MemoryListenNotify     for tests: the ones connected to one MemoryServer hear each other, as
                           processes on one database do, and a test says when a connection is lost

so the state machine is tested without a database connection to cut, and several hubs in one test
behave like several processes. The event log itself stays in PostgreSQL: NOTIFY is only a wake-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Protocol

import asyncpg

log = logging.getLogger("sufrah.realtime")

Notified = Callable[[str], None]
Listening = Callable[[bool], None]


class ListenNotify(Protocol):
    """Notifications on named channels, between the processes on one database."""

    @property
    def max_payload(self) -> int:
        """The longest payload `notify` may be given (characters)."""

    def listen(self, channel: str, *, notified: Notified, listening: Listening) -> None:
        """Before `start`: `notified(payload)` for each notification on `channel`, and
        `listening(True)` whenever it starts listening on it, `listening(False)` whenever it stops."""

    async def start(self) -> None:
        """Start listening (and keep at it) in the background."""

    async def stop(self) -> None:
        """Stop listening (`listening(False)` for every channel) and let go of the connection."""

    async def notify(self, channel: str, payloads: Iterable[str]) -> None:
        """Send each payload (at most `max_payload` long) as one notification, best effort: when not
        connected, or a send fails, the rest is not sent (listeners must catch up by other means)."""


class PostgresListenNotify:
    """LISTEN/NOTIFY on a dedicated asyncpg connection, reconnected for as long as it runs."""

    max_payload = 7000  # PostgreSQL refuses payloads of 8000 bytes or more

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._channels: list[tuple[str, Notified, Listening]] = []
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None

    def listen(self, channel: str, *, notified: Notified, listening: Listening) -> None:
        self._channels.append((channel, notified, listening))

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="hub:listen")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._not_listening()
        if self._conn is not None and not self._conn.is_closed():
            await self._conn.close()

    async def notify(self, channel: str, payloads: Iterable[str]) -> None:
        conn = self._conn
        if conn is None or conn.is_closed():
            return
        try:
            for payload in payloads:
                await conn.execute("SELECT pg_notify($1, $2)", channel, payload)
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError):
            log.info("could not NOTIFY; peers will catch up by polling", exc_info=True)

    async def _listen_forever(self) -> None:
        delay = 0.2
        while True:
            try:
                conn = await asyncpg.connect(self.dsn, server_settings={"application_name": "sufrah-listen"})
                closed = asyncio.Event()
                conn.add_termination_listener(lambda _c, closed=closed: closed.set())
                for channel, notified, listening in self._channels:
                    await conn.add_listener(
                        channel, lambda _c, _p, _ch, payload, notified=notified: notified(payload)
                    )
                    listening(True)
                self._conn = conn
                delay = 0.2
                await closed.wait()
                log.warning("LISTEN connection lost; reconnecting")
            except asyncio.CancelledError:
                raise
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                log.info("LISTEN connection failed; retrying in %.1fs", delay)
            self._conn = None
            self._not_listening()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _not_listening(self) -> None:
        for _channel, _notified, listening in self._channels:
            listening(False)


class MemoryServer:
    """One database's LISTEN/NOTIFY, in memory: every MemoryListenNotify connected to it and listening
    on a channel hears what is sent on it (the sender too, as with PostgreSQL), a moment later."""

    def __init__(self) -> None:
        self._connected: list[MemoryListenNotify] = []

    def notify(self, channel: str, payload: str) -> None:
        """A NOTIFY from any session on the database (a trigger's, say)."""
        loop = asyncio.get_running_loop()
        for peer in tuple(self._connected):
            for listened, notified, _listening in peer._channels:
                if listened == channel:
                    loop.call_soon(peer._deliver, notified, payload)


class MemoryListenNotify:
    """ListenNotify on a MemoryServer, for tests; `disconnect` and `reconnect` play a lost LISTEN
    connection and its return."""

    def __init__(self, server: MemoryServer, *, max_payload: int = PostgresListenNotify.max_payload) -> None:
        self.server = server
        self.max_payload = max_payload
        self._channels: list[tuple[str, Notified, Listening]] = []
        self._started = False

    @property
    def connected(self) -> bool:
        return self in self.server._connected

    def listen(self, channel: str, *, notified: Notified, listening: Listening) -> None:
        self._channels.append((channel, notified, listening))

    async def start(self) -> None:
        self._started = True
        self.reconnect()

    async def stop(self) -> None:
        self._started = False
        self.disconnect()

    async def notify(self, channel: str, payloads: Iterable[str]) -> None:
        """As PostgreSQL's, but a payload over `max_payload` raises ValueError: a test hears of it."""
        if not self.connected:
            return
        for payload in payloads:
            if len(payload) > self.max_payload:
                raise ValueError(f"a payload of {len(payload)} characters (at most {self.max_payload})")
            self.server.notify(channel, payload)

    def disconnect(self) -> None:
        """The connection is lost: nothing is heard or sent until `reconnect`."""
        if self.connected:
            self.server._connected.remove(self)
        for _channel, _notified, listening in self._channels:
            listening(False)

    def reconnect(self) -> None:
        """Listening again (as PostgresListenNotify's reconnect loop does, when the test says)."""
        if not self._started or self.connected:
            return
        self.server._connected.append(self)
        for _channel, _notified, listening in self._channels:
            listening(True)

    def _deliver(self, notified: Notified, payload: str) -> None:
        if self.connected:  # lost with the connection if it went before the notification got here
            notified(payload)

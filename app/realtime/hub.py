"""Fan-out of the event log to this process's subscribers, woken through LISTEN/NOTIFY.

    writer commits ──after-commit hook──► Hub.committed(restaurants)
        ├─ wakes this process's feeds at once
        └─ notify sufrah_events (coalesced, outside the write transaction)
                 │
            ListenNotify (app/realtime/listen_notify.py: PostgreSQL's, or in memory for tests)
                 │
                 └──► other processes' Hubs: _on_notify wakes their feeds; listening again wakes all

    Feed (one per restaurant with local subscribers): reads `event` rows after its position, loads
    the rows they name once, and offers each event to every subscription's bounded queue.

This module is the state machine (feeds, subscriptions, the fast path, resume, overflow, the
safety poll); all that crosses the ListenNotify seam is "these restaurants' logs grew" and
"listening / not listening", so it is tested with several hubs on one in-memory server
(tests/realtime/test_hub.py). `watch` lends the same connection to other channels (sufrah_auth,
for the caches in app/auth and app/spool).

NOTIFY is only a wake-up: the data is always read from the `event` table, so a lost notification
(a listener reconnecting, a writer that died between commit and notify) costs latency, never an
event: a safety poll compares each feed's position with `event_counter` every `poll_interval`.
A subscription whose queue overflows is ended; its client resumes from its last cursor. A resume
from a position the log no longer holds (events are pruned after 14 days, app/workers) is refused
with CursorExpired rather than silently skipping what was pruned: the client reloads and subscribes
afresh. Telling costs nothing per event: the log is gapless, so a first replayed event past
`after + 1` says it; only a resume that finds nothing to replay asks the counter (one statement).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.engine import Database
from app.realtime import events
from app.realtime.events import EventRow
from app.realtime.listen_notify import ListenNotify, PostgresListenNotify

log = logging.getLogger("sufrah.realtime")

CHANNEL = "sufrah_events"
PayloadLoader = Callable[[AsyncSession, str, list[str]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Delivered:
    """An event as subscribers receive it: its position, and the row it names as it is now."""

    restaurant_id: str
    seq: int
    kind: str
    entity_id: str
    conversation_id: str | None
    payload: Any  # None when the row no longer exists
    # What edges derive from the event once for all its subscribers (the GraphQL object, say).
    shared: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def cursor(self) -> str:
        return events.encode_cursor(self.restaurant_id, self.seq)


class SubscriptionOverflow(Exception):
    """The subscriber fell too far behind; it should reconnect and resume from its last cursor."""


class CursorExpired(Exception):
    """The position to resume after is older than the retained event log: what came after it is
    partly gone. The client must reload its data and subscribe without a cursor."""


class FastPath(Protocol):
    """A subscriber that can take events without a task switch each (see `Hub.subscribe`)."""

    async def prepare(self, item: Delivered) -> None:
        """Do the event's shared work (once for all subscribers that share it) before delivery."""

    def deliver(self, item: Delivered) -> bool:
        """Hand the event on now; False gives it back to the subscriber's own loop. May raise
        SubscriptionOverflow."""

    async def drained(self) -> None:
        """Until everything delivered so far is out: what the subscriber's own loop sends next
        must come after it."""

    def close(self) -> None:
        """The subscription has ended: let go of what was not delivered yet."""


class _Subscription:
    def __init__(self, maxsize: int, accept: Callable[[Delivered], bool], fast: FastPath | None) -> None:
        self.queue: asyncio.Queue[Delivered | None] = asyncio.Queue(maxsize)
        self.accept = accept
        self.fast = fast
        self.fast_on = False  # caught up: the feed delivers through `fast` directly
        self.position = 0  # the last event handled (while fast_on)
        self.overflowed = False
        self.closed = False

    def offer(self, item: Delivered) -> None:
        if self.overflowed or self.closed:
            return
        if self.fast_on:
            if item.seq <= self.position:
                return
            if item.seq == self.position + 1:
                if not self.accept(item):
                    self.position = item.seq
                    return
                assert self.fast is not None
                try:
                    if self.fast.deliver(item):
                        self.position = item.seq
                        return
                except SubscriptionOverflow:
                    self._overflow()
                    return
            self.fast_on = False  # a hole or an event it can't take: the subscriber's loop takes over
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self._overflow()

    def _overflow(self) -> None:
        self.overflowed = True
        self.fast_on = False
        with contextlib.suppress(asyncio.QueueEmpty):
            self.queue.get_nowait()
        self.queue.put_nowait(None)  # wake the reader so it sees the overflow


class _Feed:
    def __init__(self, hub: Hub, restaurant_id: str, position: int) -> None:
        self.hub = hub
        self.restaurant_id = restaurant_id
        self.position = position
        self.subscriptions: set[_Subscription] = set()
        self._dirty = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=f"feed:{restaurant_id}")

    def wake(self) -> None:
        self._dirty.set()

    async def _run(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                while True:
                    batch = await self.hub.read(self.restaurant_id, after=self.position)
                    for item in batch:
                        self.position = item.seq
                        for sub in tuple(self.subscriptions):
                            if sub.fast_on and sub.accept(item):
                                await _prepare(sub, item)
                            sub.offer(item)
                        # Let subscribers that keep up take it before the next one: the queue
                        # bound is for the ones that don't, not for the size of a batch.
                        await asyncio.sleep(0)
                    if len(batch) < self.hub.batch_size:
                        break
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is away: retry on the next wake or poll
                log.warning("feed %s could not read events", self.restaurant_id, exc_info=True)
                await asyncio.sleep(0.5)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class Hub:
    def __init__(
        self,
        db: Database,
        *,
        loaders: dict[str, PayloadLoader],
        poll_interval: float = 1.0,
        queue_size: int = 1000,
        batch_size: int = 500,
        notify_interval: float = 0.005,
        listen_notify: ListenNotify | None = None,
    ) -> None:
        self.db = db
        self.loaders = loaders
        self.poll_interval = poll_interval
        self.queue_size = queue_size
        self.batch_size = batch_size
        self.notify_interval = notify_interval
        self.listen_notify = (
            listen_notify if listen_notify is not None else PostgresListenNotify(db.asyncpg_dsn)
        )
        self._origin = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._feeds: dict[str, _Feed] = {}
        self._feed_lock = asyncio.Lock()
        self._pending: set[str] = set()
        self._flush = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.listen_notify.listen(CHANNEL, notified=self._on_notify, listening=self._on_listening)

    def watch(
        self, channel: str, *, notified: Callable[[str], None], listening: Callable[[bool], None]
    ) -> None:
        """Also LISTEN on `channel` (before `start`): `notified(payload)` for each notification, and
        `listening(True/False)` whenever the connection starts or stops listening (what was sent
        while it was not listening is lost)."""
        self.listen_notify.listen(channel, notified=notified, listening=listening)

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        self.db.commit_listeners.append(self.committed)
        await self.listen_notify.start()
        self._tasks = [
            asyncio.create_task(self._notify_forever(), name="hub:notify"),
            asyncio.create_task(self._poll_forever(), name="hub:poll"),
        ]

    async def stop(self) -> None:
        with contextlib.suppress(ValueError):
            self.db.commit_listeners.remove(self.committed)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.listen_notify.stop()
        for feed in list(self._feeds.values()):
            await feed.close()
        self._feeds.clear()

    # -- writers' side ---------------------------------------------------------------------------

    def committed(self, restaurant_ids: Iterable[str]) -> None:
        """Called right after a transaction that wrote events commits (never inside it)."""
        for restaurant_id in restaurant_ids:
            feed = self._feeds.get(restaurant_id)
            if feed is not None:
                feed.wake()
            self._pending.add(restaurant_id)
        self._flush.set()

    async def _notify_forever(self) -> None:
        while True:
            await self._flush.wait()
            # Coalesce: NOTIFY takes a global lock at commit, so one per few milliseconds serves
            # every commit in between (this process's own subscribers were woken already).
            await asyncio.sleep(self.notify_interval)
            self._flush.clear()
            pending, self._pending = self._pending, set()
            if pending:  # when it can't be sent, other processes catch up through their safety poll
                prefix = f"{self._origin}|"
                chunks = _chunks(sorted(pending), self.listen_notify.max_payload - len(prefix))
                await self.listen_notify.notify(CHANNEL, (prefix + chunk for chunk in chunks))

    # -- readers' side ---------------------------------------------------------------------------

    def _on_notify(self, payload: str) -> None:
        origin, _, ids = payload.partition("|")
        if origin == self._origin:
            return  # our own commits already woke our feeds
        for restaurant_id in ids.split(","):
            feed = self._feeds.get(restaurant_id)
            if feed is not None:
                feed.wake()

    def _on_listening(self, live: bool) -> None:
        if live:
            for feed in self._feeds.values():
                feed.wake()  # catch up on whatever was committed while we were not listening

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            if not self._feeds:
                continue
            try:
                async with self.db.session() as session:
                    rows = await session.execute(
                        text(
                            "SELECT restaurant_id, last_seq FROM event_counter"
                            " WHERE restaurant_id = ANY(:ids)"
                        ),
                        {"ids": list(self._feeds)},
                    )
                    for restaurant_id, last in rows:
                        feed = self._feeds.get(restaurant_id)
                        if feed is not None and last > feed.position:
                            feed.wake()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.info("event poll failed", exc_info=True)

    async def read(self, restaurant_id: str, *, after: int, limit: int | None = None) -> list[Delivered]:
        """Events after a position with the rows they name, loaded once per batch and kind."""
        async with self.db.session() as session:
            rows = await events.read(
                session, restaurant_id=restaurant_id, after=after, limit=limit or self.batch_size
            )
            payloads: dict[tuple[str, str], Any] = {}
            by_kind: dict[str, list[str]] = {}
            for row in rows:
                by_kind.setdefault(row.kind, []).append(row.entity_id)
            for kind, ids in by_kind.items():
                loader = self.loaders.get(kind)
                if loader is not None:
                    for entity_id, obj in (await loader(session, restaurant_id, sorted(set(ids)))).items():
                        payloads[(kind, entity_id)] = obj
        return [_delivered(row, payloads.get((row.kind, row.entity_id))) for row in rows]

    async def _pruned(self, restaurant_id: str, after: int) -> bool:
        async with self.db.session() as session:
            return await events.pruned_after(session, restaurant_id=restaurant_id, after=after)

    async def _feed(self, restaurant_id: str) -> _Feed:
        async with self._feed_lock:
            feed = self._feeds.get(restaurant_id)
            if feed is None:
                async with self.db.session() as session:
                    position = await events.last_seq(session, restaurant_id=restaurant_id)
                feed = self._feeds[restaurant_id] = _Feed(self, restaurant_id, position)
            return feed

    async def _release(self, feed: _Feed, sub: _Subscription) -> None:
        feed.subscriptions.discard(sub)
        if not feed.subscriptions and self._feeds.get(feed.restaurant_id) is feed:
            del self._feeds[feed.restaurant_id]
            await feed.close()

    async def subscribe(
        self,
        *,
        restaurant_id: str,
        after: int | None,
        accept: Callable[[Delivered], bool] = lambda _: True,
        fast: FastPath | None = None,
    ) -> AsyncIterator[Delivered]:
        """Every accepted event after `after` (None: from now on), in log order, each exactly once:
        first replayed from the table, then live. Raises SubscriptionOverflow if the consumer can't
        keep up; the consumer then resumes with the cursor of the last event it handled. Raises
        CursorExpired if events after `after` were pruned.

        With `fast`, a subscriber that has caught up takes live events straight from the feed
        (`fast.deliver`, no queue and no task switch per event) and this generator only wakes for
        what the fast path hands back: a hole to fill from the table, an event it can't take."""
        feed = await self._feed(restaurant_id)
        sub = _Subscription(self.queue_size, accept, fast)
        feed.subscriptions.add(sub)  # before reading the table: nothing committed from here on is missed
        try:
            if after is None:
                async with self.db.session() as session:
                    position = await events.last_seq(session, restaurant_id=restaurant_id)
            else:
                position = after
                batch = await self.read(restaurant_id, after=position)
                # The log is gapless: a first event past after + 1 means the ones between were pruned.
                expired = batch[0].seq > after + 1 if batch else await self._pruned(restaurant_id, after)
                if expired:
                    raise CursorExpired(
                        "this cursor is older than the retained events: reload, subscribe afresh"
                    )
                while True:
                    for replayed in batch:
                        position = replayed.seq
                        if accept(replayed):
                            yield replayed
                    if len(batch) < self.batch_size:
                        break
                    batch = await self.read(restaurant_id, after=position)
            while True:
                if fast is not None and sub.queue.empty() and not sub.overflowed:
                    sub.position, sub.fast_on = position, True  # no await in between: nothing slips by
                item = await sub.queue.get()
                if fast is not None:
                    position = max(position, sub.position)  # what the fast path delivered meanwhile
                    await fast.drained()
                if item is None or sub.overflowed:
                    raise SubscriptionOverflow("subscriber fell behind; resume from the last cursor")
                if item.seq <= position:
                    continue  # already replayed
                if item.seq > position + 1:  # defensive: fill any hole from the table
                    for missing in await self.read(
                        restaurant_id, after=position, limit=item.seq - position - 1
                    ):
                        position = missing.seq
                        if accept(missing):
                            yield missing
                position = item.seq
                if accept(item):
                    yield item
        finally:
            sub.closed, sub.fast_on = True, False
            if fast is not None:
                fast.close()
            await self._release(feed, sub)


async def _prepare(sub: _Subscription, item: Delivered) -> None:
    assert sub.fast is not None
    try:
        await sub.fast.prepare(item)
    except asyncio.CancelledError:
        raise
    except Exception:  # its delivery falls back to the subscriber's own loop, which reports it
        log.warning("preparing event %s:%s failed", item.restaurant_id, item.seq, exc_info=True)


def _delivered(row: EventRow, payload: Any) -> Delivered:
    return Delivered(row.restaurant_id, row.seq, row.kind, row.entity_id, row.conversation_id, payload)


def _chunks(ids: list[str], max_len: int) -> Iterable[str]:
    chunk: list[str] = []
    size = 0
    for restaurant_id in ids:
        if chunk and size + len(restaurant_id) + 1 > max_len:
            yield ",".join(chunk)
            chunk, size = [], 0
        chunk.append(restaurant_id)
        size += len(restaurant_id) + 1
    if chunk:
        yield ",".join(chunk)

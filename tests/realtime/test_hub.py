"""The hub's fan-out state machine, with hubs on one in-memory LISTEN/NOTIFY server.

Each hub plays a process: its own pool on the test database (so a commit wakes only the hub of the
pool it went through, at once) and its own MemoryListenNotify (so the other hubs hear of it only
through the server, and a test can cut one's connection). The event log is the real one in
PostgreSQL: NOTIFY is only a wake-up, what is delivered is always read from the table. The safety
poll runs once a minute unless a test says otherwise, so a wake-up can't come from it by chance.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import text

from app.db.engine import Database
from app.realtime import events
from app.realtime.hub import CHANNEL, CursorExpired, Delivered, Hub, SubscriptionOverflow
from app.realtime.listen_notify import MemoryListenNotify, MemoryServer
from tests.support import Factory


@pytest.fixture
async def restaurant_id(factory: Factory) -> str:
    return (await factory.restaurant()).id


@pytest.fixture
async def other_db(db: Database) -> AsyncIterator[Database]:
    """Another process's pool on the same database: its commits wake only its own hub directly."""
    other = Database.connect(db.url, pool_size=2, max_overflow=0)
    yield other
    await other.dispose()


@pytest.fixture
def server() -> MemoryServer:
    return MemoryServer()


@asynccontextmanager
async def running(
    db: Database, server: MemoryServer, *, poll_interval: float = 60.0, **options: Any
) -> AsyncIterator[tuple[Hub, MemoryListenNotify]]:
    """A started hub on `server`, and its connection to it."""
    link = MemoryListenNotify(server)
    hub = Hub(db, loaders={}, listen_notify=link, poll_interval=poll_interval, **options)
    await hub.start()
    try:
        yield hub, link
    finally:
        await hub.stop()


async def write(db: Database, restaurant_id: str, count: int = 1) -> None:
    """`count` events in one transaction, committed through `db` (whose hub hears of it at once)."""
    async with db.session() as s:
        changes = [events.Change(events.RESTAURANT_UPDATED, restaurant_id)] * count
        await events.record(s, restaurant_id=restaurant_id, changes=changes)
        await s.commit()


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


class Received:
    """A subscription consumed in the background: the positions it yielded, in order."""

    def __init__(self, stream: AsyncIterator[Delivered]) -> None:
        self.seqs: list[int] = []
        self.task = asyncio.create_task(self._consume(stream))

    async def _consume(self, stream: AsyncIterator[Delivered]) -> None:
        async for item in stream:
            self.seqs.append(item.seq)

    async def until(self, count: int) -> None:
        """Until `count` events arrived; then a moment more, for any that shouldn't."""
        await until(lambda: len(self.seqs) >= count or self.task.done())
        await asyncio.sleep(0.1)

    def cancel(self) -> None:
        self.task.cancel()


class Fast:
    """A FastPath that records what it was handed, and gives back the positions in `refuse`."""

    def __init__(self, refuse: set[int] | None = None) -> None:
        self.delivered: list[int] = []
        self.refuse = refuse or set()

    async def prepare(self, item: Delivered) -> None:
        pass

    def deliver(self, item: Delivered) -> bool:
        if item.seq in self.refuse:
            return False
        self.delivered.append(item.seq)
        return True

    def close(self) -> None:
        pass

    async def drained(self) -> None:
        pass


async def test_a_commit_through_one_hub_wakes_a_subscriber_on_another(db, other_db, server, restaurant_id):
    async with running(db, server), running(other_db, server) as (b, _):
        await write(db, restaurant_id)
        received = Received(b.subscribe(restaurant_id=restaurant_id, after=0))
        await received.until(1)  # replayed from the table: from here on it is live
        await write(db, restaurant_id, 2)  # b hears of it through the server only
        await received.until(3)
        assert received.seqs == [1, 2, 3]
        received.cancel()


async def test_what_was_notified_while_not_listening_is_read_on_listening_again(
    db, other_db, server, restaurant_id
):
    async with running(db, server), running(other_db, server) as (b, b_link):
        await write(db, restaurant_id)
        received = Received(b.subscribe(restaurant_id=restaurant_id, after=0))
        await received.until(1)
        b_link.disconnect()
        await write(db, restaurant_id, 2)
        await asyncio.sleep(0.2)
        assert received.seqs == [1]  # its notification was lost
        b_link.reconnect()
        await received.until(3)
        await write(db, restaurant_id)
        await received.until(4)
        assert received.seqs == [1, 2, 3, 4]  # none missed, none twice, in order
        received.cancel()


@pytest.mark.parametrize("cut", ["listener", "sender"])
async def test_the_safety_poll_finds_what_no_notification_told(db, other_db, server, restaurant_id, cut):
    async with (
        running(db, server) as (_, a_link),
        running(other_db, server, poll_interval=0.05) as (b, b_link),
    ):
        await write(db, restaurant_id)
        received = Received(b.subscribe(restaurant_id=restaurant_id, after=0))
        await received.until(1)
        (b_link if cut == "listener" else a_link).disconnect()
        for _ in range(3):
            await write(db, restaurant_id, 2)
            await asyncio.sleep(0.03)
        await received.until(7)
        assert received.seqs == [1, 2, 3, 4, 5, 6, 7]
        received.cancel()


async def test_a_subscriber_that_falls_behind_is_ended_and_the_others_are_not(db, server, restaurant_id):
    async with running(db, server, queue_size=3) as (hub, _):
        await write(db, restaurant_id)
        slow = hub.subscribe(restaurant_id=restaurant_id, after=0)
        assert (await anext(slow)).seq == 1  # then it stops reading
        keeping_up = Received(hub.subscribe(restaurant_id=restaurant_id, after=0))
        await keeping_up.until(1)
        await write(db, restaurant_id, 10)
        await keeping_up.until(11)
        assert keeping_up.seqs == list(range(1, 12))
        got: list[int] = []
        with pytest.raises(SubscriptionOverflow):
            while True:
                got.append((await asyncio.wait_for(anext(slow), 2)).seq)
        assert got == list(range(2, 2 + len(got))) and len(got) <= 3  # what it took, then the end
        keeping_up.cancel()


async def test_a_resume_replays_exactly_what_came_after_its_position(db, server, restaurant_id):
    async with running(db, server, batch_size=2) as (hub, _):  # the replay takes several reads
        await write(db, restaurant_id, 5)
        resumed = Received(hub.subscribe(restaurant_id=restaurant_id, after=2))
        even = Received(hub.subscribe(restaurant_id=restaurant_id, after=2, accept=lambda d: d.seq % 2 == 0))
        from_now = Received(hub.subscribe(restaurant_id=restaurant_id, after=None))
        await resumed.until(3)
        await write(db, restaurant_id)
        await resumed.until(4)
        assert resumed.seqs == [3, 4, 5, 6]
        assert even.seqs == [4, 6]
        assert from_now.seqs == [6]
        for received in (resumed, even, from_now):
            received.cancel()


async def test_a_resume_from_a_pruned_position_is_refused(db, server, restaurant_id):
    await write(db, restaurant_id, 4)
    async with db.session() as s:  # the retention worker dropped events 1 and 2
        await s.execute(text("DELETE FROM event WHERE restaurant_id = :r AND seq <= 2"), {"r": restaurant_id})
        await s.commit()
    async with running(db, server) as (hub, _):
        with pytest.raises(CursorExpired):
            await anext(hub.subscribe(restaurant_id=restaurant_id, after=1))
        assert (await anext(hub.subscribe(restaurant_id=restaurant_id, after=2))).seq == 3


async def test_the_fast_path_hands_a_hole_over_to_the_subscribers_loop(db, server, restaurant_id):
    async with running(db, server) as (hub, _):
        await write(db, restaurant_id)
        fast = Fast()
        received = Received(hub.subscribe(restaurant_id=restaurant_id, after=0, fast=fast))
        await received.until(1)
        await write(db, restaurant_id)
        await until(lambda: fast.delivered == [2])  # caught up: no trip through the queue
        # What no writer can cause (the log is gapless) but a subscriber must survive: the feed
        # skips event 3, so the fast path is offered 4 right after 2.
        hub._feeds[restaurant_id].position += 1
        await write(db, restaurant_id, 2)
        await received.until(3)
        assert received.seqs == [1, 3, 4] and fast.delivered == [2]  # 3 filled from the table
        await write(db, restaurant_id)
        await until(lambda: fast.delivered == [2, 5])  # caught up again
        assert received.seqs == [1, 3, 4]
        received.cancel()


async def test_an_event_the_fast_path_gives_back_goes_through_the_subscribers_loop(db, server, restaurant_id):
    async with running(db, server) as (hub, _):
        await write(db, restaurant_id)
        fast = Fast(refuse={3})
        received = Received(hub.subscribe(restaurant_id=restaurant_id, after=0, fast=fast))
        await received.until(1)
        for _ in range(3):
            await write(db, restaurant_id)
            await asyncio.sleep(0.05)
        await until(lambda: fast.delivered == [2, 4])
        assert received.seqs == [1, 3]
        received.cancel()


async def test_watchers_hear_their_channel_and_whether_it_is_listening(db, server):
    link = MemoryListenNotify(server)
    hub = Hub(db, loaders={}, listen_notify=link, poll_interval=60)
    heard: list[str] = []
    listening: list[bool] = []
    hub.watch("sufrah_test", notified=heard.append, listening=listening.append)
    await hub.start()
    try:
        assert listening == [True]
        server.notify("sufrah_test", "bot")  # as a trigger's NOTIFY would
        server.notify("sufrah_other", "not for it")
        await until(lambda: heard == ["bot"])
        link.disconnect()
        server.notify("sufrah_test", "lost")
        link.reconnect()
        server.notify("sufrah_test", "heard again")
        await until(lambda: len(heard) == 2)
        assert heard == ["bot", "heard again"]
        assert listening == [True, False, True]
    finally:
        await hub.stop()
    assert listening == [True, False, True, False]


async def test_a_long_coalesced_notification_is_split_under_the_payload_limit(db, server):
    payloads: list[str] = []
    peer = MemoryListenNotify(server)
    peer.listen(CHANNEL, notified=payloads.append, listening=lambda _live: None)
    await peer.start()
    link = MemoryListenNotify(server, max_payload=200)
    hub = Hub(db, loaders={}, listen_notify=link, poll_interval=60)
    await hub.start()
    try:
        ids = {f"restaurant-{i:03d}" for i in range(100)}
        hub.committed(ids)

        def heard() -> set[str]:
            return {i for payload in payloads for i in payload.partition("|")[2].split(",")}

        await until(lambda: heard() == ids)
        assert len(payloads) > 1 and all(len(p) <= 200 for p in payloads)
    finally:
        await hub.stop()
        await peer.stop()

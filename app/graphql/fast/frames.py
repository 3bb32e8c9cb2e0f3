"""Subscription frames written straight from a hub feed to a socket, in order, by one task per socket.

A caught-up subscriber's events don't take a turn of its subscription loop each: the feed hands the
event to its `FastFrames` (app.graphql.fast.execution), which puts the frame, encoded once for every
subscriber, into the socket's `FrameQueue`. Our socket handlers (`FrameSockets`, mixed into both
protocols' handlers by the view when the fast path is installed) give each socket its queue and tell
each operation where its frames go: `SINK`, the one context variable of the fast path, set in the
task strawberry runs each operation in, read once when the operation's subscription starts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from app.graphql.fast.encoding import frame_head


class FrameQueue:
    """One WebSocket's subscription frames, written in order by one task, so that a feed can hand
    a frame to a thousand sockets without a task switch each. Bounded: a socket that does not
    read is not allowed to grow the server's memory without limit."""

    def __init__(self, send_text: Callable[[str], Awaitable[None]], limit: int = 1000) -> None:
        self._send = send_text
        self._limit = limit
        self._frames: deque[tuple[object, str]] = deque()
        self._pending: dict[object, int] = {}
        self._waiters: dict[object, list[asyncio.Future[None]]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._broken = False

    def put(self, owner: object, frame: str) -> bool:
        if self._broken:
            return True  # the socket is gone; its handler is ending the operations
        if len(self._frames) >= self._limit:
            return False
        self._frames.append((owner, frame))
        self._pending[owner] = self._pending.get(owner, 0) + 1
        self._wake.set()
        if self._task is None:
            self._task = asyncio.create_task(self._write(), name="graphql-ws:frames")
        return True

    def discard(self, owner: object) -> None:
        """Drop an operation's frames not yet written (it ended, or fell behind)."""
        if self._pending.pop(owner, 0):
            self._frames = deque(entry for entry in self._frames if entry[0] is not owner)
        self._release(owner)

    async def drained(self, owner: object) -> None:
        while self._pending.get(owner):
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.setdefault(owner, []).append(waiter)
            await waiter

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._broken = True
        for owner in list(self._pending):
            self.discard(owner)

    def _release(self, owner: object) -> None:
        for waiter in self._waiters.pop(owner, ()):
            if not waiter.done():
                waiter.set_result(None)

    async def _write(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._frames:
                owner, frame = self._frames.popleft()
                try:
                    await self._send(frame)
                except Exception:  # noqa: BLE001 - disconnected: the handler notices on its side
                    self._broken = True
                    for stale in list(self._pending):
                        self.discard(stale)
                    return
                left = self._pending.get(owner, 1) - 1
                if left:
                    self._pending[owner] = left
                else:
                    self._pending.pop(owner, None)
                    self._release(owner)


@dataclass(eq=False)
class Sink:
    """Where one operation's frames go: its socket's frame queue, under its id, as `next` or `data`."""

    frames: FrameQueue
    operation_id: str
    frame_type: str  # "next" (graphql-transport-ws) or "data" (graphql-ws)

    def __post_init__(self) -> None:
        self._head = frame_head(self.operation_id, self.frame_type)

    def frame(self, encoded: str) -> str:
        return f"{self._head}{encoded}}}}}"


# The operation's frames' destination, set by `FrameSockets` in the task of each operation.
SINK: ContextVar[Sink | None] = ContextVar("subscription_sink", default=None)


class FrameSockets:
    """Mixed into a socket handler: the socket gets a frame queue, each operation its `SINK`."""

    websocket: Any
    _frames: FrameQueue | None = None

    @property
    def frames(self) -> FrameQueue:
        if self._frames is None:
            self._frames = FrameQueue(self.websocket.ws.send_text)
        return self._frames

    async def handle(self) -> None:
        try:
            await super().handle()  # type: ignore[misc]  # the protocol handler's, next in the MRO
        finally:
            if self._frames is not None:
                await self._frames.close()


class TransportFrames(FrameSockets):
    """graphql-transport-ws: `next` frames."""

    async def run_operation(self, operation: Any) -> None:
        SINK.set(Sink(self.frames, operation.id, "next"))
        await super().run_operation(operation)  # type: ignore[misc]


class LegacyFrames(FrameSockets):
    """graphql-ws: `data` frames."""

    async def handle_async_results(self, operation_id: str, *args: Any) -> None:
        SINK.set(Sink(self.frames, operation_id, "data"))
        await super().handle_async_results(operation_id, *args)  # type: ignore[misc]

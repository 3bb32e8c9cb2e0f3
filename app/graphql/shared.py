"""Subscription events are executed once per selection and sent as the same bytes to every socket.

A hub feed reads each event once and hands the same `Delivered` to every subscription of its
restaurant, and `_stream` turns it into one GraphQL object shared by all of them (see
`shared_event_object`). Executing a subscription document on that object gives the same answer for
every subscriber that asked for the same selection with the same variables for the same tenant, so
the first subscriber to get there executes it and the others take its result:

    1,000 dashboards on one restaurant, one new message
        → 1 read of the event, 1 execution per distinct (document, variables, tenant),
          1 JSON encoding of its data (`SharedData.encoded`), 1,000 socket writes.

The key leaves out the variables that only feed the root field's own arguments (`after`,
`conversationId`): they choose which events a subscriber gets, not what an event looks like.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    OperationDefinitionNode,
    VariableNode,
    Visitor,
    visit,
)
from graphql.language import OperationType
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from app.graphql.compiled import RawJSON
from app.realtime.hub import Delivered, SubscriptionOverflow

RESULTS = "_sufrah_results"  # attribute of a shared event object: its results by selection key


class SharedData(dict[str, Any]):
    """A result's `data`, encoded to JSON once: for every socket that sends a subscription event, and
    around the root fields that arrive as JSON text already (`RawJSON`, see app.graphql.compiled)."""

    __slots__ = ("_encoded",)

    @property
    def encoded(self) -> str:
        try:
            return self._encoded
        except AttributeError:
            raw = any(type(value) is RawJSON for value in self.values())
            self._encoded = _object(self, 0) if raw else _dumps(self)
            return self._encoded


def splice(value: Any, depth: int) -> str:
    """JSON text of `value` (a response, a batch of them, a frame), writing as it is the text
    already encoded that it holds within `depth` levels: a result's data (`SharedData`) or a root
    field the database answered (`RawJSON`)."""
    if type(value) is RawJSON:
        return value.text
    if isinstance(value, SharedData):
        return value.encoded
    if depth and type(value) is dict:
        return _object(value, depth - 1)
    if depth and type(value) is list:
        return "[" + ",".join(splice(item, depth - 1) for item in value) + "]"
    return _dumps(value)


def _object(fields: dict[str, Any], depth: int) -> str:
    return "{" + ",".join(f"{_dumps(key)}:{splice(value, depth)}" for key, value in fields.items()) + "}"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def frame_head(operation_id: str, frame_type: str) -> str:
    """A `next`/`data` frame up to its data's JSON; the frame is `head + encoded + "}}"`."""
    return f'{{"id":{json.dumps(operation_id)},"type":"{frame_type}","payload":{{"data":'


def shared_event_object(obj: Any) -> Any:
    """Mark an event's GraphQL object as shared by the subscribers it is delivered to."""
    if obj is not None:
        object.__setattr__(obj, RESULTS, {})
    return obj


class SharedEventExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, memoizing each subscription event's execution on the event object,
    and passing through root fields that were answered as JSON text (`RawJSON`)."""

    def build_resolve_info(self, field_def: Any, field_nodes: Any, parent_type: Any, path: Any) -> Any:
        if path.prev is None:
            ROOT_EXECUTOR.set(self)  # for a subscription's source stream and compiled queries
        return super().build_resolve_info(field_def, field_nodes, parent_type, path)

    def complete_value(
        self,
        return_type: Any,
        field_details_list: Any,
        info: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        if type(result) is RawJSON:
            return result  # complete already: the database wrote the value
        return super().complete_value(return_type, field_details_list, info, path, result, position_context)

    def build_response(self, data: dict[str, Any] | None) -> Any:
        response = super().build_response(data)
        if data is not None and any(type(value) is RawJSON for value in data.values()):
            response.data = SharedData(data)  # written around the JSON text by the view's encode_json
        return response

    def execute_operation(self, serially: bool | None = None) -> Any:
        results: dict[Any, Any] | None = getattr(self.root_value, RESULTS, None)
        key = _key(self) if results is not None else None
        if key is None:
            return super().execute_operation(serially)
        assert results is not None
        shared = results.get(key)
        if shared is None:
            outcome = super().execute_operation(serially)
            if not self.is_awaitable(outcome):
                return results.setdefault(key, _share(outcome))
            # Subscribers arriving while the first one executes wait for its result.
            shared = results[key] = asyncio.ensure_future(_finish(outcome))
        if isinstance(shared, asyncio.Future):
            return _await(shared)
        return shared


async def _finish(outcome: Awaitable[ExecutionResult]) -> ExecutionResult:
    return _share(await outcome)


async def _await(future: asyncio.Future[ExecutionResult]) -> ExecutionResult:
    return await asyncio.shield(future)  # one subscriber leaving must not cancel the others' result


def _share(result: ExecutionResult) -> ExecutionResult:
    if result.data is not None and not result.errors:
        result.data = SharedData(result.data)
    return result


def _key(executor: StrawberryGraphQLCoreExecutionContext) -> tuple[Any, ...] | None:
    shape = _shape(executor.operation, executor.fragment_definitions)
    if shape is None:
        return None
    tenant = getattr(executor.context_value, "_tenant", None)
    if tenant is None:
        return None  # not our authenticated context: don't share
    coerced = executor.variable_values.coerced
    variables = json.dumps({name: coerced.get(name) for name in shape.variables}, sort_keys=True, default=str)
    return (shape, variables, tenant.restaurant_id, tenant.bot_id, tenant.principal.is_admin)


class _Shape:
    """What identifies an operation's selection: the operation node (held, so its identity can't be
    reused) and the variables its selection uses below the root field's arguments."""

    __slots__ = ("operation", "variables")

    def __init__(self, operation: OperationDefinitionNode, variables: tuple[str, ...]) -> None:
        self.operation = operation
        self.variables = variables


_shapes: dict[int, _Shape | None] = {}
_SHAPES_MAX = 1000


def _shape(operation: OperationDefinitionNode, fragments: dict[str, Any]) -> _Shape | None:
    cached = _shapes.get(id(operation), False)
    if cached is not False and (cached is None or cached.operation is operation):
        return cached
    shape = _compute_shape(operation, fragments)
    if len(_shapes) >= _SHAPES_MAX:
        _shapes.clear()
    _shapes[id(operation)] = shape
    return shape


def _compute_shape(operation: OperationDefinitionNode, fragments: dict[str, Any]) -> _Shape | None:
    selections = operation.selection_set.selections
    if len(selections) != 1 or not isinstance(selections[0], FieldNode):
        return None  # a root fragment or directive: rare, executed per subscriber as before
    root = selections[0]
    if root.directives:
        return None
    names: set[str] = set()

    class Variables(Visitor):
        def enter_variable(self, node: VariableNode, *_: Any) -> None:
            names.add(node.name.value)

    if root.selection_set is not None:
        visit(root.selection_set, Variables())
    for fragment in fragments.values():  # conservative: any fragment's variables count
        visit(fragment, Variables())
    return _Shape(operation, tuple(sorted(names)))


# -- the fast path: caught-up subscribers get their frames written straight from the hub's feed ------

ROOT_EXECUTOR: ContextVar[SharedEventExecutor | None] = ContextVar("root_executor", default=None)
SINK: ContextVar[Sink | None] = ContextVar("subscription_sink", default=None)
_MISSING = object()


def event_object_of(item: Delivered, build: Callable[[Delivered], Any]) -> Any:
    """The event's GraphQL object, built by the first of its subscribers for all of them."""
    obj = item.shared.get("graphql", _MISSING)
    if obj is _MISSING:
        obj = item.shared["graphql"] = shared_event_object(build(item))
    return obj


class Outbox:
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
            self._task = asyncio.create_task(self._write(), name="graphql-ws:outbox")
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
    """Where one operation's frames go: its socket's outbox, under its id, as `next` or `data`."""

    outbox: Outbox
    operation_id: str
    frame_type: str  # "next" (graphql-transport-ws) or "data" (graphql-ws)

    def __post_init__(self) -> None:
        self._head = frame_head(self.operation_id, self.frame_type)

    def frame(self, encoded: str) -> str:
        return f"{self._head}{encoded}}}}}"


class FastFrames:
    """The hub's `FastPath` for one GraphQL subscription: executes each event once per selection
    key (the first subscriber's `prepare` does it, into the event object's results, for every
    subscriber sharing the key) and puts the frame straight into the socket's outbox. A result with
    errors is not sent from here: each subscriber goes the usual way with it (masking, logging)."""

    def __init__(
        self,
        executor: SharedEventExecutor,
        key: tuple[Any, ...],
        sink: Sink,
        build: Callable[[Delivered], Any],
        fork_context: Callable[[], Any],
    ) -> None:
        self.executor = executor
        self.key = key
        self.sink = sink
        self.build = build
        self.fork_context = fork_context

    async def prepare(self, item: Delivered) -> None:
        obj = event_object_of(item, self.build)
        if obj is None or isinstance(getattr(obj, RESULTS).get(self.key), ExecutionResult):
            return  # the row is gone, or the event is executed for this key already
        context = self.fork_context()  # the feed's own session, not the subscriber's
        try:
            event_executor = self.executor.build_per_event_executor(obj)
            event_executor.context_value = context
            result = event_executor.execute_operation(False)  # memoized in the object's results
            if self.executor.is_awaitable(result):
                await result
        finally:
            await context.close()

    def deliver(self, item: Delivered) -> bool:
        obj = item.shared.get("graphql", _MISSING)
        if obj is None:
            return True  # the row is gone: nothing to send
        result = getattr(obj, RESULTS).get(self.key) if obj is not _MISSING else None
        if not isinstance(result, ExecutionResult) or not isinstance(result.data, SharedData):
            return False
        if not self.sink.outbox.put(self.sink, self.sink.frame(result.data.encoded)):
            self.sink.outbox.discard(self.sink)
            raise SubscriptionOverflow("subscriber fell behind; resume from the last cursor")
        return True

    async def drained(self) -> None:
        await self.sink.outbox.drained(self.sink)

    def close(self) -> None:
        self.sink.outbox.discard(self.sink)


def fast_path(build: Callable[[Delivered], Any], fork_context: Callable[[], Any]) -> FastFrames | None:
    """The fast path for the subscription being started in this task, if it can have one: it runs
    on one of our WebSocket handlers and its selection can be shared."""
    sink = SINK.get()
    executor = ROOT_EXECUTOR.get()
    if sink is None or executor is None or executor.operation.operation is not OperationType.SUBSCRIPTION:
        return None
    key = _key(executor)
    if key is None:
        return None
    return FastFrames(executor, key, sink, build, fork_context)

"""The execution the fast path installs: compiled root fields, and subscription events executed
once per selection for every subscriber.

`FastExecution` is graphql-core's executor (strawberry's) with three additions, each the only place
its speed-up touches GraphQL execution:

1. A root field in app.graphql.fast.sql's `ROOT_FIELDS` is tried compiled first: the caller is
   authenticated (as its resolver would), the selection compiled to one statement, and its JSON
   text (`RawJSON`) is the field's completed value. A selection the compiler declines, and a NULL
   for a non-null field, go to the field's resolver as if nothing had been tried. Strawberry's
   resolver wrapper is skipped for a compiled field, so such a field must have no field extensions
   or permission classes: `check` refuses the schema at start otherwise.
2. A result holding `RawJSON` has its data as `SharedData`, which the view writes around the text
   (app.graphql.fast.encoding).
3. Subscription events. A hub feed reads each event once and hands the same `Delivered` to every
   subscription of its restaurant, and the subscription resolver turns it into one GraphQL object
   shared by all of them (app.graphql.schema's `event_object`). Executing a subscription document on
   that object gives the same answer for every subscriber that asked for the same selection with
   the same variables for the same tenant, so the first subscriber to get there executes it and the
   others take its result:

    1,000 dashboards on one restaurant, one new message
        → 1 read of the event, 1 execution per distinct (document, variables, tenant),
          1 JSON encoding of its data (`SharedData.encoded`), 1,000 socket writes.

   The key leaves out the variables that only feed the root field's own arguments (`after`,
   `conversationId`): they choose which events a subscriber gets, not what an event looks like.
   Once caught up, a subscriber on one of our sockets takes its frames straight from the feed
   (app.graphql.fast.frames): the executor offers the operation's context that `delivery`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from graphql import (
    ExecutionResult,
    ExperimentalIncrementalExecutionResults,
    FieldNode,
    GraphQLObjectType,
    OperationDefinitionNode,
    VariableNode,
    Visitor,
    visit,
)
from graphql.execution.collect_fields import FieldDetails
from graphql.language import OperationType
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from app.graphql.context import OperationContext
from app.graphql.fast.encoding import SharedData
from app.graphql.fast.frames import SINK, Sink
from app.graphql.fast.sql import ROOT_FIELDS, RawJSON, RootField, compile_root
from app.realtime.hub import Delivered, SubscriptionOverflow

RESULTS = "_sufrah_results"  # attribute of a shared event object: its results by selection key


class FastExecution(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor with the fast path's three additions (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        context = self.context_value
        if self.operation.operation is OperationType.SUBSCRIPTION and isinstance(context, OperationContext):
            context.delivery = self._delivery

    # -- 1. compiled root fields

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: list[FieldDetails],
        path: Path,
        position_context: Any,
    ) -> Any:
        root = (
            ROOT_FIELDS.get((parent_type.name, field_details_list[0].node.name.value))
            if path.prev is None and self.operation.operation is OperationType.QUERY
            else None
        )
        if root is None or not isinstance(self.context_value, OperationContext):
            return super().execute_field(parent_type, source, field_details_list, path, position_context)
        return self._compiled_field(root, parent_type, source, field_details_list, path, position_context)

    async def _compiled_field(
        self,
        root: RootField,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: list[FieldDetails],
        path: Path,
        position_context: Any,
    ) -> Any:
        context = self.context_value
        assert isinstance(context, OperationContext)
        field = parent_type.fields[field_details_list[0].node.name.value]
        try:
            tenant = await context.authenticate()
        except Exception:  # noqa: BLE001  (refused: the resolver answers it, as it would have)
            compiled = None
        else:
            compiled = compile_root(self, root, field, list(field_details_list), str(path.key), tenant)
        if compiled is not None:
            try:
                value = await context.run(compiled.fetch)
            except Exception as raw_error:  # noqa: BLE001  (the field's error, as a resolver's would be)
                self.handle_field_error(raw_error, field.type, field_details_list, path)
                return None
            if value is not None:
                return value
        resolved = super().execute_field(parent_type, source, field_details_list, path, position_context)
        return await resolved if self.is_awaitable(resolved) else resolved

    # -- 2. values written by the database

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

    def build_response(
        self, data: dict[str, Any] | None
    ) -> ExecutionResult | ExperimentalIncrementalExecutionResults:
        response = super().build_response(data)
        if (
            data is not None
            and isinstance(response, ExecutionResult)
            and any(type(value) is RawJSON for value in data.values())
        ):
            response.data = SharedData(data)  # written around the JSON text (app.graphql.fast.encoding)
        return response

    # -- 3. subscription events

    def execute_operation(self, serially: bool | None = None) -> Any:
        results: dict[Any, Any] | None = (
            _results(self.root_value) if self.operation.operation is OperationType.SUBSCRIPTION else None
        )
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

    def _delivery(self, build: Any) -> FastFrames | None:
        """This subscription's fast path, when it runs on one of our sockets (which set `SINK`) and
        its selection can be shared."""
        sink = SINK.get()
        key = _key(self)
        if sink is None or key is None:
            return None
        return FastFrames(self, key, sink, build)


def _results(root_value: Any) -> dict[Any, Any] | None:
    """The results kept on an event's GraphQL object; None for a root value that isn't one (the
    subscription's own first execution has none)."""
    if root_value is None or isinstance(root_value, dict | Delivered):
        return None
    return _results_of(root_value)


def _results_of(obj: object) -> dict[Any, Any]:
    """The results kept on an event's GraphQL object, made once per event for all its subscribers."""
    results: dict[Any, Any] | None = getattr(obj, RESULTS, None)
    if results is None:
        results = {}
        object.__setattr__(obj, RESULTS, results)
    return results


async def _finish(outcome: Awaitable[object]) -> ExecutionResult:
    return _share(await outcome)


async def _await(future: asyncio.Future[ExecutionResult]) -> ExecutionResult:
    return await asyncio.shield(future)  # one subscriber leaving must not cancel the others' result


def _share(result: object) -> ExecutionResult:
    # The schema has no @defer or @stream, so an execution's outcome is one ExecutionResult.
    assert isinstance(result, ExecutionResult)
    if result.data is not None and not result.errors:
        result.data = SharedData(result.data)
    return result


def _key(executor: StrawberryGraphQLCoreExecutionContext) -> tuple[Any, ...] | None:
    """What an event's execution for this operation depends on: its selection, the variables the
    selection reads, and the caller's tenant (None: not to be shared)."""
    shape = _shape(executor.operation, executor.fragment_definitions)
    if shape is None:
        return None
    context = executor.context_value
    tenant = context.tenant if isinstance(context, OperationContext) else None
    if tenant is None:
        return None  # not an authenticated operation of ours: don't share
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
    if id(operation) in _shapes:
        cached = _shapes[id(operation)]
        if cached is None or cached.operation is operation:
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


class FastFrames:
    """The hub's `FastPath` for one GraphQL subscription: executes each event once per selection
    key (the first subscriber's `prepare` does it, into the event object's results, for every
    subscriber sharing the key) and puts the frame straight into the socket's outbox. A result with
    errors is not sent from here: each subscriber goes the usual way with it (masking, logging)."""

    def __init__(
        self, executor: FastExecution, key: tuple[Any, ...], sink: Sink, build: Callable[[Delivered], Any]
    ) -> None:
        self.executor = executor
        self.key = key
        self.sink = sink
        self.build = build

    async def prepare(self, item: Delivered) -> None:
        obj = self.build(item)
        if obj is None or isinstance(_results_of(obj).get(self.key), ExecutionResult):
            return  # the row is gone, or the event is executed for this key already
        context = self.executor.context_value.fork()  # the feed's own session, not the subscriber's
        try:
            event_executor = self.executor.build_per_event_executor(obj)
            event_executor.context_value = context
            result = event_executor.execute_operation(False)  # memoized in the object's results
            if self.executor.is_awaitable(result):
                await result
        finally:
            await context.close()

    def deliver(self, item: Delivered) -> bool:
        obj = self.build(item)
        if obj is None:
            return True  # the row is gone: nothing to send
        result = _results_of(obj).get(self.key)
        if not isinstance(result, ExecutionResult) or not isinstance(result.data, SharedData):
            return False
        if not self.sink.frames.put(self.sink, self.sink.frame(result.data.encoded)):
            self.sink.frames.discard(self.sink)
            raise SubscriptionOverflow("subscriber fell behind; resume from the last cursor")
        return True

    async def drained(self) -> None:
        await self.sink.frames.drained(self.sink)

    def close(self) -> None:
        self.sink.frames.discard(self.sink)

"""What an operation may cost, estimated before it runs; over the limit it is refused.

Depth (10), aliases (30) and tokens (2,000) bound a document's shape, not the work it asks for:

    conversations(first: 200) { nodes { messages(last: 200) { nodes { conversation {
      messages(last: 200) { nodes { id } } } } } } }

is a few lines and asks for 8 million messages; against a restaurant with ~120 messages it ran for
60 s and the whole process (every tenant on it, /healthz too) stalled meanwhile.

The estimate counts the objects a response can hold. Each field of an object type counts once per
object it hangs from; a list counts its length, and the length of a page is its `first`/`last`
argument (its default when absent, variables resolved); so a path costs the product of the page sizes
along it, and the document the sum over its paths:

    conversations(first: 20) { nodes { id  messages(last: 10) { nodes { id } } } }
    = conversations 1 + nodes 20 + messages 20 × 1 + nodes 20 × 10                         =      241
    the query above = 1 + 200 + 200 + 200² + 200² + 200² + 200³                            = 8,120,401

More precisely:
- a field with a `first` or `last` argument is paged: a list field of that length, or a connection
  whose lists directly below it (`edges`, `nodes`) have that length. A page size the field refuses
  (outside 1..MAX_PAGE: every paged field here answers an error for it and fetches nothing) counts 0;
- a list whose field declares its longest length (`bounded`, e.g. a report's one entry per day, at
  most 366) counts that length;
- any other list of objects (order lines, menu categories and items, bots, restaurants) counts
  UNPAGED (20);
- a list in TOTALS counts its total once, however many objects it hangs from: the service caps how
  many a restaurant has (an item's option groups, a group's options: at most 1,000 and 4,000 per
  restaurant, app.services.catalog), and one response holds one restaurant's menu. Counted per parent
  they would multiply out (20 categories × 20 items × 10 groups × 20 options = 80,000) to refuse the
  menu a dashboard asks for, whose honest bound is the restaurant's own count;
- a list in EMBEDDED counts nothing, like a scalar: its objects are read from their parent's own row
  (an order line's options, a JSON snapshot of at most what the item's groups allow), no work of
  their own, and the response's size cap bounds them like any text;
- scalars and enums count nothing (they come with their object); nor does introspection (`__schema`,
  `__type`, `__typename`: answered from memory);
- every fragment spread and inline fragment counts, even where only one type of a union can match,
  and so do selections under `@skip`/`@include` with a variable condition (a literal one is honoured).

The dashboard's documents (app/inbox/static/queries.js) cost at most ~1,100 (the open orders, 50 with
their lines and branches), the benchmarks' 1 (stats), 21 (Q1) and 241 (Q2); the default limit, 10,000
(GRAPHQL_MAX_COST), is ten times the largest of them.

The estimate depends on the variables, which the validation cache can't see (it keys on the document
alone), so it is checked just before execution (`on_execute`), for queries, mutations and each event
of a subscription alike. What depends on the document alone, a polynomial in the variables that size
pages, is worked out once per document and operation and kept under the document's digest
(app.graphql.documents); a request then costs a dictionary lookup and a few multiplications. A
refused operation has an error, so app.graphql.fast.plans never makes a plan of it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    get_operation_ast,
    is_leaf_type,
)
from graphql.language import BooleanValueNode
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from app.graphql.documents import key_of
from app.services import catalog, pages

MAX_PAGE = pages.MAX_PAGE  # every paged field refuses first/last outside 1..MAX_PAGE (app.services.pages)
UNPAGED = 20  # what a list without a page argument counts
PAGE_ARGUMENTS = ("first", "last")
MAX_TERMS = 100  # more distinct products of variables than this: count each variable as MAX_PAGE
EMBEDDED = {("OrderLine", "options")}  # (type, field): lists read from their parent's row (see above)
# (type, field): the most objects the list holds in one response, whatever it hangs from (see above).
TOTALS: dict[tuple[str, str], int] = {
    ("MenuItem", "optionGroups"): catalog.MAX_RESTAURANT_OPTION_GROUPS,
    ("MenuOptionGroup", "options"): catalog.MAX_RESTAURANT_OPTIONS,
}

LENGTH = "sufrah.cost.length"  # a field's metadata: the most objects its list can hold (`bounded`)
DEFINITION = "strawberry-definition"  # where strawberry keeps a GraphQL field's own definition
Factor = tuple[str, int]  # a page size given by a variable: (its name, the size when it is not given)
Size = int | Factor
Monomial = tuple[Factor, ...]


def bounded(length: int) -> dict[str, int]:
    """Metadata for `strawberry.field(metadata=...)` of a list without a page argument that holds at
    most `length` objects: the estimate counts that many instead of UNPAGED."""
    return {LENGTH: length}


def _declared(definition: Any) -> int | None:
    field = (definition.extensions or {}).get(DEFINITION)
    metadata = getattr(field, "metadata", None)
    return metadata.get(LENGTH) if isinstance(metadata, Mapping) else None


def _page(value: int) -> int:
    """What a page size counts: the fields refuse sizes outside 1..MAX_PAGE, fetching nothing."""
    return value if 1 <= value <= MAX_PAGE else 0


def _integer(value: Any) -> int | None:
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():  # GraphQL's Int accepts 3.0
        return int(value)
    return None


class Estimate:
    """A cost as a polynomial in the page-size variables: coefficient by product of variables (the
    empty product: the constant part)."""

    __slots__ = ("fixed", "terms")

    def __init__(self) -> None:
        self.terms: dict[Monomial, int] = {}
        self.fixed: dict[Monomial, int] = {}  # lists in TOTALS: not multiplied by what they hang from

    def count(self, size: Size) -> None:
        """`size` objects more."""
        if isinstance(size, tuple):
            self.terms[(size,)] = self.terms.get((size,), 0) + 1
        elif size:
            self.terms[()] = self.terms.get((), 0) + size

    def include(self, other: Estimate, times: Size = 1) -> None:
        """`other`'s objects, `times` over (once per object the selection hangs from); its fixed
        part once (a total is a total however many objects it hangs from)."""
        if times == 0:
            return
        for monomial, coefficient in other.terms.items():
            if isinstance(times, tuple):
                monomial = tuple(sorted((*monomial, times)))
            else:
                coefficient *= times
            self.terms[monomial] = self.terms.get(monomial, 0) + coefficient
        for monomial, coefficient in other.fixed.items():
            self.fixed[monomial] = self.fixed.get(monomial, 0) + coefficient
        if len(self.terms) > MAX_TERMS or len(self.fixed) > MAX_TERMS:
            self._bound()

    def include_total(self, total: int, below: Estimate) -> None:
        """A list of at most `total` objects in all, with `below` under each of them: fixed."""
        self.fixed[()] = self.fixed.get((), 0) + total
        for monomial, coefficient in below.terms.items():
            self.fixed[monomial] = self.fixed.get(monomial, 0) + coefficient * total
        for monomial, coefficient in below.fixed.items():
            self.fixed[monomial] = self.fixed.get(monomial, 0) + coefficient

    def _bound(self) -> None:
        """A document whose paths multiply many different variables (a real one has a handful) would
        make this polynomial, and working it out, grow combinatorially: count every variable at the
        largest page size instead, which no request can exceed."""
        self.terms = {(): sum(c * MAX_PAGE ** len(monomial) for monomial, c in self.terms.items())}
        self.fixed = {(): sum(c * MAX_PAGE ** len(monomial) for monomial, c in self.fixed.items())}

    def evaluate(self, variables: Mapping[str, Any]) -> int:
        total = 0
        for monomial, coefficient in (*self.terms.items(), *self.fixed.items()):
            for name, fallback in monomial:
                given = _integer(variables.get(name))
                coefficient *= _page(fallback if given is None else given)
            total += coefficient
        return total


class _Analysis:
    """One operation's estimate, from its document and the schema."""

    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode
    ) -> None:
        self.schema = schema
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.defaults = {v.variable.name.value: v.default_value for v in operation.variable_definitions or ()}
        self.spreads: dict[tuple[str, Size | None], Estimate] = {}  # each fragment worked out once per page

    def selections(self, selection_set: SelectionSetNode, parent: Any, page: Size | None) -> Estimate:
        """The objects under `selection_set` for one object of type `parent`; `page` is the length of
        its lists when it is a connection reached through a paged field."""
        estimate = Estimate()
        for selection in selection_set.selections:
            if _skipped(selection):
                continue
            if isinstance(selection, FieldNode):
                self._field(estimate, selection, parent, page)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                kind = self.schema.get_type(condition.name.value) if condition else parent
                estimate.include(self.selections(selection.selection_set, kind, page))
            elif isinstance(selection, FragmentSpreadNode):
                estimate.include(self._spread(selection.name.value, page))
        return estimate

    def _spread(self, name: str, page: Size | None) -> Estimate:
        key = (name, page)
        known = self.spreads.get(key)
        if known is None:
            fragment = self.fragments.get(name)
            self.spreads[key] = Estimate()  # (validation refuses cycles; this keeps a bad one finite)
            if fragment is not None:
                kind = self.schema.get_type(fragment.type_condition.name.value)
                self.spreads[key] = self.selections(fragment.selection_set, kind, page)
            known = self.spreads[key]
        return known

    def _field(self, estimate: Estimate, node: FieldNode, parent: Any, page: Size | None) -> None:
        name = node.name.value
        if name.startswith("__") or not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return
        definition = parent.fields.get(name)
        if definition is None:
            return
        kind = get_named_type(definition.type)
        if is_leaf_type(kind):
            return
        if (parent.name, name) in EMBEDDED:
            return
        is_list = isinstance(get_nullable_type(definition.type), GraphQLList)
        total = TOTALS.get((parent.name, name)) if is_list else None
        if total is not None:
            below_total = Estimate()
            if node.selection_set is not None:
                below_total = self.selections(node.selection_set, kind, None)
            estimate.include_total(total, below_total)
            return
        own = self._page_argument(node, definition)
        if own is not None:  # paged: a list of that length, or a connection whose lists have it
            size, below = (own, None) if is_list else (1, own)
        else:
            declared = _declared(definition) if is_list else None
            unpaged = UNPAGED if declared is None else declared
            size, below = ((unpaged if page is None else page) if is_list else 1), None
        estimate.count(size)
        if node.selection_set is not None:
            estimate.include(self.selections(node.selection_set, kind, below), size)

    def _page_argument(self, node: FieldNode, definition: Any) -> Size | None:
        for name in PAGE_ARGUMENTS:
            argument = definition.args.get(name)
            if argument is None:
                continue
            default = _integer(argument.default_value)
            fallback = UNPAGED if default is None else default
            value = next((a.value for a in node.arguments or () if a.name.value == name), None)
            if isinstance(value, IntValueNode):
                return _page(int(value.value))
            if isinstance(value, VariableNode):
                variable = value.name.value
                declared = self.defaults.get(variable)
                if isinstance(declared, IntValueNode):
                    fallback = int(declared.value)
                return (variable, fallback)
            return _page(fallback)
        return None


def _skipped(selection: Any) -> bool:
    """A literal `@skip(if: true)` or `@include(if: false)` (a variable condition counts as included)."""
    for directive in selection.directives or ():
        name = directive.name.value
        if name in ("skip", "include"):
            condition = next((a.value for a in directive.arguments or () if a.name.value == "if"), None)
            if isinstance(condition, BooleanValueNode) and condition.value == (name == "skip"):
                return True
    return False


def estimate(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None) -> Estimate:
    """The estimate of the operation `operation_name` names (or the document's only one)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return Estimate()  # execution says what is wrong
    root = schema.get_root_type(operation.operation)
    return _Analysis(schema, document, operation).selections(operation.selection_set, root, None)


class Costs:
    """Estimates by (document digest, operation name), at most `maxsize` (emptied when full)."""

    def __init__(self, maxsize: int = 1000) -> None:
        self.maxsize = maxsize
        self._estimates: dict[tuple[bytes, str | None], Estimate] = {}

    def __len__(self) -> int:
        return len(self._estimates)

    def keys(self) -> list[tuple[bytes, str | None]]:
        return list(self._estimates)

    def of(self, execution_context: Any) -> Estimate:
        ctx = execution_context
        name = ctx.operation_name
        if not ctx.query:
            return estimate(ctx.schema._schema, ctx.graphql_document, name)
        key = (key_of(ctx.query)[0], name)
        known = self._estimates.get(key)
        if known is None:
            known = estimate(ctx.schema._schema, ctx.graphql_document, name)
            if len(self._estimates) >= self.maxsize:
                self._estimates.clear()
            self._estimates[key] = known
        return known


def too_costly(cost: int, limit: int) -> GraphQLError:
    return GraphQLError(
        f"the query may return up to {cost:,} objects; at most {limit:,} are allowed: ask for smaller pages "
        "(first/last) or fewer nested lists",
        extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "limit": limit},
    )


class CostLimit(SchemaExtension):
    """Refuse, before execution, an operation whose estimate is over `limit`."""

    def __init__(self, costs: Costs, *, limit: int) -> None:
        self.costs = costs
        self.limit = limit

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.graphql_document is not None:
            cost = self.costs.of(ctx).evaluate(ctx.variables or {})
            if cost > self.limit:
                error = too_costly(cost, self.limit)
                if ctx.operation_type is OperationType.SUBSCRIPTION:
                    raise error  # strawberry answers an exception from this hook as the subscription's error
                ctx.result = ExecutionResult(data=None, errors=[error])  # strawberry then skips execution
        yield

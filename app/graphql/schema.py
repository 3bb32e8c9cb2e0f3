"""Query, Mutation and Subscription: thin resolvers over the services."""

from __future__ import annotations

import datetime
from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import date
from enum import Enum
from functools import partial
from typing import Annotated, Any, ClassVar, TypeVar, cast

import strawberry
from graphql import ASTValidationRule, GraphQLError, StringValueNode, Visitor, visit
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaskErrors,
    MaxTokensLimiter,
    SchemaExtension,
)
from strawberry.extensions.max_aliases import create_validator as aliases_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.nodes import SelectedField

from app import models
from app.auth.principal import Principal
from app.errors import Forbidden, NotFound, SufrahError, ValidationFailed
from app.graphql import cursors
from app.graphql import events as ev
from app.graphql import insights as ins
from app.graphql import merchant as mg
from app.graphql import notifications as n
from app.graphql import options as opt
from app.graphql import ordering as o
from app.graphql import orders as og
from app.graphql import ratings as rt
from app.graphql import settings as st
from app.graphql import templates as tg
from app.graphql import usage as ug
from app.graphql import viewer as vw
from app.graphql.context import OperationContext, graphql_error
from app.graphql.cost import CostLimit, Costs
from app.graphql.documents import CachedDocuments, DocumentCache, KiB, key_of
from app.graphql.results import failure
from app.graphql.types import (
    BOT,
    BRANCH,
    CONVERSATION,
    MESSAGE,
    ORDER,
    RESTAURANT,
    Bot,
    Conversation,
    ConversationConnection,
    ConversationEdge,
    ConversationResult,
    ConversationStatus,
    Message,
    MessageConnection,
    Order,
    OrderConnection,
    OrderStatus,
    OrderType,
    PageInfo,
    Restaurant,
    RestaurantResult,
    SendMessageResult,
    Stats,
)
from app.realtime import events
from app.realtime.hub import CursorExpired, Delivered, SubscriptionOverflow
from app.services import (
    bots,
    catalog,
    conversations,
    insights,
    merchant,
    notifications,
    opening,
    order_history,
    orders,
    outbound,
    pages,
    ratings,
    restaurants,
    templates,
    usage,
)
from app.services.periods import Period

T = TypeVar("T")
Info = strawberry.Info[OperationContext]


async def _read(info: Info, fn: Callable[[AsyncSession, str, str | None], Awaitable[T]]) -> T:
    """Run a read for the caller's restaurant; domain errors become GraphQL errors with a code."""
    tenant = await info.context.authenticate()
    try:
        return await info.context.run(lambda s: fn(s, tenant.restaurant_id, tenant.bot_id))
    except SufrahError as exc:
        raise graphql_error(exc) from None


async def _mutate(
    info: Info, fn: Callable[[AsyncSession, str], Awaitable[Any]], wrap: Callable[[Any], T]
) -> T:
    tenant = await info.context.authenticate()
    try:
        row = await info.context.run(lambda s: fn(s, tenant.restaurant_id))
        await info.context.commit()
    except SufrahError as exc:
        await info.context.run(lambda s: s.rollback())
        # T is the mutation's result union: it lists the failures its service raises, which the
        # checker can't follow from the service to `failure`.
        return cast(T, failure(exc))
    return wrap(row)


async def _mutate_in_scope(
    info: Info, fn: Callable[[AsyncSession, str, str | None], Awaitable[Any]], wrap: Callable[[Any], T]
) -> T:
    """`_mutate` for writes to conversations: `fn` also gets the bot the caller narrowed to (or None),
    so a caller that named one sender can only change that sender's conversations, as it can only read
    them."""
    tenant = await info.context.authenticate()
    return await _mutate(info, lambda s, r: fn(s, r, tenant.bot_id), wrap)


async def _admin(
    info: Info, fn: Callable[[AsyncSession, Principal], Awaitable[Any]], wrap: Callable[[Any], T]
) -> T:
    """`_mutate` for admins' global changes (plans, allowances): any other token gets ForbiddenError."""
    principal = await info.context.principal()
    if not principal.is_admin:
        return cast(T, failure(Forbidden("only an admin token may manage plans and allowances")))
    try:
        row = await info.context.run(lambda s: fn(s, principal))
        await info.context.commit()
    except SufrahError as exc:
        await info.context.run(lambda s: s.rollback())
        return cast(T, failure(exc))
    return wrap(row)


async def _admin_read(info: Info, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
    principal = await info.context.principal()
    if not principal.is_admin:
        raise graphql_error(Forbidden("only an admin token may see plans and every restaurant's usage"))
    try:
        return await info.context.run(fn)
    except SufrahError as exc:
        raise graphql_error(exc) from None


async def _usage(s: AsyncSession, restaurant_id: str, month: str | None = None) -> ug.Usage:
    found = await usage.get(
        s, restaurant_id=restaurant_id, month=usage.parse_month(month) if month is not None else None
    )
    days = await usage.daily(
        s, restaurant_id=restaurant_id, month=found.month, timezone=found.restaurant.timezone
    )
    return ug.usage_of(found, days)


def _selects(info: Info, name: str) -> bool:
    """The field's selection names `name` directly (or uses a fragment, to be safe): e.g. count(*)
    only when the client asked for totalCount."""
    selections = [f for field in info.selected_fields for f in field.selections]
    return any(not isinstance(f, SelectedField) or f.name == name for f in selections)


@strawberry.type
class Query:
    @strawberry.field(description="Conversations, newest activity first (keyset pagination).")
    async def conversations(
        self,
        info: Info,
        status: ConversationStatus | None = None,
        search: str | None = None,
        first: int = 50,
        after: str | None = None,
        offset: int = 0,
    ) -> ConversationConnection:
        try:
            pages.page_size(first, field="first")
            pages.offset(offset)
        except ValidationFailed as exc:
            raise graphql_error(exc) from None
        if search is not None and len(search) > 200:
            raise graphql_error(ValidationFailed("search is longer than 200 characters", field="search"))
        wants_total = _selects(info, "totalCount")

        async def load(s: AsyncSession, restaurant_id: str, bot_id: str | None) -> ConversationConnection:
            position = cursors.decode(after, field="after") if after else None
            filters: dict[str, Any] = dict(
                restaurant_id=restaurant_id,
                bot_id=bot_id,
                status=status.value if status else None,
                search=search or None,
            )
            rows = await conversations.list_page(s, **filters, limit=first + 1, offset=offset, after=position)
            total = await conversations.count(s, **filters) if wants_total else 0
            edges = [
                ConversationEdge(
                    cursor=cursors.encode(c.last_message_at, c.id), node=CONVERSATION.from_row(c)
                )
                for c in rows[:first]
            ]
            return ConversationConnection(
                edges=edges,
                total_count=total,
                page_info=PageInfo(
                    has_next_page=len(rows) > first,
                    has_previous_page=after is not None or offset > 0,
                    start_cursor=edges[0].cursor if edges else None,
                    end_cursor=edges[-1].cursor if edges else None,
                ),
            )

        return await _read(info, load)

    @strawberry.field(description="One conversation; null when missing or another restaurant's.")
    async def conversation(self, info: Info, id: strawberry.ID) -> Conversation | None:
        async def load(s: AsyncSession, restaurant_id: str, bot_id: str | None) -> Conversation | None:
            try:
                row = await conversations.get(
                    s, restaurant_id=restaurant_id, conversation_id=str(id), bot_id=bot_id
                )
            except NotFound:
                return None
            return CONVERSATION.from_row(row)

        return await _read(info, load)

    @strawberry.field(description="The newest `last` messages before `before`, oldest first.")
    async def messages(
        self, info: Info, conversation_id: strawberry.ID, last: int = 50, before: str | None = None
    ) -> MessageConnection | None:
        conversation = await Query.conversation(self, info, conversation_id)
        if conversation is None:
            return None
        page: MessageConnection = await conversation.messages(info, last=last, before=before)
        return page

    @strawberry.field
    async def stats(self, info: Info) -> Stats:
        async def load(s: AsyncSession, restaurant_id: str, bot_id: str | None) -> Stats:
            counts = await conversations.stats(s, restaurant_id=restaurant_id, bot_id=bot_id)
            activity = await conversations.activity(s, restaurant_id=restaurant_id)
            return Stats(
                total_conversations=counts.total_conversations,
                active_conversations=counts.active_conversations,
                total_unread=counts.total_unread,
                waiting_for_staff=counts.waiting_for_staff,
                messages_today=activity.messages_today,
                median_first_response_seconds=activity.median_first_response_seconds,
            )

        return await _read(info, load)

    @strawberry.field(
        description="Bots of the current restaurant; an admin may name another or pass all=true."
    )
    async def bots(
        self, info: Info, restaurant_id: strawberry.ID | None = None, all: bool = False
    ) -> list[Bot]:
        principal = await info.context.principal()
        if all or restaurant_id is not None:
            if not principal.is_admin and (all or not principal.can_access(str(restaurant_id))):
                raise graphql_error(Forbidden("only an admin token may list other restaurants' bots"))
            target = None if all else str(restaurant_id)
        else:
            target = (await info.context.authenticate()).restaurant_id
        rows = await info.context.run(lambda s: bots.list_for(s, restaurant_id=target))
        return [BOT.from_row(b) for b in rows]

    @strawberry.field(description="Branches and the menu, in display order (inactive ones included).")
    async def menu(self, info: Info) -> o.Menu:
        async def load(s: AsyncSession, restaurant_id: str, _bot: str | None) -> o.Menu:
            menu = await catalog.menu(s, restaurant_id=restaurant_id, options=False)
            restaurant = await restaurants.get(s, restaurant_id=restaurant_id)
            return o.Menu(
                branches=[BRANCH.from_row(b) for b in menu.branches],
                categories=[o.menu_category(c, menu.items) for c in menu.categories],
                min_delivery_total=restaurant.min_delivery_total,
                currency=restaurant.currency,
            )

        return await _read(info, load)

    @strawberry.field(
        description=(
            "Orders, newest first (keyset pagination); filter by statuses, a period (days in the restaurant's "
            'time zone, both ends included, at most 366), branch, order type, alert, or a search ("#1042", a '
            "name, phone digits)."
        )
    )
    async def orders(
        self,
        info: Info,
        status: list[OrderStatus] | None = None,
        first: int = 50,
        after: str | None = None,
        from_: Annotated[date | None, strawberry.argument(name="from")] = None,
        to: date | None = None,
        branch_id: strawberry.ID | None = None,
        order_type: OrderType | None = None,
        search: str | None = None,
        alert: og.OrderAlert | None = None,
    ) -> OrderConnection:
        try:
            pages.page_size(first, field="first")
        except ValidationFailed as exc:
            raise graphql_error(exc) from None
        wants_total = _selects(info, "totalCount")

        async def load(s: AsyncSession, restaurant_id: str, bot_id: str | None) -> OrderConnection:
            position = cursors.decode(after, field="after") if after else None
            history = order_history.Filter(
                statuses=tuple(x.value for x in status or []),
                period=await order_history.period(
                    s, restaurant_id=restaurant_id, first_day=from_, last_day=to
                ),
                branch_id=_opt(branch_id),
                order_type=order_type.value if order_type else None,
                search=search,
                alert=alert.value if alert else None,
            )
            filters: dict[str, Any] = dict(restaurant_id=restaurant_id, bot_id=bot_id, filter=history)
            rows = await order_history.list_page(s, **filters, limit=first + 1, after=position)
            total = await order_history.count(s, **filters) if wants_total else 0
            return OrderConnection.from_rows(rows, first, total_count=total, after=after)

        return await _read(info, load)

    @strawberry.field(
        description=(
            "Count, revenue and average order value of the orders counted (not cancelled) in a period "
            "(days in the restaurant's time zone; default the last 30 days), with the orders' filters."
        )
    )
    async def order_kpis(
        self,
        info: Info,
        from_: Annotated[date | None, strawberry.argument(name="from")] = None,
        to: date | None = None,
        status: list[OrderStatus] | None = None,
        branch_id: strawberry.ID | None = None,
        order_type: OrderType | None = None,
        search: str | None = None,
    ) -> og.OrderKpis:
        async def load(s: AsyncSession, restaurant_id: str, bot_id: str | None) -> og.OrderKpis:
            period = await order_history.period(s, restaurant_id=restaurant_id, first_day=from_, last_day=to)
            if period is None:
                timezone = (await restaurants.get(s, restaurant_id=restaurant_id)).timezone
                period = Period.ending_today(30, timezone=timezone)
            history = order_history.Filter(
                statuses=tuple(x.value for x in status or []),
                period=period,
                branch_id=_opt(branch_id),
                order_type=order_type.value if order_type else None,
                search=search,
            )
            kpis = await order_history.kpis(s, restaurant_id=restaurant_id, bot_id=bot_id, filter=history)
            return og.OrderKpis(
                count=kpis.count,
                revenue=kpis.revenue,
                average_order_value=kpis.average_order_value,
                currency=kpis.currency,
            )

        return await _read(info, load)

    @strawberry.field(description="The order history's settings (the kitchen's preparation time).")
    async def order_settings(self, info: Info) -> og.OrderSettings:
        async def load(s: AsyncSession, restaurant_id: str, _bot: str | None) -> og.OrderSettings:
            restaurant = await restaurants.get(s, restaurant_id=restaurant_id)
            return og.OrderSettings(preparation_minutes=restaurant.preparation_minutes)

        return await _read(info, load)

    @strawberry.field
    async def order(self, info: Info, id: strawberry.ID) -> Order | None:
        async def load(s: AsyncSession, restaurant_id: str, _bot: str | None) -> Order | None:
            try:
                return ORDER.from_row(await orders.get(s, restaurant_id=restaurant_id, order_id=str(id)))
            except NotFound:
                return None

        return await _read(info, load)

    @strawberry.field(
        description=(
            "The restaurant's current event position. Read it with your first queries, then subscribe with "
            "after: eventCursor, and nothing committed in between is missed."
        )
    )
    async def event_cursor(self, info: Info) -> str:
        async def load(s: AsyncSession, restaurant_id: str, _bot: str | None) -> str:
            return events.encode_cursor(restaurant_id, await events.last_seq(s, restaurant_id=restaurant_id))

        return await _read(info, load)

    @strawberry.field(
        description="Staff notifications, newest first (keyset pagination), with the unread count."
    )
    async def notifications(
        self, info: Info, first: int = 20, after: str | None = None, unread_only: bool = False
    ) -> n.NotificationConnection:
        try:
            pages.page_size(first, field="first")
        except ValidationFailed as exc:
            raise graphql_error(exc) from None

        async def load(s: AsyncSession, restaurant_id: str, _bot: str | None) -> n.NotificationConnection:
            position = cursors.decode(after, field="after") if after else None
            page = await notifications.list_page(
                s, restaurant_id=restaurant_id, limit=first, after=position, unread_only=unread_only
            )
            edges = [
                n.NotificationEdge(cursor=cursors.encode(r.created_at, r.id), node=n.NOTIFICATION.from_row(r))
                for r in page.rows
            ]
            return n.NotificationConnection(
                edges=edges,
                has_next_page=page.has_next_page,
                end_cursor=edges[-1].cursor if edges else None,
                unread_count=page.unread_count,
            )

        return await _read(info, load)

    @strawberry.field(
        description=(
            "The owner's overview for the days from..to in the restaurant's time zone (at most 366; the last "
            "30 days up to today when omitted); topItems lists the `top` items sold most (1..50)."
        )
    )
    async def overview(
        self,
        info: Info,
        from_: Annotated[date | None, strawberry.argument(name="from")] = None,
        to: date | None = None,
        top: int = 10,
    ) -> ins.Overview:
        async def load(s: AsyncSession, restaurant_id: str, _bot: str | None) -> ins.Overview:
            period = insights.period_for(await restaurants.get(s, restaurant_id=restaurant_id), from_, to)
            return ins.overview(
                await insights.overview(s, restaurant_id=restaurant_id, period=period, top=top)
            )

        return await _read(info, load)

    @strawberry.field(
        description=(
            "The ratings customers gave from..to (days in the restaurant's time zone, at most 366; the last 30 "
            "days up to today when omitted), with their reviews."
        )
    )
    async def ratings(
        self,
        info: Info,
        from_: Annotated[date | None, strawberry.argument(name="from")] = None,
        to: date | None = None,
    ) -> rt.Ratings:
        async def load(s: AsyncSession, restaurant_id: str, _bot: str | None) -> rt.Ratings:
            period = insights.period_for(await restaurants.get(s, restaurant_id=restaurant_id), from_, to)
            found = await ratings.summary(s, restaurant_id=restaurant_id, period=period)
            return rt.summary(found, restaurant_id=restaurant_id, period=period)

        return await _read(info, load)

    @strawberry.field(description="The caller's token: whether it is an admin's, which restaurants it names.")
    async def viewer(self, info: Info) -> vw.Viewer:
        return vw.Viewer.of(await info.context.principal())

    @strawberry.field(description="The restaurants this token may act for.")
    async def restaurants(self, info: Info) -> list[Restaurant]:
        principal = await info.context.principal()
        scope = None if principal.is_admin else principal.restaurant_ids
        rows = await info.context.run(lambda s: restaurants.list_all(s, restaurant_ids=scope))
        return [RESTAURANT.from_row(r) for r in rows]

    @strawberry.field(description="The restaurant's WhatsApp templates by name; filter by review status.")
    async def templates(self, info: Info, status: tg.TemplateStatus | None = None) -> list[tg.Template]:
        async def load(s: AsyncSession, restaurant_id: str, _bot: str | None) -> list[tg.Template]:
            rows = await templates.list_templates(
                s, restaurant_id=restaurant_id, status=status.value if status else None
            )
            return [tg.TEMPLATE.from_row(row) for row in rows]

        return await _read(info, load)

    @strawberry.field(description="One template; null when missing, deleted or another restaurant's.")
    async def template(self, info: Info, id: strawberry.ID) -> tg.Template | None:
        async def load(s: AsyncSession, restaurant_id: str, _bot: str | None) -> tg.Template | None:
            try:
                return tg.TEMPLATE.from_row(
                    await templates.get(s, restaurant_id=restaurant_id, template_id=str(id))
                )
            except NotFound:
                return None

        return await _read(info, load)

    @strawberry.field(description="The templates used outside WhatsApp's 24-hour window.")
    async def template_settings(self, info: Info) -> tg.TemplateSettings:
        return await _read(info, lambda s, r, _bot: _template_settings(s, r))

    @strawberry.field(
        description="The restaurant's WhatsApp sessions in a month (YYYY-MM; default: this month) "
        "against its allowance, with a daily breakdown."
    )
    async def usage(self, info: Info, month: str | None = None) -> ug.Usage:
        return await _read(info, lambda s, r, _bot: _usage(s, r, month))

    @strawberry.field(description="Every plan (admin tokens only).")
    async def plans(self, info: Info) -> list[ug.Plan]:
        rows = await _admin_read(info, usage.list_plans)
        return [ug.Plan.from_row(p) for p in rows]

    @strawberry.field(
        description="Every restaurant's usage, fullest first (admin tokens only); each restaurant's "
        "current month unless `month` (YYYY-MM) is given; nearLimitOnly: only those near or over."
    )
    async def usage_overview(
        self,
        info: Info,
        month: str | None = None,
        near_limit_only: bool = False,
        first: int = 50,
        offset: int = 0,
    ) -> ug.UsageOverview:
        async def load(s: AsyncSession) -> ug.UsageOverview:
            rows, total = await usage.overview(
                s,
                month=usage.parse_month(month) if month is not None else None,
                near_limit_only=near_limit_only,
                limit=first,
                offset=offset,
            )
            return ug.UsageOverview(total_count=total, nodes=[ug.summary_of(u) for u in rows])

        return await _admin_read(info, load)

    @strawberry.field(
        description="Where the menu comes from (local or the Sufrah platform) and its last sync."
    )
    async def catalog_source(self, info: Info) -> mg.CatalogSource:
        return await _read(info, lambda s, r, _bot: _catalog_source(s, r))


async def _catalog_source(s: AsyncSession, restaurant_id: str) -> mg.CatalogSource:
    restaurant = await restaurants.get(s, restaurant_id=restaurant_id)
    return mg.catalog_source(restaurant, await merchant.sync_status(s, restaurant_id=restaurant_id))


async def _template_settings(s: AsyncSession, restaurant_id: str) -> tg.TemplateSettings:
    follow_up, order_status = await templates.purposes(s, restaurant_id=restaurant_id)
    return tg.TemplateSettings(
        follow_up=tg.TEMPLATE.from_row(follow_up) if follow_up else None,
        order_status=tg.TEMPLATE.from_row(order_status) if order_status else None,
    )


def _template_fields(input: tg.TemplateInput) -> dict[str, Any]:
    values = {k: v for k, v in vars(input).items() if v is not None}
    if input.category is not None:
        values["category"] = input.category.value
    if input.buttons is not None:
        values["buttons"] = [{k: v for k, v in vars(b).items() if v is not None} for b in input.buttons]
    if input.variables is not None:
        if not isinstance(input.variables, dict):
            raise ValidationFailed('variables must be an object such as {"1": "Sara"}', field="variables")
        values["variables"] = {str(k): str(v) for k, v in input.variables.items()}
    return values


@strawberry.enum
class MenuEntryKind(Enum):
    BRANCH = "branch"
    CATEGORY = "category"
    ITEM = "item"
    OPTION_GROUP = "option_group"
    OPTION = "option"


def _opt(value: strawberry.ID | None) -> str | None:
    return str(value) if value is not None else None


def _values(data: object) -> dict[str, Any]:
    values = {k: v for k, v in vars(data).items() if v is not None}
    if "category_id" in values:
        values["category_id"] = str(values["category_id"])
    return values


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def mark_conversation_read(self, info: Info, id: strawberry.ID) -> ConversationResult:
        return await _mutate_in_scope(
            info,
            lambda s, r, b: conversations.mark_read(s, restaurant_id=r, bot_id=b, conversation_id=str(id)),
            CONVERSATION.from_row,
        )

    @strawberry.mutation
    async def close_conversation(self, info: Info, id: strawberry.ID) -> ConversationResult:
        return await _mutate_in_scope(
            info,
            lambda s, r, b: conversations.set_status(
                s, restaurant_id=r, bot_id=b, conversation_id=str(id), status="closed"
            ),
            CONVERSATION.from_row,
        )

    @strawberry.mutation
    async def reopen_conversation(self, info: Info, id: strawberry.ID) -> ConversationResult:
        return await _mutate_in_scope(
            info,
            lambda s, r, b: conversations.set_status(
                s, restaurant_id=r, bot_id=b, conversation_id=str(id), status="active"
            ),
            CONVERSATION.from_row,
        )

    @strawberry.mutation(description="Bot on/off for one conversation (off: staff answer by hand).")
    async def set_conversation_bot_active(
        self, info: Info, id: strawberry.ID, active: bool
    ) -> ConversationResult:
        return await _mutate_in_scope(
            info,
            lambda s, r, b: conversations.set_bot_active(
                s, restaurant_id=r, bot_id=b, conversation_id=str(id), active=active
            ),
            CONVERSATION.from_row,
        )

    @strawberry.mutation(description="The restaurant-wide bot switch.")
    async def set_restaurant_bot_enabled(self, info: Info, enabled: bool) -> RestaurantResult:
        return await _mutate(
            info,
            lambda s, r: restaurants.set_bot_enabled(s, restaurant_id=r, enabled=enabled),
            RESTAURANT.from_row,
        )

    @strawberry.mutation(description="Move an order to its next status; the customer is told by WhatsApp.")
    async def update_order_status(self, info: Info, id: strawberry.ID, status: OrderStatus) -> o.OrderResult:
        return await _mutate(
            info,
            lambda s, r: orders.change_status(s, restaurant_id=r, order_id=str(id), status=status.value),
            ORDER.from_row,
        )

    @strawberry.mutation(
        description="Record that an order's payment was received (an online order then awaits no more)."
    )
    async def mark_order_paid(self, info: Info, id: strawberry.ID) -> o.OrderResult:
        return await _mutate(
            info, lambda s, r: orders.mark_paid(s, restaurant_id=r, order_id=str(id)), ORDER.from_row
        )

    @strawberry.mutation(description="How long the kitchen takes (1 to 1440 minutes): later orders are LATE.")
    async def update_order_settings(self, info: Info, preparation_minutes: int) -> og.OrderSettingsResult:
        return await _mutate(
            info,
            lambda s, r: order_history.set_preparation_minutes(
                s, restaurant_id=r, minutes=preparation_minutes
            ),
            lambda row: og.OrderSettings(preparation_minutes=row.preparation_minutes),
        )

    @strawberry.mutation(
        description="The inbox's settings: slaMinutes, how long a customer may wait for staff."
    )
    async def update_inbox_settings(self, info: Info, sla_minutes: int) -> ins.InboxSettingsResult:
        return await _mutate(
            info,
            lambda s, r: insights.update_inbox_settings(s, restaurant_id=r, sla_minutes=sla_minutes),
            ins.inbox_settings,
        )

    @strawberry.mutation(description="Create a branch (no id) or change one.")
    async def save_branch(
        self, info: Info, input: o.BranchInput, id: strawberry.ID | None = None
    ) -> o.BranchResult:
        return await _mutate(
            info,
            lambda s, r: catalog.save_branch(s, restaurant_id=r, branch_id=_opt(id), **_values(input)),
            BRANCH.from_row,
        )

    @strawberry.mutation(description="The number that gets a WhatsApp alert for each new order of a branch.")
    async def set_branch_alert_phone(
        self, info: Info, id: strawberry.ID, phone: str | None = None
    ) -> o.BranchResult:
        return await _mutate(
            info,
            lambda s, r: catalog.set_branch_alert_phone(s, restaurant_id=r, branch_id=str(id), phone=phone),
            BRANCH.from_row,
        )

    @strawberry.mutation(description="Mark notifications read: the ones named, or all of them.")
    async def mark_notifications_read(
        self, info: Info, ids: list[strawberry.ID] | None = None, all: bool = False
    ) -> n.MarkNotificationsReadResult:
        async def mark(s: AsyncSession, r: str) -> n.NotificationsRead:
            named = [str(i) for i in ids] if ids is not None else None
            updated = await notifications.mark_read(s, restaurant_id=r, ids=named, all=all)
            return n.NotificationsRead(
                updated_count=updated, unread_count=await notifications.unread_count(s, restaurant_id=r)
            )

        return await _mutate(info, mark, lambda result: result)

    @strawberry.mutation(description="Create a menu category (no id) or change one.")
    async def save_category(
        self, info: Info, input: o.CategoryInput, id: strawberry.ID | None = None
    ) -> o.CategoryResult:
        return await _mutate(
            info,
            lambda s, r: catalog.save_category(s, restaurant_id=r, category_id=_opt(id), **_values(input)),
            lambda row: o.menu_category(row, []),
        )

    @strawberry.mutation(description="Create a menu item (no id) or change one (price in minor units).")
    async def save_menu_item(
        self, info: Info, input: o.MenuItemInput, id: strawberry.ID | None = None
    ) -> o.MenuItemResult:
        return await _mutate(
            info,
            lambda s, r: catalog.save_item(s, restaurant_id=r, item_id=_opt(id), **_values(input)),
            o.MENU_ITEM.from_row,
        )

    @strawberry.mutation(description="Create an item's option group (no id, with itemId) or change one.")
    async def save_option_group(
        self, info: Info, input: opt.OptionGroupInput, id: strawberry.ID | None = None
    ) -> opt.OptionGroupResult:
        async def save(s: AsyncSession, r: str) -> opt.MenuOptionGroup:
            values = {k: str(v) if k == "item_id" else v for k, v in vars(input).items() if v is not None}
            row = await catalog.save_option_group(s, restaurant_id=r, group_id=_opt(id), **values)
            groups = await catalog.option_groups(s, restaurant_id=r, item_ids=[row.item_id])
            options = next((g.options for g in groups.get(row.item_id, []) if g.group.id == row.id), [])
            return opt.option_group(row, options)

        return await _mutate(info, save, lambda group: group)

    @strawberry.mutation(description="Create an option (no id, with groupId) or change one.")
    async def save_option(
        self, info: Info, input: opt.OptionInput, id: strawberry.ID | None = None
    ) -> opt.OptionResult:
        values = {k: str(v) if k == "group_id" else v for k, v in vars(input).items() if v is not None}
        return await _mutate(
            info,
            lambda s, r: catalog.save_option(s, restaurant_id=r, option_id=_opt(id), **values),
            opt.MENU_OPTION.from_row,
        )

    @strawberry.mutation(
        description="Delete a branch, a category (with its items), a menu item, an option group or an option."
    )
    async def delete_menu_entry(self, info: Info, kind: MenuEntryKind, id: strawberry.ID) -> o.DeleteResult:
        async def remove(s: AsyncSession, r: str) -> str:
            await catalog.remove(s, restaurant_id=r, kind=kind.value, row_id=str(id))
            return str(id)

        return await _mutate(info, remove, lambda row_id: o.Deleted(id=strawberry.ID(row_id)))

    @strawberry.mutation(
        description="Admin: take the menu from the Sufrah platform's merchant (SUFRAH) or keep it here (LOCAL)."
    )
    async def set_catalog_provider(
        self, info: Info, provider: mg.CatalogProvider, merchant_id: str | None = None
    ) -> mg.CatalogSourceResult:
        principal = await info.context.principal()

        async def change(s: AsyncSession, r: str) -> mg.CatalogSource:
            if not principal.is_admin:
                raise Forbidden("only an admin token may link a restaurant to the Sufrah platform")
            await merchant.set_provider(s, restaurant_id=r, provider=provider.value, merchant_id=merchant_id)
            return await _catalog_source(s, r)

        return await _mutate(info, change, lambda source: source)

    @strawberry.mutation(
        description="Sync the menu from the Sufrah platform now; a failure shows in syncStatus."
    )
    async def sync_menu(self, info: Info) -> mg.CatalogSourceResult:
        platform = info.context.app.platform

        async def sync(s: AsyncSession, r: str) -> mg.CatalogSource:
            if platform is None:
                raise ValidationFailed("the Sufrah platform is not configured", field="provider")
            await merchant.sync_menu(s, platform, restaurant_id=r)
            return await _catalog_source(s, r)

        return await _mutate(info, sync, lambda source: source)

    @strawberry.mutation(
        description="Restaurant settings: name, currency, time zone, delivery minimum, bot switch."
    )
    async def update_restaurant_settings(
        self, info: Info, input: o.RestaurantSettingsInput
    ) -> RestaurantResult:
        return await _mutate(
            info,
            lambda s, r: catalog.update_settings(s, restaurant_id=r, **_values(input)),
            RESTAURANT.from_row,
        )

    @strawberry.mutation(
        description='The restaurant\'s profile: name, description, address, phone, logo, app link; "" clears.'
    )
    async def update_restaurant_profile(
        self, info: Info, input: st.RestaurantProfileInput
    ) -> RestaurantResult:
        return await _mutate(
            info,
            lambda s, r: catalog.update_settings(s, restaurant_id=r, **_values(input)),
            RESTAURANT.from_row,
        )

    @strawberry.mutation(description="Replace the weekly opening hours; an empty list: always open.")
    async def set_opening_hours(self, info: Info, hours: list[st.OpeningIntervalInput]) -> RestaurantResult:
        week = [opening.NewInterval(h.weekday.value, h.opens, h.closes) for h in hours]
        return await _mutate(
            info, lambda s, r: opening.set_week(s, restaurant_id=r, intervals=week), RESTAURANT.from_row
        )

    @strawberry.mutation(
        description="Give a date its own hours (opens and closes) or close it all day (neither)."
    )
    async def add_opening_exception(
        self,
        info: Info,
        date: datetime.date,
        opens: str | None = None,
        closes: str | None = None,
        note: str = "",
    ) -> RestaurantResult:
        return await _mutate(
            info,
            lambda s, r: opening.add_exception(
                s, restaurant_id=r, day=date, opens=opens, closes=closes, note=note
            ),
            RESTAURANT.from_row,
        )

    @strawberry.mutation(description="Drop a date's exception: the weekly hours apply to it again.")
    async def remove_opening_exception(self, info: Info, date: datetime.date) -> RestaurantResult:
        return await _mutate(
            info, lambda s, r: opening.remove_exception(s, restaurant_id=r, day=date), RESTAURANT.from_row
        )

    @strawberry.mutation(
        description="The busy/closed switch: BUSY or CLOSED until `until` (null: until switched back); "
        "OPEN follows the opening hours."
    )
    async def set_ordering_state(
        self, info: Info, state: st.OrderingState, until: datetime.datetime | None = None
    ) -> RestaurantResult:
        return await _mutate(
            info,
            lambda s, r: opening.set_ordering_state(s, restaurant_id=r, state=state.value, until=until),
            RESTAURANT.from_row,
        )

    @strawberry.mutation(description="A staff reply: stored as an outgoing message and queued for WhatsApp.")
    async def send_message(
        self, info: Info, conversation_id: strawberry.ID, body: str = "", media_url: str | None = None
    ) -> SendMessageResult:
        return await _mutate_in_scope(
            info,
            lambda s, r, b: outbound.queue(
                s,
                restaurant_id=r,
                bot_id=b,
                conversation_id=str(conversation_id),
                body=body,
                media_url=media_url,
                author="staff",
            ),
            MESSAGE.from_row,
        )

    @strawberry.mutation(
        description="Add a WhatsApp template; it is submitted to Twilio for WhatsApp's review."
    )
    async def create_template(self, info: Info, input: tg.TemplateInput) -> tg.TemplateResult:
        async def create(s: AsyncSession, r: str) -> object:
            values = _template_fields(input)
            for required in ("name", "language", "category", "body"):
                if required not in values:
                    raise ValidationFailed(f"a template needs a {required}", field=required)
            return await templates.create(s, restaurant_id=r, **values)

        return await _mutate(info, create, tg.TEMPLATE.from_row)

    @strawberry.mutation(description="Change a template; a reviewed change is submitted again (pending).")
    async def update_template(
        self, info: Info, id: strawberry.ID, input: tg.TemplateInput
    ) -> tg.TemplateResult:
        return await _mutate(
            info,
            lambda s, r: templates.edit(s, restaurant_id=r, template_id=str(id), **_template_fields(input)),
            tg.TEMPLATE.from_row,
        )

    @strawberry.mutation(description="Delete a template, here and at Twilio.")
    async def delete_template(self, info: Info, id: strawberry.ID) -> tg.TemplateDeleteResult:
        async def remove(s: AsyncSession, r: str) -> str:
            await templates.delete(s, restaurant_id=r, template_id=str(id))
            return str(id)

        return await _mutate(info, remove, lambda row_id: tg.TemplateDeleted(id=strawberry.ID(row_id)))

    @strawberry.mutation(description="Send an approved template, its variables in order ({{1}}, {{2}}, …).")
    async def send_template(
        self, info: Info, conversation_id: strawberry.ID, template_id: strawberry.ID, variables: list[str]
    ) -> tg.SendTemplateResult:
        return await _mutate(
            info,
            lambda s, r: outbound.queue(
                s,
                restaurant_id=r,
                conversation_id=str(conversation_id),
                body="",
                author="staff",
                template_id=str(template_id),
                variables={str(i): v for i, v in enumerate(variables, 1)},
            ),
            MESSAGE.from_row,
        )

    @strawberry.mutation(description="Choose the follow-up and order-status templates (null: none).")
    async def set_template_settings(
        self,
        info: Info,
        follow_up_template_id: strawberry.ID | None = strawberry.UNSET,
        order_status_template_id: strawberry.ID | None = strawberry.UNSET,
    ) -> tg.TemplateSettingsResult:
        async def choose(s: AsyncSession, r: str) -> tg.TemplateSettings:
            chosen = {
                key: (None if value is None else str(value))
                for key, value in (
                    ("follow_up_template_id", follow_up_template_id),
                    ("order_status_template_id", order_status_template_id),
                )
                if value is not strawberry.UNSET
            }
            await templates.set_purposes(s, restaurant_id=r, **chosen)
            return await _template_settings(s, r)

        return await _mutate(info, choose, lambda settings: settings)

    @strawberry.mutation(
        description="What happens at the month's limit, and when staff are warned it is near."
    )
    async def update_usage_settings(
        self,
        info: Info,
        limit_action: ug.UsageLimitAction | None = None,
        near_limit_percent: int | None = None,
    ) -> ug.UsageResult:
        async def change(s: AsyncSession, r: str) -> ug.Usage:
            await usage.update_settings(
                s,
                restaurant_id=r,
                limit_action=limit_action.value if limit_action else None,
                near_limit_percent=near_limit_percent,
            )
            return await _usage(s, r)

        return await _mutate(info, change, lambda result: result)

    @strawberry.mutation(description="Add a plan (admin tokens only).")
    async def create_plan(self, info: Info, input: ug.PlanInput) -> ug.PlanResult:
        async def create(s: AsyncSession, _admin: Principal) -> models.Plan:
            for required in ("name", "monthly_sessions"):
                if getattr(input, required) is None:
                    raise ValidationFailed(f"a plan needs {required}", field=required)
            return await usage.create_plan(
                s,
                name=input.name or "",
                monthly_sessions=input.monthly_sessions or 0,
                price=input.price or 0,
                currency=input.currency or "SAR",
            )

        return await _admin(info, create, ug.Plan.from_row)

    @strawberry.mutation(description="Change a plan (admin tokens only); its restaurants follow.")
    async def update_plan(self, info: Info, id: strawberry.ID, input: ug.PlanInput) -> ug.PlanResult:
        return await _admin(
            info,
            lambda s, _admin: usage.update_plan(
                s,
                plan_id=str(id),
                name=input.name,
                monthly_sessions=input.monthly_sessions,
                price=input.price,
                currency=input.currency,
            ),
            ug.Plan.from_row,
        )

    @strawberry.mutation(description="Put a restaurant on a plan, or on none (null); admin tokens only.")
    async def assign_plan(
        self, info: Info, restaurant_id: strawberry.ID, plan_id: strawberry.ID | None
    ) -> ug.UsageResult:
        async def assign(s: AsyncSession, _admin: Principal) -> ug.Usage:
            await usage.assign_plan(
                s, restaurant_id=str(restaurant_id), plan_id=None if plan_id is None else str(plan_id)
            )
            return await _usage(s, str(restaurant_id))

        return await _admin(info, assign, lambda result: result)

    @strawberry.mutation(
        description="Add sessions to (negative: take them from) a restaurant's allowance for a month "
        "(YYYY-MM), with a reason; admin tokens only."
    )
    async def adjust_allowance(
        self, info: Info, restaurant_id: strawberry.ID, month: str, sessions: int, reason: str
    ) -> ug.UsageResult:
        async def adjust(s: AsyncSession, admin: Principal) -> ug.Usage:
            await usage.adjust(
                s,
                restaurant_id=str(restaurant_id),
                month=usage.parse_month(month),
                sessions=sessions,
                reason=reason,
                created_by=admin.token_id or "DASHBOARD_PAT",
            )
            return await _usage(s, str(restaurant_id), month)

        return await _admin(info, adjust, lambda result: result)


async def _stream(
    info: Info,
    after: str | None,
    accept: Callable[[Delivered], bool],
    build: Callable[[Delivered], Any] = ev.event_object,
) -> AsyncGenerator[Any, None]:
    tenant = await info.context.authenticate()
    await info.context.close()  # no session is held for the socket's lifetime
    try:
        position = events.decode_cursor(after, restaurant_id=tenant.restaurant_id) if after else None
    except ValidationFailed as exc:
        raise graphql_error(exc) from None
    try:
        async for item in info.context.subscribe(
            restaurant_id=tenant.restaurant_id, after=position, accept=accept, build=build
        ):
            obj = build(item)
            if obj is not None:
                yield obj
                # The event's nested fields are resolved by now: release what they used.
                await info.context.reset()
    except SubscriptionOverflow as exc:
        raise GraphQLError(str(exc), extensions={"code": "SUBSCRIBER_TOO_SLOW"}) from None
    except CursorExpired as exc:  # the client reloads, then subscribes without `after`
        raise GraphQLError(str(exc), extensions={"code": "CURSOR_EXPIRED"}) from None


@strawberry.type
class Subscription:
    @strawberry.subscription(description="New messages (of one conversation, or all), resumable by cursor.")
    async def message_created(
        self, info: Info, conversation_id: strawberry.ID | None = None, after: str | None = None
    ) -> AsyncGenerator[Message, None]:
        wanted = str(conversation_id) if conversation_id else None
        async for obj in _stream(
            info,
            after,
            lambda d: d.kind == events.MESSAGE_CREATED and wanted in (None, d.conversation_id),
        ):
            yield obj

    @strawberry.subscription(description="Delivery status changes of outgoing messages.")
    async def message_updated(
        self, info: Info, conversation_id: strawberry.ID | None = None, after: str | None = None
    ) -> AsyncGenerator[Message, None]:
        wanted = str(conversation_id) if conversation_id else None
        async for obj in _stream(
            info,
            after,
            lambda d: d.kind == events.MESSAGE_UPDATED and wanted in (None, d.conversation_id),
        ):
            yield obj

    @strawberry.subscription
    async def conversation_updated(
        self, info: Info, conversation_id: strawberry.ID | None = None, after: str | None = None
    ) -> AsyncGenerator[Conversation, None]:
        wanted = str(conversation_id) if conversation_id else None
        async for obj in _stream(
            info,
            after,
            lambda d: d.kind == events.CONVERSATION_UPDATED and wanted in (None, d.conversation_id),
        ):
            yield obj

    @strawberry.subscription(description="Orders created or changed (status, rating), resumable by cursor.")
    async def order_updated(self, info: Info, after: str | None = None) -> AsyncGenerator[Order, None]:
        async for obj in _stream(info, after, lambda d: d.kind == events.ORDER_UPDATED):
            yield obj

    @strawberry.subscription(description="New staff notifications, resumable by cursor.")
    async def notification_created(
        self, info: Info, after: str | None = None
    ) -> AsyncGenerator[n.Notification, None]:
        async for obj in _stream(info, after, lambda d: d.kind == events.NOTIFICATION_CREATED):
            yield obj

    @strawberry.subscription(
        description=(
            "Every change of the restaurant, in order: the one stream to follow. Each event says what"
            " happened (kind), where it is (cursor: resume with after: cursor) and the row it names (node)."
        )
    )
    async def events(self, info: Info, after: str | None = None) -> AsyncGenerator[ev.Event, None]:
        async for envelope in _stream(info, after, lambda d: True, build=ev.event_envelope):
            yield envelope


class CloseSession(SchemaExtension):
    """An operation's session lives exactly as long as the operation: each has a context of its own
    (an HTTP request's, or one per operation on a socket, see app.graphql.view), so closing it never
    touches another's. A subscription's closes when it ends, however it ends."""

    async def on_operation(self):  # type: ignore[no-untyped-def]
        try:
            yield
        finally:
            context = self.execution_context.context
            if isinstance(context, OperationContext):
                await context.close()


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class RefuseNulCharacters(SchemaExtension):
    """PostgreSQL text can't hold U+0000: refuse it up front with a clear error instead of failing
    deep inside a query."""

    # digest of a query text (app.graphql.documents) -> a literal holds NUL; shared by every request
    _documents: ClassVar[dict[bytes, bool]] = {}

    def on_validate(self):  # type: ignore[no-untyped-def]
        ctx = self.execution_context
        if _has_nul(ctx.variables or {}) or self._literals_have_nul(ctx.query, ctx.graphql_document):
            raise GraphQLError(
                "strings must not contain NUL (U+0000) characters", extensions={"code": "BAD_USER_INPUT"}
            )
        yield

    @classmethod
    def _literals_have_nul(cls, query: str | None, document: Any) -> bool:
        """Read once per query text (kept by its digest, so no text is held here)."""
        if document is None:
            return False
        key = key_of(query)[0] if query else None
        found = cls._documents.get(key) if key is not None else None
        if found is None:
            literals: list[str] = []

            class Strings(Visitor):
                def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
                    literals.append(node.value)

            visit(document, Strings())
            found = _has_nul(literals)
            if key is not None:
                if len(cls._documents) >= 1000:
                    cls._documents.clear()
                cls._documents[key] = found
        return found


# What a request got wrong before execution (an operation name the document doesn't hold, an
# operation the transport doesn't take, no query at all): the caller's mistake, not a bug.
_REQUEST_ERRORS = CannotGetOperationTypeError | InvalidOperationTypeError | MissingQueryError


def _is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError | SufrahError | _REQUEST_ERRORS)


class HideSuggestions(SchemaExtension):
    """In production, don't hint at field names in validation errors ("Did you mean ...?")."""

    def on_validate(self):  # type: ignore[no-untyped-def]
        yield
        errors = self.execution_context.pre_execution_errors or []
        for error in errors:
            if "Did you mean" in error.message:
                error.message = error.message.split(" Did you mean")[0]


class Schema(strawberry.Schema):
    documents: DocumentCache  # its parsed documents, and their cost estimates (see build_schema)
    costs: Costs

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Log only what is a bug: a GraphQLError we raised on purpose (it has a `code`) or a client's
        invalid query is the caller's business, not an error in the server's log."""
        unexpected = [
            e
            for e in errors
            if e.original_error is not None
            and not (e.extensions or {}).get("code")
            and not isinstance(e.original_error, GraphQLError | _REQUEST_ERRORS)
        ]
        if unexpected:
            super().process_errors(unexpected, execution_context)


# The limit rules are built once: the validation cache keys on the rule classes, so rules made anew
# per request (what `QueryDepthLimiter(...)` in a factory does) would make every lookup a miss.
_LIMIT_RULES: list[type[ASTValidationRule]] = [
    depth_validator(10, None, None),
    aliases_validator(30),
]


class Limits(AddValidationRules):
    """Depth (10) and alias (30) limits, as validation rules with a stable identity."""

    def __init__(self) -> None:
        super().__init__(_LIMIT_RULES)


def build_schema(
    *, production: bool = False, max_query_bytes: int = 32 * KiB, max_cost: int = 10_000
) -> Schema:
    """The schema with its extensions. `max_query_bytes` and `max_cost` are GRAPHQL_MAX_QUERY_BYTES
    and GRAPHQL_MAX_COST (app.graphql.documents, app.graphql.cost)."""
    # Factories: a fresh extension per request; the document and cost caches are this schema's, shared
    # by its requests.
    documents, costs = DocumentCache(maxsize=1000), Costs(maxsize=1000)
    extensions: list[Any] = [
        CloseSession,
        RefuseNulCharacters,
        # A bug must not leak SQL or stack details to the caller: unexpected errors read "internal
        # error" (and are logged in full by Schema.process_errors).
        partial(MaskErrors, should_mask_error=_is_unexpected, error_message="internal error"),
        partial(CachedDocuments, documents, max_bytes=max_query_bytes),  # parsed and validated once per text
        Limits,
        partial(MaxTokensLimiter, max_token_count=2000),
        partial(CostLimit, costs, limit=max_cost),  # refused before execution: QUERY_TOO_COSTLY
    ]
    if production:
        extensions += [DisableIntrospection, HideSuggestions]
    built = Schema(query=Query, mutation=Mutation, subscription=Subscription, extensions=extensions)
    built.documents, built.costs = documents, costs
    return built


schema = build_schema()  # the development schema; `schema.graphql` is exported from it

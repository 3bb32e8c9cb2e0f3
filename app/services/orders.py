"""Orders: created by the bot at checkout, moved through their statuses by staff.

A status change is one application step, `change_status`: the status is stored and the customer's
WhatsApp notice is queued in the same transaction (the bot's pure flow words it and may move the
conversation on, e.g. to ask for a rating after delivery), so no edge can do one without the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.bot import flow, memory
from app.bot.texts import t
from app.errors import NotFound, ValidationFailed
from app.ids import new_id
from app.models import ORDER_STATUSES, Conversation, Order, OrderLine
from app.realtime import events
from app.realtime.events import Change
from app.services import alerts, notifications, outbound

# Where staff may move an order from each status. Delivery orders go OUT_FOR_DELIVERY, pickup
# orders READY; both end DELIVERED (handed over) or CANCELLED.
NEXT = {
    "CONFIRMED": {"PREPARING", "CANCELLED"},
    "PREPARING": {"OUT_FOR_DELIVERY", "READY", "CANCELLED"},
    "OUT_FOR_DELIVERY": {"DELIVERED", "CANCELLED"},
    "READY": {"DELIVERED", "CANCELLED"},
    "DELIVERED": set(),
    "CANCELLED": set(),
}
OPEN_STATUSES = ("CONFIRMED", "PREPARING", "OUT_FOR_DELIVERY", "READY")

# What every report counts as an order (its count, revenue, average value, top items): all but the
# cancelled ones. Revenue is the sum of their `total` (minor units, the restaurant's currency).
COUNTED = col(Order.status) != "CANCELLED"


@dataclass(frozen=True, slots=True)
class NewLine:
    """An order line as ordered: `unit_price` includes the chosen options' price deltas, and `options`
    is their snapshot ({group_ar, group_en, name_ar, name_en, price_delta}, as asked)."""

    item_id: str
    name_ar: str
    name_en: str
    unit_price: int
    quantity: int
    options: tuple[dict[str, Any], ...] = ()


async def create(
    session: AsyncSession,
    *,
    restaurant_id: str,
    conversation: Conversation,
    order_type: str,
    branch_id: str | None,
    lines: Sequence[NewLine],
    currency: str,
    payment_method: str,
    delivery_address: str | None,
    delivery_latitude: float | None,
    delivery_longitude: float | None,
    lang: str,
) -> Order:
    """Create a CONFIRMED order with the next per-restaurant number (#1001, #1002, ...)."""
    if not lines:
        raise ValidationFailed("an order needs at least one line", field="lines")
    number = (
        await session.execute(
            text(
                "INSERT INTO order_counter AS oc (restaurant_id, last_number) VALUES (:r, 1001)"
                " ON CONFLICT (restaurant_id) DO UPDATE SET last_number = oc.last_number + 1 RETURNING last_number"
            ),
            {"r": restaurant_id},
        )
    ).scalar_one()
    subtotal = sum(line.unit_price * line.quantity for line in lines)
    order = Order(
        restaurant_id=restaurant_id,
        id=new_id("ord"),
        number=number,
        conversation_id=conversation.id,
        bot_id=conversation.bot_id,
        customer_phone=conversation.customer_phone,
        customer_name=conversation.customer_name,
        order_type=order_type,
        branch_id=branch_id,
        delivery_address=delivery_address,
        delivery_latitude=delivery_latitude,
        delivery_longitude=delivery_longitude,
        payment_method=payment_method,
        subtotal=subtotal,
        total=subtotal,
        currency=currency,
        lang=lang,
    )
    session.add(order)
    await session.flush()
    session.add_all(
        OrderLine(
            restaurant_id=restaurant_id,
            order_id=order.id,
            line_no=i,
            item_id=line.item_id,
            name_ar=line.name_ar,
            name_en=line.name_en,
            unit_price=line.unit_price,
            quantity=line.quantity,
            options=[dict(o) for o in line.options],
        )
        for i, line in enumerate(lines, start=1)
    )
    await session.flush()
    await session.refresh(order)
    await _published(session, order)
    # Staff hear of it in this transaction: the bell, and the branch's WhatsApp alert.
    await notifications.order_created(session, restaurant_id=restaurant_id, order=order)
    await alerts.new_order(session, restaurant_id=restaurant_id, order=order, lines=lines)
    return order


async def _published(session: AsyncSession, order: Order) -> None:
    await events.record(
        session,
        restaurant_id=order.restaurant_id,
        changes=[Change(events.ORDER_UPDATED, order.id, order.conversation_id)],
    )


async def get(session: AsyncSession, *, restaurant_id: str, order_id: str) -> Order:
    row = (
        await session.execute(
            select(Order).where(col(Order.restaurant_id) == restaurant_id, col(Order.id) == order_id)
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("order not found")
    return row


async def get_many(session: AsyncSession, *, restaurant_id: str, ids: list[str]) -> dict[str, Order]:
    stmt = select(Order).where(col(Order.restaurant_id) == restaurant_id, col(Order.id).in_(ids))
    return {row.id: row for row in (await session.execute(stmt)).scalars()}


async def lines_of(
    session: AsyncSession, *, restaurant_id: str, order_ids: list[str]
) -> dict[str, list[OrderLine]]:
    stmt = (
        select(OrderLine)
        .where(col(OrderLine.restaurant_id) == restaurant_id, col(OrderLine.order_id).in_(order_ids))
        .order_by(col(OrderLine.order_id), col(OrderLine.line_no))
    )
    grouped: dict[str, list[OrderLine]] = {i: [] for i in order_ids}
    for line in (await session.execute(stmt)).scalars():
        grouped[line.order_id].append(line)
    return grouped


async def list_page(
    session: AsyncSession,
    *,
    restaurant_id: str,
    statuses: Sequence[str] | None = None,
    limit: int = 50,
    after: tuple[datetime, str] | None = None,
) -> list[Order]:
    """Orders, newest first (keyset pagination)."""
    for status in statuses or ():
        if status not in ORDER_STATUSES:
            raise ValidationFailed(f"unknown order status {status}", field="status")
    stmt = select(Order).where(col(Order.restaurant_id) == restaurant_id)
    if statuses:
        stmt = stmt.where(col(Order.status).in_(list(statuses)))
    if after is not None:
        stmt = stmt.where(tuple_(Order.created_at, Order.id) < tuple_(*after))
    stmt = stmt.order_by(col(Order.created_at).desc(), col(Order.id).desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def latest_for_conversation(
    session: AsyncSession, *, restaurant_id: str, conversation_id: str
) -> Order | None:
    stmt = (
        select(Order)
        .where(col(Order.restaurant_id) == restaurant_id, col(Order.conversation_id) == conversation_id)
        .order_by(col(Order.created_at).desc(), col(Order.id).desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def _locked(session: AsyncSession, *, restaurant_id: str, order_id: str) -> Order:
    """The order, locked for this transaction's change of it; NotFound."""
    order = (
        await session.execute(
            select(Order)
            .where(col(Order.restaurant_id) == restaurant_id, col(Order.id) == order_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if order is None:
        raise NotFound("order not found")
    return order


async def _set_status(session: AsyncSession, *, restaurant_id: str, order_id: str, status: str) -> Order:
    """Move an order to its next status; ValidationFailed for a move the flow doesn't allow."""
    order = await _locked(session, restaurant_id=restaurant_id, order_id=order_id)
    if status not in ORDER_STATUSES:
        raise ValidationFailed(f"unknown order status {status}", field="status")
    if status not in NEXT[order.status]:
        raise ValidationFailed(f"an order that is {order.status} can't become {status}", field="status")
    if status == "OUT_FOR_DELIVERY" and order.order_type == "pickup":
        raise ValidationFailed("a pickup order becomes READY, not OUT_FOR_DELIVERY", field="status")
    if status == "READY" and order.order_type == "delivery":
        raise ValidationFailed("a delivery order goes OUT_FOR_DELIVERY, not READY", field="status")
    row = (
        await session.execute(
            update(Order)
            .where(col(Order.restaurant_id) == restaurant_id, col(Order.id) == order_id)
            .values(status=status, updated_at=func.now())
            .returning(Order)
        )
    ).scalar_one()
    await _published(session, row)
    return row


async def mark_paid(session: AsyncSession, *, restaurant_id: str, order_id: str) -> Order:
    """Record that staff received the order's payment, now (marked again: the first time stays);
    NotFound, or ValidationFailed for a cancelled order."""
    order = await _locked(session, restaurant_id=restaurant_id, order_id=order_id)
    if order.status == "CANCELLED":
        raise ValidationFailed("a cancelled order can't be marked paid", field="id")
    if order.paid_at is not None:
        return order
    row = (
        await session.execute(
            update(Order)
            .where(col(Order.restaurant_id) == restaurant_id, col(Order.id) == order_id)
            .values(paid_at=func.now(), updated_at=func.now())
            .returning(Order)
        )
    ).scalar_one()
    await _published(session, row)
    return row


async def change_status(session: AsyncSession, *, restaurant_id: str, order_id: str, status: str) -> Order:
    """Move an order to its next status and queue the customer's notice (NotFound, ValidationFailed)."""
    order = await _set_status(session, restaurant_id=restaurant_id, order_id=order_id, status=status)
    await _tell_customer(session, order=order)
    return order


async def _tell_customer(session: AsyncSession, *, order: Order) -> None:
    """Tell the customer their order moved (in the caller's transaction), and let the bot ask for
    a rating after delivery. Waits for the conversation's lock so it never races a bot turn."""
    restaurant_id, conversation_id = order.restaurant_id, order.conversation_id
    await memory.lock(session, restaurant_id=restaurant_id, conversation_id=conversation_id)
    loaded = await memory.load(session, restaurant_id=restaurant_id, conversation_id=conversation_id)
    conversation, restaurant, bot, state = loaded.conversation, loaded.restaurant, loaded.bot, loaded.state
    latest = await latest_for_conversation(
        session, restaurant_id=restaurant_id, conversation_id=conversation_id
    )
    ctx = await memory.turn_context(
        session, restaurant=restaurant, bot=bot, latest=latest, customer_name=conversation.customer_name
    )
    state, actions = flow.order_status_changed(state, order=memory.latest_order(order), ctx=ctx)
    for action in actions:
        if isinstance(action, flow.Reply):
            await outbound.queue_reply(
                session,
                restaurant_id=restaurant_id,
                conversation_id=conversation_id,
                reply=action,
                lang=state.lang,
                fallback=outbound.TemplateFallback(
                    "order_status", {"1": order.reference, "2": t(f"status_word_{order.status}", order.lang)}
                ),
            )
    await memory.save_state(
        session, restaurant_id=restaurant_id, conversation_id=conversation_id, state=state
    )


async def rate(
    session: AsyncSession, *, restaurant_id: str, order_id: str, rating: int, comment: str | None
) -> Order:
    if not 1 <= rating <= 5:
        raise ValidationFailed("rating must be from 1 to 5", field="rating")
    row = (
        await session.execute(
            update(Order)
            .where(col(Order.restaurant_id) == restaurant_id, col(Order.id) == order_id)
            .values(rating=rating, rating_comment=comment, rated_at=func.now(), updated_at=func.now())
            .returning(Order)
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("order not found")
    await _published(session, row)
    return row


def path_to(order: Order, status: str) -> list[str] | None:
    """The statuses an order passes through to reach `status` along NEXT (shortest; [] when it is
    there already), or None when `status` is not ahead of it."""
    if order.status == status:
        return []
    skip = "READY" if order.order_type == "delivery" else "OUT_FOR_DELIVERY"
    paths: dict[str, list[str]] = {order.status: []}
    queue = [order.status]
    while queue:
        current = queue.pop(0)
        for following in sorted(NEXT[current]):
            if following not in paths and following != skip:
                paths[following] = [*paths[current], following]
                queue.append(following)
    return paths.get(status)


async def advance_to(
    session: AsyncSession, *, restaurant_id: str, order_id: str, status: str
) -> Order | None:
    """Move an order forward to `status` through the steps between (an outside source, such as the
    Sufrah platform, may skip some), telling the customer once, of the last; None when `status` is
    where the order is already or not ahead of it (a repeated or late update)."""
    order = await get(session, restaurant_id=restaurant_id, order_id=order_id)
    steps = path_to(order, status)
    if not steps:
        return None
    for step in steps[:-1]:
        await _set_status(session, restaurant_id=restaurant_id, order_id=order_id, status=step)
    return await change_status(session, restaurant_id=restaurant_id, order_id=order_id, status=steps[-1])

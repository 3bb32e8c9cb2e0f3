"""Orders of Sufrah-platform restaurants: submitted to the platform after they are placed, and moved
by the platform's `POST /status` callbacks (payment and status).

Submission is an outbox on the order row, after the bot's transaction commits:

    placed (bot turn) ── external_submit_state = 'pending' ──► worker claims it (a lease: the next
    attempt moved LEASE ahead, attempts + 1) ──► POST orders/submit ──► 'submitted': the platform's
    order number and payment link stored, the customer told them (outbound.queue)
                                         └─ down / slow / 5xx: 'pending' again after a backoff
                                         └─ refused (4xx) or MAX_ATTEMPTS: 'failed', the customer told

The platform's submit takes no idempotency key, so a submission whose answer was lost (a timeout
after the platform took it, a process dying between its answer and our commit) may be repeated;
the lease keeps two processes from submitting the same order at once, and a recorded answer ends
it for good (`record_submitted` only applies to a pending order).

`/status` (app/rest/merchant.py): the merchant id names the restaurant, the order number its order
(only that restaurant's: another merchant's callback can't touch it). The platform's status moves
our order through `orders.advance_to` (the customer is told by the orders service, once); a payment
("Paid") is recorded once, with its own notice. A repeated callback changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.bot.texts import t
from app.channels.sufrah import SubmittedOrder
from app.errors import NotFound
from app.models import Order, OrderLine, Restaurant
from app.realtime import events
from app.realtime.events import Change
from app.services import orders, outbound

log = logging.getLogger("sufrah.merchant")

LEASE = timedelta(seconds=120)
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=15)
MAX_RETRY = timedelta(minutes=10)

# The platform's statuses (as the earlier backend translated them) -> ours. Unknown ones are kept
# in external_status and move nothing.
STATUSES = {
    "received": "CONFIRMED",
    "confirmed": "CONFIRMED",
    "accepted": "CONFIRMED",
    "inprogress": "PREPARING",
    "preparing": "PREPARING",
    "processing": "PREPARING",
    "ready": "READY",
    "readyforpickup": "READY",
    "outfordelivery": "OUT_FOR_DELIVERY",
    "ontheway": "OUT_FOR_DELIVERY",
    "delivered": "DELIVERED",
    "completed": "DELIVERED",
    "cancelled": "CANCELLED",
    "canceled": "CANCELLED",
    "rejected": "CANCELLED",
}
PAID = frozenset({"paid", "success", "succeeded", "completed", "captured"})


def _key(raw: str) -> str:
    return "".join(ch for ch in raw.lower() if ch.isalnum())


# ── submission ──────────────────────────────────────────────────────────────────────────────────
async def queue_submission(session: AsyncSession, *, restaurant_id: str, order_id: str) -> None:
    """Mark a just-placed order for submission to the platform (the worker sends it after commit)."""
    await session.execute(
        update(Order)
        .where(col(Order.restaurant_id) == restaurant_id, col(Order.id) == order_id)
        .values(external_submit_state="pending", external_next_attempt_at=func.now())
    )


_CLAIM = text(
    """
    UPDATE customer_order
    SET external_next_attempt_at = now() + make_interval(secs => :lease),
        external_submit_attempts = external_submit_attempts + 1
    WHERE (restaurant_id, id) IN (
        SELECT restaurant_id, id FROM customer_order
        WHERE external_submit_state = 'pending' AND external_next_attempt_at <= now()
        ORDER BY external_next_attempt_at
        LIMIT :n
        FOR UPDATE SKIP LOCKED
    )
    RETURNING restaurant_id, id
    """
)


async def claim_due(session: AsyncSession, *, limit: int, lease: timedelta = LEASE) -> list[tuple[str, str]]:
    """(restaurant id, order id) of the orders due a submission attempt, leased to the caller."""
    rows = await session.execute(_CLAIM, {"n": limit, "lease": lease.total_seconds()})
    return [(rid, oid) for rid, oid in rows.all()]


@dataclass(frozen=True, slots=True)
class Submission:
    order: Order
    payload: dict[str, Any]


def _local_phone(e164: str) -> str:
    """The customer's phone as the platform takes it (Saudi numbers as 05…, others without the +)."""
    return "0" + e164[4:] if e164.startswith("+966") else e164.lstrip("+")


async def submission(session: AsyncSession, *, restaurant_id: str, order_id: str) -> Submission:
    """The platform's orders/submit body for an order (NotFound when the order or its merchant is gone)."""
    order = await orders.get(session, restaurant_id=restaurant_id, order_id=order_id)
    restaurant = await session.get(Restaurant, restaurant_id)
    if restaurant is None or not restaurant.merchant_id:
        raise NotFound("the restaurant has no platform merchant")
    lines = (await orders.lines_of(session, restaurant_id=restaurant_id, order_ids=[order_id]))[order_id]
    payload: dict[str, Any] = {
        "merchantId": restaurant.merchant_id,
        "branchId": order.branch_id,
        "orderType": "Delivery" if order.order_type == "delivery" else "Takeaway",
        "paymentMethod": "Online" if order.payment_method == "online" else "Cash",
        "items": [_item(line) for line in lines],
        "customerName": order.customer_name or "ضيف سُفرة",
        "customerPhone": _local_phone(order.customer_phone),
    }
    if order.order_type == "delivery" and order.delivery_latitude is not None:
        payload["lat"] = order.delivery_latitude
        payload["lng"] = order.delivery_longitude
    return Submission(order, payload)


def _item(line: OrderLine) -> dict[str, Any]:
    return {"productId": line.item_id, "quantity": line.quantity, "notes": "", "addons": []}


async def record_submitted(
    session: AsyncSession, *, restaurant_id: str, order_id: str, submitted: SubmittedOrder
) -> Order | None:
    """Store the platform's number and payment link and tell the customer; None if no longer pending."""
    order = (
        await session.execute(
            update(Order)
            .where(
                col(Order.restaurant_id) == restaurant_id,
                col(Order.id) == order_id,
                col(Order.external_submit_state) == "pending",
            )
            .values(
                external_submit_state="submitted",
                external_order_number=submitted.order_number,
                external_payment_link=submitted.payment_link,
                external_next_attempt_at=None,
                external_error=None,
                updated_at=func.now(),
            )
            .returning(Order)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if order is None:
        return None
    text_ = t("platform_placed", order.lang, reference=order.reference)
    if order.payment_method == "online" and order.external_payment_link:
        text_ += "\n" + t("platform_pay", order.lang, link=order.external_payment_link)
    await _tell(session, order, text_)
    await _published(session, order)
    return order


async def record_failure(
    session: AsyncSession, *, restaurant_id: str, order_id: str, error: str, retryable: bool
) -> Order | None:
    """A failed attempt: tried again after a backoff, or (refused, or too many) failed for good and the
    customer told. None if the order is no longer pending."""
    order = await orders.get(session, restaurant_id=restaurant_id, order_id=order_id)
    if order.external_submit_state != "pending":
        return None
    attempts = order.external_submit_attempts
    if retryable and attempts < MAX_ATTEMPTS:
        delay = min(FIRST_RETRY * 2 ** max(attempts - 1, 0), MAX_RETRY)
        await session.execute(
            update(Order)
            .where(col(Order.restaurant_id) == restaurant_id, col(Order.id) == order_id)
            .values(
                external_error=error[:500],
                external_next_attempt_at=func.now()
                + text(f"interval '{int(delay.total_seconds())} seconds'"),
            )
        )
        return order
    log.warning("order %s/%s could not be submitted to the platform: %s", restaurant_id, order_id, error)
    failed = (
        await session.execute(
            update(Order)
            .where(col(Order.restaurant_id) == restaurant_id, col(Order.id) == order_id)
            .values(
                external_submit_state="failed",
                external_error=error[:500],
                external_next_attempt_at=None,
                updated_at=func.now(),
            )
            .returning(Order)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    await _tell(session, failed, t("platform_failed", failed.lang, reference=failed.reference))
    await _published(session, failed)
    return failed


async def _tell(session: AsyncSession, order: Order, body: str) -> None:
    """Queue a notice to the order's customer, from the order's bot."""
    await outbound.queue(
        session,
        restaurant_id=order.restaurant_id,
        conversation_id=order.conversation_id,
        body=body,
        author="bot",
        bot_id=order.bot_id,
        enforce_window=False,
    )


async def _published(session: AsyncSession, order: Order) -> None:
    """Dashboards hear the order changed (they read it again)."""
    await events.record(
        session,
        restaurant_id=order.restaurant_id,
        changes=[Change(events.ORDER_UPDATED, order.id, order.conversation_id)],
    )


# ── the platform's status callbacks ─────────────────────────────────────────────────────────────
class StatusOutcome(Enum):
    APPLIED = "applied"  # recorded (a repeat changes nothing and is APPLIED too)
    UNKNOWN_ORDER = "unknown_order"  # no such order number at this restaurant (yet)


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    order_number: str
    status: str
    payment_status: str
    branch_id: str


async def restaurant_for_merchant(session: AsyncSession, *, merchant_id: str) -> Restaurant:
    """The restaurant linked to a platform merchant (the one global lookup, before the tenant is known)."""
    restaurant = (
        await session.execute(select(Restaurant).where(col(Restaurant.merchant_id) == merchant_id))
    ).scalar_one_or_none()
    if restaurant is None:
        raise NotFound("Restaurant not found for merchantId")
    return restaurant


async def apply_status(session: AsyncSession, *, restaurant_id: str, update_: StatusUpdate) -> StatusOutcome:
    """Record the platform's payment and status for one of the restaurant's orders (see the docstring)."""
    order = (
        await session.execute(
            select(Order)
            .where(
                col(Order.restaurant_id) == restaurant_id,
                col(Order.external_order_number) == update_.order_number,
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if order is None:
        return StatusOutcome.UNKNOWN_ORDER
    paid_now = _key(update_.payment_status) in PAID and order.external_paid_at is None
    values: dict[str, Any] = {}
    if update_.status:
        values["external_status"] = update_.status[:100]
    if update_.payment_status:
        values["external_payment_status"] = update_.payment_status[:100]
    if paid_now:
        values["external_paid_at"] = func.now()
    changed = any(getattr(order, k) != v for k, v in values.items() if k != "external_paid_at") or paid_now
    if changed:
        await session.execute(
            update(Order)
            .where(col(Order.restaurant_id) == restaurant_id, col(Order.id) == order.id)
            .values(**values, updated_at=func.now())
        )
        await _published(session, order)
    if paid_now:
        await _tell(session, order, t("platform_paid", order.lang, reference=order.reference))
    target = STATUSES.get(_key(update_.status)) if update_.status else None
    if target is not None:
        await orders.advance_to(session, restaurant_id=restaurant_id, order_id=order.id, status=target)
    return StatusOutcome.APPLIED

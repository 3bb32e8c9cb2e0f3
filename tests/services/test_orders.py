"""A status change is one application step (app/services/orders.py `change_status`): the status is
stored and exactly one customer notice is queued, or, for a move the flow refuses or an order that
isn't there, the domain error is raised and nothing is queued."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.db.engine import Database
from app.errors import NotFound, ValidationFailed
from app.models import Conversation, Message, Order
from app.services import catalog, orders
from tests.support import Factory


async def _placed_order(db: Database, factory: Factory) -> Order:
    handle = await factory.bot()
    restaurant_id = handle.restaurant.id
    async with db.session() as s:
        await catalog.load_demo_menu(s, restaurant_id=restaurant_id)
        item = (await catalog.menu(s, restaurant_id=restaurant_id)).items[0]
        conversation = Conversation(
            restaurant_id=restaurant_id,
            id="cnv_orders1",
            bot_id=handle.bot.id,
            customer_phone="+966501234567",
            last_message_at=datetime.now(UTC),
            last_inbound_at=datetime.now(UTC),
        )
        s.add(conversation)
        await s.flush()
        order = await orders.create(
            s,
            restaurant_id=restaurant_id,
            conversation=conversation,
            order_type="delivery",
            branch_id=None,
            lines=[orders.NewLine(item.id, item.name_ar, item.name_en, item.price, 2)],
            currency="SAR",
            payment_method="cash",
            delivery_address="Olaya St",
            delivery_latitude=24.69,
            delivery_longitude=46.685,
            lang="en",
        )
        await s.commit()
    return order


async def _notices(db: Database, order: Order) -> list[Message]:
    async with db.session() as s:
        stmt = select(Message).where(
            Message.restaurant_id == order.restaurant_id,
            Message.conversation_id == order.conversation_id,
            Message.direction == "OUT",
        )
        return list((await s.execute(stmt)).scalars())


async def _status(db: Database, order: Order) -> str | None:
    async with db.session() as s:
        return await s.scalar(
            select(Order.status).where(Order.restaurant_id == order.restaurant_id, Order.id == order.id)
        )


async def test_a_status_change_stores_the_status_and_queues_one_customer_notice(
    db: Database, factory: Factory
) -> None:
    order = await _placed_order(db, factory)
    async with db.session() as s:
        changed = await orders.change_status(
            s, restaurant_id=order.restaurant_id, order_id=order.id, status="PREPARING"
        )
        await s.commit()
    assert changed.status == "PREPARING"
    assert await _status(db, order) == "PREPARING"
    notices = await _notices(db, order)
    assert len(notices) == 1
    assert notices[0].author == "bot" and notices[0].send_state == "pending"
    assert order.reference in (notices[0].content or "")


@pytest.mark.parametrize("status", ["DELIVERED", "READY", "NOT_A_STATUS"])
async def test_a_move_the_flow_refuses_raises_and_queues_nothing(
    db: Database, factory: Factory, status: str
) -> None:
    order = await _placed_order(db, factory)  # CONFIRMED, delivery: only PREPARING or CANCELLED next
    async with db.session() as s:
        with pytest.raises(ValidationFailed):
            await orders.change_status(s, restaurant_id=order.restaurant_id, order_id=order.id, status=status)
        await s.rollback()
    assert await _status(db, order) == "CONFIRMED"
    assert await _notices(db, order) == []


async def test_an_unknown_order_or_another_restaurants_is_not_found(db: Database, factory: Factory) -> None:
    order = await _placed_order(db, factory)
    other = await factory.restaurant("Another Grill")
    for restaurant_id, order_id in [(order.restaurant_id, "ord_missing"), (other.id, order.id)]:
        async with db.session() as s:
            with pytest.raises(NotFound):
                await orders.change_status(
                    s, restaurant_id=restaurant_id, order_id=order_id, status="PREPARING"
                )
            await s.rollback()
    assert await _status(db, order) == "CONFIRMED"
    assert await _notices(db, order) == []

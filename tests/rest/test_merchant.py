"""POST /status (app/rest/merchant.py): the Sufrah platform's payment and status updates, authenticated
with SUFRAH_WEBHOOK_SECRET, answered as the earlier backend did, and only ever applied to the order
of the restaurant the merchant id names."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from app.db.engine import Database
from app.models import Conversation, Message, Order
from app.services import catalog, merchant, orders
from tests.support import Factory

SECRET = "status-secret-" + "r" * 24


@pytest.fixture
def status_secret(app_and_db):
    ctx = app_and_db[2]
    before = ctx.settings
    ctx.settings = before.model_copy(update={"sufrah_webhook_secret": SECRET})
    yield SECRET
    ctx.settings = before


async def _submitted_order(db: Database, factory: Factory, *, merchant_id: str, number: str) -> Order:
    """A platform restaurant's order, as the platform took it under `number`."""
    handle = await factory.bot()
    restaurant_id = handle.restaurant.id
    async with db.session() as s:
        await catalog.load_demo_menu(s, restaurant_id=restaurant_id)
        await merchant.set_provider(
            s, restaurant_id=restaurant_id, provider="sufrah", merchant_id=merchant_id
        )
        item = (await catalog.menu(s, restaurant_id=restaurant_id)).items[0]
        conversation = Conversation(
            restaurant_id=restaurant_id,
            id="cnv_status1",
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
            order_type="pickup",
            branch_id=None,
            lines=[orders.NewLine(item.id, item.name_ar, item.name_en, item.price, 1)],
            currency="SAR",
            payment_method="online",
            delivery_address=None,
            delivery_latitude=None,
            delivery_longitude=None,
            lang="en",
        )
        await s.execute(
            update(Order)
            .where(Order.restaurant_id == restaurant_id, Order.id == order.id)
            .values(external_order_number=number, external_submit_state="submitted")
        )
        await s.commit()
    return order


async def _current(db: Database, order: Order) -> Order:
    async with db.session() as s:
        stmt = select(Order).where(Order.restaurant_id == order.restaurant_id, Order.id == order.id)
        return (await s.execute(stmt)).scalar_one()


async def _notices(db: Database, order: Order) -> list[str]:
    async with db.session() as s:
        stmt = select(Message.content).where(
            Message.restaurant_id == order.restaurant_id,
            Message.conversation_id == order.conversation_id,
            Message.direction == "OUT",
            Message.author == "bot",
        )
        return list((await s.execute(stmt)).scalars())


def _body(**kw: object) -> dict[str, object]:
    return {
        "orderNumber": "3965",
        "status": "InProgress",
        "paymentStatus": "Pending",
        "merchantId": "m-1",
        **kw,
    }


async def test_status_needs_the_shared_secret(client, db, factory, status_secret):
    order = await _submitted_order(db, factory, merchant_id="m-1", number="3965")
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": SECRET},
        {"X-Sufrah-Signature": "00"},
    ):
        response = await client.post("/status", json=_body(), headers=headers)
        assert response.status_code == 401, headers
        assert "error" in response.json()
    assert (await _current(db, order)).status == "CONFIRMED"

    raw = json.dumps(_body()).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    signed = await client.post(
        "/status", content=raw, headers={"X-Sufrah-Signature": signature, "Content-Type": "application/json"}
    )
    assert (signed.status_code, signed.json()) == (200, {"ok": True})
    assert (await _current(db, order)).status == "PREPARING"


async def test_without_a_configured_secret_status_is_closed(client, db, factory):
    response = await client.post("/status", json=_body(), headers={"Authorization": "Bearer anything"})
    assert response.status_code == 503


async def test_status_answers_like_the_earlier_backend(client, db, factory, status_secret):
    order = await _submitted_order(db, factory, merchant_id="m-1", number="3965")
    auth = {"Authorization": f"Bearer {SECRET}"}
    missing = await client.post("/status", json={"status": "Paid"}, headers=auth)
    assert (missing.status_code, missing.json()) == (
        400,
        {"error": "orderNumber and merchantId are required"},
    )
    assert (await client.post("/status", content=b"{", headers=auth)).status_code == 400
    unknown_merchant = await client.post("/status", json=_body(merchantId="m-x"), headers=auth)
    assert unknown_merchant.status_code == 404 and "error" in unknown_merchant.json()
    unknown_order = await client.post("/status", json=_body(orderNumber=77), headers=auth)
    assert (unknown_order.status_code, unknown_order.json()) == (202, {"ok": True})

    paid = await client.post("/status", json=_body(orderNumber=3965, paymentStatus="Paid"), headers=auth)
    assert (paid.status_code, paid.json()) == (200, {"ok": True})
    moved = await _current(db, order)
    assert (moved.status, moved.external_payment_status, moved.external_status) == (
        "PREPARING",
        "Paid",
        "InProgress",
    )
    notices = await _notices(db, order)
    assert any("Payment confirmed for your order #3965" in n for n in notices)
    assert len(notices) == 2  # the payment and the status
    for _ in range(2):
        again = await client.post("/status", json=_body(paymentStatus="Paid"), headers=auth)
        assert again.status_code == 200
    assert len(await _notices(db, order)) == 2  # repeats change nothing
    unknown_status = await client.post(
        "/status", json=_body(status="Weird", paymentStatus="Paid"), headers=auth
    )
    assert unknown_status.status_code == 200
    assert (await _current(db, order)).external_status == "Weird"
    assert (await _current(db, order)).status == "PREPARING"


async def test_another_merchants_callback_never_moves_our_order(client, db, factory, status_secret):
    ours = await _submitted_order(db, factory, merchant_id="m-1", number="3965")
    theirs = await _submitted_order(db, factory, merchant_id="m-2", number="5000")
    auth = {"Authorization": f"Bearer {SECRET}"}
    # The other restaurant's merchant id with our order number: not an order of theirs.
    response = await client.post("/status", json=_body(merchantId="m-2", status="Cancelled"), headers=auth)
    assert response.status_code == 202
    assert (await _current(db, ours)).status == "CONFIRMED"
    assert await _notices(db, ours) == []
    response = await client.post(
        "/status", json=_body(merchantId="m-2", orderNumber="5000", status="Cancelled"), headers=auth
    )
    assert response.status_code == 200
    assert (await _current(db, theirs)).status == "CANCELLED"
    assert (await _current(db, ours)).status == "CONFIRMED"

"""A Sufrah-platform restaurant end to end: its menu synced from a local fake of the platform
(tests/fakes/sufrah_api.py), the platform's coverage check in the delivery step, the order submitted
to the platform (its number and payment link reach the customer), and the platform's POST /status
moving the order."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from app.bot.runner import BotRunner
from app.channels.sufrah import SufrahPlatform
from app.db.engine import Database
from app.models import Order
from app.services import merchant
from app.workers.merchant import MerchantWork
from tests.bot_support import Customer, Shop, open_shop
from tests.fakes.sufrah_api import OLAYA, FakeSufrah, furnish
from tests.fakes.twilio_api import FakeTwilio
from tests.gql import gql

NEAR_OLAYA = {"Latitude": "24.7000", "Longitude": "46.6900", "Address": "Tahlia St"}
JEDDAH = {"Latitude": "21.4858", "Longitude": "39.1925"}
SECRET = "status-secret-" + "s" * 24


@pytest.fixture
async def twilio():
    async with FakeTwilio() as f:
        yield f


@pytest.fixture
async def sufrah():
    async with FakeSufrah() as f:
        furnish(f.merchant("m-1"))
        yield f


@pytest.fixture
async def platform(sufrah: FakeSufrah):
    client = SufrahPlatform(base_url=sufrah.base_url, api_key=sufrah.api_key, timeout=2.0)
    yield client
    await client.aclose()


@pytest.fixture
def status_secret(app_and_db):
    """The app's settings with SUFRAH_WEBHOOK_SECRET set, for the test's length."""
    ctx = app_and_db[2]
    before = ctx.settings
    ctx.settings = before.model_copy(update={"sufrah_webhook_secret": SECRET})
    yield SECRET
    ctx.settings = before


@pytest.fixture
async def shop(factory, db, twilio, platform):
    opened = await open_shop(factory, db, twilio, payment_link="https://pay.example/static")
    async with db.session() as s:
        await merchant.set_provider(
            s, restaurant_id=opened.restaurant_id, provider="sufrah", merchant_id="m-1"
        )
        await merchant.sync_menu(s, platform, restaurant_id=opened.restaurant_id)
        await s.commit()
    opened.runner = BotRunner(db, platform=platform)
    yield opened
    await opened.outbox.sender.aclose()


@pytest.fixture
def customer(client, shop: Shop) -> Customer:
    return Customer(client, shop)


@pytest.fixture
def work(db, platform) -> MerchantWork:
    from datetime import timedelta

    return MerchantWork(db, platform=platform, sync_every=timedelta(minutes=15))


async def only_order(db: Database) -> Order:
    async with db.session() as s:
        return (await s.execute(select(Order).execution_options(populate_existing=True))).scalar_one()


async def _order_two_kabsas(customer: Customer, *, payment: str) -> str:
    await customer.say("Hello")
    await customer.say("1")
    await customer.say("delivery")
    categories = await customer.say(**NEAR_OLAYA)
    assert "Olaya" in categories and "1. Meals" in categories  # covered, from the branch the platform named
    items = await customer.say("1")
    assert "Kabsa — 35.00 SAR ~40.00 SAR~" in items and "Mandi — 50.00 SAR" in items
    await customer.say("1")
    await customer.say("2")
    await customer.say("3")  # checkout
    await customer.say(payment)
    return await customer.say("1")  # confirm


async def _status(client, body: dict, secret: str | None = SECRET):
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return await client.post("/status", json=body, headers=headers)


async def test_an_online_order_goes_to_the_platform_and_its_number_and_link_reach_the_customer(
    client, resolver_client, customer: Customer, sufrah: FakeSufrah, work: MerchantWork, db, status_secret
):
    confirmation = await _order_two_kabsas(customer, payment="2")  # online
    assert "#1001 is confirmed" in confirmation
    assert "pay.example/static" not in confirmation  # the platform sends a link per order instead

    assert await work.submit_due() == 1
    told = await customer.replies()
    assert "The restaurant has your order: number #3965" in told
    assert "https://pay.sufrah.test/3965" in told
    assert sufrah.orders == [
        {
            "merchantId": "m-1",
            "branchId": OLAYA,
            "orderType": "Delivery",
            "paymentMethod": "Online",
            "items": [{"productId": "p-kabsa", "quantity": 2, "notes": "", "addons": []}],
            "customerName": sufrah.orders[0]["customerName"],
            "customerPhone": "0501234567",
            "lat": 24.7,
            "lng": 46.69,
        }
    ]
    order = await only_order(db)
    assert (order.total, order.external_order_number, order.external_submit_state) == (
        7000,
        "3965",
        "submitted",
    )
    assert order.external_payment_link == "https://pay.sufrah.test/3965"
    assert await work.submit_due() == 0  # submitted once
    query = (
        """{ orders { nodes { reference externalOrderNumber externalPaymentLink externalSubmitState } } }"""
    )
    for way in (client, resolver_client):  # compiled SQL and plain resolvers agree
        shown = await gql(way, query, token=customer.shop.token, restaurant=customer.shop.restaurant_id)
        assert shown["data"]["orders"]["nodes"] == [
            {
                "reference": "#3965",
                "externalOrderNumber": "3965",
                "externalPaymentLink": "https://pay.sufrah.test/3965",
                "externalSubmitState": "submitted",
            }
        ]

    # The platform: paid and in progress. The order moves, the customer hears of both, once.
    body = {"orderNumber": 3965, "status": "InProgress", "paymentStatus": "Paid", "merchantId": "m-1"}
    response = await _status(client, body)
    assert (response.status_code, response.json()) == (200, {"ok": True})
    told = await customer.replies()
    assert "Payment confirmed for your order #3965" in told and "#3965" in told
    order = await only_order(db)
    assert (order.status, order.external_status, order.external_payment_status) == (
        "PREPARING",
        "InProgress",
        "Paid",
    )
    assert order.external_paid_at is not None
    again = await _status(client, body)
    assert (again.status_code, again.json()) == (200, {"ok": True})
    assert await customer.replies() == ""  # a repeat changes nothing

    # It may skip steps: delivered straight from in progress, told once (and asked for a rating).
    delivered = await _status(client, {**body, "orderNumber": "3965", "status": "Delivered"})
    assert delivered.status_code == 200
    told = await customer.replies()
    assert told.count("---") <= 1 and "#3965" in told
    assert (await only_order(db)).status == "DELIVERED"


async def test_outside_the_platforms_coverage_the_customer_is_offered_pickup(customer: Customer, sufrah):
    await customer.say(**JEDDAH)  # a location before any order: the welcome, no platform call
    assert not any(path.endswith("/addresses/check-availability") for _, path, _ in sufrah.requests)
    await customer.say("Hello")
    await customer.say("1")
    await customer.say("delivery")
    refused = await customer.say(**JEDDAH)
    assert "we don't deliver to that location" in refused
    assert any(
        path.endswith("/addresses/check-availability") and q["Lat"] == "21.4858"
        for _, path, q in sufrah.requests
    )
    branches = await customer.say("1")  # pickup instead
    assert "Olaya" in branches and "Malqa" in branches


async def test_pickup_shows_the_branchs_own_prices_and_products(customer: Customer):
    await customer.say("Hello")
    await customer.say("1")
    await customer.say("pickup")
    await customer.say("2")  # Malqa
    items = await customer.say("1")  # Meals
    assert "Kabsa — 42.00 SAR" in items and "~" not in items
    assert "Mandi" not in items  # only Olaya has it


async def test_a_submission_is_retried_while_the_platform_is_down(
    customer: Customer, sufrah: FakeSufrah, work: MerchantWork, db
):
    await _order_two_kabsas(customer, payment="1")  # cash
    sufrah.fail(503)
    assert await work.submit_due() == 1
    order = await only_order(db)
    assert (order.external_submit_state, order.external_order_number) == ("pending", None)
    assert "503" in (order.external_error or "")
    assert "The restaurant has your order" not in await customer.replies()
    assert await work.submit_due() == 0  # backing off

    async with db.session() as s:  # the backoff has passed
        await s.execute(update(Order).values(external_next_attempt_at=Order.created_at))
        await s.commit()
    assert await work.submit_due() == 1
    told = await customer.replies()
    assert "number #3965" in told and "https://" not in told  # cash: no payment link
    assert (await only_order(db)).external_submit_state == "submitted"
    assert len(sufrah.orders) == 1


async def test_an_order_the_platform_refuses_fails_and_the_customer_is_told(
    customer: Customer, sufrah: FakeSufrah, work: MerchantWork, db
):
    await _order_two_kabsas(customer, payment="1")
    sufrah.fail(400)
    assert await work.submit_due() == 1
    order = await only_order(db)
    assert order.external_submit_state == "failed"
    assert "couldn't pass your order #1001 to the restaurant" in await customer.replies()

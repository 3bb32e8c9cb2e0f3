"""The order history through GraphQL: `orders` with its filters, totalCount and pageInfo (its old
arguments and fields unchanged), `orderKpis`, alerts with `markOrderPaid` and
`updateOrderSettings`, an order's conversation and a conversation's orders, tenant isolation, and
bad input answered as an error with a code, never a 500."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from tests.gql import Socket, gql
from tests.order_support import History, history


@pytest.fixture
async def shop(db, factory) -> History:
    return await history(db, factory)


@pytest.fixture
async def token(factory, shop) -> str:
    return await factory.token(shop.restaurant_id)


def asker(client, token: str, restaurant: str):
    async def ask(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return await gql(client, query, variables, token=token, restaurant=restaurant)

    return ask


PAGE = """query($first: Int!, $after: String, $status: [OrderStatus!], $from: Date, $to: Date, $branch: ID,
  $type: OrderType, $search: String, $alert: OrderAlert) {
  orders(first: $first, after: $after, status: $status, from: $from, to: $to, branchId: $branch,
         orderType: $type, search: $search, alert: $alert) {
    totalCount hasNextPage endCursor
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    nodes { reference status alerts paidAt rating ratingComment }
  }
}"""


async def test_the_history_is_filtered_paged_and_counted(client, shop, token):
    ask = asker(client, token, shop.restaurant_id)
    now = datetime.now(UTC)
    olaya = shop.branches[0].id
    await shop.order(at=now - timedelta(days=3), name="Sara", phone="+966551234567", branch_id=olaya)
    await shop.order(at=now - timedelta(days=2), status="DELIVERED", order_type="pickup")
    await shop.order(at=now - timedelta(days=1), status="CANCELLED", branch_id=olaya)
    await shop.order(at=now - timedelta(hours=1), name="Omar", payment_method="online")

    first = (await ask(PAGE, {"first": 3}))["data"]["orders"]
    assert [o["reference"] for o in first["nodes"]] == ["#1004", "#1003", "#1002"]
    assert first["totalCount"] == 4 and first["hasNextPage"] is True
    assert first["pageInfo"]["hasNextPage"] is True and first["pageInfo"]["hasPreviousPage"] is False
    assert first["pageInfo"]["endCursor"] == first["endCursor"]
    second = (await ask(PAGE, {"first": 3, "after": first["endCursor"]}))["data"]["orders"]
    assert [o["reference"] for o in second["nodes"]] == ["#1001"]
    assert second["totalCount"] == 4 and second["pageInfo"]["hasPreviousPage"] is True
    assert second["pageInfo"]["hasNextPage"] is False

    async def refs(**variables: Any) -> tuple[list[str], int]:
        page = (await ask(PAGE, {"first": 50, **variables}))["data"]["orders"]
        return [o["reference"] for o in page["nodes"]], page["totalCount"]

    assert await refs(status=["DELIVERED", "CANCELLED"]) == (["#1003", "#1002"], 2)
    assert await refs(branch=olaya) == (["#1003", "#1001"], 2)
    assert await refs(type="PICKUP") == (["#1002"], 1)
    assert await refs(search="#1002") == (["#1002"], 1)
    assert await refs(search="omar") == (["#1004"], 1)
    assert await refs(search="055 123 4567") == (["#1001"], 1)
    assert await refs(alert="AWAITING_PAYMENT") == (["#1004"], 1)
    today = datetime.now(UTC).astimezone().date()  # Riyadh's today is within a day of it
    since = (today - timedelta(days=10)).isoformat()
    assert (await refs(**{"from": since, "to": (today + timedelta(days=1)).isoformat()}))[1] == 4


async def test_the_old_orders_query_still_answers_as_it_did(client, shop, token):
    await shop.order()
    await shop.order(status="PREPARING")
    data = await asker(client, token, shop.restaurant_id)(
        "{ orders(status: [CONFIRMED], first: 1) { hasNextPage endCursor edges { cursor node { reference } } } }"
    )
    page = data["data"]["orders"]
    assert page["hasNextPage"] is False and page["edges"][0]["node"]["reference"] == "#1001"
    assert page["endCursor"] == page["edges"][0]["cursor"]


async def test_a_period_ends_at_midnight_in_the_restaurants_time_zone(client, shop, token):
    await shop.set_timezone("Asia/Riyadh")  # UTC+3
    riyadh = timedelta(hours=3)
    await shop.order(at=datetime(2026, 11, 30, 23, 30, tzinfo=UTC) - riyadh, quantity=1)  # in
    await shop.order(at=datetime(2026, 12, 1, 0, 10, tzinfo=UTC) - riyadh, quantity=2)  # the next day: out
    await shop.order(at=datetime(2026, 11, 20, 12, 0, tzinfo=UTC) - riyadh, quantity=3, status="CANCELLED")
    ask = asker(client, token, shop.restaurant_id)
    november = {"from": "2026-11-01", "to": "2026-11-30"}
    listed = (await ask(PAGE, {"first": 10, **november}))["data"]["orders"]
    assert [o["reference"] for o in listed["nodes"]] == ["#1001", "#1003"] and listed["totalCount"] == 2
    kpis = await ask(
        """query($from: Date, $to: Date) { orderKpis(from: $from, to: $to) {
        count revenue averageOrderValue currency } }""",
        november,
    )
    price = shop.item.price
    assert kpis["data"]["orderKpis"] == {  # the cancelled order isn't counted
        "count": 1,
        "revenue": price,
        "averageOrderValue": price,
        "currency": "SAR",
    }


async def test_kpis_default_to_the_last_30_days(client, shop, token):
    await shop.order(quantity=1)
    await shop.order(quantity=2, status="DELIVERED")
    await shop.order(quantity=5, at=datetime.now(UTC) - timedelta(days=45))
    kpis = (
        await asker(client, token, shop.restaurant_id)("{ orderKpis { count revenue averageOrderValue } }")
    )["data"]["orderKpis"]
    price = shop.item.price
    assert kpis == {"count": 2, "revenue": 3 * price, "averageOrderValue": round(1.5 * price)}


async def test_alerts_late_awaiting_payment_then_paid_live(client, live_url, shop, token):
    ask = asker(client, token, shop.restaurant_id)
    now = datetime.now(UTC)
    late = await shop.order(at=now - timedelta(minutes=35), status="PREPARING")
    online = await shop.order(at=now - timedelta(minutes=5), payment_method="online")
    listed = (await ask(PAGE, {"first": 10}))["data"]["orders"]["nodes"]
    assert {o["reference"]: o["alerts"] for o in listed} == {
        late.reference: ["LATE"],
        online.reference: ["AWAITING_PAYMENT"],
    }

    settings = await ask(
        """mutation { updateOrderSettings(preparationMinutes: 60) {
        __typename ... on OrderSettings { preparationMinutes } } }"""
    )
    assert settings["data"]["updateOrderSettings"] == {
        "__typename": "OrderSettings",
        "preparationMinutes": 60,
    }
    assert (await ask("{ orderSettings { preparationMinutes } }"))["data"]["orderSettings"] == {
        "preparationMinutes": 60
    }
    listed = (await ask(PAGE, {"first": 10, "alert": "LATE"}))["data"]["orders"]["nodes"]
    assert listed == []

    async with Socket(live_url) as ws:
        await ws.init(token, shop.restaurant_id)
        await ws.subscribe("subscription { orderUpdated { reference paidAt alerts } }")
        await asyncio.sleep(0.2)
        paid = await ask(
            """mutation($id: ID!) { markOrderPaid(id: $id) {
            __typename ... on Order { reference paidAt alerts } } }""",
            {"id": online.id},
        )
        result = paid["data"]["markOrderPaid"]
        assert result["__typename"] == "Order" and result["paidAt"] is not None and result["alerts"] == []
        live = (await ws.next_data())["orderUpdated"]
        assert live == {"reference": online.reference, "paidAt": result["paidAt"], "alerts": []}


@pytest.mark.parametrize("minutes", [0, 1441])
async def test_a_preparation_time_outside_a_day_is_a_validation_error(client, shop, token, minutes):
    answer = await asker(client, token, shop.restaurant_id)(
        """mutation($m: Int!) { updateOrderSettings(preparationMinutes: $m) {
        __typename ... on ValidationError { field } } }""",
        {"m": minutes},
    )
    assert answer["data"]["updateOrderSettings"] == {
        "__typename": "ValidationError",
        "field": "preparationMinutes",
    }


async def test_a_cancelled_order_is_not_marked_paid(client, shop, token):
    cancelled = await shop.order(status="CANCELLED", payment_method="online")
    answer = await asker(client, token, shop.restaurant_id)(
        "mutation($id: ID!) { markOrderPaid(id: $id) { __typename } }", {"id": cancelled.id}
    )
    assert answer["data"]["markOrderPaid"] == {"__typename": "ValidationError"}


async def test_an_orders_conversation_and_a_conversations_orders(client, db, shop, token):
    ask = asker(client, token, shop.restaurant_id)
    now = datetime.now(UTC)
    for hours in (5, 4, 3):
        await shop.order(
            conversation_id="cnv_regular", phone="+966500000777", at=now - timedelta(hours=hours)
        )
    await shop.order(conversation_id="cnv_once", phone="+966500000888", at=now - timedelta(hours=2))

    order = (await ask("{ orders(first: 1) { nodes { reference conversation { id customerPhone } } } }"))[
        "data"
    ]
    assert order["orders"]["nodes"] == [
        {"reference": "#1004", "conversation": {"id": "cnv_once", "customerPhone": "+966500000888"}}
    ]

    query = """query($after: String) { conversations(first: 10) { nodes { id
        orders(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { reference } } } } }"""
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if "FROM bot \nWHERE bot.deleted_at IS NULL" not in statement:  # the app's own bot directory refresh
            statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        listed = (await ask(query))["data"]["conversations"]["nodes"]
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    by_id = {c["id"]: c["orders"] for c in listed}
    assert [o["reference"] for o in by_id["cnv_regular"]["nodes"]] == ["#1003", "#1002"]
    assert by_id["cnv_regular"]["totalCount"] == 3 and by_id["cnv_regular"]["pageInfo"]["hasNextPage"] is True
    assert [o["reference"] for o in by_id["cnv_once"]["nodes"]] == ["#1004"]
    # one query for the orders of every conversation and one for their counts, not one per conversation
    assert sum("customer_order" in s for s in statements) == 2

    more = await ask(
        """query($id: ID!, $after: String) { conversation(id: $id) {
        orders(first: 2, after: $after) { pageInfo { hasNextPage hasPreviousPage } nodes { reference } } } }""",
        {"id": "cnv_regular", "after": by_id["cnv_regular"]["pageInfo"]["endCursor"]},
    )
    page = more["data"]["conversation"]["orders"]
    assert [o["reference"] for o in page["nodes"]] == ["#1001"]
    assert page["pageInfo"] == {"hasNextPage": False, "hasPreviousPage": True}


async def test_another_restaurants_token_sees_none_of_it(client, factory, shop):
    order = await shop.order(payment_method="online")
    other = await history(shop.db, factory, "Other")
    ask = asker(client, await factory.token(other.restaurant_id), other.restaurant_id)
    listed = (await ask(PAGE, {"first": 10, "search": order.reference}))["data"]["orders"]
    assert listed["nodes"] == [] and listed["totalCount"] == 0
    assert (await ask("{ orderKpis { count revenue } }"))["data"]["orderKpis"] == {"count": 0, "revenue": 0}
    found = await ask("query($id: ID!) { conversation(id: $id) { id } }", {"id": order.conversation_id})
    assert found["data"]["conversation"] is None
    paid = await ask("mutation($id: ID!) { markOrderPaid(id: $id) { __typename } }", {"id": order.id})
    assert paid["data"]["markOrderPaid"] == {"__typename": "NotFoundError"}
    theirs = (await ask(PAGE, {"first": 10}))["data"]["orders"]
    assert theirs["nodes"] == []


@pytest.mark.parametrize(
    ("variables", "says"),
    [
        ({"first": 10, "from": "2026-11-30", "to": "2026-11-01"}, "to must not be before from"),
        ({"first": 10, "from": "2025-01-01", "to": "2026-06-01"}, "at most 366 days"),
        ({"first": 10, "from": "2026-11-01"}, "from and to are given together"),
        ({"first": 0}, "first must be from 1 to 200"),
        ({"first": 201}, "first must be from 1 to 200"),
        ({"first": 10, "after": "not-a-cursor"}, "after"),
        ({"first": 10, "search": "x" * 201}, "longer than 200"),
    ],
)
async def test_bad_input_is_an_error_with_a_code(client, shop, token, variables, says):
    answer = await asker(client, token, shop.restaurant_id)(PAGE, variables)
    assert answer["data"] is None
    [error] = answer["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and says in error["message"], error


async def test_a_bad_kpi_period_is_an_error_with_a_code(client, shop, token):
    answer = await asker(client, token, shop.restaurant_id)(
        '{ orderKpis(from: "2026-12-01", to: "2026-11-01") { count } }'
    )
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_conversations_orders_refuse_a_bad_page_size(client, shop, token):
    await shop.order(conversation_id="cnv_x")
    answer = await asker(client, token, shop.restaurant_id)(
        '{ conversation(id: "cnv_x") { orders(first: 0) { totalCount } } }'
    )
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

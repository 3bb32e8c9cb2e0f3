"""The overview and ratings over GraphQL (`overview`, `ratings`, `updateInboxSettings`): the seeded
week (tests/reports.py) as an owner reads it, bad periods refused with a code, another restaurant's
token sees nothing, and the cost estimate counts the daily lists at their longest."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import parse

from app.graphql.cost import estimate
from app.graphql.schema import schema
from tests import reports
from tests.gql import gql

OVERVIEW = """
query Overview($from: Date, $to: Date, $top: Int = 10) {
  overview(from: $from, to: $to, top: $top) {
    from to timezone currency activeConversations waitingForStaff openOrders orders
    revenue { amount currency } averageOrderValue { amount currency }
    days { day orders revenue { amount currency } }
    medianFirstResponseSeconds
    sla { minutes breachesNow breaches }
    topItems { itemId nameAr nameEn quantity revenue { amount currency } }
    rating { average previousAverage trend }
  }
}"""

RATINGS = """
query Ratings($from: Date, $to: Date, $first: Int = 20, $after: String, $ratings: [Int!], $only: Boolean = false) {
  ratings(from: $from, to: $to) {
    from to count average positiveShare negativeShare
    distribution { rating count }
    days { day count average }
    reviews(first: $first, after: $after, ratings: $ratings, withCommentOnly: $only) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes { orderId orderReference customerName rating comment ratedAt }
    }
  }
}"""

WEEK = {"from": "2026-11-01", "to": "2026-11-07"}


async def _owner(factory: Any) -> tuple[reports.Seeder, str]:
    shop = await reports.seeded(factory)
    return shop, await factory.token(shop.restaurant_id)


async def test_the_overview_of_the_week(client, factory) -> None:
    _shop, token = await _owner(factory)
    body = await gql(client, OVERVIEW, WEEK, token=token)
    assert "errors" not in body, body
    found = body["data"]["overview"]
    sar = {"currency": "SAR"}
    assert (
        found["from"] == "2026-11-01" and found["to"] == "2026-11-07" and found["timezone"] == "Asia/Riyadh"
    )
    assert (found["orders"], found["revenue"], found["averageOrderValue"]) == (
        3,
        {"amount": 10001, **sar},
        {"amount": 3334, **sar},
    )
    assert (found["activeConversations"], found["waitingForStaff"], found["openOrders"]) == (5, 3, 2)
    assert [d["day"] for d in found["days"]] == [f"2026-11-0{n}" for n in range(1, 8)]
    assert [d["revenue"]["amount"] for d in found["days"]] == [3000, 0, 2001, 0, 0, 0, 5000]
    assert found["medianFirstResponseSeconds"] == 1200.0
    assert found["sla"] == {"minutes": 15, "breachesNow": 2, "breaches": 3}
    assert [(t["nameEn"], t["quantity"], t["revenue"]["amount"]) for t in found["topItems"]] == [
        ("Shawarma", 4, 6000),
        ("Juice", 3, 4001),
    ]
    assert found["rating"]["average"] == pytest.approx(10 / 3)
    assert found["rating"]["previousAverage"] == 3.0
    assert found["rating"]["trend"] == pytest.approx(1 / 3)


async def test_without_dates_the_overview_is_the_last_30_days(client, factory) -> None:
    _shop, token = await _owner(factory)
    found = (await gql(client, OVERVIEW, token=token))["data"]["overview"]
    assert len(found["days"]) == 30
    assert found["days"][-1]["day"] == found["to"]


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"from": "2026-11-07", "to": "2026-11-01"}, "reversed"),
        ({"from": "2025-01-01", "to": "2026-01-02"}, "too long"),
        ({**WEEK, "top": 0}, "top"),
        ({**WEEK, "top": 51}, "top"),
    ],
)
async def test_bad_periods_are_refused_with_a_code(client, factory, variables, field) -> None:
    _shop, token = await _owner(factory)
    for query in (OVERVIEW, RATINGS) if field != "top" else (OVERVIEW,):
        body = await gql(client, query, variables, token=token)
        assert body["data"] is None, field
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body


async def test_ratings_of_the_week_with_filtered_and_paged_reviews(client, factory) -> None:
    _shop, token = await _owner(factory)
    found = (await gql(client, RATINGS, WEEK, token=token))["data"]["ratings"]
    assert [d["count"] for d in found["distribution"]] == [1, 0, 0, 1, 1]
    assert [d["rating"] for d in found["distribution"]] == [1, 2, 3, 4, 5]
    assert found["positiveShare"] == pytest.approx(2 / 3)
    assert found["negativeShare"] == pytest.approx(1 / 3)
    assert [(d["day"], d["count"], d["average"]) for d in found["days"] if d["count"]] == [
        ("2026-11-01", 1, 4.0),
        ("2026-11-03", 1, 1.0),
        ("2026-11-07", 1, 5.0),
    ]
    reviews = found["reviews"]
    assert reviews["totalCount"] == 3
    assert [(n["orderReference"], n["rating"], n["comment"]) for n in reviews["nodes"]] == [
        ("#1001", 5, "Great"),
        ("#1006", 1, "Cold food"),
        ("#1003", 4, None),
    ]
    only = (await gql(client, RATINGS, {**WEEK, "only": True, "ratings": [1, 2]}, token=token))["data"]
    assert [n["comment"] for n in only["ratings"]["reviews"]["nodes"]] == ["Cold food"]
    comments: list[str | None] = []
    after = None
    while True:
        page = (await gql(client, RATINGS, {**WEEK, "first": 1, "after": after}, token=token))["data"]
        reviews = page["ratings"]["reviews"]
        comments += [n["comment"] for n in reviews["nodes"]]
        if not reviews["pageInfo"]["hasNextPage"]:
            break
        after = reviews["pageInfo"]["endCursor"]
    assert comments == ["Great", "Cold food", None]


@pytest.mark.parametrize("variables", [{"ratings": [6]}, {"first": 0}, {"after": "not-a-cursor"}])
async def test_bad_review_arguments_are_refused_with_a_code(client, factory, variables) -> None:
    _shop, token = await _owner(factory)
    body = await gql(client, RATINGS, {**WEEK, **variables}, token=token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body


async def test_another_restaurants_token_sees_nothing_of_it(client, factory) -> None:
    await reports.seeded(factory)
    other = await reports.restaurant(factory, name="Other")
    token = await factory.token(other.restaurant_id)
    overview = (await gql(client, OVERVIEW, WEEK, token=token))["data"]["overview"]
    assert (overview["orders"], overview["openOrders"], overview["activeConversations"]) == (0, 0, 0)
    assert overview["topItems"] == [] and overview["sla"] == {"minutes": 15, "breachesNow": 0, "breaches": 0}
    ratings = (await gql(client, RATINGS, WEEK, token=token))["data"]["ratings"]
    assert ratings["count"] == 0 and ratings["reviews"]["nodes"] == []


UPDATE = """
mutation Sla($minutes: Int!) {
  updateInboxSettings(slaMinutes: $minutes) {
    __typename
    ... on InboxSettings { slaMinutes restaurant { id } }
    ... on ValidationError { field message }
  }
}"""


async def test_the_sla_setting_changes_the_breaches(client, factory) -> None:
    shop, token = await _owner(factory)
    changed = (await gql(client, UPDATE, {"minutes": 1440}, token=token))["data"]["updateInboxSettings"]
    assert changed == {
        "__typename": "InboxSettings",
        "slaMinutes": 1440,
        "restaurant": {"id": shop.restaurant_id},
    }
    found = (await gql(client, OVERVIEW, WEEK, token=token))["data"]["overview"]
    assert found["sla"] == {"minutes": 1440, "breachesNow": 1, "breaches": 1}
    refused = (await gql(client, UPDATE, {"minutes": 0}, token=token))["data"]["updateInboxSettings"]
    assert refused["__typename"] == "ValidationError" and refused["field"] == "slaMinutes"


def test_the_cost_estimate_counts_the_daily_lists_at_their_longest() -> None:
    gql_schema = schema._schema
    overview = estimate(gql_schema, parse(OVERVIEW), None).evaluate({})
    # overview 1 + revenue 1 + aov 1 + days 366 (+ their revenue 366) + sla 1 + topItems 50 (+ revenue 50) + rating 1
    assert overview == 1 + 1 + 1 + 366 * 2 + 1 + 50 * 2 + 1
    ratings = estimate(gql_schema, parse(RATINGS), None).evaluate({"first": 200})
    # ratings 1 + distribution 5 + days 366 + reviews 1 + pageInfo 1 + nodes 200
    assert ratings == 1 + 5 + 366 + 1 + 1 + 200

"""Usage and plans over GraphQL: a restaurant sees its own month against its allowance and chooses
what happens at the limit; only admin tokens manage plans and allowances and see everyone."""

from __future__ import annotations

import asyncio

import httpx

from app.db.engine import Database
from tests.gql import Socket, gql
from tests.support import BotHandle, Factory, inbound_params, post_signed

USAGE = """query($m: String) { usage(month: $m) {
    restaurantId month sessions allowance adjustedBy remaining percent limitAction nearLimitPercent
    nearLimit overLimit plan { name monthlySessions } adjustments { sessions reason createdBy }
    daily { date sessions } } }"""

CREATE_PLAN = """mutation($i: PlanInput!) { createPlan(input: $i) {
    __typename ... on Plan { id name monthlySessions price currency }
    ... on ForbiddenError { message } ... on ValidationError { message field } } }"""

ASSIGN = """mutation($r: ID!, $p: ID) { assignPlan(restaurantId: $r, planId: $p) {
    __typename ... on Usage { allowance plan { name } } ... on ForbiddenError { message }
    ... on NotFoundError { message } } }"""

ADJUST = """mutation($r: ID!, $m: String!, $n: Int!, $why: String!) {
    adjustAllowance(restaurantId: $r, month: $m, sessions: $n, reason: $why) {
    __typename ... on Usage { allowance remaining adjustedBy adjustments { sessions reason createdBy } }
    ... on ForbiddenError { message } ... on ValidationError { message field } } }"""

OVERVIEW = """query($near: Boolean!) { usageOverview(nearLimitOnly: $near) {
    totalCount nodes { restaurantId restaurantName sessions allowance percent nearLimit overLimit } } }"""


async def say(client: httpx.AsyncClient, bot: BotHandle, customer: str) -> None:
    response = await post_signed(
        client, "/whatsapp/webhook", inbound_params(bot, customer=customer), bot.auth_token
    )
    assert response.status_code == 200


async def test_a_restaurant_sees_its_month_and_admins_set_its_allowance(
    client: httpx.AsyncClient, db: Database, factory: Factory
) -> None:
    bot = await factory.bot()
    r = bot.restaurant.id
    token, admin = await factory.token(r), await factory.token(admin=True)
    for n in range(3):
        await say(client, bot, f"+96650000020{n}")

    mine = (await gql(client, USAGE, token=token, restaurant=r))["data"]["usage"]
    assert (mine["sessions"], mine["allowance"], mine["remaining"], mine["plan"]) == (3, None, None, None)
    assert mine["limitAction"] == "WARN" and mine["nearLimitPercent"] == 80
    assert sum(day["sessions"] for day in mine["daily"]) == 3 and len(mine["daily"]) >= 28

    plan = await gql(
        client, CREATE_PLAN, {"i": {"name": "Basic", "monthlySessions": 4, "price": 9900}}, token=admin
    )
    plan = plan["data"]["createPlan"]
    assert (plan["__typename"], plan["monthlySessions"], plan["currency"]) == ("Plan", 4, "SAR")
    assigned = (await gql(client, ASSIGN, {"r": r, "p": plan["id"]}, token=admin))["data"]["assignPlan"]
    assert (assigned["allowance"], assigned["plan"]["name"]) == (4, "Basic")

    adjusted = await gql(
        client, ADJUST, {"r": r, "m": mine["month"], "n": 6, "why": "opening week"}, token=admin
    )
    adjusted = adjusted["data"]["adjustAllowance"]
    assert (adjusted["allowance"], adjusted["remaining"], adjusted["adjustedBy"]) == (10, 7, 6)
    assert adjusted["adjustments"][0]["reason"] == "opening week"

    mine = (await gql(client, USAGE, token=token, restaurant=r))["data"]["usage"]
    assert (mine["allowance"], mine["remaining"], mine["percent"]) == (10, 7, 30.0)
    assert (mine["nearLimit"], mine["overLimit"]) == (False, False)


async def test_only_admin_tokens_manage_plans_and_see_everyone(
    client: httpx.AsyncClient, db: Database, factory: Factory
) -> None:
    restaurant = await factory.restaurant()
    token = await factory.token(restaurant.id)
    refused = await gql(client, "{ plans { id } }", token=token, restaurant=restaurant.id)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    refused = await gql(client, OVERVIEW, {"near": False}, token=token, restaurant=restaurant.id)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for query, variables in (
        (CREATE_PLAN, {"i": {"name": "Mine", "monthlySessions": 1000000}}),
        (ASSIGN, {"r": restaurant.id, "p": None}),
        (ADJUST, {"r": restaurant.id, "m": "2026-12", "n": 5000, "why": "free sessions"}),
    ):
        result = await gql(client, query, variables, token=token, restaurant=restaurant.id)
        [answer] = result["data"].values()
        assert answer["__typename"] == "ForbiddenError", query
    updated = await gql(
        client,
        'mutation($i: PlanInput!) { updatePlan(id: "pln_x", input: $i) { __typename } }',
        {"i": {"monthlySessions": 5}},
        token=token,
        restaurant=restaurant.id,
    )
    assert updated["data"]["updatePlan"]["__typename"] == "ForbiddenError"


async def test_the_overview_lists_everyone_fullest_first_and_near_limit_only(
    client: httpx.AsyncClient, db: Database, factory: Factory
) -> None:
    admin = await factory.token(admin=True)
    full, quiet = (
        await factory.bot(await factory.restaurant("Full")),
        await factory.bot(await factory.restaurant("Quiet")),
    )
    await factory.restaurant("No plan")
    plan = await gql(client, CREATE_PLAN, {"i": {"name": "Tiny", "monthlySessions": 2}}, token=admin)
    plan_id = plan["data"]["createPlan"]["id"]
    for bot in (full, quiet):
        await gql(client, ASSIGN, {"r": bot.restaurant.id, "p": plan_id}, token=admin)
    await say(client, full, "+966500000301")
    await say(client, full, "+966500000302")

    everyone = (await gql(client, OVERVIEW, {"near": False}, token=admin))["data"]["usageOverview"]
    assert everyone["totalCount"] == 3
    assert [(n["restaurantName"], n["percent"]) for n in everyone["nodes"]] == [
        ("Full", 100.0),
        ("Quiet", 0.0),
        ("No plan", None),
    ]
    near = (await gql(client, OVERVIEW, {"near": True}, token=admin))["data"]["usageOverview"]
    assert [(n["restaurantName"], n["overLimit"]) for n in near["nodes"]] == [("Full", True)]
    # the plans list, for admins
    plans = (await gql(client, "{ plans { name monthlySessions } }", token=admin))["data"]["plans"]
    assert plans == [{"name": "Tiny", "monthlySessions": 2}]
    # the restaurant was told it reached its limit (a live notification, in the bell's list)
    token = await factory.token(full.restaurant.id)
    bell = await gql(
        client, "{ notifications { nodes { kind body } } }", token=token, restaurant=full.restaurant.id
    )
    kinds = [n["kind"] for n in bell["data"]["notifications"]["nodes"]]
    assert "USAGE_LIMIT_REACHED" in kinds and "USAGE_NEAR_LIMIT" not in kinds  # at once: only the limit


async def test_a_restaurant_sees_only_its_own_usage(
    client: httpx.AsyncClient, db: Database, factory: Factory
) -> None:
    mine, theirs = await factory.bot(), await factory.bot(await factory.restaurant("Kudu"))
    await say(client, theirs, "+966500000401")
    await say(client, theirs, "+966500000402")
    token = await factory.token(mine.restaurant.id)
    result = await gql(client, USAGE, token=token, restaurant=mine.restaurant.id)
    assert result["data"]["usage"]["sessions"] == 0
    assert result["data"]["usage"]["restaurantId"] == mine.restaurant.id
    refused = await gql(client, USAGE, token=token, restaurant=theirs.restaurant.id)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_settings_and_months_are_checked(
    client: httpx.AsyncClient, db: Database, factory: Factory
) -> None:
    restaurant = await factory.restaurant()
    token, admin = await factory.token(restaurant.id), await factory.token(admin=True)
    settings = """mutation($a: UsageLimitAction, $p: Int) { updateUsageSettings(limitAction: $a, nearLimitPercent: $p) {
        __typename ... on Usage { limitAction nearLimitPercent } ... on ValidationError { field } } }"""
    bad = await gql(client, settings, {"p": 0}, token=token, restaurant=restaurant.id)
    assert bad["data"]["updateUsageSettings"] == {
        "__typename": "ValidationError",
        "field": "nearLimitPercent",
    }
    good = await gql(
        client, settings, {"a": "PAUSE_BOT_EXTRAS", "p": 90}, token=token, restaurant=restaurant.id
    )
    assert good["data"]["updateUsageSettings"] == {
        "__typename": "Usage",
        "limitAction": "PAUSE_BOT_EXTRAS",
        "nearLimitPercent": 90,
    }
    wrong = await gql(client, USAGE, {"m": "2026-13"}, token=token, restaurant=restaurant.id)
    assert wrong["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    past = (await gql(client, USAGE, {"m": "2025-01"}, token=token, restaurant=restaurant.id))["data"][
        "usage"
    ]
    assert (past["month"], past["sessions"], len(past["daily"])) == ("2025-01", 0, 31)
    for variables, field in (
        ({"r": restaurant.id, "m": "2026-12", "n": 0, "why": "none"}, "sessions"),
        ({"r": restaurant.id, "m": "2026-12", "n": 5, "why": "  "}, "reason"),
        ({"r": restaurant.id, "m": "12/2026", "n": 5, "why": "bonus"}, "month"),
    ):
        refused = (await gql(client, ADJUST, variables, token=admin))["data"]["adjustAllowance"]
        assert (refused["__typename"], refused["field"]) == ("ValidationError", field)
    missing = (await gql(client, ASSIGN, {"r": restaurant.id, "p": "pln_missing"}, token=admin))["data"]
    assert missing["assignPlan"]["__typename"] == "NotFoundError"
    dup = {"i": {"name": "Same", "monthlySessions": 1}}
    await gql(client, CREATE_PLAN, dup, token=admin)
    again = (await gql(client, CREATE_PLAN, dup, token=admin))["data"]["createPlan"]
    assert (again["__typename"], again["field"]) == ("ValidationError", "name")


async def test_the_limit_notification_arrives_live(
    client: httpx.AsyncClient, live_url, db: Database, factory: Factory
) -> None:
    bot = await factory.bot()
    token, admin = await factory.token(bot.restaurant.id), await factory.token(admin=True)
    plan = await gql(client, CREATE_PLAN, {"i": {"name": "One", "monthlySessions": 1}}, token=admin)
    await gql(client, ASSIGN, {"r": bot.restaurant.id, "p": plan["data"]["createPlan"]["id"]}, token=admin)
    async with Socket(live_url) as ws:
        assert (await ws.init(token, bot.restaurant.id))["type"] == "connection_ack"
        await ws.subscribe("subscription { notificationCreated { kind title body metadata } }")
        await asyncio.sleep(0.2)  # the subscription is registered before the message exists
        await say(client, bot, "+966500000501")
        kinds = set()
        for _ in range(2):  # the new conversation's notification, and the limit's
            kinds.add((await ws.next_data())["notificationCreated"]["kind"])
    assert kinds == {"CONVERSATION_STARTED", "USAGE_LIMIT_REACHED"}


async def test_a_page_asks_whether_the_caller_is_an_admin_without_being_refused(
    client: httpx.AsyncClient, db: Database, factory: Factory
) -> None:
    mine, theirs = await factory.restaurant(), await factory.restaurant("Kudu")
    admin, token = await factory.token(admin=True), await factory.token(mine.id)
    query = "{ viewer { isAdmin restaurantIds } }"
    assert (await gql(client, query, token=admin)) == {
        "data": {"viewer": {"isAdmin": True, "restaurantIds": []}}
    }
    scoped = await gql(client, query, token=token, restaurant=mine.id)
    assert scoped == {"data": {"viewer": {"isAdmin": False, "restaurantIds": [mine.id]}}}
    assert theirs.id not in str(scoped)
    anonymous = await gql(client, query)
    assert anonymous["data"] is None
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

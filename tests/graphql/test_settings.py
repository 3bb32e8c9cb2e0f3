"""Restaurant settings over GraphQL: the profile, the weekly hours with exceptions, the busy/closed
switch and the opening state they add up to; every bad input a ValidationError naming its field, and
another restaurant's token sees and changes nothing of yours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.models import Event
from tests.gql import gql

FIELDS = """id name description address phone logoUrl appLink acceptsOrdersWhenClosed orderingState
    orderingStateUntil openStatus isOpenNow nextOpensAt closesAt closedNote
    openingHours { weekday opens closes } openingExceptions { date closedAllDay opens closes note }"""
RESULT = f"""__typename ... on Restaurant {{ {FIELDS} }}
    ... on ValidationError {{ message field }} ... on NotFoundError {{ message }}"""
PROFILE = (
    f"mutation($input: RestaurantProfileInput!) {{ updateRestaurantProfile(input: $input) {{ {RESULT} }} }}"
)
HOURS = f"mutation($hours: [OpeningIntervalInput!]!) {{ setOpeningHours(hours: $hours) {{ {RESULT} }} }}"
ADD = f"""mutation($date: Date!, $opens: String, $closes: String, $note: String! = "") {{
    addOpeningException(date: $date, opens: $opens, closes: $closes, note: $note) {{ {RESULT} }} }}"""
REMOVE = f"mutation($date: Date!) {{ removeOpeningException(date: $date) {{ {RESULT} }} }}"
SWITCH = f"""mutation($state: OrderingState!, $until: DateTime) {{
    setOrderingState(state: $state, until: $until) {{ {RESULT} }} }}"""
READ = f"{{ restaurants {{ {FIELDS} }} }}"
RIYADH = ZoneInfo("Asia/Riyadh")


@pytest.fixture
async def staff(client, factory):
    restaurant = await factory.restaurant("Sufrah Grill")
    token = await factory.token(restaurant.id)

    async def call(query: str, **variables):
        result = await gql(client, query, variables, token=token, restaurant=restaurant.id)
        assert "errors" not in result, result
        return next(iter(result["data"].values()))

    call.restaurant_id = restaurant.id  # type: ignore[attr-defined]
    return call


async def test_a_restaurant_without_settings_is_open_around_the_clock(staff):
    [mine] = await staff(READ)
    assert (mine["openStatus"], mine["isOpenNow"], mine["nextOpensAt"], mine["closesAt"]) == (
        "OPEN",
        True,
        None,
        None,
    )
    assert mine["openingHours"] == [] and mine["orderingState"] == "OPEN"
    assert mine["acceptsOrdersWhenClosed"] is False and mine["description"] is None


async def test_the_profile_is_saved_checked_and_cleared(staff, db):
    saved = await staff(
        PROFILE,
        input={
            "description": "  Grills since 1998 ",
            "address": "Olaya St, Riyadh",
            "phone": "+966 50 123 4567",
            "logoUrl": "https://cdn.example/logo.png",
            "appLink": "https://apps.example/sufrah",
            "acceptsOrdersWhenClosed": True,
        },
    )
    assert saved["__typename"] == "Restaurant"
    assert (saved["description"], saved["phone"], saved["logoUrl"], saved["appLink"]) == (
        "Grills since 1998",
        "+966501234567",
        "https://cdn.example/logo.png",
        "https://apps.example/sufrah",
    )
    assert saved["acceptsOrdersWhenClosed"] is True
    cleared = await staff(PROFILE, input={"logoUrl": "", "description": ""})
    assert (cleared["logoUrl"], cleared["description"], cleared["phone"]) == (None, None, "+966501234567")
    async with db.session() as s:
        kinds = (
            await s.execute(select(Event.kind).where(Event.restaurant_id == staff.restaurant_id))
        ).scalars()
        assert list(kinds).count("restaurant.updated") == 2  # dashboards hear of each change


@pytest.mark.parametrize(
    ("field_input", "field"),
    [
        ({"phone": "0501234567"}, "phone"),
        ({"logoUrl": "javascript:alert(1)"}, "logoUrl"),
        ({"logoUrl": "ftp://files.example/logo.png"}, "logoUrl"),
        ({"appLink": "not a url"}, "appLink"),
        ({"description": "x" * 1001}, "description"),
        ({"name": "  "}, "name"),
    ],
)
async def test_a_bad_profile_field_is_named(staff, field_input, field):
    refused = await staff(PROFILE, input=field_input)
    assert (refused["__typename"], refused["field"]) == ("ValidationError", field)


async def test_the_week_is_replaced_and_judged(staff):
    week = [{"weekday": d, "opens": "18:00", "closes": "02:00"} for d in ("MONDAY", "FRIDAY")]
    week.append({"weekday": "MONDAY", "opens": "9:00", "closes": "12:30"})
    saved = await staff(HOURS, hours=week)
    assert saved["openingHours"] == [
        {"weekday": "MONDAY", "opens": "09:00", "closes": "12:30"},
        {"weekday": "MONDAY", "opens": "18:00", "closes": "02:00"},
        {"weekday": "FRIDAY", "opens": "18:00", "closes": "02:00"},
    ]
    opens = saved["nextOpensAt"] or saved["closesAt"]
    assert opens is not None and opens.endswith("+03:00")  # restaurant time
    replaced = await staff(HOURS, hours=[{"weekday": "SUNDAY", "opens": "00:00", "closes": "00:00"}])
    assert replaced["openingHours"] == [{"weekday": "SUNDAY", "opens": "00:00", "closes": "00:00"}]
    assert (await staff(HOURS, hours=[]))["isOpenNow"] is True  # no hours: always open


@pytest.mark.parametrize(
    ("week", "field"),
    [
        ([{"weekday": "MONDAY", "opens": "25:00", "closes": "26:00"}], "hours.0.opens"),
        ([{"weekday": "MONDAY", "opens": "09:00", "closes": "9pm"}], "hours.0.closes"),
        (
            [
                {"weekday": "MONDAY", "opens": "09:00", "closes": "14:00"},
                {"weekday": "MONDAY", "opens": "13:00", "closes": "15:00"},
            ],
            "hours",
        ),
        (  # Monday night runs into Tuesday morning
            [
                {"weekday": "MONDAY", "opens": "18:00", "closes": "02:00"},
                {"weekday": "TUESDAY", "opens": "01:00", "closes": "03:00"},
            ],
            "hours",
        ),
        (  # Sunday night runs into Monday morning
            [
                {"weekday": "SUNDAY", "opens": "20:00", "closes": "04:00"},
                {"weekday": "MONDAY", "opens": "03:00", "closes": "05:00"},
            ],
            "hours",
        ),
    ],
)
async def test_bad_or_overlapping_hours_are_refused(staff, week, field):
    refused = await staff(HOURS, hours=week)
    assert (refused["__typename"], refused["field"]) == ("ValidationError", field)
    assert (await staff(READ))[0]["openingHours"] == []  # nothing saved


async def test_exception_days_close_or_change_a_date(staff):
    today = datetime.now(UTC).astimezone(RIYADH).date()
    closed = await staff(ADD, date=today.isoformat(), note="Eid")
    assert closed["openingExceptions"] == [
        {"date": today.isoformat(), "closedAllDay": True, "opens": None, "closes": None, "note": "Eid"}
    ]
    assert closed["openStatus"] == "CLOSED" and closed["closedNote"] == "Eid"
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert closed["nextOpensAt"].startswith(tomorrow + "T00:00:00")  # no weekly hours: open again at midnight
    special = await staff(ADD, date=tomorrow, opens="16:00", closes="23:00", note="short day")
    assert special["openingExceptions"][1]["opens"] == "16:00"
    assert special["nextOpensAt"].startswith(tomorrow + "T16:00:00")
    reopened = await staff(REMOVE, date=today.isoformat())
    assert reopened["isOpenNow"] is True and len(reopened["openingExceptions"]) == 1
    missing = await staff(REMOVE, date=today.isoformat())
    assert missing["__typename"] == "NotFoundError"


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"opens": "10:00"}, "opens"),
        ({"opens": "10:00", "closes": "24:00"}, "closes"),
        ({"note": "x" * 101}, "note"),
        ({"days": -5}, "date"),
        ({"days": 400}, "date"),
    ],
)
async def test_bad_exceptions_are_refused(staff, variables, field):
    days = variables.pop("days", 3)
    day = datetime.now(UTC).astimezone(RIYADH).date() + timedelta(days=days)
    refused = await staff(ADD, date=day.isoformat(), **variables)
    assert (refused["__typename"], refused["field"]) == ("ValidationError", field)


async def test_the_busy_closed_switch(staff):
    until = (datetime.now(UTC) + timedelta(hours=5)).replace(microsecond=0)
    closed = await staff(SWITCH, state="CLOSED", until=until.isoformat())
    assert (closed["orderingState"], closed["openStatus"], closed["isOpenNow"]) == ("CLOSED", "CLOSED", False)
    assert datetime.fromisoformat(closed["nextOpensAt"]) == until  # no hours: open again right then
    assert datetime.fromisoformat(closed["orderingStateUntil"]) == until
    forever = await staff(SWITCH, state="CLOSED")
    assert forever["nextOpensAt"] is None and forever["orderingStateUntil"] is None
    busy = await staff(SWITCH, state="BUSY")
    assert (busy["openStatus"], busy["isOpenNow"]) == ("BUSY", True)
    assert (await staff(SWITCH, state="OPEN"))["openStatus"] == "OPEN"


@pytest.mark.parametrize(
    ("state", "hours_ahead", "field"),
    [("OPEN", 2, "until"), ("CLOSED", -1, "until"), ("BUSY", 24 * 400, "until")],
)
async def test_bad_switches_are_refused(staff, state, hours_ahead, field):
    until = (datetime.now(UTC) + timedelta(hours=hours_ahead)).isoformat()
    refused = await staff(SWITCH, state=state, until=until)
    assert (refused["__typename"], refused["field"]) == ("ValidationError", field)


async def test_another_restaurant_sees_and_changes_nothing_of_yours(client, factory, staff):
    await staff(HOURS, hours=[{"weekday": "MONDAY", "opens": "09:00", "closes": "10:00"}])
    await staff(SWITCH, state="CLOSED")
    await staff(PROFILE, input={"phone": "+966501234567"})
    other = await factory.restaurant("Other Place")
    token = await factory.token(other.id)
    theirs = await gql(client, READ, token=token, restaurant=other.id)
    [seen] = theirs["data"]["restaurants"]
    assert seen["id"] == other.id and seen["openingHours"] == [] and seen["phone"] is None
    assert seen["openStatus"] == "OPEN"
    changed = await gql(client, SWITCH, {"state": "BUSY"}, token=token, restaurant=other.id)
    assert changed["data"]["setOrderingState"]["id"] == other.id
    [mine] = await staff(READ)
    assert (mine["orderingState"], mine["phone"], len(mine["openingHours"])) == ("CLOSED", "+966501234567", 1)
    refused = await gql(client, READ, token=token, restaurant=staff.restaurant_id)
    assert "errors" in refused or all(r["id"] != staff.restaurant_id for r in refused["data"]["restaurants"])

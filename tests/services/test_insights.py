"""The overview (app/services/insights.py): each figure against the seeded week (tests/reports.py),
its days in the restaurant's time zone, and the SLA setting."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app.db.engine import Database
from app.errors import ValidationFailed
from app.services import conversations, insights, restaurants
from app.services.periods import Period
from tests import reports
from tests.reports import JUICE, SHAWARMA, WEEK, riyadh, utc
from tests.support import Factory


async def _overview(
    db: Database, restaurant_id: str, period: Period = WEEK, top: int = 10
) -> insights.Overview:
    async with db.session() as s:
        return await insights.overview(s, restaurant_id=restaurant_id, period=period, top=top)


async def test_the_weeks_orders_revenue_and_average_count_only_orders_not_cancelled(
    db: Database, factory: Factory
) -> None:
    shop = await reports.seeded(factory)
    found = await _overview(db, shop.restaurant_id)
    assert (found.orders, found.revenue, found.average_order_value, found.currency) == (3, 10001, 3334, "SAR")
    assert found.open_orders == 2  # A and B, whatever their day
    assert (found.active_conversations, found.waiting_for_staff) == (5, 3)


async def test_every_day_of_the_period_has_an_entry_by_the_restaurants_local_day(
    db: Database, factory: Factory
) -> None:
    shop = await reports.seeded(factory)
    days = (await _overview(db, shop.restaurant_id)).days
    assert [d.day for d in days] == WEEK.days()
    assert {d.day.day: (d.orders, d.revenue) for d in days} == {
        1: (1, 3000),  # 00:00 local on the first day is in
        2: (0, 0),
        3: (1, 2001),  # the cancelled order of that day is not
        4: (0, 0),
        5: (0, 0),
        6: (0, 0),
        7: (1, 5000),  # 23:30 local on the last day is in; 00:10 the next day (B) is out
    }


async def test_a_restaurant_in_another_time_zone_sees_the_same_instants_on_other_days(
    db: Database, factory: Factory
) -> None:
    london = await reports.restaurant(factory, timezone="Europe/London", name="London Grill")
    c = await london.conversation([("customer", utc(1, 9))])
    await london.order(c, riyadh(8, 0, 10), [(SHAWARMA, 1)])  # 7 Nov 21:10 UTC: still 7 Nov in London
    await london.order(c, riyadh(1, 0, 0), [(JUICE, 1)])  # 31 Oct 21:00 UTC: before 1 Nov in London
    week = Period.of(date(2026, 11, 1), date(2026, 11, 7), timezone="Europe/London")
    found = await _overview(db, london.restaurant_id, week)
    assert {d.day.day: d.orders for d in found.days if d.orders} == {7: 1}
    assert found.revenue == 1500


async def test_top_items_are_by_quantity_from_counted_orders_and_capped(
    db: Database, factory: Factory
) -> None:
    shop = await reports.seeded(factory)
    top = (await _overview(db, shop.restaurant_id)).top_items
    assert [(t.item_id, t.name_en, t.name_ar, t.quantity, t.revenue) for t in top] == [
        ("itm_shawarma", "Shawarma", "شاورما", 4, 6000),
        ("itm_juice", "Juice", "عصير", 3, 4001),
    ]
    assert [t.item_id for t in (await _overview(db, shop.restaurant_id, top=1)).top_items] == ["itm_shawarma"]
    for bad in (0, insights.MAX_TOP_ITEMS + 1):
        with pytest.raises(ValidationFailed):
            await _overview(db, shop.restaurant_id, top=bad)


async def test_median_first_response_and_sla_breaches_of_the_period(db: Database, factory: Factory) -> None:
    shop = await reports.seeded(factory)
    found = await _overview(db, shop.restaurant_id)
    assert found.median_first_response_seconds == 1200.0  # of 300, 1800 and 1200
    assert found.sla_minutes == 15
    # 1800 s and 1200 s answered late, and the wait since 5 Nov still unanswered
    assert found.breaches == 3
    # unanswered now for longer than 15 minutes: since 5 Nov, and since an hour ago (not 5 minutes ago)
    assert found.breaches_now == 2


async def test_a_longer_sla_makes_fewer_breaches(db: Database, factory: Factory) -> None:
    shop = await reports.seeded(factory)
    async with db.session() as s:
        await insights.update_inbox_settings(s, restaurant_id=shop.restaurant_id, sla_minutes=25)
        await s.commit()
    found = await _overview(db, shop.restaurant_id)
    assert (found.sla_minutes, found.breaches, found.breaches_now) == (25, 2, 2)  # 1200 s is in time now
    async with db.session() as s:
        await insights.update_inbox_settings(s, restaurant_id=shop.restaurant_id, sla_minutes=1440)
        await s.commit()
    found = await _overview(db, shop.restaurant_id)
    assert (found.breaches, found.breaches_now) == (1, 1)  # only the wait since 5 Nov


@pytest.mark.parametrize("minutes", [0, -5, 1441])
async def test_the_sla_is_from_1_to_1440_minutes(db: Database, factory: Factory, minutes: int) -> None:
    shop = await reports.restaurant(factory)
    async with db.session() as s:
        with pytest.raises(ValidationFailed) as caught:
            await insights.update_inbox_settings(s, restaurant_id=shop.restaurant_id, sla_minutes=minutes)
        assert caught.value.field == "slaMinutes"
        assert (await restaurants.get(s, restaurant_id=shop.restaurant_id)).sla_minutes == 15


async def test_the_rating_average_and_its_trend_against_the_week_before(
    db: Database, factory: Factory
) -> None:
    shop = await reports.seeded(factory)
    found = await _overview(db, shop.restaurant_id)
    assert found.rating_average == pytest.approx(10 / 3)  # 5, 4, 1
    assert found.previous_rating_average == 3.0  # D, 31 Oct
    assert found.rating_trend == pytest.approx(10 / 3 - 3)
    empty = await _overview(
        db, shop.restaurant_id, Period.of(date(2026, 1, 1), date(2026, 1, 2), timezone="Asia/Riyadh")
    )
    assert (empty.rating_average, empty.rating_trend, empty.orders, empty.average_order_value) == (
        None,
        None,
        0,
        None,
    )


async def test_another_restaurant_sees_none_of_it(db: Database, factory: Factory) -> None:
    await reports.seeded(factory)
    other = await reports.restaurant(factory, name="Other")
    found = await _overview(db, other.restaurant_id)
    assert (found.orders, found.revenue, found.open_orders, found.active_conversations) == (0, 0, 0, 0)
    assert (found.top_items, found.breaches, found.breaches_now, found.median_first_response_seconds) == (
        [],
        0,
        0,
        None,
    )
    assert found.rating_average is None


async def test_the_dashboards_7_day_median_is_the_same_rule(db: Database, factory: Factory) -> None:
    shop = await reports.restaurant(factory)
    now = datetime.now(UTC).replace(microsecond=0)
    await shop.conversation(
        [("customer", now - timedelta(hours=2)), ("staff", now - timedelta(hours=2) + timedelta(seconds=90))]
    )
    await shop.conversation(
        [("customer", now - timedelta(days=8)), ("staff", now - timedelta(days=8) + timedelta(seconds=10))]
    )
    async with db.session() as s:
        activity = await conversations.activity(s, restaurant_id=shop.restaurant_id)
    assert activity.median_first_response_seconds == 90.0


def test_the_default_period_is_the_last_30_days_up_to_today() -> None:
    restaurant = type("R", (), {"timezone": "Asia/Riyadh"})()
    now = datetime(2026, 11, 30, 21, 30, tzinfo=UTC)  # 1 Dec 00:30 in Riyadh
    period = insights.period_for(restaurant, None, None, now=now)  # type: ignore[arg-type]
    assert (period.first_day, period.last_day) == (date(2026, 11, 2), date(2026, 12, 1))
    period = insights.period_for(restaurant, date(2026, 1, 1), None)  # type: ignore[arg-type]
    assert (period.first_day, period.last_day) == (date(2026, 1, 1), date(2026, 1, 30))
    with pytest.raises(ValidationFailed):
        insights.period_for(restaurant, date(2026, 1, 2), date(2026, 1, 1))  # type: ignore[arg-type]
    with pytest.raises(ValidationFailed):
        insights.period_for(restaurant, date(2024, 12, 31), date(2026, 1, 1))  # 367 days  # type: ignore[arg-type]

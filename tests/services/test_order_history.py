"""The order history (app/services/order_history.py): each filter, keyset pages with the same
filter's count, periods as whole days in the restaurant's time zone, KPIs without cancelled orders,
the late and awaiting-payment alerts, and refusals of bad input."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app.db.engine import Database
from app.errors import NotFound, ValidationFailed
from app.services import order_history, orders
from app.services.order_history import Filter
from app.services.periods import Period
from tests.order_support import History, history
from tests.support import Factory


@pytest.fixture
async def shop(db: Database, factory: Factory) -> History:
    return await history(db, factory)


async def _references(db: Database, shop: History, f: Filter) -> list[str]:
    """The references `f` lists, newest first."""
    async with db.session() as s:
        rows = await order_history.list_page(s, restaurant_id=shop.restaurant_id, filter=f)
        return [r.reference for r in rows]


async def test_each_filter_narrows_the_history(db: Database, shop: History) -> None:
    now = datetime.now(UTC)
    olaya, malqa = (b.id for b in shop.branches)
    await shop.order(
        at=now - timedelta(hours=5), name="Sara Al-Qahtani", phone="+966551234567", branch_id=olaya
    )
    await shop.order(
        at=now - timedelta(hours=4), name="Omar", status="DELIVERED", order_type="pickup", branch_id=malqa
    )
    await shop.order(at=now - timedelta(hours=3), name="Huda", status="CANCELLED", branch_id=olaya)
    await shop.order(at=now - timedelta(hours=2), name="omar b", payment_method="online", branch_id=malqa)

    assert await _references(db, shop, Filter()) == ["#1004", "#1003", "#1002", "#1001"]
    assert await _references(db, shop, Filter(statuses=("DELIVERED", "CANCELLED"))) == ["#1003", "#1002"]
    assert await _references(db, shop, Filter(branch_id=olaya)) == ["#1003", "#1001"]
    assert await _references(db, shop, Filter(order_type="pickup")) == ["#1002"]
    assert await _references(db, shop, Filter(search="#1003")) == ["#1003"]
    assert await _references(db, shop, Filter(search="1003")) == ["#1003"]
    assert await _references(db, shop, Filter(search="#Omar")) == []  # "#" names a reference only
    assert await _references(db, shop, Filter(search="OMAR")) == ["#1004", "#1002"]  # any case
    assert await _references(db, shop, Filter(search="sara al")) == ["#1001"]
    assert await _references(db, shop, Filter(search="0551234567")) == ["#1001"]  # local digits
    assert await _references(db, shop, Filter(search="+966 55 123")) == ["#1001"]
    assert await _references(db, shop, Filter(search="Sa%")) == []  # no wildcard
    assert await _references(db, shop, Filter(alert="AWAITING_PAYMENT")) == ["#1004"]
    assert await _references(db, shop, Filter(statuses=("CONFIRMED",), branch_id=malqa)) == ["#1004"]


async def test_pages_follow_the_keyset_and_the_count_is_the_filters(db: Database, shop: History) -> None:
    now = datetime.now(UTC)
    for hours in range(5, 0, -1):
        await shop.order(at=now - timedelta(hours=hours))
    await shop.order(at=now, status="CANCELLED")
    f = Filter(statuses=("CONFIRMED",))
    async with db.session() as s:
        first = await order_history.list_page(s, restaurant_id=shop.restaurant_id, filter=f, limit=3)
        after = (first[1].created_at, first[1].id)
        second = await order_history.list_page(
            s, restaurant_id=shop.restaurant_id, filter=f, limit=3, after=after
        )
        total = await order_history.count(s, restaurant_id=shop.restaurant_id, filter=f)
    assert [o.reference for o in first] == ["#1005", "#1004", "#1003"]
    assert [o.reference for o in second] == ["#1003", "#1002", "#1001"]
    assert total == 5


async def test_a_period_is_whole_days_in_the_restaurants_time_zone(db: Database, shop: History) -> None:
    await shop.set_timezone("Asia/Riyadh")  # UTC+3
    first_minute = await shop.order(at=datetime(2026, 11, 1, 0, 0, tzinfo=UTC) - timedelta(hours=3))
    before = await shop.order(at=datetime(2026, 10, 31, 23, 50, tzinfo=UTC) - timedelta(hours=3))
    last_evening = await shop.order(at=datetime(2026, 11, 30, 23, 30, tzinfo=UTC) - timedelta(hours=3))
    next_day = await shop.order(at=datetime(2026, 12, 1, 0, 10, tzinfo=UTC) - timedelta(hours=3))
    async with db.session() as s:
        november = await order_history.period(
            s, restaurant_id=shop.restaurant_id, first_day=date(2026, 11, 1), last_day=date(2026, 11, 30)
        )
    found = await _references(db, shop, Filter(period=november))
    assert found == [last_evening.reference, first_minute.reference]
    assert before.reference not in found and next_day.reference not in found


async def test_kpis_count_revenue_and_average_without_cancelled_orders(db: Database, shop: History) -> None:
    now = datetime.now(UTC)
    price = shop.item.price
    await shop.order(quantity=1)
    await shop.order(quantity=2, status="DELIVERED")
    await shop.order(quantity=4, status="CANCELLED")
    await shop.order(quantity=1, at=now - timedelta(days=40))  # outside the period
    async with db.session() as s:
        period = Period.ending_today(30, timezone="Asia/Riyadh")
        kpis = await order_history.kpis(s, restaurant_id=shop.restaurant_id, filter=Filter(period=period))
        none = await order_history.kpis(s, restaurant_id=shop.restaurant_id, filter=Filter(search="nobody"))
    assert (kpis.count, kpis.revenue, kpis.currency) == (2, 3 * price, "SAR")
    assert kpis.average_order_value == round(3 * price / 2)
    assert (none.count, none.revenue, none.average_order_value) == (0, 0, 0)


async def test_an_average_is_rounded_half_up(db: Database, shop: History) -> None:
    await shop.order(quantity=1)
    await shop.order(quantity=2)
    await shop.order(quantity=2)
    async with db.session() as s:
        kpis = await order_history.kpis(s, restaurant_id=shop.restaurant_id)
    assert shop.item.price == 2800 and kpis.average_order_value == 4667  # 14,000 / 3 = 4,666.67


async def test_late_by_the_preparation_time_and_awaiting_payment_until_paid(
    db: Database, shop: History
) -> None:
    now = datetime.now(UTC)
    fresh = await shop.order(at=now - timedelta(minutes=10))
    late = await shop.order(at=now - timedelta(minutes=40), status="PREPARING")
    await shop.order(at=now - timedelta(minutes=50), status="READY", order_type="pickup")  # past the kitchen
    online = await shop.order(at=now - timedelta(minutes=5), payment_method="online")
    assert await _references(db, shop, Filter(alert="LATE")) == [late.reference]
    assert order_history.alerts_of(
        status=late.status,
        payment_method=late.payment_method,
        paid_at=None,
        created_at=late.created_at,
        preparation_minutes=30,
        now=now,
    ) == ["LATE"]

    async with db.session() as s:  # a slower kitchen: nothing is late yet
        await order_history.set_preparation_minutes(s, restaurant_id=shop.restaurant_id, minutes=45)
        await s.commit()
    assert await _references(db, shop, Filter(alert="LATE")) == []
    async with db.session() as s:  # a faster one: the ten-minute-old order is late too
        await order_history.set_preparation_minutes(s, restaurant_id=shop.restaurant_id, minutes=8)
        await s.commit()
    assert await _references(db, shop, Filter(alert="LATE")) == [fresh.reference, late.reference]

    assert await _references(db, shop, Filter(alert="AWAITING_PAYMENT")) == [online.reference]
    async with db.session() as s:
        paid = await orders.mark_paid(s, restaurant_id=shop.restaurant_id, order_id=online.id)
        await s.commit()
    assert paid.paid_at is not None
    assert await _references(db, shop, Filter(alert="AWAITING_PAYMENT")) == []
    async with db.session() as s:  # marked again: the first time stays
        again = await orders.mark_paid(s, restaurant_id=shop.restaurant_id, order_id=online.id)
    assert again.paid_at == paid.paid_at


async def test_a_cancelled_order_or_another_restaurants_cannot_be_marked_paid(
    db: Database, factory: Factory, shop: History
) -> None:
    cancelled = await shop.order(status="CANCELLED", payment_method="online")
    other = await history(db, factory, "Other")
    theirs = await other.order(payment_method="online")
    async with db.session() as s:
        with pytest.raises(ValidationFailed):
            await orders.mark_paid(s, restaurant_id=shop.restaurant_id, order_id=cancelled.id)
        with pytest.raises(NotFound):
            await orders.mark_paid(s, restaurant_id=shop.restaurant_id, order_id=theirs.id)
    assert (
        await _references(db, shop, Filter(alert="AWAITING_PAYMENT")) == []
    )  # a cancelled one awaits nothing


async def test_a_conversations_orders_come_in_one_query_for_many(db: Database, shop: History) -> None:
    now = datetime.now(UTC)
    a1 = await shop.order(conversation_id="cnv_a", at=now - timedelta(hours=3))
    b1 = await shop.order(conversation_id="cnv_b", at=now - timedelta(hours=2))
    a2 = await shop.order(conversation_id="cnv_a", at=now - timedelta(hours=1))
    async with db.session() as s:
        found = await order_history.of_conversations(
            s, restaurant_id=shop.restaurant_id, conversation_ids=["cnv_a", "cnv_b", "cnv_none"], limit=5
        )
        counts = await order_history.count_of_conversations(
            s, restaurant_id=shop.restaurant_id, conversation_ids=["cnv_a", "cnv_b", "cnv_none"]
        )
        older = await order_history.of_conversations(
            s,
            restaurant_id=shop.restaurant_id,
            conversation_ids=["cnv_a"],
            limit=1,
            after=(a2.created_at, a2.id),
        )
    assert {c: [o.id for o in rows] for c, rows in found.items()} == {
        "cnv_a": [a2.id, a1.id],
        "cnv_b": [b1.id],
        "cnv_none": [],
    }
    assert counts == {"cnv_a": 2, "cnv_b": 1, "cnv_none": 0}
    assert [o.id for o in older["cnv_a"]] == [a1.id]


async def test_a_caller_narrowed_to_one_bot_sees_only_its_orders(
    db: Database, factory: Factory, shop: History
) -> None:
    second = await factory.bot(shop.handle.restaurant)
    await shop.order()
    theirs = await shop.order(bot=second)
    async with db.session() as s:
        rows = await order_history.list_page(s, restaurant_id=shop.restaurant_id, bot_id=second.bot.id)
        total = await order_history.count(s, restaurant_id=shop.restaurant_id, bot_id=second.bot.id)
        everything = await order_history.count(s, restaurant_id=shop.restaurant_id)
    assert [r.id for r in rows] == [theirs.id] and total == 1 and everything == 2


async def test_another_restaurant_sees_none_of_it(db: Database, factory: Factory, shop: History) -> None:
    await shop.order()
    other = await history(db, factory, "Other")
    async with db.session() as s:
        assert await order_history.list_page(s, restaurant_id=other.restaurant_id) == []
        assert (await order_history.kpis(s, restaurant_id=other.restaurant_id)).count == 0


@pytest.mark.parametrize(
    ("first_day", "last_day", "field"),
    [
        (date(2026, 11, 30), date(2026, 11, 1), "to"),  # reversed
        (date(2025, 1, 1), date(2026, 1, 2), "to"),  # 367 days
        (date(2026, 11, 1), None, "to"),  # one end only
        (None, date(2026, 11, 1), "from"),
    ],
)
async def test_a_bad_period_is_refused(
    db: Database, shop: History, first_day: date | None, last_day: date | None, field: str
) -> None:
    async with db.session() as s:
        with pytest.raises(ValidationFailed) as refused:
            await order_history.period(
                s, restaurant_id=shop.restaurant_id, first_day=first_day, last_day=last_day
            )
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("f", "field"),
    [
        (Filter(statuses=("LOST",)), "status"),
        (Filter(order_type="drone"), "orderType"),
        (Filter(alert="SOON"), "alert"),
        (Filter(search="x" * 201), "search"),
    ],
)
async def test_a_bad_filter_is_refused(db: Database, shop: History, f: Filter, field: str) -> None:
    async with db.session() as s:
        with pytest.raises(ValidationFailed) as refused:
            await order_history.list_page(s, restaurant_id=shop.restaurant_id, filter=f)
    assert refused.value.field == field


@pytest.mark.parametrize("minutes", [0, 1441, -5])
async def test_a_preparation_time_outside_a_day_is_refused(db: Database, shop: History, minutes: int) -> None:
    async with db.session() as s:
        with pytest.raises(ValidationFailed) as refused:
            await order_history.set_preparation_minutes(s, restaurant_id=shop.restaurant_id, minutes=minutes)
    assert refused.value.field == "preparationMinutes"

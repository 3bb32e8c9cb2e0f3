"""Ratings (app/services/ratings.py) of the seeded week (tests/reports.py): the distribution, shares
and timeline by the day a rating was given in the restaurant's time zone, and the reviews' filters
and pages; `orders.rate` stamps when."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.db.engine import Database
from app.errors import ValidationFailed
from app.models import Order
from app.services import orders, ratings
from app.services.periods import Period
from tests import reports
from tests.reports import WEEK
from tests.support import Factory


async def test_distribution_average_and_shares_of_the_week(db: Database, factory: Factory) -> None:
    shop = await reports.seeded(factory)
    async with db.session() as s:
        found = await ratings.summary(s, restaurant_id=shop.restaurant_id, period=WEEK)
    assert found.distribution == {1: 1, 2: 0, 3: 0, 4: 1, 5: 1}  # B (8 Nov) and D (31 Oct) are outside
    assert found.count == 3
    assert found.average == pytest.approx(10 / 3)
    assert (found.positive_share, found.negative_share) == (pytest.approx(2 / 3), pytest.approx(1 / 3))


async def test_the_timeline_has_every_day_by_the_local_day_of_the_rating(
    db: Database, factory: Factory
) -> None:
    shop = await reports.seeded(factory)
    async with db.session() as s:
        days = (await ratings.summary(s, restaurant_id=shop.restaurant_id, period=WEEK)).days
    assert [d.day for d in days] == WEEK.days()
    assert [(d.day.day, d.count, d.average) for d in days if d.count] == [
        (1, 1, 4.0),
        (3, 1, 1.0),
        (7, 1, 5.0),
    ]
    assert all(d.average is None for d in days if not d.count)


async def test_without_ratings_every_star_is_zero_and_shares_are_unknown(
    db: Database, factory: Factory
) -> None:
    shop = await reports.restaurant(factory)
    async with db.session() as s:
        found = await ratings.summary(s, restaurant_id=shop.restaurant_id, period=WEEK)
    assert found.distribution == dict.fromkeys(range(1, 6), 0)
    assert (found.count, found.average, found.positive_share, found.negative_share) == (0, None, None, None)


async def _reviews(db: Database, restaurant_id: str, **kw: object) -> ratings.ReviewPage:
    async with db.session() as s:
        return await ratings.reviews(s, restaurant_id=restaurant_id, period=WEEK, **kw)  # type: ignore[arg-type]


async def test_reviews_newest_first_filtered_by_stars_and_comments(db: Database, factory: Factory) -> None:
    shop = await reports.seeded(factory)
    key = {o.id: k for k, o in shop.orders.items()}
    page = await _reviews(db, shop.restaurant_id)
    assert ([key[r.id] for r in page.rows], page.total_count, page.has_next_page) == (
        ["A", "F", "C"],
        3,
        False,
    )
    page = await _reviews(db, shop.restaurant_id, with_comment_only=True)
    assert ([key[r.id] for r in page.rows], page.total_count) == (["A", "F"], 2)
    page = await _reviews(db, shop.restaurant_id, stars=[1, 2])
    assert ([(key[r.id], r.rating_comment) for r in page.rows], page.total_count) == ([("F", "Cold food")], 1)
    page = await _reviews(db, shop.restaurant_id, stars=[4, 5], with_comment_only=True)
    assert [key[r.id] for r in page.rows] == ["A"]


async def test_reviews_page_by_keyset(db: Database, factory: Factory) -> None:
    shop = await reports.seeded(factory)
    key = {o.id: k for k, o in shop.orders.items()}
    seen: list[str] = []
    after = None
    while True:
        page = await _reviews(db, shop.restaurant_id, limit=1, after=after)
        assert page.total_count == 3
        seen += [key[r.id] for r in page.rows]
        if not page.has_next_page:
            break
        last = page.rows[-1]
        assert last.rated_at is not None
        after = (last.rated_at, last.id)
    assert seen == ["A", "F", "C"]


@pytest.mark.parametrize("kw", [{"stars": [0]}, {"stars": [6]}, {"limit": 0}, {"limit": 201}])
async def test_bad_review_filters_are_refused(db: Database, factory: Factory, kw: dict[str, object]) -> None:
    shop = await reports.restaurant(factory)
    with pytest.raises(ValidationFailed):
        await _reviews(db, shop.restaurant_id, **kw)


async def test_another_restaurant_sees_no_ratings(db: Database, factory: Factory) -> None:
    await reports.seeded(factory)
    other = await reports.restaurant(factory, name="Other")
    async with db.session() as s:
        assert (await ratings.summary(s, restaurant_id=other.restaurant_id, period=WEEK)).count == 0
    assert (await _reviews(db, other.restaurant_id)).rows == []


async def test_rating_an_order_stamps_when_it_was_rated(db: Database, factory: Factory) -> None:
    shop = await reports.restaurant(factory)
    c = await shop.conversation([("customer", datetime.now(UTC))])
    order = await shop.order(c, datetime.now(UTC), [(reports.JUICE, 1)])
    async with db.session() as s:
        await orders.rate(s, restaurant_id=shop.restaurant_id, order_id=order.id, rating=4, comment="ok")
        await s.commit()
        rated_at = await s.scalar(
            select(Order.rated_at).where(Order.restaurant_id == shop.restaurant_id, Order.id == order.id)
        )
        assert rated_at is not None
        today = rated_at.astimezone(reports.RIYADH).date()
        found = await ratings.summary(
            s, restaurant_id=shop.restaurant_id, period=Period.of(today, today, timezone="Asia/Riyadh")
        )
    assert found.distribution[4] == 1

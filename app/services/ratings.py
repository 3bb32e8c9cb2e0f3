"""Ratings: what customers said of their orders, for a period (days in the restaurant's time zone).

A rating is an order's `rating` (1..5) and optional `rating_comment`, given in WhatsApp after the
order was delivered (`orders.rate`). A rating belongs to the day it was given (`rated_at`), not the
day the order was placed: "how did we do this week" reads what customers said this week. Every read
here runs on the rated orders' own index (`customer_order_rated`: restaurant, rated_at, id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.errors import ValidationFailed
from app.models import Order, table_of
from app.services import pages
from app.services.periods import Period

STARS = (1, 2, 3, 4, 5)
_RATED_AT = table_of(Order).c.rated_at  # a typed column, for the period's tests


@dataclass(frozen=True, slots=True)
class RatingDay:
    day: date  # the restaurant's local day
    count: int
    average: float | None  # None on a day without ratings


@dataclass(frozen=True, slots=True)
class Summary:
    count: int
    average: float | None  # None without ratings
    distribution: dict[int, int]  # every star 1..5, zeros included
    positive_share: float | None  # share of 4 and 5 stars (0..1), None without ratings
    negative_share: float | None  # share of 1 and 2 stars
    days: list[RatingDay]  # one per day of the period


@dataclass(frozen=True, slots=True)
class ReviewPage:
    rows: list[Order]
    has_next_page: bool
    total_count: int  # rows matching the filters, all pages


def _rated_in(restaurant_id: str, period: Period) -> list[ColumnElement[bool]]:
    return [
        col(Order.restaurant_id) == restaurant_id,
        col(Order.rating).is_not(None),
        period.contains(_RATED_AT),
    ]


async def average(session: AsyncSession, *, restaurant_id: str, period: Period) -> float | None:
    """The average rating given in `period` (None without ratings)."""
    value = await session.scalar(select(func.avg(col(Order.rating))).where(*_rated_in(restaurant_id, period)))
    return float(value) if value is not None else None


async def summary(session: AsyncSession, *, restaurant_id: str, period: Period) -> Summary:
    """Distribution, average, shares and the daily timeline of the ratings given in `period`."""
    day = period.local_day(_RATED_AT).label("day")
    stmt = (
        select(day, col(Order.rating), func.count())
        .where(*_rated_in(restaurant_id, period))
        .group_by(day, col(Order.rating))
    )
    distribution = dict.fromkeys(STARS, 0)
    per_day: dict[date, list[int]] = {}  # day -> [count, sum of stars]
    for local_day, rating, n in (await session.execute(stmt)).all():
        stars = int(rating or 0)  # never None: the rated orders only
        distribution[stars] += n
        counts = per_day.setdefault(local_day, [0, 0])
        counts[0] += n
        counts[1] += n * stars
    total = sum(distribution.values())

    def share(*stars: int) -> float | None:
        return sum(distribution[s] for s in stars) / total if total else None

    return Summary(
        count=total,
        average=sum(s * n for s, n in distribution.items()) / total if total else None,
        distribution=distribution,
        positive_share=share(4, 5),
        negative_share=share(1, 2),
        days=[
            RatingDay(d, per_day[d][0], per_day[d][1] / per_day[d][0])
            if d in per_day
            else RatingDay(d, 0, None)
            for d in period.days()
        ],
    )


def _check_stars(stars: Sequence[int]) -> None:
    for value in stars:
        if value not in STARS:
            raise ValidationFailed("ratings must be from 1 to 5", field="ratings")


def _review_filters(
    restaurant_id: str, period: Period, stars: Sequence[int] | None, with_comment_only: bool
) -> list[ColumnElement[bool]]:
    where = _rated_in(restaurant_id, period)
    if stars:
        where.append(col(Order.rating).in_(sorted(set(stars))))
    if with_comment_only:
        where.append(
            and_(col(Order.rating_comment).is_not(None), func.btrim(col(Order.rating_comment)) != "")
        )
    return where


async def reviews(
    session: AsyncSession,
    *,
    restaurant_id: str,
    period: Period,
    stars: Sequence[int] | None = None,
    with_comment_only: bool = False,
    limit: int = 20,
    after: tuple[datetime, str] | None = None,
) -> ReviewPage:
    """The rated orders of `period`, newest rating first (keyset pagination on (rated_at, id)):
    only those with the given stars (any when None or empty) and, with `with_comment_only`, only
    those whose comment isn't blank."""
    pages.page_size(limit, field="first")
    _check_stars(stars or ())
    where = _review_filters(restaurant_id, period, stars, with_comment_only)
    stmt = select(Order).where(*where)
    if after is not None:
        stmt = stmt.where(tuple_(col(Order.rated_at), col(Order.id)) < tuple_(*after))
    stmt = stmt.order_by(col(Order.rated_at).desc(), col(Order.id).desc()).limit(limit + 1)
    rows = list((await session.execute(stmt)).scalars())
    total = await session.scalar(select(func.count()).select_from(Order).where(*where))
    return ReviewPage(rows=rows[:limit], has_next_page=len(rows) > limit, total_count=int(total or 0))

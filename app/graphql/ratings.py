"""GraphQL of the ratings (app/services/ratings.py): a period's distribution, shares and timeline,
and its reviews, a connection the owner filters and pages through."""

from __future__ import annotations

from datetime import date, datetime

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import SufrahError
from app.graphql import cursors
from app.graphql.context import OperationContext, graphql_error
from app.graphql.cost import bounded
from app.graphql.types import PageInfo
from app.models import Order
from app.services import ratings as rating_service
from app.services.periods import MAX_DAYS, Period


@strawberry.type
class RatingCount:
    rating: int
    count: int


@strawberry.type(description="One day of the period (the restaurant's time zone): ratings given that day.")
class RatingDay:
    day: date
    count: int
    average: float | None


@strawberry.type(description="A rated order: what the customer said of it.")
class Review:
    order_id: strawberry.ID
    order_reference: str = strawberry.field(description="The order's number as customers see it, e.g. #1042.")
    customer_name: str | None
    customer_phone: str
    rating: int
    comment: str | None
    rated_at: datetime
    ordered_at: datetime


@strawberry.type
class ReviewEdge:
    cursor: str
    node: Review


@strawberry.type
class ReviewConnection:
    edges: list[ReviewEdge]
    page_info: PageInfo
    total_count: int = strawberry.field(description="Reviews matching the filters, all pages.")

    @strawberry.field
    def nodes(self) -> list[Review]:
        return [edge.node for edge in self.edges]


def review(row: Order) -> Review:
    assert row.rating is not None and row.rated_at is not None  # ratings.reviews lists rated orders
    return Review(
        order_id=strawberry.ID(row.id),
        order_reference=row.reference,
        customer_name=row.customer_name,
        customer_phone=row.customer_phone,
        rating=row.rating,
        comment=row.rating_comment,
        rated_at=row.rated_at,
        ordered_at=row.created_at,
    )


def review_connection(page: rating_service.ReviewPage, *, after: str | None) -> ReviewConnection:
    edges = [
        ReviewEdge(cursor=cursors.encode(r.rated_at, r.id), node=review(r)) for r in page.rows if r.rated_at
    ]
    return ReviewConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=page.total_count,
    )


@strawberry.type(
    description="The ratings customers gave in the period (whole days in the restaurant's time zone)."
)
class Ratings:
    from_: date = strawberry.field(name="from")
    to: date
    timezone: str
    count: int
    average: float | None
    distribution: list[RatingCount] = strawberry.field(
        description="Counts for 1 to 5 stars, all five listed.", metadata=bounded(len(rating_service.STARS))
    )
    positive_share: float | None = strawberry.field(description="Share (0..1) of 4 and 5 stars.")
    negative_share: float | None = strawberry.field(description="Share (0..1) of 1 and 2 stars.")
    days: list[RatingDay] = strawberry.field(
        description="One entry per day of the period, zeros included.", metadata=bounded(MAX_DAYS)
    )
    period: strawberry.Private[Period]
    restaurant_id: strawberry.Private[str]

    @strawberry.field(
        description=(
            "The period's rated orders, newest rating first (keyset pagination): only those given `ratings` "
            "(any when omitted) and, with withCommentOnly, only those with a comment."
        )
    )
    async def reviews(
        self,
        info: strawberry.Info[OperationContext],
        first: int = 20,
        after: str | None = None,
        ratings: list[int] | None = None,
        with_comment_only: bool = False,
    ) -> ReviewConnection:
        stars = ratings

        async def load(s: AsyncSession) -> ReviewConnection:
            position = cursors.decode(after, field="after") if after else None
            page = await rating_service.reviews(
                s,
                restaurant_id=self.restaurant_id,
                period=self.period,
                stars=stars,
                with_comment_only=with_comment_only,
                limit=first,
                after=position,
            )
            return review_connection(page, after=after)

        try:
            return await info.context.run(load)
        except SufrahError as exc:
            raise graphql_error(exc) from None


def summary(row: rating_service.Summary, *, restaurant_id: str, period: Period) -> Ratings:
    return Ratings(
        from_=period.first_day,
        to=period.last_day,
        timezone=period.timezone,
        count=row.count,
        average=row.average,
        distribution=[RatingCount(rating=s, count=n) for s, n in sorted(row.distribution.items())],
        positive_share=row.positive_share,
        negative_share=row.negative_share,
        days=[RatingDay(day=d.day, count=d.count, average=d.average) for d in row.days],
        period=period,
        restaurant_id=restaurant_id,
    )

"""A seeded restaurant for the overview and ratings tests (services, GraphQL, browser): orders around
the edges of a week in Asia/Riyadh, a cancelled one, staff replies for the median and the SLA, and
ratings given in and around the week. Each figure the tests expect is worked out beside its rows."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update

from app.db.engine import Database
from app.models import Conversation, Message, Order, OrderLine, Restaurant
from app.services.periods import Period
from tests.support import BotHandle, Factory

RIYADH = ZoneInfo("Asia/Riyadh")
FIRST, LAST = date(2026, 11, 1), date(2026, 11, 7)
WEEK = Period.of(FIRST, LAST, timezone="Asia/Riyadh")
SHAWARMA = ("itm_shawarma", "شاورما", "Shawarma", 1500)
JUICE = ("itm_juice", "عصير", "Juice", 1000)


def riyadh(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=RIYADH)


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@dataclass
class Seeder:
    db: Database
    handle: BotHandle
    numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    orders: dict[str, Order] = field(default_factory=dict)

    @property
    def restaurant_id(self) -> str:
        return self.handle.restaurant.id

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{self.restaurant_id[-6:]}{next(self.ids)}"

    async def conversation(
        self,
        messages: list[tuple[str, datetime]],
        *,
        bot_on: bool = True,
        name: str | None = "Sara",
        staff_requested_at: datetime | None = None,
    ) -> Conversation:
        """A conversation with `messages` as (author, time): author customer (IN), bot or staff (OUT)."""
        last = max((at for _a, at in messages), default=datetime.now(UTC))
        inbound = [at for author, at in messages if author == "customer"]
        row = Conversation(
            restaurant_id=self.restaurant_id,
            id=self._id("cnv"),
            bot_id=self.handle.bot.id,
            customer_phone=f"+9665{next(self.ids):08d}",
            customer_name=name,
            is_bot_active=bot_on,
            last_message_at=max(last, staff_requested_at or last),
            last_inbound_at=max(inbound) if inbound else None,
            staff_requested_at=staff_requested_at,
        )
        async with self.db.session() as s:
            s.add(row)
            await s.flush()
            for author, at in messages:
                s.add(
                    Message(
                        restaurant_id=self.restaurant_id,
                        id=self._id("msg"),
                        conversation_id=row.id,
                        direction="IN" if author == "customer" else "OUT",
                        author=author,
                        content=f"{author} at {at.isoformat()}",
                        created_at=at,
                        send_state=None if author == "customer" else "sent",
                    )
                )
            await s.commit()
        return row

    async def order(
        self,
        conversation: Conversation,
        placed_at: datetime,
        lines: list[tuple[tuple[str, str, str, int], int]],
        *,
        status: str = "DELIVERED",
        rating: int | None = None,
        comment: str | None = None,
        rated_at: datetime | None = None,
        key: str | None = None,
    ) -> Order:
        total = sum(item[3] * quantity for item, quantity in lines)
        row = Order(
            restaurant_id=self.restaurant_id,
            id=self._id("ord"),
            number=next(self.numbers),
            conversation_id=conversation.id,
            bot_id=conversation.bot_id,
            customer_phone=conversation.customer_phone,
            customer_name=conversation.customer_name,
            order_type="pickup",
            payment_method="cash",
            subtotal=total,
            total=total,
            currency=self.handle.restaurant.currency,
            status=status,
            rating=rating,
            rating_comment=comment,
            rated_at=rated_at,
            created_at=placed_at,
        )
        async with self.db.session() as s:
            s.add(row)
            await s.flush()
            for n, ((item_id, name_ar, name_en, price), quantity) in enumerate(lines, start=1):
                s.add(
                    OrderLine(
                        restaurant_id=self.restaurant_id,
                        order_id=row.id,
                        line_no=n,
                        item_id=item_id,
                        name_ar=name_ar,
                        name_en=name_en,
                        unit_price=price,
                        quantity=quantity,
                    )
                )
            await s.commit()
        self.orders[key or row.id] = row
        return row


async def restaurant(
    factory: Factory, *, timezone: str = "Asia/Riyadh", name: str = "Sufrah Grill"
) -> Seeder:
    handle = await factory.bot(await factory.restaurant(name))
    async with factory.db.session() as s:
        await s.execute(
            update(Restaurant).where(Restaurant.id == handle.restaurant.id).values(timezone=timezone)
        )
        await s.commit()
    return Seeder(factory.db, handle)


async def seeded(factory: Factory) -> Seeder:
    """The week of 1–7 November 2026 in Asia/Riyadh (UTC+3), with, in the week: counted orders A (the
    last day, 23:30), C (the first day, 00:00) and F (3 Nov); around it: B (8 Nov 00:10, open), D (31 Oct
    23:59), and E cancelled in the week. Expected figures:
    - orders 3, revenue 5000 + 3000 + 2001 = 10001, average 3334; per day 1 Nov 3000, 3 Nov 2001, 7 Nov 5000;
    - open orders: A (CONFIRMED) and B (PREPARING) = 2;
    - top items: Shawarma 4 (A 2, C 2; E's 10 are cancelled) 6000, Juice 3 (A 2, F 1 at 2001) 4001;
    - staff answered after 300 s, 1800 s and 1200 s in the week (median 1200; two over 15 minutes),
      one wait since 5 Nov 08:00 is still unanswered (a breach of the week and now), two waits began
      just now (5 minutes: no breach; 1 hour: a breach now, not of the week): breaches 3, now 2;
    - ratings in the week: A 5 "Great", F 1 "Cold food", C 4 (no comment); B 2 (blank comment) on 8 Nov
      and D 3 on 31 Oct are outside; the week before has D's 3.
    """
    shop = await restaurant(factory)
    now = datetime.now(UTC)
    c1 = await shop.conversation(
        [
            ("customer", utc(2, 10)),
            ("staff", utc(2, 10, 5)),  # 300 s
            ("customer", utc(2, 11)),
            ("customer", utc(2, 11, 1)),
            ("staff", utc(2, 11, 30)),  # 1800 s: late
            ("customer", utc(9, 10)),
            ("staff", utc(9, 11)),  # after the week
        ],
        bot_on=False,
        name="Sara",
    )
    await shop.conversation([("customer", utc(4, 9)), ("staff", utc(4, 9, 20))], name="Omar")  # 1200 s: late
    await shop.conversation(  # waiting since 5 Nov 08:00 (the bot's 07:00 reply answered the 06:00 message)
        [("customer", utc(5, 6)), ("bot", utc(5, 7)), ("customer", utc(5, 8)), ("customer", utc(5, 9))],
        bot_on=False,
        name="Huda",
    )
    for minutes in (5, 60):  # asked for staff just now; the bot's "someone will answer" isn't an answer
        asked = now - timedelta(minutes=minutes)
        await shop.conversation(
            [("customer", asked - timedelta(seconds=2)), ("bot", asked - timedelta(seconds=1))],
            bot_on=False,
            staff_requested_at=asked,
            name=f"Waiting {minutes}",
        )
    await shop.order(
        c1,
        riyadh(7, 23, 30),
        [(SHAWARMA, 2), (JUICE, 2)],
        status="CONFIRMED",
        rating=5,
        comment="Great",
        rated_at=riyadh(7, 23, 30),
        key="A",
    )
    await shop.order(
        c1,
        riyadh(8, 0, 10),
        [(SHAWARMA, 6)],
        status="PREPARING",
        rating=2,
        comment="  ",
        rated_at=riyadh(8, 0, 10),
        key="B",
    )
    await shop.order(c1, riyadh(1, 0, 0), [(SHAWARMA, 2)], rating=4, rated_at=riyadh(1, 8), key="C")
    await shop.order(
        c1,
        riyadh(31, 23, 59, month=10),
        [(JUICE, 1)],
        rating=3,
        rated_at=riyadh(31, 23, 59, month=10),
        key="D",
    )
    await shop.order(c1, riyadh(3, 12), [(SHAWARMA, 10)], status="CANCELLED", key="E")
    await shop.order(
        c1,
        riyadh(3, 12),
        [(("itm_juice", "عصير", "Juice", 2001), 1)],
        rating=1,
        comment="Cold food",
        rated_at=riyadh(3, 13),
        key="F",
    )
    return shop

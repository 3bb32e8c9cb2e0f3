"""Orders placed at a chosen time, status, branch and payment, for the order history's tests: each is
created by the service (`orders.create`, the bot's checkout) and then moved as a test needs."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import update

from app.db.engine import Database
from app.models import Branch, Conversation, MenuItem, Order, Restaurant
from app.services import catalog, orders
from tests.support import BotHandle, Factory

_phones = itertools.count(1)


@dataclass
class History:
    """A restaurant with its demo menu, to place orders in."""

    db: Database
    handle: BotHandle
    item: MenuItem
    branches: list[Branch]

    @property
    def restaurant_id(self) -> str:
        return self.handle.restaurant.id

    async def order(
        self,
        *,
        at: datetime | None = None,
        status: str = "CONFIRMED",
        name: str | None = "Sara",
        phone: str | None = None,
        order_type: str = "delivery",
        branch_id: str | None = None,
        payment_method: str = "cash",
        quantity: int = 1,
        conversation_id: str | None = None,
        bot: BotHandle | None = None,
    ) -> Order:
        """An order of `quantity` Shish Tawook (28.00 SAR), placed at `at` (default now)."""
        bot = bot or self.handle
        phone = phone or f"+9665{next(_phones):08d}"
        conversation_id = conversation_id or f"cnv_{phone.lstrip('+')}"
        async with self.db.session() as s:
            conversation = await s.get(Conversation, (self.restaurant_id, conversation_id))
            if conversation is None:
                conversation = Conversation(
                    restaurant_id=self.restaurant_id,
                    id=conversation_id,
                    bot_id=bot.bot.id,
                    customer_phone=phone,
                    customer_name=name,
                    last_message_at=datetime.now(UTC),
                    last_inbound_at=datetime.now(UTC),
                )
                s.add(conversation)
                await s.flush()
            order = await orders.create(
                s,
                restaurant_id=self.restaurant_id,
                conversation=conversation,
                order_type=order_type,
                branch_id=branch_id,
                lines=[
                    orders.NewLine(
                        self.item.id, self.item.name_ar, self.item.name_en, self.item.price, quantity
                    )
                ],
                currency="SAR",
                payment_method=payment_method,
                delivery_address="Olaya St" if order_type == "delivery" else None,
                delivery_latitude=None,
                delivery_longitude=None,
                lang="en",
            )
            moved = await s.execute(
                update(Order)
                .where(Order.restaurant_id == self.restaurant_id, Order.id == order.id)
                .values(status=status, created_at=at or datetime.now(UTC))
                .returning(Order)
            )
            row = moved.scalar_one()
            await s.commit()
            return row

    async def set_timezone(self, timezone: str) -> None:
        async with self.db.session() as s:
            await s.execute(
                update(Restaurant).where(Restaurant.id == self.restaurant_id).values(timezone=timezone)
            )
            await s.commit()


async def history(db: Database, factory: Factory, name: str = "Sufrah Grill") -> History:
    """A new restaurant with a bot and the demo menu."""
    handle = await factory.bot(await factory.restaurant(name))
    async with db.session() as s:
        await catalog.load_demo_menu(s, restaurant_id=handle.restaurant.id)
        await s.commit()
    return await history_of(db, handle)


async def history_of(db: Database, handle: BotHandle) -> History:
    """The restaurant of `handle`, whose demo menu is loaded."""
    async with db.session() as s:
        menu = await catalog.menu(s, restaurant_id=handle.restaurant.id)
    return History(
        db=db,
        handle=handle,
        item=next(i for i in menu.items if i.id == "demo-shish"),
        branches=list(menu.branches),
    )

"""Playing a customer against the real bot: signed webhooks in, the runner and the outbox, and the
fake Twilio receiving what the customer would read on their phone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx

from app.auth.crypto import SecretBox
from app.bot.runner import BotRunner
from app.channels.twilio.sender import TwilioSender
from app.db.engine import Database
from app.services import catalog, interactive
from app.workers.outbox import Outbox
from tests.fakes.twilio_api import FakeTwilio
from tests.support import PUBLIC_BASE_URL, BotHandle, Factory, inbound_params, post_signed


@dataclass
class Shop:
    bot: BotHandle
    token: str
    fake: FakeTwilio
    runner: BotRunner
    outbox: Outbox
    db: Database

    @property
    def restaurant_id(self) -> str:
        return self.bot.restaurant.id


async def open_shop(
    factory: Factory, db: Database, fake: FakeTwilio, *, payment_link: str | None = None, **bot_fields: Any
) -> Shop:
    bot = await factory.bot(payment_link=payment_link, **bot_fields)
    async with db.session() as s:
        await catalog.load_demo_menu(s, restaurant_id=bot.restaurant.id)
        await s.commit()
    fake.add_account(bot.bot.account_sid, bot.auth_token)
    sender = TwilioSender(base_url=fake.base_url, timeout=2.0)
    outbox = Outbox(
        db,
        sender=sender,
        box=SecretBox(factory.settings.effective_secret_key),
        public_base_url=PUBLIC_BASE_URL,
        base_delay=0.01,
        grace=timedelta(seconds=0.5),
    )
    return Shop(
        bot=bot,
        token=await factory.token(bot.restaurant.id),
        fake=fake,
        runner=BotRunner(db),
        outbox=outbox,
        db=db,
    )


@dataclass
class Customer:
    client: httpx.AsyncClient
    shop: Shop
    phone: str = "+966501234567"
    seen: int = 0
    sids: list[str] = field(default_factory=list)

    async def say(self, text: str = "", **params: str) -> str:
        """Send one WhatsApp message; return what the bot answered (all its messages, joined)."""
        sent = inbound_params(self.shop.bot, customer=self.phone, body=text, **params)
        self.sids.append(sent["MessageSid"])
        response = await post_signed(self.client, "/whatsapp/webhook", sent, self.shop.bot.auth_token)
        assert response.status_code == 200, response.text
        return await self.replies()

    async def replies(self) -> str:
        await self.shop.runner.run_pending()
        await self.shop.outbox.send_due()
        mine = [m for m in self.shop.fake.sent if m["To"] == f"whatsapp:{self.phone}"]
        new, self.seen = mine[self.seen :], len(mine)
        return "\n---\n".join(self.shop.fake.shown(m) for m in new)


def templated(shop: Shop) -> list[dict[str, Any]]:
    """The template sends on the wire (the bot's own buttons and lists are contents too)."""
    return [
        m
        for m in shop.fake.sent
        if m.get("ContentSid")
        and not shop.fake.contents[m["ContentSid"]]["friendly_name"].startswith(interactive.NAME_PREFIX)
    ]

"""Usage (app/services/usage.py): WhatsApp 24-hour sessions recorded with the messages that open them
(the webhook's ingest statement and outbound.queue), counted per restaurant month in its time zone,
held against plan + adjustments, and the near-limit and limit notifications raised once a month."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
from sqlalchemy import select, text

from app.db.engine import Database
from app.models import Conversation, ConversationSession, Notification, UsageMonth
from app.services import outbound, usage
from tests.support import BotHandle, Factory, inbound_params, post_signed


async def say(
    client: httpx.AsyncClient, bot: BotHandle, body: str = "hi", customer: str = "+966501234567"
) -> None:
    response = await post_signed(
        client, "/whatsapp/webhook", inbound_params(bot, customer=customer, body=body), bot.auth_token
    )
    assert response.status_code == 200, response.text


async def sessions_of(db: Database, restaurant_id: str) -> list[ConversationSession]:
    async with db.session() as s:
        stmt = (
            select(ConversationSession)
            .where(ConversationSession.restaurant_id == restaurant_id)
            .order_by(ConversationSession.started_at, ConversationSession.id)
        )
        return list((await s.execute(stmt)).scalars())


async def age_current_session(db: Database, restaurant_id: str, interval: timedelta) -> None:
    """Move the conversations' current sessions `interval` into the past (as if time went by)."""
    async with db.session() as s:
        await s.execute(
            text(
                "UPDATE conversation SET session_started_at = session_started_at - CAST(:i AS interval),"
                " last_message_at = last_message_at - CAST(:i AS interval) WHERE restaurant_id = :r"
            ),
            {"i": interval, "r": restaurant_id},
        )
        await s.execute(
            text(
                "UPDATE conversation_session SET started_at = started_at - CAST(:i AS interval) WHERE restaurant_id = :r"
            ),
            {"i": interval, "r": restaurant_id},
        )
        await s.commit()


async def month_count(db: Database, restaurant_id: str) -> int:
    async with db.session() as s:
        return (await usage.get(s, restaurant_id=restaurant_id)).sessions


async def put_on_plan(db: Database, restaurant_id: str, monthly_sessions: int, **settings: object) -> None:
    async with db.session() as s:
        plan = await usage.create_plan(s, name=f"Plan {restaurant_id}", monthly_sessions=monthly_sessions)
        await usage.assign_plan(s, restaurant_id=restaurant_id, plan_id=plan.id)
        if settings:
            await usage.update_settings(s, restaurant_id=restaurant_id, **settings)  # type: ignore[arg-type]
        await s.commit()


async def test_the_first_message_opens_a_session_and_the_window_is_24_hours_from_it(
    client: httpx.AsyncClient, db: Database, factory: Factory
) -> None:
    bot = await factory.bot()
    r = bot.restaurant.id
    await say(client, bot, "hi")
    [first] = await sessions_of(db, r)
    assert (first.direction, first.ordinal, first.over_allowance) == ("IN", 1, False)
    assert await month_count(db, r) == 1

    await age_current_session(db, r, timedelta(hours=23, minutes=59))
    await say(client, bot, "still there?")  # 23h59m after the opening message: the same session
    assert len(await sessions_of(db, r)) == 1

    await age_current_session(db, r, timedelta(minutes=1, seconds=1))  # now 24h + 1s after it
    await say(client, bot, "hello again")
    sessions = await sessions_of(db, r)
    assert len(sessions) == 2 and sessions[1].ordinal == 2
    assert await month_count(db, r) == 2
    async with db.session() as s:
        conversation = (await s.execute(select(Conversation))).scalar_one()
        opening = sessions[1].message_id
        assert conversation.session_started_at == sessions[1].started_at
    assert opening != sessions[0].message_id


async def test_a_redelivered_message_opens_nothing_and_each_customer_has_their_own_session(
    client: httpx.AsyncClient, db: Database, factory: Factory
) -> None:
    bot = await factory.bot()
    params = inbound_params(bot, body="hi")
    for _ in range(2):
        await post_signed(client, "/whatsapp/webhook", params, bot.auth_token)
    await say(client, bot, "hi", customer="+966509999999")
    assert len(await sessions_of(db, bot.restaurant.id)) == 2
    assert await month_count(db, bot.restaurant.id) == 2


async def test_an_outbound_message_after_the_window_opens_a_session(
    client: httpx.AsyncClient, db: Database, factory: Factory
) -> None:
    bot = await factory.bot()
    r = bot.restaurant.id
    await say(client, bot)
    async with db.session() as s:
        conversation = (await s.execute(select(Conversation))).scalar_one()
        await outbound.queue(
            s, restaurant_id=r, conversation_id=conversation.id, body="a reply", author="staff"
        )
        await s.commit()
    assert len(await sessions_of(db, r)) == 1  # inside the session: nothing new

    await age_current_session(db, r, timedelta(hours=25))
    async with db.session() as s:
        # outside the customer window too: the bot's text goes anyway (enforce_window=False)
        await outbound.queue(
            s,
            restaurant_id=r,
            conversation_id=conversation.id,
            body="we miss you",
            author="bot",
            enforce_window=False,
        )
        await outbound.queue(
            s,
            restaurant_id=r,
            conversation_id=conversation.id,
            body="and a second",
            author="bot",
            enforce_window=False,
        )
        await s.commit()
    sessions = await sessions_of(db, r)
    assert [x.direction for x in sessions] == ["IN", "OUT"]  # the second message is in the new session


async def test_the_month_is_the_restaurants_own_in_its_time_zone(
    client: httpx.AsyncClient, db: Database, factory: Factory
) -> None:
    riyadh = await factory.bot()  # Asia/Riyadh, UTC+3
    utc = await factory.bot(await factory.restaurant("Night Owl"))
    async with db.session() as s:
        await s.execute(
            text("UPDATE restaurant SET timezone = 'UTC' WHERE id = :r"), {"r": utc.restaurant.id}
        )
        await s.commit()
    for bot in (riyadh, utc):
        await say(client, bot)
    instant = datetime(
        2026, 11, 30, 22, 30, tzinfo=UTC
    )  # 1:30 on 1 December in Riyadh, still November in UTC

    async def counts() -> dict[tuple[str, date], int]:
        async with db.session() as s:
            return {
                (u.restaurant_id, u.month): u.sessions
                for u in (await s.execute(select(UsageMonth))).scalars()
            }

    before = await counts()
    async with db.session() as s:  # the sessions opened again, at that instant (the function's seam)
        for bot in (riyadh, utc):
            [session] = await sessions_of(db, bot.restaurant.id)
            await s.execute(
                text("DELETE FROM conversation_session WHERE restaurant_id = :r"), {"r": bot.restaurant.id}
            )
            await s.execute(
                text("SELECT sufrah_open_session(:r, :c, :b, :m, 'IN', CAST(:at AS timestamptz))"),
                {
                    "r": bot.restaurant.id,
                    "c": session.conversation_id,
                    "b": bot.bot.id,
                    "m": session.message_id,
                    "at": instant,
                },
            )
        await s.commit()
    after = await counts()
    grown = {key: n - before.get(key, 0) for key, n in after.items() if n != before.get(key, 0)}
    assert grown == {(riyadh.restaurant.id, date(2026, 12, 1)): 1, (utc.restaurant.id, date(2026, 11, 1)): 1}
    async with db.session() as s:
        december = dict(
            await usage.daily(
                s, restaurant_id=riyadh.restaurant.id, month=date(2026, 12, 1), timezone="Asia/Riyadh"
            )
        )
        november = dict(
            await usage.daily(s, restaurant_id=utc.restaurant.id, month=date(2026, 11, 1), timezone="UTC")
        )
    assert (len(december), december[date(2026, 12, 1)], sum(december.values())) == (31, 1, 1)
    assert (len(november), november[date(2026, 11, 30)], sum(november.values())) == (30, 1, 1)


async def test_remaining_is_the_plan_plus_adjustments_minus_sessions(
    client: httpx.AsyncClient, db: Database, factory: Factory
) -> None:
    bot = await factory.bot()
    r = bot.restaurant.id
    async with db.session() as s:
        found = await usage.get(s, restaurant_id=r)
        assert (found.allowance, found.remaining, found.percent, found.over_limit) == (
            None,
            None,
            None,
            False,
        )
    await put_on_plan(db, r, 10)
    for customer in ("+966500000001", "+966500000002", "+966500000003"):
        await say(client, bot, customer=customer)
    async with db.session() as s:
        month = (await usage.get(s, restaurant_id=r)).month
        await usage.adjust(
            s, restaurant_id=r, month=month, sessions=5, reason="launch bonus", created_by="tok_admin"
        )
        await usage.adjust(
            s, restaurant_id=r, month=month, sessions=-3, reason="correction", created_by="tok_admin"
        )
        await s.commit()
        found = await usage.get(s, restaurant_id=r)
    assert (found.sessions, found.adjusted_by, found.allowance, found.remaining) == (3, 2, 12, 9)
    assert found.percent == 25.0 and not found.near_limit and not found.over_limit
    assert [a.reason for a in found.adjustments] == ["launch bonus", "correction"]


async def test_staff_are_told_near_the_limit_and_at_it_once_a_month(
    client: httpx.AsyncClient, db: Database, factory: Factory
) -> None:
    bot = await factory.bot()
    r = bot.restaurant.id
    await put_on_plan(db, r, 4, near_limit_percent=50)
    for n in range(6):  # sessions 1..6 of an allowance of 4
        await say(client, bot, customer=f"+96650000010{n}")
    async with db.session() as s:
        rows = list(
            (
                await s.execute(
                    select(Notification)
                    .where(
                        Notification.restaurant_id == r,
                        Notification.kind.in_(["usage_near_limit", "usage_limit_reached"]),
                    )  # type: ignore[attr-defined]
                    .order_by(Notification.created_at)
                )
            ).scalars()
        )
        found = await usage.get(s, restaurant_id=r)
    assert [n.kind for n in rows] == ["usage_near_limit", "usage_limit_reached"]
    assert rows[0].meta["sessions"] == 2 and rows[1].meta["sessions"] == 4
    assert rows[1].body.startswith("4 of 4 sessions used in ")
    assert (found.sessions, found.remaining, found.over_limit, found.near_limit) == (6, 0, True, True)
    assert [x.over_allowance for x in await sessions_of(db, r)] == [False] * 4 + [True] * 2


async def test_settings_are_checked(db: Database, factory: Factory) -> None:
    restaurant = await factory.restaurant()
    async with db.session() as s:
        for bad in ({"limit_action": "STOP"}, {"near_limit_percent": 0}, {"near_limit_percent": 101}):
            try:
                await usage.update_settings(s, restaurant_id=restaurant.id, **bad)  # type: ignore[arg-type]
            except Exception as exc:  # noqa: BLE001
                assert type(exc).__name__ == "ValidationFailed"
            else:
                raise AssertionError(f"{bad} was accepted")
        changed = await usage.update_settings(
            s, restaurant_id=restaurant.id, limit_action="PAUSE_BOT_EXTRAS", near_limit_percent=90
        )
    assert (changed.usage_limit_action, changed.usage_near_limit_percent) == ("PAUSE_BOT_EXTRAS", 90)


async def test_a_reply_from_a_transaction_that_read_the_conversation_earlier_opens_no_second_session(
    client: httpx.AsyncClient, db: Database, factory: Factory
) -> None:
    bot = await factory.bot()
    r = bot.restaurant.id
    await say(client, bot)
    await age_current_session(db, r, timedelta(hours=30))
    async with db.session() as s:
        conversation = (await s.execute(select(Conversation))).scalar_one()  # read: its session is old
        await say(client, bot, "back again")  # meanwhile the customer's message opens a new one
        await outbound.queue(
            s, restaurant_id=r, conversation_id=conversation.id, body="welcome back", author="staff"
        )
        await s.commit()
    assert [x.direction for x in await sessions_of(db, r)] == ["IN", "IN"]

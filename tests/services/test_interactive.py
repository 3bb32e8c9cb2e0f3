"""How the bot's choices are drawn for WhatsApp (pure), and the content cache under concurrent senders."""

from __future__ import annotations

import asyncio

import pytest

from app.bot import flow
from app.channels.twilio.content import TwilioContent
from app.channels.twilio.sender import TwilioSender
from app.services import interactive
from tests.fakes.twilio_api import FakeTwilio


def described(n: int, *, page: int = 0, description: str | None = None) -> dict:
    reply = flow.Reply(
        "numbered",
        choices=tuple(flow.Choice(f"c{i}", f"Choice {i}", description) for i in range(1, n + 1)),
        body="Pick one",
        page=page,
    )
    result = interactive.describe(reply, lang="en")
    assert result is not None
    return result


def test_up_to_three_plain_choices_are_buttons_more_or_described_ones_a_list():
    assert list(interactive.content_types(described(3))) == ["twilio/quick-reply"]
    assert list(interactive.content_types(described(4))) == ["twilio/list-picker", "twilio/text"]
    assert "twilio/list-picker" in interactive.content_types(described(2, description="12.00 SAR"))
    picker = interactive.content_types(described(10))["twilio/list-picker"]
    assert len(picker["items"]) == 10 and picker["button"] == "Choose"


def test_a_long_list_pages_nine_rows_and_a_more_row_wrapping_around():
    pages = [
        interactive.content_types(described(20, page=p))["twilio/list-picker"]["items"] for p in range(4)
    ]
    assert [i["id"] for i in pages[0]] == [*(f"c{i}" for i in range(1, 10)), flow.MORE]
    assert pages[0][-1]["description"] == "1/3"
    assert [i["id"] for i in pages[2]] == ["c19", "c20", flow.MORE]
    assert pages[3] == pages[0]
    text = interactive.content_types(described(20, page=1))["twilio/text"]["body"]
    assert "10. Choice 10" in text and "18. Choice 18" in text  # numbers as the flow reads them


def test_titles_are_shortened_to_whatsapps_limits_at_a_word():
    assert interactive.fit("Pick up from a branch instead", 20) == "Pick up from a…"
    assert interactive.fit("Supercalifragilisticexpialidocious", 20) == "Supercalifragilistic"[:19] + "…"
    assert interactive.fit("  short  ", 20) == "short"
    reply = flow.Reply("x", choices=(flow.Choice("a", "A very long branch name indeed", "x" * 100),) * 4)
    rows = interactive.content_types(interactive.describe(reply, lang="en") or {})["twilio/list-picker"][
        "items"
    ]
    assert all(len(r["item"]) <= 24 and len(r["description"]) <= 72 for r in rows)


def test_a_reply_with_a_photo_or_without_choices_is_plain():
    assert interactive.describe(flow.Reply("hi"), lang="en") is None
    photo = flow.Reply("x", choices=(flow.Choice("1", "1"),), media_url="https://cdn.example/a.jpg")
    assert interactive.describe(photo, lang="en") is None


@pytest.fixture
async def fake():
    async with FakeTwilio() as f:
        yield f


async def test_concurrent_senders_of_one_content_create_it_once(factory, db, fake: FakeTwilio):
    handle = await factory.bot()
    fake.add_account(handle.bot.account_sid, handle.auth_token)
    fake.delay = 0.05
    sender = TwilioSender(base_url=fake.base_url, timeout=2.0)
    try:
        api = TwilioContent(sender)

        async def resolve() -> str:
            return await interactive.content_sid(
                db,
                api,
                restaurant_id=handle.restaurant.id,
                account_sid=handle.bot.account_sid,
                auth_token=handle.auth_token,
                interactive=described(5),
            )

        sids = await asyncio.gather(*(resolve() for _ in range(5)))
        assert len(set(sids)) == 1 and fake.content_creates == 1
        # another restaurant on the same account has its own (tenant-owned) copy
        other = await factory.restaurant()
        other_sid = await interactive.content_sid(
            db,
            api,
            restaurant_id=other.id,
            account_sid=handle.bot.account_sid,
            auth_token=handle.auth_token,
            interactive=described(5),
        )
        assert other_sid != sids[0] and fake.content_creates == 2
    finally:
        await sender.aclose()

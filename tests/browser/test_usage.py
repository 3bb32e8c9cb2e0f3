"""The Usage page in a real browser: this month's sessions against the allowance (a bar with its
text), what remains, the days, live as customers write, the limit setting saved, other months, and
the page usable by keyboard, screen reader and on a phone."""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.models import Restaurant
from app.services import usage
from tests.browser.conftest import Customer, accessibility_problems, open_shop
from tests.browser.test_inbox import sign_in

pytestmark = [pytest.mark.slow, pytest.mark.browser]


async def test_staff_follow_their_sessions_live_and_choose_what_happens_at_the_limit(
    new_page, server, factory, db, fake
):
    from playwright.async_api import expect

    shop = await open_shop(factory, db, fake)
    async with db.session() as s:
        plan = await usage.create_plan(s, name="Starter", monthly_sessions=2)
        await usage.assign_plan(s, restaurant_id=shop.restaurant_id, plan_id=plan.id)
        await usage.update_settings(s, restaurant_id=shop.restaurant_id, near_limit_percent=50)
        await s.commit()

    page = await new_page()
    await sign_in(page, server, shop.token)
    await page.get_by_role("navigation", name="Pages").get_by_role("button", name="Usage").click()
    root = page.locator("#page-root")
    figure = root.locator("#usage-figure")
    await expect(figure).to_have_text("0 of 2 sessions used (0%)")
    await expect(root.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "0")
    await expect(root.locator(".usage-remaining")).to_have_text("2 remaining")
    await expect(root).to_contain_text("Plan: Starter (2 a month)")
    await expect(root.get_by_role("alert")).to_have_count(0)
    today = datetime.now(ZoneInfo("Asia/Riyadh")).date().isoformat()
    assert await page.locator("#usage-month").input_value() == today[:7]

    # A customer writes: a session opens, and the page follows (live, no reload).
    await Customer(shop, fake, "+966501110041", "Huda").say_and_wait("hi", via=server)
    await expect(figure).to_have_text("1 of 2 sessions used (50%)", timeout=10_000)
    await expect(root.get_by_role("alert")).to_contain_text("reached 50% of the allowance")
    await expect(root.locator(f'tr[data-date="{today}"] td.number')).to_have_text("1")

    assert await accessibility_problems(page) == []

    # The limit setting: pause the bot's extras, warn from 90%.
    await root.get_by_label("Pause the bot in new conversations").check()
    await root.get_by_label("Warn me from (% of the allowance)").fill("90")
    await root.get_by_role("button", name="Save").click()
    await expect(root.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    async with db.session() as s:
        saved = (await s.execute(select(Restaurant).where(Restaurant.id == shop.restaurant_id))).scalar_one()
    assert (saved.usage_limit_action, saved.usage_near_limit_percent) == ("PAUSE_BOT_EXTRAS", 90)
    await expect(root.get_by_role("alert")).to_have_count(0)  # 50% is under the new threshold

    # Another month: the previous one, empty.
    await root.get_by_role("button", name="Previous month").click()
    await expect(figure).to_have_text("0 of 2 sessions used (0%)")
    previous = await page.locator("#usage-month").input_value()
    assert previous < today[:7]

    # On a phone: nothing wider than the screen.
    await page.set_viewport_size({"width": 390, "height": 800})
    await asyncio.sleep(0.1)
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

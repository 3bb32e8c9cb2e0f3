"""The Settings page in a real browser: staff switch the restaurant busy or closed and the inbox header
shows it live, edit the profile (a bad phone is pointed at), the weekly hours (an overlap is refused)
and the holidays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.models import OpeningException, OpeningHours, Restaurant
from tests.browser.conftest import PHONE, accessibility_problems, open_shop
from tests.browser.test_inbox import sign_in

pytestmark = [pytest.mark.slow, pytest.mark.browser]


async def test_staff_run_the_settings_and_the_header_follows_live(new_page, server, factory, db, fake):
    from playwright.async_api import expect

    shop = await open_shop(factory, db, fake)
    page = await new_page()
    await sign_in(page, server, shop.token)
    header = page.locator("#restaurant-open")
    await expect(header).to_have_text("Open")
    await page.locator("#pages-nav").get_by_role("button", name="Settings").click()
    await expect(page.locator("#settings-now")).to_have_text("Open now.")

    # The busy/closed switch: the header follows through the live event.
    await page.get_by_role("radio", name="Closed").check()
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(header).to_have_text("Closed")
    await expect(header).to_have_attribute("data-state", "closed")
    await expect(page.locator("#settings-now")).to_contain_text("Closed now")
    await page.get_by_role("radio", name="Busy").check()
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(header).to_have_text("Busy")
    await page.get_by_role("radio", name="Open").check()
    await page.get_by_label("Take orders while closed").check()
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(header).to_have_text("Open")

    # The profile: a bad phone is named and marked, a good one saved.
    phone = page.locator("#profile-phone")
    await phone.fill("0501")
    await page.get_by_role("button", name="Save profile").click()
    await expect(page.get_by_text("phone must be an E.164 number")).to_be_visible()
    await expect(phone).to_have_attribute("aria-invalid", "true")
    await phone.fill("+966 50 123 4567")
    await page.locator("#profile-logoUrl").fill("https://cdn.example/logo.png")
    await page.get_by_role("button", name="Save profile").click()
    await expect(phone).not_to_have_attribute("aria-invalid", "true")

    # The week: Monday 09:00–17:00 saved; a second, overlapping Monday interval refused.
    await page.get_by_role("button", name="Add hours on Monday").click()
    await page.get_by_role("button", name="Save hours").click()
    await expect(
        page.locator(".settings-section", has_text="Opening hours").get_by_text("Saved.")
    ).to_be_visible()
    await page.get_by_role("button", name="Add hours on Monday").click()
    await page.get_by_role("button", name="Save hours").click()
    await expect(page.get_by_text("Monday 09:00–17:00 overlaps Monday 09:00–17:00")).to_be_visible()
    await page.get_by_role("button", name="Remove Monday hours 2").click()

    # A holiday: closed all day, with its note.
    day = (datetime.now(UTC).astimezone(ZoneInfo("Asia/Riyadh")).date() + timedelta(days=3)).isoformat()
    await page.locator("#exception-date").fill(day)
    await page.locator("#exception-note").fill("Eid")
    await page.get_by_role("button", name="Add date").click()
    await expect(page.locator(".exceptions")).to_contain_text(f"{day}: closed all day (Eid)")

    assert await accessibility_problems(page) == []
    async with db.session() as s:
        restaurant = await s.get(Restaurant, shop.restaurant_id)
        assert restaurant is not None
        assert (restaurant.phone, restaurant.logo_url, restaurant.ordering_state) == (
            "+966501234567",
            "https://cdn.example/logo.png",
            "OPEN",
        )
        assert restaurant.accepts_orders_when_closed is True
        week = list((await s.execute(select(OpeningHours))).scalars())
        assert [(h.weekday, f"{h.opens:%H:%M}", f"{h.closes:%H:%M}") for h in week] == [(0, "09:00", "17:00")]
        [holiday] = (await s.execute(select(OpeningException))).scalars()
        assert (holiday.day.isoformat(), holiday.opens, holiday.note) == (day, None, "Eid")

    # On a phone the page fits the width.
    phone_page = await new_page(PHONE)
    await sign_in(phone_page, server, shop.token)
    await phone_page.locator("#pages-nav").get_by_role("button", name="Settings").click()
    await expect(phone_page.get_by_role("heading", name="Opening hours")).to_be_visible()
    overflow = await phone_page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0

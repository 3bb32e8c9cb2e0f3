"""The Overview and Ratings pages in a browser: the seeded week (tests/reports.py) as an owner opens
it, a period picked by dates, the SLA target changed, the reviews filtered and paged."""

from __future__ import annotations

import re

import pytest

from tests import reports
from tests.browser.conftest import accessibility_problems
from tests.browser.test_inbox import sign_in
from tests.reports import riyadh

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def _week(page) -> None:
    group = page.get_by_role("group", name="Period")
    await group.get_by_role("button", name="Custom dates").click()
    await group.get_by_label("From").fill("2026-11-01")
    await group.get_by_label("To").fill("2026-11-07")
    await group.get_by_role("button", name="Show").click()


def _tile(page, label: str):
    exactly = re.compile(f"^{re.escape(label)}$")
    return page.locator(".kpi").filter(has=page.locator("dt", has_text=exactly)).locator(".kpi-value")


async def test_the_overview_of_a_week_and_its_sla_target(new_page, server, factory, db):
    from playwright.async_api import expect

    shop = await reports.seeded(factory)
    page = await new_page()
    await sign_in(page, server, await factory.token(shop.restaurant_id))
    await page.get_by_role("navigation", name="Pages").get_by_role("button", name="Overview").click()
    await expect(page.locator(".bars li")).to_have_count(30)  # the last 30 days by default
    await expect(_tile(page, "Open orders")).to_have_text("2")

    await _week(page)
    await expect(page.get_by_role("heading", name="From 2026-11-01 to 2026-11-07")).to_be_visible(
        timeout=15_000
    )
    await expect(page.locator(".bars li")).to_have_count(7)
    await expect(_tile(page, "Orders")).to_have_text("3")
    await expect(_tile(page, "Revenue")).to_contain_text("100.01")
    await expect(_tile(page, "Average order")).to_contain_text("33.34")
    await expect(_tile(page, "Median first response")).to_have_text("20 min 0 s")
    await expect(_tile(page, "SLA breaches")).to_have_text("3")
    await expect(_tile(page, "Waiting too long")).to_have_text("2")
    rows = page.get_by_role("table", name="Top items").locator("tbody tr")
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_contain_text("Shawarma")
    await expect(rows.first.locator("td").first).to_have_text("4")
    # The chart's numbers as text: one row per day, zeros included.
    await page.get_by_text("Numbers per day").click()
    days = page.locator(".chart table tbody tr")
    await expect(days).to_have_count(7)
    await expect(days.nth(1).locator("td").first).to_have_text("0")
    assert await accessibility_problems(page) == []

    await page.get_by_label("Answer customers within (minutes)").fill("1440")
    await page.get_by_role("button", name="Save").click()
    await expect(_tile(page, "SLA breaches")).to_have_text("1")
    await expect(_tile(page, "Orders")).to_have_text("3")  # the same week, read again


async def test_ratings_of_a_week_with_filtered_reviews_and_more(new_page, server, factory, db):
    from playwright.async_api import expect

    shop = await reports.seeded(factory)
    conversation = await shop.conversation([("customer", riyadh(2, 9))], name="Many")
    for n in range(21):  # 24 reviews in the week: a second page
        await shop.order(
            conversation, riyadh(2, 10), [(reports.JUICE, 1)], rating=4, rated_at=riyadh(2, 10, n)
        )
    page = await new_page()
    await sign_in(page, server, await factory.token(shop.restaurant_id))
    await page.get_by_role("navigation", name="Pages").get_by_role("button", name="Ratings").click()
    await _week(page)
    await expect(page.get_by_role("heading", name="From 2026-11-01 to 2026-11-07")).to_be_visible(
        timeout=15_000
    )
    await expect(_tile(page, "Ratings")).to_have_text("24")
    await expect(_tile(page, "1–2 stars")).to_have_text("4%")  # 1 of 24
    await expect(page.locator(".distribution li").first).to_contain_text("5 stars")
    await expect(page.locator(".distribution li").first).to_contain_text("1 (4%)")
    reviews = page.locator(".reviews .review")
    await expect(reviews).to_have_count(20)
    await expect(page.get_by_role("status").filter(has_text="24 reviews")).to_be_visible()
    await page.get_by_role("button", name="Load more").click()
    await expect(reviews).to_have_count(24)
    await expect(page.get_by_role("button", name="Load more")).to_be_hidden()
    assert await accessibility_problems(page) == []

    await page.get_by_label("Only with comments").check()
    await expect(reviews).to_have_count(2)
    await page.get_by_label("1 star", exact=True).check()
    await expect(reviews).to_have_count(1)
    await expect(reviews.first).to_contain_text("Cold food")
    await expect(reviews.first).to_contain_text("#1006")

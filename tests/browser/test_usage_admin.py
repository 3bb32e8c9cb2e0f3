"""The Usage page for an admin, in a real browser: every restaurant's month, fullest first, with who
is near the limit; putting a restaurant on a plan, adding sessions to its month, a new plan; and a
restaurant's own token never sees any of it."""

from __future__ import annotations

import asyncio

import pytest

from app.services import usage
from tests.browser.conftest import PHONE, Customer, accessibility_problems, open_shop
from tests.browser.test_inbox import sign_in

pytestmark = [pytest.mark.slow, pytest.mark.browser]


async def test_an_admin_sees_everyone_fullest_first_and_changes_plans_and_allowances(
    new_page, server, factory, db, fake
):
    from playwright.async_api import expect

    grill = await open_shop(factory, db, fake, name="Sufrah Grill")
    bakery = await open_shop(factory, db, fake, name="Manqoosh Bakery")
    async with db.session() as s:
        starter = await usage.create_plan(s, name="Starter", monthly_sessions=2)
        for shop in (grill, bakery):
            await usage.assign_plan(s, restaurant_id=shop.restaurant_id, plan_id=starter.id)
        await usage.update_settings(s, restaurant_id=grill.restaurant_id, near_limit_percent=50)
        await s.commit()
    await Customer(grill, fake, "+966501110051", "Huda").say_and_wait("hi", via=server)
    admin = await factory.token(admin=True)

    page = await new_page()
    await page.goto(server.url + "/inbox/")
    await page.get_by_label("Access token").fill(admin)
    await page.keyboard.press("Enter")
    await page.get_by_label("Choose a restaurant").select_option(label="Manqoosh Bakery")
    await page.get_by_role("button", name="Open inbox").click()
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    await page.get_by_role("navigation", name="Pages").get_by_role("button", name="Usage").click()
    root = page.locator("#page-root")
    await expect(root.locator("#usage-figure")).to_have_text("0 of 2 sessions used (0%)")  # the bakery's own

    everyone = root.get_by_role("region", name="All restaurants", exact=True)
    rows = everyone.locator("tbody tr")
    await expect(rows.locator("th")).to_have_text(["Sufrah Grill", "Manqoosh Bakery"])  # fullest first
    grill_row, bakery_row = rows.nth(0), rows.nth(1)
    await expect(grill_row.locator(".usage-admin-used")).to_have_text("1 / 2")
    await expect(grill_row.locator(".usage-admin-percent")).to_have_text("50%")
    await expect(grill_row).to_contain_text("Near the limit")
    await expect(bakery_row).not_to_contain_text("Near the limit")
    await expect(root.get_by_role("status").filter(has_text="2 restaurants")).to_be_visible()

    # Near the limit only: the grill alone.
    await root.get_by_label("Near the limit only").check()
    await expect(rows.locator("th")).to_have_text(["Sufrah Grill"])
    await root.get_by_label("Near the limit only").uncheck()
    await expect(rows).to_have_count(2)
    assert await accessibility_problems(page) == []

    # A new plan, then the bakery on it: its row and its own figures follow.
    await root.get_by_label("Plan name").fill("Large")
    await root.get_by_label("Sessions a month").fill("100")
    await root.get_by_label("Price a month (SAR)").fill("99.50")
    await root.get_by_role("button", name="Create plan").click()
    await expect(root.locator(".usage-plan-list")).to_contain_text("Large · 100 sessions a month")
    await bakery_row.get_by_role("button", name="Manage Manqoosh Bakery").click()
    await root.get_by_label("Plan for Manqoosh Bakery").select_option(label="Large (100 a month)")
    await root.get_by_role("button", name="Assign plan").click()
    await expect(
        root.get_by_role("status").filter(has_text="Manqoosh Bakery is now on Large.")
    ).to_be_visible()
    await expect(
        root.locator(f'tr[data-restaurant="{bakery.restaurant_id}"] .usage-admin-used')
    ).to_have_text("0 / 100")
    await expect(root.locator("#usage-figure")).to_have_text("0 of 100 sessions used (0%)")

    # Sessions added to the grill's month, with a reason: no longer near its limit.
    grill_row = root.locator(f'tr[data-restaurant="{grill.restaurant_id}"]')
    await grill_row.get_by_role("button", name="Manage Sufrah Grill").click()
    await root.get_by_label("Sessions to add in").fill("2")
    await root.get_by_label("Reason").fill("opening week")
    await root.get_by_role("button", name="Add sessions").click()
    await expect(
        root.get_by_role("status").filter(has_text="Added 2 sessions to Sufrah Grill")
    ).to_be_visible()
    await expect(grill_row.locator(".usage-admin-used")).to_have_text("1 / 4")
    await expect(grill_row.locator(".usage-admin-percent")).to_have_text("25%")
    await expect(grill_row).not_to_contain_text("Near the limit")
    async with db.session() as s:
        found = await usage.get(s, restaurant_id=grill.restaurant_id)
    assert (found.allowance, [a.reason for a in found.adjustments]) == (4, ["opening week"])
    assert await accessibility_problems(page) == []  # with a restaurant's forms and the plans open

    # A refusal is shown as it is.
    await root.get_by_label("Sessions to add in").fill("0")
    await root.get_by_label("Reason").fill("nothing")
    await root.get_by_role("button", name="Add sessions").click()
    await expect(root.get_by_role("alert").filter(has_text="whole number")).to_be_visible()

    # On a phone: nothing wider than the screen.
    await page.set_viewport_size(PHONE)
    await asyncio.sleep(0.1)
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


async def test_a_restaurant_token_sees_no_admin_section(new_page, server, factory, db, fake):
    from playwright.async_api import expect

    shop = await open_shop(factory, db, fake)
    await open_shop(factory, db, fake, name="Manqoosh Bakery")
    page = await new_page()
    await sign_in(page, server, shop.token)
    await page.get_by_role("navigation", name="Pages").get_by_role("button", name="Usage").click()
    root = page.locator("#page-root")
    await expect(root.locator(".usage-figure")).to_have_text("0 sessions")
    await asyncio.sleep(0.5)  # the viewer query has answered
    await expect(root.get_by_role("heading", name="All restaurants")).to_have_count(0)
    await expect(root.get_by_text("Manqoosh Bakery")).to_have_count(0)
    await expect(root.get_by_role("alert")).to_have_count(0)


async def test_an_admin_pages_through_more_than_fifty_restaurants(new_page, server, factory, db, fake):
    from playwright.async_api import expect

    shop = await open_shop(factory, db, fake, name="Aaa Grill")
    for n in range(50):
        await factory.restaurant(f"Kitchen {n:02d}")
    admin = await factory.token(admin=True)
    page = await new_page()
    await page.goto(server.url + "/inbox/")
    await page.get_by_label("Access token").fill(admin)
    await page.keyboard.press("Enter")
    await page.get_by_label("Choose a restaurant").select_option(shop.restaurant_id)
    await page.get_by_role("button", name="Open inbox").click()
    await page.get_by_role("navigation", name="Pages").get_by_role("button", name="Usage").click()
    root = page.locator("#page-root")
    rows = root.locator(".usage-admin tbody tr")
    await expect(root.get_by_role("status").filter(has_text="51 restaurants")).to_be_visible()
    await expect(rows).to_have_count(50)
    await expect(root.locator(".usage-admin-pager")).to_contain_text("1–50 of 51")
    await expect(root.get_by_role("button", name="Previous", exact=True)).to_be_disabled()
    await root.get_by_role("button", name="Next", exact=True).click()
    await expect(rows).to_have_count(1)
    await expect(root.locator(".usage-admin-pager")).to_contain_text("51–51 of 51")
    await root.get_by_role("button", name="Previous", exact=True).click()
    await expect(rows).to_have_count(50)

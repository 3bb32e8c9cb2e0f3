"""The inbox's bell in a real browser: a new order rings it live (sound, browser notification, the
list with its unread count), and the order card names its branch."""

from __future__ import annotations

import asyncio

import pytest

from tests.browser.conftest import Customer, open_shop
from tests.browser.test_inbox import sign_in

pytestmark = [pytest.mark.slow, pytest.mark.browser]


async def test_a_new_order_rings_the_bell_live(new_page, server, factory, db, fake):
    from playwright.async_api import expect

    shop = await open_shop(factory, db, fake)
    page = await new_page()
    await page.context.grant_permissions(["notifications"], origin=server.url)
    await sign_in(page, server, shop.token)  # the click also lets the page play sound
    bell = page.locator("#bell")
    await expect(page.locator("#bell-count")).to_be_hidden()
    # The bell's first read lists what was there before the page, silently: the test's customer
    # writes after it, as a customer writing to a page already open does.
    # (Polled from here: the page's CSP refuses the string evaluation wait_for_function needs.)
    for _ in range(200):
        if await page.evaluate("window.sufrahInbox.notificationsLoaded"):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the bell's first read never came")

    layla = Customer(shop, fake, "+966501110001", "Layla")
    assert "#1001" in await layla.order_shawarma(via=server)
    # Her first message and her order: two notifications, live.
    await expect(page.locator("#bell-count")).to_have_text("2")
    await expect(bell).to_have_attribute("aria-label", "Notifications, 2 unread")
    alerts = await page.evaluate("window.sufrahInbox.alerts")
    assert alerts["sounds"] >= 2, alerts
    assert alerts["shown"] >= 2, alerts  # the browser's notifications (permission granted)

    # The order card names its branch (the first one: Olaya).
    order = page.locator("#orders li.order")
    await expect(order.locator(".branch")).to_contain_text("Olaya branch")

    await bell.click()
    panel = page.locator("#notifications-panel")
    await expect(panel).to_be_visible()
    items = panel.locator("li.notification")
    await expect(items).to_have_count(2)
    await expect(items.first).to_contain_text("New order #1001")
    await expect(items.nth(1)).to_contain_text("New conversation")
    # Opening one marks it read and opens its conversation.
    await items.first.get_by_role("button").click()
    await expect(page.locator("#chat-title")).to_have_text("Layla")
    await expect(page.locator("#bell-count")).to_have_text("1")
    await bell.click()
    await page.get_by_role("button", name="Mark all read").click()
    await expect(page.locator("#bell-count")).to_be_hidden()

    # A reload reads the same list from the server: nothing unread.
    await page.reload()
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    await expect(page.locator("#bell-count")).to_be_hidden()
    await page.locator("#bell").click()
    await expect(page.locator("#notifications-panel li.notification")).to_have_count(2)

"""The owner's pages beside the inbox: a tab each in the header, shown in place of the inbox, kept in
the address (a reload or a shared link opens the same page), while the inbox stays live behind them."""

from __future__ import annotations

import pytest

from tests.browser.conftest import Customer, open_shop
from tests.browser.test_inbox import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def test_each_page_has_a_tab_and_the_inbox_keeps_listening_behind_it(
    new_page, server, factory, db, fake
):
    from playwright.async_api import expect

    shop = await open_shop(factory, db, fake)
    page = await new_page()
    await sign_in(page, server, shop.token)
    nav = page.get_by_role("navigation", name="Pages")
    titles = await nav.get_by_role("button").all_inner_texts()
    assert titles == ["Inbox", "Overview", "Orders", "Ratings", "Usage", "Settings"]
    await expect(nav.get_by_role("button", name="Inbox")).to_have_attribute("aria-current", "page")

    for title in titles[1:]:
        await nav.get_by_role("button", name=title).click()
        await expect(page.get_by_role("heading", name=title, level=2)).to_be_focused()
        await expect(page.locator("#app")).to_be_hidden()
        await expect(nav.get_by_role("button", name=title)).to_have_attribute("aria-current", "page")
        assert f"page={title.lower()}" in page.url

    # A reload opens the page the address names.
    await page.reload()
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    await expect(page.get_by_role("heading", name="Settings", level=2)).to_be_visible()

    # A customer writes while a page is shown: back in the inbox, the conversation is there.
    await Customer(shop, fake, "+966501110031", "Noura").say_and_wait("Hello", via=server)
    await nav.get_by_role("button", name="Inbox").click()
    await expect(page.locator("#page")).to_be_hidden()
    await expect(page.locator("#conversations .name").get_by_text("Noura")).to_be_visible()
    assert "page=" not in page.url

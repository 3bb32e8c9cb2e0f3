"""The Orders page (app/inbox/static/pages/orders.js): the history of the period with its totals,
alert badges and "Mark paid", finished orders with their rating and comment, filters, "Load more"
by cursor, an order's conversation, and a new order arriving live."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.services import orders
from tests.browser.conftest import PHONE, Customer, accessibility_problems, open_shop
from tests.browser.test_inbox import sign_in
from tests.order_support import history_of

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FILLERS = 48


async def test_the_owner_reads_filters_and_acts_on_the_order_history(new_page, server, factory, db, fake):
    from playwright.async_api import expect

    shop = await open_shop(factory, db, fake)
    orders_of = await history_of(db, shop.bot)
    now = datetime.now(UTC)
    for i in range(FILLERS):
        await orders_of.order(at=now - timedelta(days=2, minutes=i), name="Regular", status="DELIVERED")
    delivered = await orders_of.order(
        at=now - timedelta(hours=3), name="Fahad", status="DELIVERED", quantity=2
    )
    await orders_of.order(at=now - timedelta(hours=2), name="Huda", status="CANCELLED")
    late = await orders_of.order(at=now - timedelta(minutes=45), name="Noura", status="PREPARING")
    online = await orders_of.order(at=now - timedelta(minutes=5), name="Omar", payment_method="online")
    await orders_of.order(at=now - timedelta(days=40), name="Long ago")  # before the default period
    async with db.session() as s:
        await orders.rate(
            s, restaurant_id=shop.restaurant_id, order_id=delivered.id, rating=4, comment="Great kunafa"
        )
        await s.commit()

    page = await new_page()
    await sign_in(page, server, shop.token)
    # The inbox's open orders lead to the history, where finished orders stay.
    await page.get_by_role("button", name="Finished orders and ratings").click()
    await expect(page.get_by_role("heading", name="Orders", level=2)).to_be_focused()
    history = page.get_by_role("list", name="Orders")

    def order(reference: str):
        return page.get_by_role("article", name=f"Order {reference}")

    # The last 30 days: 52 orders, 51 counted (the cancelled one isn't), 50 shown.
    await expect(page.get_by_role("status").filter(has_text="orders shown")).to_have_text(
        "50 of 52 orders shown"
    )
    kpis = page.locator(".oh-kpis")
    await expect(
        kpis.locator(".oh-kpi").filter(has_text="Orders (not cancelled)").locator("dd")
    ).to_have_text("51")
    price = orders_of.item.price
    revenue = (FILLERS + 2 + 1 + 1) * price
    await expect(kpis.locator(".oh-kpi").filter(has_text="Revenue").locator("dd")).to_contain_text(
        f"{revenue / 100:,.2f}"
    )
    await expect(order(late.reference).locator(".oh-alert")).to_have_text(["Late"])
    await expect(order(online.reference).locator(".oh-alert")).to_have_text(["Awaiting payment"])
    await expect(order(delivered.reference).get_by_label("Rated 4 of 5")).to_be_visible()
    await expect(order(delivered.reference).locator("q")).to_have_text("Great kunafa")
    assert await accessibility_problems(page) == []

    # Mark paid: the badge goes, the payment's time shows.
    await order(online.reference).get_by_role("button", name=f"Mark {online.reference} paid").click()
    await expect(order(online.reference).locator(".oh-alert")).to_have_count(0)
    await expect(order(online.reference).locator(".oh-paid")).to_contain_text("Paid")

    # Load more: the two oldest of the period, by cursor.
    await page.get_by_role("button", name="Load more").click()
    await expect(history.get_by_role("listitem")).to_have_count(52)
    await expect(page.get_by_role("button", name="Load more")).to_be_hidden()

    # Filters: a search by name, then a status.
    await page.get_by_label("Search orders").fill("noura")
    await page.get_by_role("button", name="Show orders").click()
    await expect(history.get_by_role("listitem")).to_have_count(1)
    await expect(order(late.reference)).to_be_visible()
    await page.get_by_label("Search orders").fill("")
    await page.get_by_role("checkbox", name="Cancelled").check()
    await expect(history.get_by_role("listitem")).to_have_count(1)
    await expect(page.get_by_role("status").filter(has_text="orders shown")).to_have_text(
        "1 of 1 orders shown"
    )
    await page.get_by_role("checkbox", name="Cancelled").uncheck()
    await page.get_by_label("Needs a look").select_option(label="Late")
    await expect(history.get_by_role("listitem")).to_have_count(1)
    await page.get_by_label("Needs a look").select_option(label="Every order")
    await expect(history.get_by_role("listitem")).to_have_count(50)

    # A new order arrives while the page is open: it is listed at the top.
    await Customer(shop, fake, "+966501110044", "Salem").order_shawarma(via=server)
    await expect(history.get_by_role("listitem").first.locator(".oh-customer")).to_contain_text("Salem")

    # An order's conversation opens in the inbox.
    await order(late.reference).get_by_role("link", name="Open conversation").click()
    await expect(page.locator("#page")).to_be_hidden()
    assert f"conversation={late.conversation_id}" in page.url


async def test_the_preparation_time_is_set_on_the_page_and_fits_a_phone(new_page, server, factory, db, fake):
    from playwright.async_api import expect

    shop = await open_shop(factory, db, fake)
    orders_of = await history_of(db, shop.bot)
    waiting = await orders_of.order(at=datetime.now(UTC) - timedelta(minutes=20), name="Noura")
    page = await new_page(PHONE)
    await sign_in(page, server, shop.token)
    await page.get_by_role("navigation", name="Pages").get_by_role("button", name="Orders").click()
    article = page.get_by_role("article", name=f"Order {waiting.reference}")
    await expect(article).to_be_visible()
    await expect(article.locator(".oh-alert")).to_have_count(0)  # 20 minutes: not late at 30

    minutes = page.get_by_label("Late after (minutes)")
    await expect(minutes).to_have_value("30")
    await minutes.fill("15")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status").filter(has_text="minutes are late")).to_be_visible()
    await expect(article.locator(".oh-alert")).to_have_text(["Late"])
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width

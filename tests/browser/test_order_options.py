"""The dashboard's order card shows each line's chosen options under its name (#16)."""

from __future__ import annotations

import pytest

from app.services import catalog
from tests.bot.test_options_e2e import menu_with_options
from tests.browser.conftest import Customer, open_shop
from tests.browser.test_inbox import conversation, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.browser]


async def test_the_order_card_shows_the_lines_options(new_page, server, factory, db, fake):
    from playwright.async_api import expect

    shop = await open_shop(factory, db, fake)
    async with db.session() as s:
        await catalog.load_menu(s, restaurant_id=shop.restaurant_id, data=menu_with_options())
        await s.commit()
    rana = Customer(shop, fake, "+966501110077", "Rana")
    # pickup at Olaya; Sandwiches, Chicken Shawarma; Large; Garlic then done; 1; checkout; confirm
    for text in ["hi", "1", "2", "1", "2", "1", "2", "1", "done", "1", "3", "1"]:
        await rana.say_and_wait(text, via=server)

    page = await new_page()
    await sign_in(page, server, shop.token)
    await conversation(page, "Rana").click()
    line = page.locator("#orders li.order .lines li")
    await expect(line).to_have_count(1)
    await expect(line.locator(".item")).to_contain_text("Chicken Shawarma")
    await expect(line.locator(".options")).to_have_text("Large, Garlic")
    await expect(line.locator(".amount")).to_contain_text("18.00")

"""The operator inbox in a real browser: what staff see and do, live, across a server restart."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from app.models import Conversation, Message
from app.services import restaurants
from app.settings import PROJECT_ROOT
from tests.browser.conftest import (
    Customer,
    accessibility_problems,
    open_shop,
    post_signed,
    running,
    status_callback,
    until,
)
from tests.servers import ServerProcess
from tests.support import inbound_params
from tests.support import post_signed as post_signed_in_process

pytestmark = [pytest.mark.slow, pytest.mark.browser]


async def sign_in(page, server: ServerProcess, token: str) -> None:
    from playwright.async_api import expect

    await page.goto(server.url + "/")
    await expect(page).to_have_url(server.url + "/inbox/")
    await page.get_by_label("Access token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")


async def message_ids(db, restaurant_id: str) -> list[str]:
    async with db.session() as s:
        rows = await s.execute(
            select(Message.id)
            .where(Message.restaurant_id == restaurant_id)
            .order_by(Message.created_at, Message.id)
        )
        return list(rows.scalars())


def conversation(page, name: str):
    return page.locator("#conversations button.conversation", has_text=name)


def bubble(page, text: str):
    return page.locator("#messages li.message", has_text=text)


async def test_staff_see_answer_and_move_orders_live(new_page, server, factory, db, fake):
    from playwright.async_api import expect

    shop = await open_shop(factory, db, fake)
    layla = Customer(shop, fake, "+966501110001", "Layla")
    await layla.say_and_wait("Hello", via=server)

    page = await new_page()
    await sign_in(page, server, shop.token)
    await expect(conversation(page, "Layla")).to_be_visible()
    await expect(page.locator("#restaurant-name")).to_have_text("Sufrah Grill")
    await expect(page.locator('[data-stat="totalConversations"]')).to_have_text("1")

    # A second conversation arrives live, within a second of its webhook, newest first, unread.
    omar = Customer(shop, fake, "+966501110002", "Omar")
    await omar.say("Is the shawarma spicy?", via=server)
    started = time.monotonic()
    await expect(conversation(page, "Omar")).to_be_visible(timeout=1000)
    assert time.monotonic() - started < 1.0
    await expect(page.locator("#conversations button.conversation").first).to_contain_text("Omar")
    await expect(conversation(page, "Omar").locator(".badge")).to_have_text("1 unread")
    await expect(page.locator('[data-stat="totalConversations"]')).to_have_text("2")

    # Opening it shows the history and marks it read.
    await conversation(page, "Omar").click()
    await expect(page.locator("#chat-title")).to_have_text("Omar")
    await expect(bubble(page, "Is the shawarma spicy?")).to_be_visible()
    await expect(conversation(page, "Omar").locator(".badge")).to_have_count(0)

    # Bot off: the next message waits for staff instead of being answered.
    bot_switch = page.get_by_role("button", name="Bot replies")
    await expect(bot_switch).to_have_attribute("aria-pressed", "true")
    await bot_switch.click()
    await expect(bot_switch).to_have_attribute("aria-pressed", "false")
    await expect(conversation(page, "Omar").locator(".marker.bot-off")).to_be_visible()
    answered = len(omar.received())
    await omar.say("Hello? Anyone there?", via=server)
    await expect(bubble(page, "Hello? Anyone there?")).to_be_visible()
    await expect(conversation(page, "Omar").get_by_text("Waiting for staff")).to_be_visible()

    # A staff reply reaches WhatsApp (the fake Twilio) and shows its delivery ticks as they change.
    await page.get_by_label("Reply").fill("Mild, with garlic sauce. شكراً!")
    await page.get_by_role("button", name="Send").click()
    reply = bubble(page, "Mild, with garlic sauce.")
    await expect(reply).to_be_visible()
    await expect(reply.locator(".author")).to_have_text("Staff")
    await until(lambda: len(omar.received()) > answered, what="the staff reply at Twilio")
    [sent] = omar.received()[answered:]
    assert sent["Body"] == "Mild, with garlic sauce. شكراً!"
    await expect(reply.locator(".ticks")).to_have_attribute("data-status", "queued")  # what Twilio answered
    for status, label in [("sent", "Sent"), ("delivered", "Delivered"), ("read", "Read")]:
        callback = status_callback(shop, sent, status)
        await post_signed(server, "/whatsapp/status", callback, shop.bot.auth_token)
        await expect(reply.locator(".ticks")).to_have_attribute("data-status", status)
        await expect(reply.locator(".ticks")).to_have_attribute("title", label)
    await expect(conversation(page, "Omar").get_by_text("Waiting for staff")).to_have_count(0)

    # Layla orders through the bot; the order shows up live with its lines and total.
    assert "#1001" in await layla.order_shawarma(via=server)
    order = page.locator("#orders li.order")
    await expect(order).to_have_count(1)
    await expect(order).to_contain_text("Order #1001")
    await expect(order).to_contain_text("Chicken Shawarma")
    await expect(order.locator(".status")).to_have_text("Confirmed")

    # Staff move it along; each step reaches the customer on WhatsApp.
    for action, status in [("Start preparing", "Preparing"), ("Ready for pickup", "Ready")]:
        told = len(layla.received())
        await order.get_by_role("button", name=action).click()
        await expect(order.locator(".status")).to_have_text(status)
        await until(lambda told=told: len(layla.received()) > told, what=f"the customer told about {status}")
    await order.get_by_role("button", name="Delivered").click()
    await expect(order).to_have_count(0)
    await expect(page.locator("#orders-empty")).to_be_visible()

    # Closing moves the conversation out of the active list; the closed filter shows it.
    await page.get_by_role("button", name="Close conversation").click()
    await expect(conversation(page, "Omar")).to_have_count(0)
    await page.get_by_label("Show").select_option(label="Closed")
    await expect(conversation(page, "Omar").get_by_text("Closed")).to_be_visible()
    await page.get_by_role("button", name="Reopen conversation").click()
    await expect(conversation(page, "Omar")).to_have_count(0)


async def test_the_page_resumes_after_the_server_is_killed_and_restarted(
    new_page, db, factory, fake, server_env, tmp_path
):
    from playwright.async_api import expect

    shop = await open_shop(factory, db, fake)
    sara = Customer(shop, fake, "+966501110003", "Sara")
    quiet = await open_shop(factory, db, fake, name="Quiet Cafe")  # no event before the crash: no cursor
    first = ServerProcess(env=server_env, log_dir=tmp_path)
    port = first.port
    try:
        first.start()
        await sara.say_and_wait("Hi", via=first)
        page = await new_page()
        await sign_in(page, first, shop.token)
        await conversation(page, "Sara").click()
        await expect(bubble(page, "Hi")).to_have_count(1)
        await sara.say("Before the crash", via=first)
        await expect(bubble(page, "Before the crash")).to_be_visible()
        boot = await page.evaluate("window.sufrahInbox.bootId")
        cursor = await page.evaluate("window.sufrahInbox.cursor")
        assert cursor, "the page should hold the cursor of the last event it applied"
        cafe = await new_page()
        await sign_in(cafe, first, quiet.token)
        await expect(cafe.locator("#list-empty")).to_be_visible()
        assert await cafe.evaluate("window.sufrahInbox.cursor") is None

        first.kill()  # kill -9: no close frame, no shutdown
        await expect(page.locator("#connection")).to_have_attribute("data-state", "reconnecting")

        with running(ServerProcess(env=server_env, log_dir=tmp_path)) as other:  # same database, another port
            await sara.say_and_wait("While you were down", via=other)
            await Customer(quiet, fake, "+966501110009", "Mona").say_and_wait("Open today?", via=other)
        with running(ServerProcess(env=server_env, log_dir=tmp_path, port=port)):
            await expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=20_000)
            await expect(bubble(page, "While you were down")).to_have_count(1)
            assert await page.evaluate("window.sufrahInbox.bootId") == boot, "the page was reloaded"
            assert await page.evaluate("window.sufrahInbox.cursor") != cursor
            # Without a cursor the other page can't resume: it reads its lists again (no reload).
            await expect(conversation(cafe, "Mona")).to_be_visible(timeout=20_000)
            await expect(cafe.locator("#connection")).to_have_attribute("data-state", "live")

            await sara.say_and_wait("After the restart", via=first)
            await expect(bubble(page, "After the restart")).to_have_count(1)
            # Nothing missing, nothing doubled: the page shows exactly the stored messages, in order.
            stored = await message_ids(db, shop.restaurant_id)
            shown = page.locator("#messages li.message")
            await expect(shown).to_have_count(len(stored))
            assert await shown.evaluate_all("nodes => nodes.map(n => n.dataset.id)") == stored
    finally:
        first.stop()


async def test_an_admin_picks_and_switches_restaurants_on_a_phone(new_page, server, db, factory, fake):
    from playwright.async_api import expect

    from tests.browser.conftest import PHONE

    grill = await open_shop(factory, db, fake, name="Sufrah Grill")
    bakery = await open_shop(factory, db, fake, name="Manqoosh Bakery")
    await Customer(grill, fake, "+966501110004", "Huda").say_and_wait("Hi", via=server)
    khalid = Customer(bakery, fake, "+966501110005", "خالد")
    await khalid.say_and_wait("السلام عليكم", via=server)
    async with db.session() as s:  # Khalid last wrote two days ago: outside WhatsApp's 24-hour window
        await s.execute(
            update(Conversation)
            .where(Conversation.restaurant_id == bakery.restaurant_id)
            .values(last_inbound_at=func.now() - timedelta(days=2))
        )
        await s.commit()
    admin = await factory.token(admin=True)

    page = await new_page(PHONE)
    await page.goto(server.url + "/inbox/")
    await page.get_by_label("Access token").fill(admin)
    await page.keyboard.press("Enter")
    await page.get_by_label("Choose a restaurant").select_option(label="Manqoosh Bakery")
    await page.get_by_role("button", name="Open inbox").click()
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")

    # One pane at a time: the list, then the conversation, then back.
    await expect(page.locator("#list-pane")).to_be_visible()
    await expect(page.locator("#chat-pane")).to_be_hidden()
    await conversation(page, "خالد").focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#chat-pane")).to_be_visible()
    await expect(page.locator("#list-pane")).to_be_hidden()
    greeting = bubble(page, "السلام عليكم").locator(".text")
    assert await greeting.evaluate("node => getComputedStyle(node).direction") == "rtl"

    # Outside the 24-hour window the page says so, and the server's refusal is shown as it is.
    await expect(page.locator("#window-note")).to_be_visible()
    await page.get_by_label("Reply").fill("Are you still there?")
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_role("alert").filter(has_text="24 hours")).to_be_visible()
    await expect(bubble(page, "Are you still there?")).to_have_count(0)

    assert await accessibility_problems(page) == []
    await page.get_by_role("button", name="Back to conversations").click()
    await expect(page.locator("#list-pane")).to_be_visible()
    await expect(conversation(page, "خالد")).to_be_focused()

    # Switching restaurants: the other one's conversations, nothing of the first.
    await page.get_by_label("Restaurant", exact=True).select_option(label="Sufrah Grill")
    await expect(conversation(page, "Huda")).to_be_visible()
    await expect(conversation(page, "خالد")).to_have_count(0)
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")


async def test_every_graphql_document_of_the_page_is_valid_against_the_public_schema(new_page, server):
    from graphql import build_schema, parse, validate

    page = await new_page()
    await page.goto(server.url + "/inbox/")
    # The inbox's documents (queries.js) and each page's (its module's Q_/M_/S_ exports).
    documents = await page.evaluate("""(async () => {
        const pick = (m, prefix) => Object.entries(m).filter(([name]) => /^[QMS]_/.test(name))
            .map(([name, document]) => [prefix + name, document]);
        const { PAGES } = await import('/inbox/static/pages.js');
        const found = pick(await import('/inbox/static/queries.js'), "");
        for (const { id } of PAGES) found.push(...pick(await import(`/inbox/static/pages/${id}.js`), `${id}.`));
        return Object.fromEntries(found);
    })()""")
    schema = build_schema((PROJECT_ROOT / "schema.graphql").read_text())
    assert len(documents) >= 10
    for name, document in documents.items():
        assert validate(schema, parse(document)) == [], name


async def test_readme_screenshot_of_demo_data_passes_the_accessibility_checks(
    new_page, server, db, factory, fake, tmp_path
):
    """Realistic data in the page the README shows (docs/inbox.png). To refresh the picture:
    SUFRAH_INBOX_SCREENSHOT=docs/inbox.png .venv/bin/pytest tests/browser -k screenshot"""
    from playwright.async_api import expect

    shop = await open_shop(factory, db, fake)
    noura = Customer(shop, fake, "+966501234501", "نورة")
    for step in ["مرحبا", "١", "استلام", "٢", "٢", "١", "٢", "٣", "١"]:  # pickup, 2 chicken shawarma, confirm
        await noura.say_and_wait(step, via=server)
    fahad = Customer(shop, fake, "+966501234502", "Fahad")
    for step in ["hi", "1", "1"]:
        await fahad.say_and_wait(step, via=server)
    await fahad.say_and_wait(
        via=server, Latitude="24.7000", Longitude="46.6900", Address="Tahlia St, Olaya", Label="Home"
    )
    james = Customer(shop, fake, "+447700900123", "James Carter")
    await james.say_and_wait("Hi", via=server)
    await james.say_and_wait("3", via=server)  # talk to staff: the bot steps aside
    await james.say("Do you have gluten-free bread for the shawarma?", via=server)
    for message in noura.received():  # Noura has read everything the bot sent her
        callback = status_callback(shop, message, "read")
        await post_signed(server, "/whatsapp/status", callback, shop.bot.auth_token)

    page = await new_page()
    await sign_in(page, server, shop.token)
    await conversation(page, "نورة").click()
    await expect(page.locator("#orders li.order")).to_have_count(1)
    await expect(page.locator("#orders li.order .lines")).to_contain_text("Chicken Shawarma")
    await expect(page.locator("#messages .ticks[data-status='read']").first).to_be_visible()
    confirmed = bubble(page, "#1001").locator(".text")
    assert await confirmed.evaluate("node => getComputedStyle(node).direction") == "rtl"
    await expect(conversation(page, "James Carter").get_by_text("Waiting for staff")).to_be_visible()
    await page.evaluate("document.activeElement?.blur()")
    assert await accessibility_problems(page) == []

    target = Path(os.environ.get("SUFRAH_INBOX_SCREENSHOT") or tmp_path / "inbox.png")
    await page.screenshot(path=str(target))
    assert target.stat().st_size < 300_000


async def test_the_list_and_the_history_page_in_as_staff_scroll(new_page, server, db, factory, fake, client):
    from playwright.async_api import expect

    shop = await open_shop(factory, db, fake)
    async with db.session() as s:  # no bot: only what the customers wrote
        await restaurants.set_bot_enabled(s, restaurant_id=shop.restaurant_id, enabled=False)
        await s.commit()
    for i in range(35):
        params = inbound_params(
            shop.bot,
            customer=f"+9665000100{i:02d}",
            body=f"order question {i}",
            ProfileName=f"Customer {i:02d}",
        )
        response = await post_signed_in_process(client, "/whatsapp/webhook", params, shop.bot.auth_token)
        assert response.status_code == 200
    for i in range(70):  # Customer 00 writes a long history
        params = inbound_params(shop.bot, customer="+966500010000", body=f"line {i:02d}")
        response = await post_signed_in_process(client, "/whatsapp/webhook", params, shop.bot.auth_token)
        assert response.status_code == 200

    page = await new_page()
    await sign_in(page, server, shop.token)
    rows = page.locator("#conversations button.conversation")
    await expect(page.locator("#list-summary")).to_have_text("35 conversations")
    await expect(rows).to_have_count(30)
    await rows.last.scroll_into_view_if_needed()  # infinite scroll: the next page comes by itself
    await expect(rows).to_have_count(35)
    names = await rows.locator(".name").all_text_contents()
    assert names[0] == "Customer 00" and sorted(names[1:], reverse=True) == names[1:]

    # Keyboard: arrows move between conversations, Enter opens one.
    await rows.nth(1).focus()
    await page.keyboard.press("ArrowUp")
    await expect(rows.first).to_be_focused()
    await page.keyboard.press("Enter")
    shown = page.locator("#messages li.message")
    await expect(shown).to_have_count(30)
    await expect(shown.last).to_contain_text("line 69")
    for expected in (60, 71):  # scrolling to the top pages back through the history
        await page.locator("#messages").evaluate("node => { node.scrollTop = 0; }")
        await expect(shown).to_have_count(expected)
    texts = await shown.locator(".text").all_text_contents()
    assert texts == ["order question 0"] + [f"line {i:02d}" for i in range(70)]
    await expect(page.locator("#older")).to_be_hidden()

    # Search by text, name or phone narrows the list on the server.
    await page.get_by_label("Search by name, phone or text").fill("question 17")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("Customer 17")
    await page.get_by_label("Search by name, phone or text").fill("+96650001003")
    await expect(rows).to_have_count(5)


def _png(width: int = 3, height: int = 2) -> bytes:
    """A real (tiny, red) PNG, so the browser really decodes it."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


async def test_a_customer_photo_shows_inline_and_staff_send_a_document(new_page, server, factory, db, fake):
    from playwright.async_api import expect

    shop = await open_shop(factory, db, fake)
    async with db.session() as s:  # no bot: only the photo and the staff's reply go out
        await restaurants.set_bot_enabled(s, restaurant_id=shop.restaurant_id, enabled=False)
        await s.commit()
    # Twilio answers 404 for a moment, then redirects to its CDN (which must never see credentials)
    url = fake.add_media(shop.bot.bot.account_sid, _png(), "image/png", not_found=1)
    customer = Customer(shop, fake, "+966500020000", "Photo Customer")
    await customer.say("", via=server, NumMedia="1", MediaUrl0=url, MediaContentType0="image/png")

    page = await new_page()
    await sign_in(page, server, shop.token)
    await conversation(page, "Photo Customer").click()
    picture = page.locator("#messages li.message img")
    await expect(picture).to_be_visible(timeout=15_000)  # live: the download finishes after the page opened
    assert await picture.evaluate("img => img.complete && [img.naturalWidth, img.naturalHeight]") == [3, 2]
    assert (await picture.get_attribute("src") or "").startswith(f"/media/{shop.restaurant_id}/")
    assert fake.cdn_saw_credentials == 0

    await page.locator("#attach-file").set_input_files(
        files=[{"name": "menu.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 our menu"}]
    )
    await expect(page.locator("#attach-name")).to_contain_text("menu.pdf")
    await page.get_by_role("button", name="Send").click()
    await until(lambda: bool(customer.received()), timeout=15, what="the document on the wire")
    (sent,) = customer.received()
    assert len(sent["MediaUrl"]) == 1 and f"/media/{shop.restaurant_id}/" in sent["MediaUrl"][0]
    await expect(page.locator("#messages li.message a[download]")).to_have_count(1)


async def test_staff_manage_templates_and_send_one_outside_the_window(new_page, server, factory, db, fake):
    from playwright.async_api import expect
    from sqlalchemy import text

    shop = await open_shop(factory, db, fake)
    huda = Customer(shop, fake, "+966501110009", "Huda")
    await huda.say_and_wait("Hello", via=server)
    async with db.session() as s:
        await s.execute(
            update(Conversation)
            .where(Conversation.restaurant_id == shop.restaurant_id)
            .values(last_inbound_at=func.now() - timedelta(hours=25))
        )
        await s.commit()

    async def review_now() -> None:  # the server's worker asks Twilio again within its poll interval
        async with db.session() as s:
            await s.execute(
                text("UPDATE message_template SET next_sync_at = now() WHERE next_sync_at IS NOT NULL")
            )
            await s.commit()

    page = await new_page()
    await sign_in(page, server, shop.token)
    await page.get_by_role("button", name="Templates").click()
    dialog = page.locator("#templates")
    for name, body in (("follow_up", "Hello again: {{1}}"), ("promo", "{{1}}")):
        await dialog.get_by_label("Name (lowercase").fill(name)
        await dialog.get_by_label("Language").select_option("en")
        await dialog.get_by_label("Body:").fill(body)
        await dialog.get_by_label("Sample values").fill("your order is ready")
        await dialog.get_by_role("button", name="Save and submit").click()
        await expect(dialog.locator("li.template[data-status='PENDING']", has_text=name)).to_be_visible()

    def submitted() -> dict[str, str]:  # the templates' contents (the bot's own buttons are contents too)
        return {c["approval"]["name"]: sid for sid, c in fake.contents.items() if c["approval"]["name"]}

    await until(lambda: len(submitted()) == 2, what="both templates submitted to the Content API")
    by_name = submitted()
    fake.approve(by_name["follow_up"])
    fake.reject(by_name["promo"], "The body can't be only a variable")
    await review_now()
    await until(lambda: all(fake.contents[s]["approval"]["status"] != "received" for s in by_name.values()))
    await page.wait_for_timeout(2500)  # the worker polls every second
    await dialog.get_by_role("button", name="Close").click()
    await page.get_by_role("button", name="Templates").click()
    await expect(dialog.locator("li.template[data-status='APPROVED']", has_text="follow_up")).to_be_visible()
    rejected = dialog.locator("li.template[data-status='REJECTED']", has_text="promo")
    await expect(rejected).to_contain_text("WhatsApp's reason: The body can't be only a variable")
    await dialog.get_by_role("button", name="Close").click()

    # Outside the window the conversation offers the approved template, its variable to fill.
    await conversation(page, "Huda").click()
    await expect(page.locator("#window-note")).to_be_visible()
    picker = page.locator("#template-send")
    await expect(picker).to_be_visible()
    await picker.get_by_label("Approved template").select_option(label="follow_up (en)")
    await picker.locator("input[data-variable='1']").fill("we found your wallet")
    await expect(picker.locator("#template-preview")).to_have_text("Hello again: we found your wallet")
    before = len(huda.received())
    await picker.get_by_role("button", name="Use this template").click()
    sent = bubble(page, "Hello again: we found your wallet")
    await expect(sent).to_be_visible()
    await expect(sent.locator(".template-tag")).to_have_text("WhatsApp template follow_up")
    await until(lambda: len(huda.received()) > before, what="the template at Twilio")
    [wire] = huda.received()[before:]
    assert wire["ContentSid"] == by_name["follow_up"]
    assert wire["ContentVariables"] == '{"1": "we found your wallet"}'

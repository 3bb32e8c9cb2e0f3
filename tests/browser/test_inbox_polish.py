"""The inbox as staff read it (issue #16): Arabic previews from their first words, who wrote each
message, a conversation count that stays true, and a phone screen that keeps the chat."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.ids import new_id
from app.models import Conversation, Message
from app.services import restaurants
from tests.browser.conftest import PHONE, Customer, accessibility_problems, open_shop
from tests.browser.test_inbox import bubble, conversation, sign_in
from tests.support import inbound_params
from tests.support import post_signed as post_signed_in_process

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ARABIC = (
    "مرحبا أريد أن أطلب شاورما دجاج مع بطاطس وصلصة ثوم إضافية من فضلكم، وشكرا جزيلا لكم على الخدمة"
    " الممتازة دائما يا أصدقاء"
)

# Where the first and the last words of a preview are: inside the box that clips it, or cut off.
WORDS_SHOWN = """(button, [first, last]) => {
  const preview = button.querySelector(".preview");
  const walker = document.createTreeWalker(preview, NodeFilter.SHOW_TEXT);
  let node = null;
  for (let n = walker.nextNode(); n; n = walker.nextNode()) if (n.textContent.includes(first)) node = n;
  let clip = node.parentElement;
  while (clip !== preview.parentElement && getComputedStyle(clip).overflowX !== "hidden") clip = clip.parentElement;
  const box = clip.getBoundingClientRect();
  const shown = (start, end) => {
    const range = document.createRange();
    range.setStart(node, start);
    range.setEnd(node, end);
    const r = range.getBoundingClientRect();
    return r.width > 0 && r.left >= box.left - 1 && r.right <= box.right + 1;
  };
  const text = node.textContent;
  return { first: shown(text.indexOf(first), text.indexOf(first) + first.length),
    last: shown(text.length - last.length, text.length), direction: getComputedStyle(node.parentElement).direction };
}"""


async def without_bot(db, shop) -> None:
    async with db.session() as s:
        await restaurants.set_bot_enabled(s, restaurant_id=shop.restaurant_id, enabled=False)
        await s.commit()


async def write(client, shop, phone: str, body: str, name: str) -> None:
    """A customer's message, posted to the in-process app (the same database as the page's server)."""
    params = inbound_params(shop.bot, customer=phone, body=body, ProfileName=name)
    response = await post_signed_in_process(client, "/whatsapp/webhook", params, shop.bot.auth_token)
    assert response.status_code == 200


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
async def test_an_arabic_preview_shows_the_start_of_the_message(
    new_page, server, db, factory, fake, client, viewport
):
    shop = await open_shop(factory, db, fake)
    await without_bot(db, shop)
    await write(client, shop, "+966501120001", ARABIC, "خالد")
    await write(
        client, shop, "+966501120002", "Hello, I would like to order two chicken shawarma " * 3, "Sam"
    )

    page = await new_page(PHONE) if viewport == "phone" else await new_page()
    await sign_in(page, server, shop.token)
    arabic = await conversation(page, "خالد").evaluate(WORDS_SHOWN, ["مرحبا", "أصدقاء"])
    assert arabic == {"first": True, "last": False, "direction": "rtl"}  # cut at its end, not its start
    english = await conversation(page, "Sam").evaluate(WORDS_SHOWN, ["Hello", "shawarma "])
    assert english == {"first": True, "last": False, "direction": "ltr"}


async def test_bot_staff_system_and_customer_messages_are_told_apart(new_page, server, db, factory, fake):
    from playwright.async_api import expect

    shop = await open_shop(factory, db, fake)
    huda = Customer(shop, fake, "+966501120003", "Huda")
    await huda.say_and_wait("hi", via=server)  # the bot answers
    page = await new_page()
    await sign_in(page, server, shop.token)
    preview = conversation(page, "Huda").locator(".preview")
    await expect(preview.locator(".who")).to_have_text("Bot:")
    await expect(preview).to_contain_text("Welcome")

    async with db.session() as s:  # a notice the system wrote in the conversation (an order's, say)
        [conversation_id] = (await s.execute(select(Conversation.id))).scalars().all()
        s.add(
            Message(
                restaurant_id=shop.restaurant_id,
                id=new_id("msg"),
                conversation_id=conversation_id,
                direction="OUT",
                author="system",
                content="Order #1001 is ready",
            )
        )
        await s.commit()
    await conversation(page, "Huda").click()
    await page.get_by_label("Reply").fill("Hello Huda, staff here")
    await page.get_by_role("button", name="Send").click()
    await expect(bubble(page, "staff here")).to_be_visible()

    messages = {
        "customer": bubble(page, "hi").first,
        "bot": bubble(page, "Welcome"),
        "system": bubble(page, "Order #1001 is ready"),
        "staff": bubble(page, "staff here"),
    }
    backgrounds = {}
    for author, message in messages.items():
        await expect(message).to_have_attribute("data-author", author)
        await expect(message.locator(".author")).to_have_text(author.capitalize())
        backgrounds[author] = await message.locator(".bubble").evaluate(
            "b => getComputedStyle(b).backgroundColor"
        )
    assert len(set(backgrounds.values())) == 4, backgrounds  # each its own style, not only its label
    await expect(preview.locator(".who")).to_have_text("Staff:")
    await expect(preview.locator(".text")).to_have_text("Hello Huda, staff here")
    await page.evaluate("document.activeElement?.blur()")
    assert await accessibility_problems(page) == []


async def test_the_conversation_count_follows_conversations_starting_and_closing(
    new_page, server, db, factory, fake, client
):
    from playwright.async_api import expect

    shop = await open_shop(factory, db, fake)
    await without_bot(db, shop)
    await write(client, shop, "+966501120004", "first", "Amal")
    await write(client, shop, "+966501120005", "second", "Badr")
    page = await new_page()
    await sign_in(page, server, shop.token)
    summary = page.locator("#list-summary")
    await expect(summary).to_have_text("2 conversations")

    await write(client, shop, "+966501120006", "a third customer", "Chadi")  # over the event stream
    await expect(conversation(page, "Chadi")).to_be_visible()
    await expect(summary).to_have_text("3 conversations")
    await conversation(page, "Amal").click()
    await page.get_by_role("button", name="Close conversation").click()
    await expect(conversation(page, "Amal")).to_have_count(0)
    await expect(summary).to_have_text("2 conversations")

    await page.get_by_label("Show").select_option(label="Closed")
    await expect(summary).to_have_text("1 conversation")
    await write(client, shop, "+966501120007", "a fourth, still active", "Dana")
    await page.wait_for_timeout(1500)  # the count is read again after the event: still the closed ones
    await expect(summary).to_have_text("1 conversation")
    await page.get_by_label("Show").select_option(label="All")
    await expect(summary).to_have_text("4 conversations")


# The boxes of the page's parts, in CSS pixels of the viewport.
BOXES = """() => {
  const box = (el) => { const r = el.getBoundingClientRect(); return { top: r.top, bottom: r.bottom, left: r.left,
    right: r.right, height: r.height }; };
  const list = document.getElementById("messages");
  const shown = [...list.querySelectorAll("li.message")];
  return { viewport: { height: innerHeight, width: innerWidth }, header: box(document.querySelector(".topbar")),
    signOut: box(document.getElementById("sign-out")), reply: box(document.getElementById("reply-body")),
    send: box(document.getElementById("send")), list: box(list), last: box(shown[shown.length - 1]) };
}"""


def inside(inner: dict, outer: dict) -> bool:
    return inner["top"] >= outer["top"] - 1 and inner["bottom"] <= outer["bottom"] + 1


async def test_on_a_phone_the_chat_keeps_the_screen(new_page, server, db, factory, fake, client):
    from playwright.async_api import expect

    shop = await open_shop(factory, db, fake)
    await without_bot(db, shop)
    for i in range(12):
        await write(client, shop, "+966501120008", f"message {i:02d}", "Eman")
    page = await new_page(PHONE)
    await sign_in(page, server, shop.token)

    # The stats are folded behind a toggle that says so; the sign-out is on the header's first row.
    toggle = page.get_by_role("button", name="Today at a glance")
    await expect(toggle).to_have_attribute("aria-expanded", "false")
    await expect(page.locator("#stats")).to_be_hidden()
    await expect(toggle).to_contain_text("12 unread")
    await conversation(page, "Eman").click()
    await expect(bubble(page, "message 11")).to_be_visible()
    boxes = await page.evaluate(BOXES)
    screen = {"top": 0, "bottom": boxes["viewport"]["height"]}
    assert inside(boxes["signOut"], boxes["header"]) and boxes["signOut"]["top"] < 48, boxes
    # The reply box and the latest message fit the screen, and the history has most of it.
    assert inside(boxes["reply"], screen) and inside(boxes["send"], screen), boxes
    assert inside(boxes["last"], boxes["list"]) and inside(boxes["list"], screen), boxes
    assert boxes["list"]["height"] >= boxes["viewport"]["height"] / 2, boxes

    await toggle.click()
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    await expect(page.locator('[data-stat="totalConversations"]')).to_have_text("1")
    assert await accessibility_problems(page) == []
    await toggle.click()
    await expect(page.locator("#stats")).to_be_hidden()


# Whether "Load earlier messages" is what the user sees where it is (not scrolled out of sight), and
# whether it overlaps any message.
OLDER = """() => {
  const button = document.getElementById("older");
  const r = button.getBoundingClientRect();
  const seen = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
  const overlaps = [...document.querySelectorAll("#messages li.message")].filter((m) => {
    const b = m.getBoundingClientRect();
    return b.top < r.bottom && b.bottom > r.top && b.left < r.right && b.right > r.left;
  }).length;
  const first = document.querySelector("#messages li.message").getBoundingClientRect();
  return { seen: button === seen || button.contains(seen), overlaps, before: r.bottom <= first.top };
}"""


async def test_load_earlier_messages_is_part_of_the_history_not_over_it(
    new_page, server, db, factory, fake, client
):
    from playwright.async_api import expect

    shop = await open_shop(factory, db, fake)
    await without_bot(db, shop)
    for i in range(70):
        await write(client, shop, "+966501120009", f"line {i:02d}", "Fadi")
    page = await new_page(PHONE)
    await sign_in(page, server, shop.token)
    await conversation(page, "Fadi").click()
    shown = page.locator("#messages li.message")
    await expect(shown).to_have_count(30)
    await expect(bubble(page, "line 69")).to_be_visible()
    # Reading the latest messages, the button is out of sight: it takes no room from them.
    assert await page.evaluate(OLDER) == {"seen": False, "overlaps": 0, "before": True}

    await page.locator("#messages").evaluate("node => { node.scrollTop = 0; }")  # pages back by itself
    await expect(shown).to_have_count(60)
    older = await page.evaluate(OLDER)  # (the view stays on what was read: the button is out of sight)
    assert older["overlaps"] == 0 and older["before"], older  # above the first message, over none
    await page.locator("#older").evaluate("button => button.click()")  # (scrolled to, it pages by itself)
    await expect(shown).to_have_count(70)
    await expect(page.locator("#older")).to_be_hidden()
    texts = await shown.locator(".text").all_text_contents()
    assert texts == [f"line {i:02d}" for i in range(70)]

"""The pure bot outside opening hours (TurnContext.hours): it says when the restaurant opens, in the
customer's language, and takes an order only if the restaurant takes orders for later. The welcome
also offers the restaurant's own app when its profile has one."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from app.bot.flow import Hours, PlaceOrder, TurnContext
from app.bot.texts import opening_time
from tests.bot.test_flow import MENU, NEAR_OLAYA, Chat

TODAY = date(2026, 12, 7)  # a Monday
CLOSED = Hours(status="closed", opens_at=datetime(2026, 12, 8, 9, 0), today=TODAY)


def at(hours: Hours) -> TurnContext:
    return replace(MENU, hours=hours)


def test_the_welcome_says_when_we_open_in_english_and_arabic() -> None:
    english = Chat(at(CLOSED)).send("hi")
    assert "We're closed right now. We open tomorrow at 09:00." in english
    assert "Welcome to Sufrah Grill" in english
    arabic = Chat(at(CLOSED)).send("مرحبا")
    assert "نحن مغلقون الآن. نفتح غداً الساعة 09:00." in arabic


def test_a_new_order_is_refused_while_closed_without_orders_for_later() -> None:
    chat = Chat(at(CLOSED))
    chat.send("hi")
    refused = chat.send("1")
    assert "can't take orders while we're closed" in refused
    assert refused.count("We open tomorrow at 09:00.") == 1  # said once, by the welcome below
    assert "cart is kept" not in refused  # there is none
    assert chat.state.step == "welcome"
    assert "any orders yet" in chat.send("2")  # tracking still works


def test_a_cart_begun_before_closing_is_kept_and_refused_at_checkout() -> None:
    chat = Chat(MENU)
    chat.send_all("hi", "1", "1")
    chat.send(**NEAR_OLAYA)
    chat.send_all("1", "1", "2")  # 2 × Chicken Shawarma
    chat.ctx = at(CLOSED)
    refused = chat.send("3")  # checkout
    assert "can't take orders" in refused and "Your cart is kept for when we open." in refused
    assert "We open tomorrow at 09:00." in refused
    assert len(chat.state.cart) == 1 and chat.state.step == "after_item"
    assert not chat.of(PlaceOrder)


def test_closing_between_summary_and_confirm_places_nothing() -> None:
    chat = Chat(MENU)
    chat.send_all("hi", "1", "1")
    chat.send(**NEAR_OLAYA)
    chat.send_all("1", "1", "2", "3", "1")  # checkout, cash: the confirm question
    chat.ctx = at(CLOSED)
    assert "can't take orders" in chat.send("1")
    assert not chat.of(PlaceOrder)


def test_orders_for_later_are_taken_and_said_to_wait_for_the_opening() -> None:
    chat = Chat(at(replace(CLOSED, orders_for_later=True)))
    welcome = chat.send("hi")
    assert "You can order now: we'll prepare it when we open." in welcome
    chat.send_all("1", "1")
    chat.send(**NEAR_OLAYA)
    chat.send_all("1", "1", "2")
    summary = chat.send("3")
    assert "prepared when we open" in summary and "Total" in summary
    chat.send("1")  # cash
    confirmation = chat.placed()
    assert "#1042" in confirmation and "We open tomorrow at 09:00" in confirmation
    assert "Your order will be prepared when we open." in confirmation


def test_closed_without_a_known_opening() -> None:
    reply = Chat(at(Hours(status="closed", today=TODAY))).send("hello")
    assert "We're closed right now." in reply and "We open" not in reply


def test_busy_warns_of_longer_waits_but_takes_the_order() -> None:
    chat = Chat(at(Hours(status="busy", today=TODAY)))
    assert "orders take longer than usual" in chat.send("hi")
    chat.send_all("1", "1")
    chat.send(**NEAR_OLAYA)
    chat.send_all("1", "1", "2", "3", "1")
    assert "may take longer than usual" in chat.placed()


def test_open_says_nothing_about_hours() -> None:
    reply = Chat(at(Hours(status="open", today=TODAY))).send("hi")
    assert "closed" not in reply and "busy" not in reply


def test_opening_times_read_naturally_in_both_languages() -> None:
    assert opening_time(datetime(2026, 12, 7, 18, 30), TODAY, "en") == "today at 18:30"
    assert opening_time(datetime(2026, 12, 7, 18, 30), TODAY, "ar") == "اليوم الساعة 18:30"
    assert opening_time(datetime(2026, 12, 12, 9), TODAY, "en") == "on Saturday at 09:00"
    assert opening_time(datetime(2026, 12, 12, 9), TODAY, "ar") == "يوم السبت الساعة 09:00"
    assert opening_time(datetime(2026, 12, 21, 9), TODAY, "en") == "on Monday 21 December at 09:00"
    assert opening_time(datetime(2026, 12, 21, 9), TODAY, "ar") == "يوم الإثنين 21 ديسمبر الساعة 09:00"


def test_the_welcome_offers_the_restaurants_app() -> None:
    ctx = replace(MENU, app_link="https://apps.example/sufrah")
    assert "You can also order in our app: https://apps.example/sufrah" in Chat(ctx).send("hi")
    assert "يمكنك الطلب أيضاً عبر تطبيقنا: https://apps.example/sufrah" in Chat(ctx).send("مرحبا")
    assert "app" not in Chat(MENU).send("hi")

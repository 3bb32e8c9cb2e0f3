"""Whole conversations played through the pure bot, asserting on what a customer would notice.

Every turn goes through `Chat.send`, which also checks the promises the runner relies on: the
state survives a JSON round trip unchanged (it lives in the database between messages), the same
input gives the same output, and the customer always gets an answer (the one exception, PlaceOrder,
is answered by `order_placed` once the runner knows the reference).
"""

from __future__ import annotations

import json
import string
from dataclasses import replace
from typing import Any

import pytest

from app.bot.flow import (
    MORE,
    Action,
    Branch,
    Category,
    Choice,
    Handoff,
    Inbound,
    Item,
    LatestOrder,
    OrderLine,
    PlaceOrder,
    RateOrder,
    Reply,
    State,
    TurnContext,
    detect_language,
    format_price,
    order_placed,
    order_status_changed,
    step,
)
from app.bot.texts import TEXTS, branch_name

OLAYA = Branch("br_olaya", "العليا", "Olaya", "Olaya St, Riyadh", 24.6900, 46.6850, 5.0)
MALQA = Branch("br_malqa", "الملقا", "Malqa", "Anas Ibn Malik Rd, Riyadh", 24.8100, 46.6100, 3.0)
MENU = TurnContext(
    restaurant_name="Sufrah Grill",
    min_delivery_total=2000,
    payment_link="https://pay.example/sufrah",
    branches=(OLAYA, MALQA),
    categories=(
        Category("cat_mains", "الأطباق الرئيسية", "Mains"),
        Category("cat_drinks", "المشروبات", "Drinks"),
        Category("cat_sweets", "الحلويات", "Desserts"),
    ),
    items=(
        Item("itm_shawarma", "cat_mains", "شاورما دجاج", "Chicken Shawarma", 1500),
        Item("itm_burger", "cat_mains", "برجر لحم", "Beef Burger", 2500, max_quantity=5),
        Item("itm_mandi", "cat_mains", "مندي لحم", "Lamb Mandi", 4500, available=False),
        Item("itm_juice", "cat_drinks", "عصير برتقال", "Orange Juice", 800, max_quantity=3),
        Item("itm_water", "cat_drinks", "ماء", "Water", 200),
        Item("itm_kunafa", "cat_sweets", "كنافة", "Kunafa", 1800),
    ),
)
NEAR_OLAYA: dict[str, Any] = {"latitude": 24.7000, "longitude": 46.6900}  # ~1.2 km from Olaya
NEAR_MALQA: dict[str, Any] = {"latitude": 24.8150, "longitude": 46.6150}  # ~0.7 km from Malqa, 15 from Olaya
JEDDAH: dict[str, Any] = {"latitude": 21.4858, "longitude": 39.1925}
SHIPPED = LatestOrder(id="ord_1", reference="#1042", status="DELIVERED", order_type="delivery")


class Chat:
    """One customer talking to the bot, the way the runner plays it (state stored as JSON in between)."""

    def __init__(self, ctx: TurnContext = MENU, state: State | None = None) -> None:
        self.ctx = ctx
        self.state = state or State()
        self.actions: list[Action] = []

    def send(self, text: str = "", **fields: Any) -> str:
        inbound = Inbound(text=text, **fields)
        new_state, actions = step(self.state, inbound, self.ctx)
        assert step(self.state, inbound, self.ctx) == (new_state, actions), "step must be deterministic"
        assert any(isinstance(a, Reply | PlaceOrder) for a in actions), "the bot never goes silent"
        stored = State.from_json(json.loads(json.dumps(new_state.to_json())))
        assert stored == new_state, "state must survive the database unchanged"
        self.state, self.actions = stored, actions
        return self.reply

    def send_all(self, *texts: str) -> str:
        for text in texts:
            self.send(text)
        return self.reply

    @property
    def reply(self) -> str:
        return "\n".join(a.text for a in self.actions if isinstance(a, Reply))

    def of(self, kind: type) -> list[Any]:
        return [a for a in self.actions if isinstance(a, kind)]

    def placed(self, *, reference: str = "#1042") -> str:
        """Confirm, then play the runner: it creates the order and calls order_placed."""
        self.send("1")
        [order] = self.actions
        assert isinstance(order, PlaceOrder)
        self.state, self.actions = order_placed(
            self.state, reference=reference, payment_method=order.payment_method, ctx=self.ctx
        )
        return self.reply

    def status(self, order: LatestOrder) -> str:
        self.state, self.actions = order_status_changed(self.state, order=order, ctx=self.ctx)
        return self.reply


def only_reply(actions: list[Action]) -> str:
    [reply] = actions
    assert isinstance(reply, Reply)
    return reply.text


def delivering(ctx: TurnContext = MENU) -> Chat:
    """A customer who asked for delivery to a location near Olaya and sees the categories."""
    chat = Chat(ctx)
    chat.send_all("hi", "1", "1")
    chat.send(**NEAR_OLAYA)
    return chat


def picking_up(ctx: TurnContext = MENU) -> Chat:
    chat = Chat(ctx)
    chat.send_all("hi", "1", "2", "1")
    return chat


# ── full orders ─────────────────────────────────────────────────────────────────────────────────
def test_full_delivery_order_in_english_with_shared_location() -> None:
    chat = Chat()
    welcome = chat.send("Hello")
    assert "Welcome to Sufrah Grill" in welcome
    assert "1. New order" in welcome and "2. Track my order" in welcome and "3. Talk to staff" in welcome
    assert "Delivery or pickup?" in chat.send("1")
    assert "share your location" in chat.send("1")
    reply = chat.send(label="Home", address="King Fahd Rd", **NEAR_OLAYA)
    assert "from our Olaya branch" in reply and "1. Mains\n2. Drinks\n3. Desserts" in reply
    mains = chat.send("1")
    assert "1. Chicken Shawarma — 15.00 SAR\n2. Beef Burger — 25.00 SAR" in mains
    assert "Mandi" not in mains  # unavailable items are not offered
    assert "How many Beef Burger?" in chat.send("2")
    added = chat.send("2")
    assert "Added 2 × Beef Burger (50.00 SAR)" in added and "1. Add another item" in added
    chat.send_all("1", "2", "1")  # add another: Drinks, Orange Juice
    assert "Added 1 × Orange Juice (8.00 SAR)" in chat.send("1")

    summary = chat.send("3")
    assert "1. 2 × Beef Burger — 50.00 SAR\n2. 1 × Orange Juice — 8.00 SAR\nTotal: 58.00 SAR" in summary
    assert "Delivery to: Home, King Fahd Rd" in summary
    assert "1. Cash on delivery\n2. Pay online" in summary
    assert "Payment: Cash on delivery\n1. Confirm order" in chat.send("1")

    confirmation = chat.placed(reference="#1042")
    assert chat.actions == [Reply(confirmation)]
    assert "#1042 is confirmed" in confirmation and "Total: 58.00 SAR" in confirmation
    assert "pay.example" not in confirmation
    assert chat.state == State(step="done", lang="en")
    assert "Welcome to Sufrah Grill" in chat.send("thanks")  # after the order, the welcome again


def test_place_order_action_carries_the_whole_order_and_empties_the_cart() -> None:
    chat = delivering()
    chat.send_all("1", "2", "1", "3")  # Mains, Beef Burger x1, checkout
    chat.send("2")  # online
    chat.send("1")
    assert chat.actions == [
        PlaceOrder(
            order_type="delivery",
            branch_id="br_olaya",
            lines=(OrderLine("itm_burger", "برجر لحم", "Beef Burger", 2500, 1),),
            subtotal=2500,
            total=2500,
            currency="SAR",
            payment_method="online",
            delivery_address=None,
            delivery_latitude=24.7,
            delivery_longitude=46.69,
            lang="en",
        )
    ]
    assert chat.state.cart == () and chat.state.step == "placing"


def test_full_delivery_order_in_arabic_with_typed_address_and_online_payment() -> None:
    chat = Chat()
    assert "أهلاً بك في Sufrah Grill" in chat.send("مرحبا")
    assert "توصيل أم استلام؟" in chat.send("١")
    assert "شارك موقعك" in chat.send("توصيل")
    reply = chat.send("حي العليا، شارع التحلية، عمارة 12")
    assert "سنوصل طلبك إلى: حي العليا، شارع التحلية، عمارة 12" in reply
    assert "1. الأطباق الرئيسية" in reply
    assert "1. شاورما دجاج — 15.00 ر.س" in chat.send("١")
    assert "كم تريد من شاورما دجاج؟" in chat.send("١")
    assert "تمت إضافة 2 × شاورما دجاج (30.00 ر.س)" in chat.send("٢")
    summary = chat.send("٣")
    assert "الإجمالي: 30.00 ر.س" in summary and "التوصيل إلى: حي العليا" in summary
    assert "2. الدفع الإلكتروني" in summary
    assert "طريقة الدفع: الدفع الإلكتروني" in chat.send("٢")
    chat.send("١")
    [order] = chat.of(PlaceOrder)
    # A typed address has no coordinates: the restaurant's default branch (none marked: its first).
    assert (order.payment_method, order.delivery_latitude, order.branch_id) == ("online", None, "br_olaya")
    assert order.delivery_address == "حي العليا، شارع التحلية، عمارة 12" and order.lang == "ar"
    text = only_reply(order_placed(chat.state, reference="#1043", payment_method="online", ctx=MENU)[1])
    assert "تم تأكيد طلبك #1043" in text and "30.00 ر.س" in text and "https://pay.example/sufrah" in text


def test_a_typed_address_is_delivered_by_the_branch_marked_default() -> None:
    chat = Chat(replace(MENU, branches=(OLAYA, replace(MALQA, is_default=True))))
    chat.send_all("hi", "1", "delivery", "12 Tahlia Street, Riyadh", "1", "1", "2", "3", "1", "1")
    [order] = chat.of(PlaceOrder)
    assert (order.order_type, order.delivery_address, order.branch_id) == (
        "delivery",
        "12 Tahlia Street, Riyadh",
        "br_malqa",
    )


@pytest.mark.parametrize(
    ("name_ar", "name_en", "arabic", "english"),
    [
        ("العليا", "Olaya", "الاستلام من فرع العليا.", "Pickup from Olaya branch."),
        ("فرع العليا", "Olaya Branch", "الاستلام من فرع العليا.", "Pickup from Olaya Branch."),
        ("فرع الملقا", "Branch of Malqa", "الاستلام من فرع الملقا.", "Pickup from Branch of Malqa."),
    ],
)
def test_a_branch_is_named_without_a_doubled_word(name_ar, name_en, arabic, english) -> None:
    ctx = replace(MENU, branches=(replace(OLAYA, name_ar=name_ar, name_en=name_en),))
    arabic_chat = Chat(ctx)
    arabic_chat.send_all("مرحبا", "١", "استلام")
    reply = arabic_chat.send("١")
    assert arabic in reply and "فرع فرع" not in reply
    english_chat = Chat(ctx)
    english_chat.send_all("hi", "1", "pickup")
    assert english in english_chat.send("1")
    near = Chat(ctx)  # delivering from it names it once too
    near.send_all("مرحبا", "١", "توصيل")
    assert "فرع فرع" not in near.send(**NEAR_OLAYA)


def test_branch_name_adds_the_word_only_when_missing() -> None:
    assert branch_name("العليا", "ar") == "فرع العليا"
    assert branch_name("فرع العليا", "ar") == "فرع العليا"
    assert branch_name("Olaya", "en") == "Olaya branch"
    assert branch_name("Olaya branch", "en") == "Olaya branch"


def test_pickup_with_branch_several_items_and_removal() -> None:
    chat = Chat()
    branches = chat.send_all("hi", "1", "2")
    assert "1. Olaya — Olaya St, Riyadh\n2. Malqa — Anas Ibn Malik Rd, Riyadh" in branches
    assert "Pickup from Malqa" in chat.send("2")
    chat.send_all("1", "1", "1")  # Chicken Shawarma x1
    chat.send_all("1", "2", "2", "2")  # Water x2
    chat.send_all("1", "3", "1", "1")  # Kunafa x1
    cart = chat.send("2")
    assert "1. 1 × Chicken Shawarma — 15.00 SAR\n2. 2 × Water — 4.00 SAR\n3. 1 × Kunafa — 18.00 SAR" in cart
    assert "Total: 37.00 SAR" in cart

    after = chat.send("remove 2")
    assert "Removed Water" in after and "Total: 33.00 SAR" in after and "Water —" not in after
    assert "Which line should I remove?" in chat.send("3")
    after = chat.send("1")
    assert "Removed Chicken Shawarma" in after and "1. 1 × Kunafa — 18.00 SAR" in after

    summary = chat.send("2")  # checkout: 18.00 is below the delivery minimum, but this is pickup
    assert "Pickup from: Malqa" in summary and "1. Cash at pickup" in summary
    chat.send("1")
    chat.send("1")
    [order] = chat.of(PlaceOrder)
    assert (order.order_type, order.branch_id, order.delivery_address) == ("pickup", "br_malqa", None)
    assert order.lines == (OrderLine("itm_kunafa", "كنافة", "Kunafa", 1800, 1),)


def test_removing_the_last_line_goes_back_to_the_menu() -> None:
    chat = picking_up()
    chat.send_all("حلويات", "١", "١")  # a category by name, in Arabic
    reply = chat.send("حذف ١")
    assert "تم حذف كنافة" in reply and "سلتك فارغة" in reply and "اختر القسم" in reply
    assert chat.state.step == "category" and chat.state.cart == ()


# ── delivery area ───────────────────────────────────────────────────────────────────────────────
def test_location_out_of_range_offers_pickup_or_another_location() -> None:
    chat = Chat()
    chat.send_all("hi", "1", "1")
    reply = chat.send(**JEDDAH)
    assert "we don't deliver to that location" in reply
    assert "1. Pick up from a branch instead\n2. Send another location" in reply
    assert "share your location" in chat.send("2")
    assert "from our Malqa branch" in chat.send(**NEAR_MALQA)
    assert chat.state.branch_id == "br_malqa" and chat.state.order_type == "delivery"

    chat = Chat()
    chat.send_all("hi", "1", "1")
    chat.send(**JEDDAH)
    assert "Which branch will you pick up from?" in chat.send("1")
    assert "Pickup from Olaya" in chat.send("1")
    assert chat.state.order_type == "pickup" and chat.state.delivery_latitude is None


def test_the_nearest_branch_that_covers_the_location_delivers() -> None:
    wide_olaya = replace(OLAYA, delivery_radius_km=30.0)  # now both branches cover NEAR_MALQA
    chat = Chat(replace(MENU, branches=(wide_olaya, MALQA)))
    chat.send_all("hi", "1", "1")
    assert "Malqa" in chat.send(**NEAR_MALQA)
    assert chat.state.branch_id == "br_malqa"


def test_delivery_minimum_says_how_much_is_missing() -> None:
    chat = delivering()
    chat.send_all("2", "2", "2")  # Water x2 = 4.00
    reply = chat.send("3")
    assert "The minimum for delivery is 20.00 SAR. Please add 16.00 SAR more" in reply
    assert "1. Add another item\n2. View cart\n3. Checkout" in reply
    assert chat.state.step == "after_item" and len(chat.state.cart) == 1
    chat.send_all("1", "1", "2", "1")  # Beef Burger x1
    assert "Total: 29.00 SAR" in chat.send("3")


# ── payment ─────────────────────────────────────────────────────────────────────────────────────
def test_cash_only_restaurant_skips_the_payment_question() -> None:
    chat = delivering(replace(MENU, payment_link=None))
    chat.send_all("1", "1", "2")  # Chicken Shawarma x2
    summary = chat.send("checkout")
    assert "Total: 30.00 SAR" in summary and "Payment: Cash on delivery\n1. Confirm order" in summary
    assert "online" not in summary
    assert "🛒 Your cart" in chat.send("2")  # edit
    chat.send("checkout")
    confirmation = chat.placed(reference="#7")
    assert "#7" in confirmation and "Cash on delivery" in confirmation


def test_online_payment_sends_the_link() -> None:
    chat = picking_up()
    chat.send_all("1", "1", "1", "3", "2")
    assert "Payment: Online payment" in chat.reply
    assert "Pay here: https://pay.example/sufrah" in chat.placed()


# ── tracking, status messages, rating ───────────────────────────────────────────────────────────
def test_tracking_without_an_order() -> None:
    chat = Chat()
    chat.send("hi")
    assert "You don't have any orders yet." in chat.send("2")
    assert chat.state.step == "welcome"
    assert "Delivery or pickup?" in chat.send("1")


def test_tracking_from_the_welcome_and_mid_order() -> None:
    ctx = replace(MENU, latest_order=LatestOrder("ord_1", "#1042", "PREPARING", "delivery"))
    chat = Chat(ctx)
    chat.send("hi")
    assert "Your latest order #1042 is being prepared." in chat.send("2")
    assert "Your latest order #1042 is being prepared." in Chat(ctx).send("track")

    chat = delivering(ctx)
    chat.send_all("1", "1")  # asked for a quantity
    before = chat.state
    assert "طلبك الأخير #1042: قيد التحضير" in chat.send("تتبع")
    assert chat.state == replace(before, lang="ar")  # same step, same cart: the customer carries on
    assert "تمت إضافة 2 × شاورما دجاج" in chat.send("2")


@pytest.mark.parametrize(
    ("status", "lang", "words"),
    [
        ("CONFIRMED", "en", "#1042 is confirmed"),
        ("PREPARING", "en", "#1042 is being prepared"),
        ("OUT_FOR_DELIVERY", "en", "#1042 is on its way"),
        ("READY", "en", "#1042 is ready for pickup"),
        ("CANCELLED", "en", "#1042 was cancelled"),
        ("PREPARING", "ar", "طلبك #1042 قيد التحضير"),
        ("OUT_FOR_DELIVERY", "ar", "طلبك #1042 في الطريق إليك"),
        ("CANCELLED", "ar", "تم إلغاء طلبك #1042"),
    ],
)
def test_status_changes_are_told_in_the_customers_language(status: str, lang: str, words: str) -> None:
    state = State(step="done", lang=lang)
    order = LatestOrder("ord_1", "#1042", status, "delivery")
    new_state, actions = order_status_changed(state, order=order, ctx=MENU)
    assert words in only_reply(actions)
    assert new_state == state


def test_rating_with_a_comment() -> None:
    chat = Chat(state=State(step="done", lang="en"))
    reply = chat.status(SHIPPED)
    assert "#1042 is complete" in reply and "Rate us from 1 (poor) to 5 (excellent)" in reply
    assert "Sorry, I didn't understand that.\n\nHow was your order?" in chat.send("great")
    assert "How was your order?" in chat.send("6")
    assert chat.of(RateOrder) == []
    assert "Any comment? Type it, or send *skip*" in chat.send("4")
    chat.send("Loved the burger")
    assert chat.of(RateOrder) == [RateOrder(order_id="ord_1", rating=4, comment="Loved the burger")]
    assert "Thank you for your feedback" in chat.reply
    assert chat.state.step == "done" and chat.state.rating_order_id is None


def test_rating_skipping_the_comment_in_arabic_and_by_button() -> None:
    chat = Chat(state=State(step="done", lang="ar"))
    assert "قيّمنا من 1" in chat.status(SHIPPED)
    assert "تخطي" in chat.send("٥")
    chat.send("تخطي")
    assert chat.of(RateOrder) == [RateOrder(order_id="ord_1", rating=5, comment=None)]
    assert "شكراً لتقييمك" in chat.reply

    chat = Chat(state=State(step="welcome", lang="en"))
    chat.status(SHIPPED)
    chat.send(button_payload="3", button_text="3 ⭐")
    chat.send(button_payload="skip", button_text="Skip")
    assert chat.of(RateOrder) == [RateOrder(order_id="ord_1", rating=3, comment=None)]


def test_leaving_the_comment_step_keeps_the_rating() -> None:
    chat = Chat(state=State(step="done", lang="en"))
    chat.status(SHIPPED)
    chat.send("2")
    assert "Welcome to Sufrah Grill" in chat.send("menu")
    assert chat.of(RateOrder) == [RateOrder(order_id="ord_1", rating=2, comment=None)]


def test_no_rating_question_when_already_rated_or_in_the_middle_of_a_new_order() -> None:
    chat = Chat(state=State(step="done", lang="en"))
    assert "Rate us" not in chat.status(replace(SHIPPED, rated=True))
    assert chat.state.step == "done"

    chat = delivering()
    chat.send_all("1", "1", "1")  # a new cart is being built
    before = chat.state
    assert "Rate us" not in chat.status(SHIPPED)
    assert chat.state == before


# ── handoff ─────────────────────────────────────────────────────────────────────────────────────
def test_handoff_from_the_welcome() -> None:
    chat = Chat()
    chat.send("hi")
    chat.send("3")
    assert chat.actions == [Reply("Thanks! Someone from our team will answer you shortly. 🙋"), Handoff()]
    assert chat.state.step == "handoff"


def test_handoff_mid_order_keeps_the_cart_and_resumes_at_the_welcome() -> None:
    chat = delivering()
    chat.send_all("1", "1", "2")  # Chicken Shawarma x2
    assert "سيرد عليك أحد موظفينا قريباً" in chat.send("موظف")
    assert chat.of(Handoff) == [Handoff()]
    assert chat.state.step == "handoff" and chat.state.cart[0].quantity == 2
    # Staff turn the bot back on: the next message starts from the welcome, the cart still there.
    reply = chat.send("hello again")
    assert "Welcome to Sufrah Grill" in reply and "Your cart is saved: 2 item(s), 30.00 SAR" in reply
    assert "🛒 Your cart" in chat.send("cart")


# ── ways of answering ───────────────────────────────────────────────────────────────────────────
def test_button_and_list_replies_work_wherever_the_number_would() -> None:
    chat = Chat()
    chat.send("hi")
    assert "Delivery or pickup?" in chat.send("New order", button_payload="1", button_text="New order")
    assert "Which branch" in chat.send("Pickup", button_payload="pickup", button_text="Pickup")
    assert "Pickup from Malqa" in chat.send("Malqa", list_id="br_malqa")
    assert "1. Orange Juice — 8.00 SAR" in chat.send(list_id="cat_drinks")
    assert "How many Water?" in chat.send(list_id="itm_water")
    assert "Added 3 × Water" in chat.send(button_payload="3")
    assert "1. Cash at pickup" in chat.send(button_payload="checkout")
    assert "Payment: Online payment" in chat.send(button_text="Pay online")
    chat.send(button_payload="confirm")
    assert chat.of(PlaceOrder)[0].lines == (OrderLine("itm_water", "ماء", "Water", 200, 3),)


def test_words_work_too() -> None:
    chat = Chat()
    chat.send("hi")
    chat.send("new order")
    assert "share your location" in chat.send("delivery")
    chat.send(**NEAR_OLAYA)
    chat.send_all("drinks", "orange juice", "1")
    assert "🛒 Your cart" in chat.send("cart")
    assert "Total: 8.00 SAR" in chat.reply
    assert "Please add 12.00 SAR more" in chat.send("checkout")
    reply = chat.send("cancel")
    assert "cancelled this order and emptied your cart" in reply and "Welcome to Sufrah Grill" in reply
    assert chat.state.cart == ()


def test_a_greeting_mid_order_shows_the_welcome_without_losing_the_cart() -> None:
    chat = delivering()
    chat.send_all("1", "1", "1")
    assert "Your cart is saved: 1 item(s), 15.00 SAR" in chat.send("0")
    chat.send_all("1", "2", "1")  # new order, pickup from Olaya
    assert "1 × Chicken Shawarma" in chat.send("cart")


def test_language_follows_the_customer_and_digits_keep_it() -> None:
    chat = Chat()
    assert "Welcome" in chat.send("hi")
    assert "Delivery or pickup?" in chat.send("١")  # digits alone keep English
    assert "شارك موقعك" in chat.send("توصيل")
    assert "من فضلك شارك موقعك" in chat.send("12")  # not an address: re-prompted, still Arabic
    assert chat.state.lang == "ar"
    assert "Welcome" in chat.send("menu")


# ── unknown input and limits ────────────────────────────────────────────────────────────────────
REACH_STEP: dict[str, tuple[str, ...]] = {
    "welcome": ("hi",),
    "order_type": ("hi", "1"),
    "location": ("hi", "1", "1"),
    "branch": ("hi", "1", "2"),
    "category": ("hi", "1", "2", "1"),
    "item": ("hi", "1", "2", "1", "1"),
    "quantity": ("hi", "1", "2", "1", "1", "1"),
    "after_item": ("hi", "1", "2", "1", "1", "1", "2"),
    "cart": ("hi", "1", "2", "1", "1", "1", "2", "2"),
    "remove": ("hi", "1", "2", "1", "1", "1", "2", "2", "3"),
    "payment": ("hi", "1", "2", "1", "1", "1", "2", "3"),
    "confirm": ("hi", "1", "2", "1", "1", "1", "2", "3", "1"),
}
PROMPTS = {
    "welcome": "1. New order",
    "order_type": "1. Delivery",
    "location": "share your location",
    "branch": "1. Olaya",
    "category": "1. Mains",
    "item": "1. Chicken Shawarma — 15.00 SAR",
    "quantity": "How many Chicken Shawarma?",
    "after_item": "1. Add another item",
    "cart": "3. Remove an item",
    "remove": "Which line should I remove?",
    "payment": "2. Pay online",
    "confirm": "1. Confirm order",
}


@pytest.mark.parametrize("where", sorted(REACH_STEP))
@pytest.mark.parametrize("junk", ["pizza?", "99", "", "🙂"])
def test_unknown_input_reprompts_the_current_step(where: str, junk: str) -> None:
    chat = Chat()
    chat.send_all(*REACH_STEP[where])
    assert chat.state.step == where
    before = chat.state
    reply = chat.send(junk, message_type="text" if junk else "media")
    if (where, junk) == ("quantity", "99"):  # a number, just too many: the re-prompt names the limit
        assert reply.startswith("Sorry, you can add at most 10 of Chicken Shawarma")
    else:
        assert reply.startswith("Sorry, I didn't understand that.") and PROMPTS[where] in reply
    assert chat.state == before


def test_over_the_maximum_quantity_is_refused_with_the_limit() -> None:
    chat = picking_up()
    chat.send_all("1", "1")
    reply = chat.send("11")
    assert "you can add at most 10 of Chicken Shawarma. Reply with a number from 1 to 10" in reply
    assert chat.state.step == "quantity" and not chat.state.cart
    assert "Added 10 × Chicken Shawarma" in chat.send("10")

    chat.send_all("1", "2", "1")  # Orange Juice, max 3
    chat.send("2")
    assert "type a number up to 1" in chat.send_all("1", "2", "1")
    assert "at most 1 of Orange Juice" in chat.send("2")
    chat.send("1")
    assert "already have the most we allow of Orange Juice (3)" in chat.send_all("1", "2", "1")
    assert [(ln.item_id, ln.quantity) for ln in chat.state.cart] == [("itm_shawarma", 10), ("itm_juice", 3)]


def test_an_item_that_left_the_menu_is_dropped_from_the_cart_with_a_note() -> None:
    chat = picking_up()
    chat.send_all("1", "1", "1", "1", "2", "1", "2")  # Chicken Shawarma x1, Orange Juice x2
    chat.ctx = replace(MENU, items=tuple(i for i in MENU.items if i.id != "itm_juice"))
    reply = chat.send("3")  # checkout
    assert "Orange Juice is no longer on the menu, so I removed it from your cart" in reply
    assert "Total: 15.00 SAR" in reply

    chat.send("1")  # cash: now confirming
    chat.ctx = replace(MENU, items=tuple(replace(i, available=False) for i in MENU.items))
    reply = chat.send("1")
    assert "Chicken Shawarma is no longer on the menu" in reply and "Your cart is empty" in reply
    assert chat.of(PlaceOrder) == []


def test_an_item_that_left_the_menu_while_choosing_the_quantity() -> None:
    chat = picking_up()
    chat.send_all("1", "2")  # asked how many Beef Burger
    chat.ctx = replace(MENU, items=tuple(i for i in MENU.items if i.id != "itm_burger"))
    reply = chat.send("1")
    assert "that item is no longer available" in reply and "Choose a category" in reply


# ── state, helpers, texts ───────────────────────────────────────────────────────────────────────
def test_state_from_json_tolerates_missing_old_and_broken_data() -> None:
    assert State.from_json(None) == State() == State.from_json({})
    line = {"item_id": "itm_water", "name_ar": "ماء", "name_en": "Water", "unit_price": 200, "quantity": 2}
    state = State.from_json(
        {
            "step": "cart",
            "lang": "en",
            "cart": [line, {"item_id": "x"}, "junk"],
            "legacy_field": 1,
            "delivery_latitude": 24,
            "rating": "five",
            "order_type": "pickup",
        }
    )
    assert state == State(
        step="cart",
        lang="en",
        cart=(OrderLine("itm_water", "ماء", "Water", 200, 2),),
        order_type="pickup",
        delivery_latitude=24.0,
    )
    assert "Welcome to Sufrah Grill" in Chat(state=State(step="no_such_step", lang="en")).send("1")


@pytest.mark.parametrize(
    "step_name",
    ["start", "done", "placing", "handoff", "rating", "rating_comment", "out_of_range", *REACH_STEP],
)
@pytest.mark.parametrize(
    "inbound",
    [
        Inbound(),
        Inbound(message_type="media"),
        Inbound(**JEDDAH),
        Inbound(text="٠"),
        Inbound(text="remove 9"),
        Inbound(text="x" * 500),
    ],
)
def test_the_bot_answers_every_message_from_every_step(step_name: str, inbound: Inbound) -> None:
    state = State(
        step=step_name,
        lang="en",
        cart=(OrderLine("itm_water", "ماء", "Water", 200, 1),),
        order_type="pickup",
        branch_id="br_olaya",
        category_id="cat_drinks",
        pending_item_id="itm_water",
        payment_method="cash",
        rating_order_id="ord_1",
        rating=4,
    )
    new_state, actions = step(state, inbound, MENU)
    assert any(isinstance(a, Reply) and a.text.strip() for a in actions)
    assert State.from_json(json.loads(json.dumps(new_state.to_json()))) == new_state


def test_format_price() -> None:
    assert format_price(2500, "SAR", "en") == "25.00 SAR"
    assert format_price(2500, "SAR", "ar") == "25.00 ر.س"
    assert format_price(5, "SAR", "en") == "0.05 SAR"
    assert format_price(1250, "KWD", "en") == "1.250 KWD"
    assert format_price(1000, "USD", "ar") == "10.00 USD"


def test_detect_language() -> None:
    assert detect_language("مرحبا") == "ar"
    assert detect_language("hi مرحبا") == "ar"
    assert detect_language("hello") == "en"
    assert detect_language("١٢٣") == "en"


def test_every_text_exists_in_both_languages_with_the_same_placeholders() -> None:
    def placeholders(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    for key, (english, arabic) in TEXTS.items():
        assert english.strip() and arabic.strip(), key
        assert detect_language(arabic) == "ar", key
        assert placeholders(english) == placeholders(arabic), key


# ── interactive choices: abstract options the sender renders as buttons or a list ─────────────────
def last_reply(chat: Chat) -> Reply:
    return [a for a in chat.actions if isinstance(a, Reply)][-1]


def test_every_prompt_with_options_carries_them_as_choices_that_the_step_accepts_back() -> None:
    """Walk a whole order; at each prompt, every choice's id sent back as a ButtonPayload or ListId
    from the same state is understood (never the re-prompt), and its rows are the numbered text."""
    seen: set[str] = set()

    def check(chat: Chat) -> None:
        reply = last_reply(chat)
        if not reply.choices:
            return
        seen.add(chat.state.step)
        rows = [f"{n}. {c.row}" for n, c in enumerate(reply.choices, start=1)]
        if chat.state.step in ("quantity", "rating"):  # "Reply 1, 2, 3 ...", "from 1 ... to 5"
            assert reply.choices[0].id in reply.text and reply.choices[-1].id in reply.text
        else:
            assert "\n".join(rows) in reply.text, "the numbered text lists the choices"
        assert reply.body and not any(row in reply.body for row in rows), (
            "the body leaves them to the buttons"
        )
        for choice in reply.choices:
            for field in ("button_payload", "list_id"):
                after = Chat(chat.ctx, chat.state)
                after.send(**{field: choice.id})
                assert "didn't understand" not in after.reply, (chat.state.step, choice)

    chat = Chat()
    for message in ("hi", "1", "1"):
        chat.send(message)
        check(chat)
    chat.send(**JEDDAH)
    check(chat)  # out of range: pickup instead or another location
    for message in ("1", "1", "1", "2", "1", "cart", "3"):
        chat.send(message)
        check(chat)
    chat.send("back")
    chat.send("2")  # checkout: payment
    check(chat)
    chat.send("1")
    check(chat)  # confirm
    chat.placed()
    chat.status(SHIPPED)
    check(chat)  # rating
    assert seen == {
        "welcome",
        "order_type",
        "out_of_range",
        "branch",
        "category",
        "item",
        "quantity",
        "after_item",
        "cart",
        "remove",
        "payment",
        "confirm",
        "rating",
    }


def test_choices_are_what_the_customer_reads_with_ids_the_flow_knows() -> None:
    chat = Chat()
    chat.send("hello")
    welcome = last_reply(chat)
    assert [c.id for c in welcome.choices] == ["order", "track", "staff"]
    assert welcome.body == "Welcome to Sufrah Grill! 👋 How can we help?"
    chat.send(button_payload="order")
    assert [(c.id, c.title) for c in last_reply(chat).choices] == [
        ("delivery", "Delivery 🛵"),
        ("pickup", "Pickup 🏪"),
    ]
    chat.send(button_payload="delivery")
    chat.send(**NEAR_OLAYA)
    categories = last_reply(chat)
    assert [c.id for c in categories.choices] == ["cat_mains", "cat_drinks", "cat_sweets"]
    assert categories.body is not None and categories.body.startswith(
        "Great, we deliver to you from our Olaya"
    )
    chat.send(list_id="cat_mains")
    assert [
        Choice("itm_shawarma", "Chicken Shawarma", "15.00 SAR"),
        Choice("itm_burger", "Beef Burger", "25.00 SAR"),
    ] == list(last_reply(chat).choices)
    chat.send(list_id="itm_burger")
    assert [c.id for c in last_reply(chat).choices] == ["1", "2", "3"]
    assert "Added 3 × Beef Burger" in chat.send(button_payload="3")


def test_the_welcome_greets_the_customer_by_name_as_a_variable_of_one_shared_content() -> None:
    ctx = replace(MENU, customer_name="  Sara\n Al-Harbi ")
    chat = Chat(ctx)
    assert "Welcome to Sufrah Grill, Sara Al-Harbi! 👋" in chat.send("hi")
    welcome = last_reply(chat)
    assert welcome.body == "Welcome to Sufrah Grill, {{1}}! 👋 How can we help?"
    assert welcome.variables == (("1", "Sara Al-Harbi"),)
    assert "أهلاً Sara Al-Harbi، مرحباً بك في Sufrah Grill" in Chat(ctx).send("مرحبا")


def test_a_long_list_pages_on_the_more_row_and_any_other_answer_starts_over() -> None:
    categories = tuple(Category(f"cat_{n:02d}", f"قسم {n}", f"Section {n}") for n in range(1, 13))
    items = tuple(Item(f"itm_{n:02d}", c.id, "صنف", f"Dish {n}", 1000) for n, c in enumerate(categories, 1))
    chat = Chat(replace(MENU, categories=categories, items=items))
    chat.send_all("hi", "1", "2", "1")  # pickup from Olaya: the 12 categories
    first = last_reply(chat)
    assert len(first.choices) == 12 and first.page == 0 and "12. Section 12" in first.text
    chat.send(list_id=MORE)
    again = last_reply(chat)
    assert (chat.state.step, chat.state.page, again.page) == ("category", 1, 1)
    assert again.choices == first.choices and "didn't understand" not in again.text
    chat.send(list_id=MORE)
    assert last_reply(chat).page == 2  # the sender wraps around
    chat.send(list_id="cat_11")
    assert chat.state.step == "item" and chat.state.page == 0 and last_reply(chat).page == 0
    assert "1. Dish 11" in chat.reply


def test_an_item_with_a_photo_is_shown_with_it() -> None:
    items = tuple(
        replace(i, image_url="https://cdn.example/burger.jpg") if i.id == "itm_burger" else i
        for i in MENU.items
    )
    chat = delivering(replace(MENU, items=items))
    chat.send_all("1", "2")
    shown = last_reply(chat)
    assert shown.media_url == "https://cdn.example/burger.jpg"
    assert shown.text.startswith("Beef Burger — 25.00 SAR\nHow many Beef Burger?")
    chat.send_all("1", "1", "1")  # another item: the shawarma has no photo
    assert last_reply(chat).media_url is None

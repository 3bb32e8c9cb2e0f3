"""Item options through the pure bot: required single choices, optional several, typed numbers,
buttons, re-asks; the cart, the summary and the order carry them, priced with their deltas."""

from __future__ import annotations

from dataclasses import replace

from app.bot.flow import (
    OPTIONS_DONE,
    Category,
    ChosenOption,
    Item,
    ItemOption,
    OptionGroup,
    OrderLine,
    PlaceOrder,
    Reply,
    TurnContext,
)
from tests.bot.test_flow import NEAR_OLAYA, OLAYA, Chat

SIZE = OptionGroup(
    "opg_size",
    "الحجم",
    "Size",
    1,
    1,
    (ItemOption("opt_regular", "عادي", "Regular"), ItemOption("opt_large", "كبير", "Large", 500)),
)
ADD_ONS = OptionGroup(
    "opg_addons",
    "الإضافات",
    "Add-ons",
    0,
    2,
    (
        ItemOption("opt_garlic", "ثوم", "Garlic", 100),
        ItemOption("opt_cheese", "جبنة", "Cheese", 200),
        ItemOption("opt_pickles", "مخلل", "Pickles"),
    ),
)
MENU = TurnContext(
    restaurant_name="Sufrah Grill",
    branches=(OLAYA,),
    categories=(Category("cat_mains", "الأطباق", "Mains"),),
    items=(
        Item("itm_shawarma", "cat_mains", "شاورما", "Shawarma", 1500, option_groups=(SIZE, ADD_ONS)),
        Item("itm_water", "cat_mains", "ماء", "Water", 200),
    ),
)
LARGE = ChosenOption("opt_large", "الحجم", "Size", "كبير", "Large", 500)
REGULAR = ChosenOption("opt_regular", "الحجم", "Size", "عادي", "Regular", 0)
GARLIC = ChosenOption("opt_garlic", "الإضافات", "Add-ons", "ثوم", "Garlic", 100)
CHEESE = ChosenOption("opt_cheese", "الإضافات", "Add-ons", "جبنة", "Cheese", 200)


def at_items(ctx: TurnContext = MENU) -> Chat:
    chat = Chat(ctx)
    chat.send_all("hi", "1", "1")
    chat.send(**NEAR_OLAYA)
    chat.send("1")  # Mains
    return chat


def test_required_size_then_several_add_ons_then_quantity_make_one_priced_line() -> None:
    chat = at_items()
    size = chat.send("1")
    assert "Shawarma: choose the Size:\n1. Regular\n2. Large — +5.00 SAR" in size
    assert "No, thanks" not in size  # a required choice has no way out but *back*
    add_ons = chat.send("2")
    assert "Add-ons, choose up to 2." in add_ons
    assert "1. Garlic — +1.00 SAR\n2. Cheese — +2.00 SAR\n3. Pickles\n4. No extras" in add_ons
    again = chat.send("1")  # Garlic: asked again for a second one, with what is chosen so far
    assert "Chosen: Garlic" in again and "1. Cheese — +2.00 SAR\n2. Pickles\n3. Done ✅" in again
    quantity = chat.send("1")  # Cheese: the most this group allows, so on to the quantity
    assert "How many Shawarma (Large, Garlic, Cheese)?" in quantity
    added = chat.send("2")
    assert "Added 2 × Shawarma (Large, Garlic, Cheese) (46.00 SAR)" in added  # (15 + 5 + 1 + 2) × 2
    assert chat.state.cart == (
        OrderLine("itm_shawarma", "شاورما", "Shawarma", 2300, 2, (LARGE, GARLIC, CHEESE)),
    )
    cart = chat.send("2")
    assert "1. 2 × Shawarma — Large, Garlic, Cheese · 46.00 SAR\nTotal: 46.00 SAR" in cart


def test_no_extras_and_the_same_options_again_add_to_the_same_line_other_options_make_another() -> None:
    chat = at_items()
    chat.send_all("1", "1")  # Shawarma, Regular
    assert "How many Shawarma (Regular)?" in chat.send("no extras")
    chat.send_all("1", "1", "1")  # 1 of them; add another: Mains
    chat.send_all("1", "1", "4", "2", "1", "1")  # Shawarma, Regular, No extras (by number), 2 more
    chat.send_all("1", "2", "4", "1")  # Shawarma, Large, No extras, 1
    assert chat.state.cart == (
        OrderLine("itm_shawarma", "شاورما", "Shawarma", 1500, 3, (REGULAR,)),
        OrderLine("itm_shawarma", "شاورما", "Shawarma", 2000, 1, (LARGE,)),
    )
    summary = chat.send("checkout")
    assert "1. 3 × Shawarma — Regular · 45.00 SAR\n2. 1 × Shawarma — Large · 20.00 SAR" in summary
    assert "Total: 65.00 SAR" in summary
    chat.send("1")  # confirm (cash is the only way here)
    [order] = chat.of(PlaceOrder)
    assert order.subtotal == order.total == 6500
    assert [line.options for line in order.lines] == [(REGULAR,), (LARGE,)]
    assert order.lines[0].options[0].snapshot() == {
        "group_ar": "الحجم",
        "group_en": "Size",
        "name_ar": "عادي",
        "name_en": "Regular",
        "price_delta": 0,
    }


def test_several_typed_numbers_at_once_and_done() -> None:
    chat = at_items()
    chat.send_all("1", "1")  # Regular
    assert "How many Shawarma (Regular, Garlic, Pickles)?" in chat.send("1, 3")
    chat = at_items()
    chat.send_all("1", "1", "3")  # Regular, Pickles
    assert "How many Shawarma (Regular, Pickles)?" in chat.send("done")


def test_an_invalid_choice_re_asks_the_same_group() -> None:
    chat = at_items()
    chat.send("1")
    for junk in ("7", "pizza", "0 9"):
        reply = chat.send(junk)
        assert "didn't understand" in reply and "choose the Size" in reply
        assert chat.state.step == "option" and chat.state.option_group == 0
    chat.send("2")
    assert "didn't understand" in chat.send("1 9")  # one number out of range: none taken
    assert chat.state.picked == ("opt_large",)


def test_at_least_n_is_asked_for_before_done() -> None:
    sauces = replace(ADD_ONS, id="opg_sauces", name_en="Sauces", min_select=2, max_select=3)
    ctx = replace(MENU, items=(replace(MENU.items[0], option_groups=(sauces,)),))
    chat = at_items(ctx)
    first = chat.send("1")
    assert "Sauces, choose 2 to 3." in first and "Done" not in first
    assert "choose at least 2 of Sauces" in chat.send("1") + chat.send("done")
    enough = chat.send("2")  # Garlic and Pickles: enough, one more allowed
    assert "Chosen: Garlic, Pickles\n1. Cheese — +2.00 SAR\n2. Done ✅" in enough
    assert "How many Shawarma (Garlic, Pickles)?" in chat.send("2")


def test_buttons_and_arabic_words_work_too() -> None:
    chat = at_items()
    chat.send("1")
    [size] = chat.of(Reply)
    assert [c.id for c in size.choices] == ["opt_regular", "opt_large"]
    assert "Add-ons" in chat.send(button_payload="opt_large", button_text="Large")
    chat.send(list_id="opt_cheese")
    [add_ons] = chat.of(Reply)
    assert [c.id for c in add_ons.choices] == ["opt_garlic", "opt_pickles", OPTIONS_DONE]
    assert "كم تريد من شاورما (كبير، جبنة)" in chat.send(list_id=OPTIONS_DONE, button_text="تم ✅")


def test_arabic_customer_sees_options_in_arabic() -> None:
    chat = Chat(MENU)
    chat.send_all("مرحبا", "1", "1")
    chat.send(**NEAR_OLAYA)
    chat.send("1")
    assert "شاورما: اختر الحجم:\n1. عادي\n2. كبير — +5.00 ر.س" in chat.send("1")
    assert "بدون إضافات" in chat.send("2")
    assert "كم تريد من شاورما (كبير)" in chat.send("بدون")


def test_back_from_an_option_goes_to_the_items_and_an_item_without_options_asks_no_option() -> None:
    chat = at_items()
    chat.send_all("1", "2")
    assert "Shawarma" in chat.send("back") and chat.state.step == "item" and chat.state.picked == ()
    assert "How many Water?" in chat.send("2")


def test_a_line_whose_option_left_the_menu_is_dropped_and_an_item_missing_a_required_choice_is_hidden() -> (
    None
):
    chat = at_items()
    chat.send_all("1", "2", "4", "1")  # Large, no extras, 1
    no_large = replace(SIZE, options=SIZE.options[:1])
    chat.ctx = replace(MENU, items=(replace(MENU.items[0], option_groups=(no_large, ADD_ONS)), MENU.items[1]))
    assert "Shawarma is no longer on the menu" in chat.send("cart")
    assert chat.state.cart == ()
    empty_size = replace(SIZE, options=())
    chat.ctx = replace(MENU, items=(replace(MENU.items[0], option_groups=(empty_size,)), MENU.items[1]))
    assert "Shawarma" not in chat.send_all("1")  # the menu: Mains has only Water to order

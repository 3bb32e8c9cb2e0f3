"""Item options in the catalog: the menu file's optionGroups (loaded idempotently like the rest, a bad
one refused naming its item), what the bot is given of them, and the service's rules."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from app.bot import memory
from app.errors import NotFound, ValidationFailed
from app.models import Bot, Restaurant
from app.services import catalog
from tests.support import Factory

SIZE = {
    "id": "size",
    "nameAr": "الحجم",
    "nameEn": "Size",
    "minSelect": 1,
    "maxSelect": 1,
    "options": [
        {"nameAr": "عادي", "nameEn": "Regular"},
        {"nameAr": "كبير", "nameEn": "Large", "priceDelta": 500},
        {"nameAr": "عائلي", "nameEn": "Family", "priceDelta": 1500, "available": False},
    ],
}
EXTRAS = {
    "nameAr": "إضافات",
    "nameEn": "Extras",
    "maxSelect": 2,
    "options": [{"nameAr": "ثوم", "nameEn": "Garlic"}, {"nameAr": "جبنة", "nameEn": "Cheese"}],
}


def menu(*groups: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(catalog.DEMO_MENU)
    data["categories"][0]["items"][0]["optionGroups"] = list(groups)  # demo-shish
    return data


async def test_the_menu_file_loads_option_groups_in_order_and_twice_is_the_same(factory: Factory, db):
    restaurant = await factory.restaurant()
    async with db.session() as s:
        for _ in range(2):  # idempotent: the same rows, ids and order
            loaded = await catalog.load_menu(s, restaurant_id=restaurant.id, data=menu(SIZE, EXTRAS))
            await s.commit()
        groups = loaded.option_groups["demo-shish"]
    assert [(g.group.id, g.group.name_en, g.group.min_select, g.group.max_select) for g in groups] == [
        ("size", "Size", 1, 1),
        ("demo-shish-2", "Extras", 0, 2),  # no id in the file: the item's id and its place
    ]
    assert [(o.id, o.name_en, o.price_delta, o.available) for o in groups[0].options] == [
        ("size-1", "Regular", 0, True),
        ("size-2", "Large", 500, True),
        ("size-3", "Family", 1500, False),
    ]
    assert [o.id for o in groups[1].options] == ["demo-shish-2-1", "demo-shish-2-2"]
    assert "demo-kebab" not in loaded.option_groups


async def test_the_bot_is_given_available_options_only(factory: Factory, db):
    handle = await factory.bot()
    async with db.session() as s:
        await catalog.load_menu(s, restaurant_id=handle.restaurant.id, data=menu(SIZE, EXTRAS))
        await s.commit()
        restaurant = await s.get(Restaurant, handle.restaurant.id)
        bot = await s.get(Bot, (handle.restaurant.id, handle.bot.id))
        assert bot is not None
        ctx = await memory.turn_context(s, restaurant=restaurant, bot=bot, latest=None)
    shish = next(i for i in ctx.items if i.id == "demo-shish")
    size, extras = shish.option_groups
    assert [(o.name_en, o.price_delta) for o in size.options] == [("Regular", 0), ("Large", 500)]
    assert (size.min_select, size.max_select, extras.max_select) == (1, 1, 2)
    assert next(i for i in ctx.items if i.id == "demo-kebab").option_groups == ()


@pytest.mark.parametrize(
    ("group", "words"),
    [
        ({**SIZE, "minSelect": 2}, "minSelect must not be more than maxSelect"),
        ({**SIZE, "maxSelect": 4}, "maxSelect must not be more than the number of options (3)"),
        ({**SIZE, "options": []}, "options must be a list of 1 to 20 options"),
        ({**SIZE, "nameEn": ""}, "name_en is required"),
        ({**SIZE, "options": [{"nameAr": "x", "nameEn": "x", "priceDelta": -1}]}, "price_delta must be"),
        ({**SIZE, "options": [{"nameEn": "Large"}]}, "name_ar is required"),
        ({**SIZE, "options": ["Large"]}, "option 1 must be an object"),
        ("Size", "option group 1 must be an object"),
        ({**SIZE, "minSelect": None, "maxSelect": "one"}, "maxSelect must be a whole number"),
        (
            {**SIZE, "options": [{"nameAr": "x", "nameEn": "x", "priceDelta": 1.5}]},
            "priceDelta must be a whole",
        ),
        ({**SIZE, "options": [{"nameAr": "x", "nameEn": "x", "available": "no"}]}, "available must be true"),
    ],
)
async def test_a_bad_option_group_in_the_file_is_refused_naming_the_item(factory: Factory, db, group, words):
    restaurant = await factory.restaurant()
    async with db.session() as s:
        with pytest.raises(ValidationFailed) as refused:
            await catalog.load_menu(s, restaurant_id=restaurant.id, data=menu(group))
    assert "item demo-shish (Shish Tawook)" in refused.value.message and words in refused.value.message


async def test_option_group_ids_are_unique_in_a_file(factory: Factory, db):
    restaurant = await factory.restaurant()
    data = menu(SIZE)
    data["categories"][0]["items"][1]["optionGroups"] = [SIZE]  # the same "size" id on Lamb Kebab
    async with db.session() as s:
        with pytest.raises(ValidationFailed, match=r"item demo-kebab .*: duplicate id size in the menu file"):
            await catalog.load_menu(s, restaurant_id=restaurant.id, data=data)


async def test_the_service_rules(factory: Factory, db):
    restaurant = await factory.restaurant()
    other = await factory.restaurant("Elsewhere")
    async with db.session() as s:
        await catalog.load_menu(s, restaurant_id=restaurant.id, data=menu(SIZE))
        await catalog.load_menu(s, restaurant_id=other.id, data=menu())
        with pytest.raises(ValidationFailed, match="stays with its item"):
            await catalog.save_option_group(
                s, restaurant_id=restaurant.id, group_id="size", item_id="demo-kebab"
            )
        with pytest.raises(ValidationFailed, match="stays in its group"):
            await catalog.save_option(s, restaurant_id=restaurant.id, option_id="size-1", group_id="x")
        with pytest.raises(NotFound):  # another restaurant's group, by its id
            await catalog.save_option_group(s, restaurant_id=other.id, group_id="size", name_en="Mine")
        with pytest.raises(NotFound):
            await catalog.remove(s, restaurant_id=other.id, kind="option", row_id="size-1")
        lowered = await catalog.save_option_group(
            s, restaurant_id=restaurant.id, group_id="size", min_select=0
        )
        assert (lowered.min_select, lowered.max_select) == (0, 1)
        await catalog.remove(s, restaurant_id=restaurant.id, kind="item", row_id="demo-shish")
        left = await catalog.option_groups(s, restaurant_id=restaurant.id, item_ids=None)
        assert list(left) == ["demo-mixed"]  # the demo's Mixed Grill keeps its own

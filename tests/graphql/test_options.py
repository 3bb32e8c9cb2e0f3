"""Item options over GraphQL: staff create, change and delete option groups and options (with the
catalog's rules as ValidationErrors), the menu shows them in a constant number of queries, and
another restaurant sees and touches none of them."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from app.graphql.schema import schema
from app.services import catalog
from tests.bot_support import open_shop
from tests.fakes.twilio_api import FakeTwilio
from tests.gql import gql


@pytest.fixture
async def shop(factory, db):
    async with FakeTwilio() as fake:
        shop = await open_shop(factory, db, fake)
        yield shop
        await shop.outbox.sender.aclose()


GROUP = """mutation($id: ID, $input: OptionGroupInput!) { saveOptionGroup(id: $id, input: $input) {
  __typename ... on MenuOptionGroup { id itemId nameEn minSelect maxSelect options { nameEn } }
  ... on ValidationError { field message } ... on NotFoundError { message } } }"""
OPTION = """mutation($id: ID, $input: OptionInput!) { saveOption(id: $id, input: $input) {
  __typename ... on MenuOption { id groupId nameEn priceDelta available }
  ... on ValidationError { field message } ... on NotFoundError { message } } }"""
DELETE = """mutation($kind: MenuEntryKind!, $id: ID!) { deleteMenuEntry(kind: $kind, id: $id) {
  __typename } }"""
MENU = """{ menu { categories { items { id nameEn optionGroups { nameEn minSelect maxSelect
  options { nameEn priceDelta available } } } } } }"""


def caller(client, shop):
    async def call(query, variables=None):
        result = await gql(client, query, variables, token=shop.token, restaurant=shop.restaurant_id)
        assert result.get("data") is not None, result
        return result["data"]

    return call


async def test_staff_build_an_items_options_and_the_menu_shows_them(client, shop):
    call = caller(client, shop)
    size = (
        await call(
            GROUP,
            {
                "input": {
                    "itemId": "demo-shawarma",
                    "nameAr": "الحجم",
                    "nameEn": "Size",
                    "minSelect": 1,
                    "maxSelect": 1,
                }
            },
        )
    )["saveOptionGroup"]
    assert size["__typename"] == "MenuOptionGroup" and size["options"] == []
    for name, delta in (("Regular", 0), ("Large", 400)):
        saved = (
            await call(
                OPTION,
                {"input": {"groupId": size["id"], "nameAr": name, "nameEn": name, "priceDelta": delta}},
            )
        )["saveOption"]
        assert saved["__typename"] == "MenuOption" and saved["priceDelta"] == delta
    large = saved["id"]
    extras = (
        await call(
            GROUP,
            {
                "input": {
                    "itemId": "demo-shawarma",
                    "nameAr": "إضافات",
                    "nameEn": "Extras",
                    "maxSelect": 3,
                    "sortOrder": 5,
                }
            },
        )
    )["saveOptionGroup"]
    assert (extras["minSelect"], extras["maxSelect"]) == (0, 3)  # no options yet: add them next

    menu = (await call(MENU))["menu"]
    shawarma = next(i for c in menu["categories"] for i in c["items"] if i["id"] == "demo-shawarma")
    assert shawarma["optionGroups"] == [
        {
            "nameEn": "Size",
            "minSelect": 1,
            "maxSelect": 1,
            "options": [
                {"nameEn": "Regular", "priceDelta": 0, "available": True},
                {"nameEn": "Large", "priceDelta": 400, "available": True},
            ],
        },
        {"nameEn": "Extras", "minSelect": 0, "maxSelect": 3, "options": []},
    ]
    changed = (await call(OPTION, {"id": large, "input": {"available": False, "nameEn": "XL"}}))["saveOption"]
    assert (changed["nameEn"], changed["available"]) == ("XL", False)
    renamed = (await call(GROUP, {"id": size["id"], "input": {"nameEn": "Portion"}}))["saveOptionGroup"]
    assert renamed["nameEn"] == "Portion" and [o["nameEn"] for o in renamed["options"]] == ["Regular", "XL"]

    assert (await call(DELETE, {"kind": "OPTION", "id": large}))["deleteMenuEntry"]["__typename"] == "Deleted"
    assert (await call(DELETE, {"kind": "OPTION_GROUP", "id": size["id"]}))["deleteMenuEntry"][
        "__typename"
    ] == "Deleted"
    assert (await call(DELETE, {"kind": "OPTION", "id": large}))["deleteMenuEntry"]["__typename"] == (
        "NotFoundError"
    )
    menu = (await call(MENU))["menu"]
    shawarma = next(i for c in menu["categories"] for i in c["items"] if i["id"] == "demo-shawarma")
    assert [g["nameEn"] for g in shawarma["optionGroups"]] == ["Extras"]
    # Deleting the item takes its groups and options with it.
    assert (await call(DELETE, {"kind": "ITEM", "id": "demo-shawarma"}))["deleteMenuEntry"]["__typename"] == (
        "Deleted"
    )
    assert (await call(GROUP, {"id": extras["id"], "input": {"nameEn": "x"}}))["saveOptionGroup"][
        "__typename"
    ] == "NotFoundError"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"nameAr": "x", "nameEn": "", "minSelect": 0, "maxSelect": 1}, "name_en"),
        ({"nameAr": "x", "nameEn": "Size", "minSelect": 2, "maxSelect": 1}, "minSelect"),
        ({"nameAr": "x", "nameEn": "Size", "minSelect": 0, "maxSelect": 0}, "max_select"),
        ({"nameAr": "x", "nameEn": "Size", "minSelect": -1, "maxSelect": 1}, "min_select"),
        ({"nameAr": "x", "nameEn": "Size", "maxSelect": 99}, "max_select"),
    ],
)
async def test_bad_groups_are_validation_errors(client, shop, values, field):
    call = caller(client, shop)
    result = (await call(GROUP, {"input": {"itemId": "demo-shawarma", **values}}))["saveOptionGroup"]
    assert result["__typename"] == "ValidationError" and result["field"] == field, result


async def test_the_rules_between_a_group_and_its_options(client, shop):
    call = caller(client, shop)
    missing = (await call(GROUP, {"input": {"itemId": "nope", "nameAr": "x", "nameEn": "x"}}))[
        "saveOptionGroup"
    ]
    assert missing == {"__typename": "NotFoundError", "message": "menu item not found"}
    group = (
        await call(
            GROUP, {"input": {"itemId": "demo-kebab", "nameAr": "x", "nameEn": "Sauce", "maxSelect": 2}}
        )
    )["saveOptionGroup"]
    for name in ("Garlic", "Tahini"):
        await call(OPTION, {"input": {"groupId": group["id"], "nameAr": name, "nameEn": name}})
    too_many = (await call(GROUP, {"id": group["id"], "input": {"maxSelect": 3}}))["saveOptionGroup"]
    assert too_many["__typename"] == "ValidationError" and too_many["field"] == "maxSelect"
    assert "number of options (2)" in too_many["message"]
    upside_down = await call(GROUP, {"id": group["id"], "input": {"minSelect": 2, "maxSelect": 1}})
    assert upside_down["saveOptionGroup"]["field"] == "minSelect"
    negative = (
        await call(
            OPTION, {"input": {"groupId": group["id"], "nameAr": "x", "nameEn": "x", "priceDelta": -100}}
        )
    )["saveOption"]
    assert negative["__typename"] == "ValidationError" and negative["field"] == "price_delta"
    nameless = (await call(OPTION, {"input": {"groupId": group["id"], "nameAr": "x"}}))["saveOption"]
    assert nameless["__typename"] == "ValidationError" and nameless["field"] == "name_en"
    orphan = (await call(OPTION, {"input": {"groupId": "nope", "nameAr": "x", "nameEn": "x"}}))["saveOption"]
    assert orphan["__typename"] == "NotFoundError"


async def test_another_restaurant_sees_and_touches_none_of_them(client, shop, factory, db):
    call = caller(client, shop)
    group = (await call(GROUP, {"input": {"itemId": "demo-kebab", "nameAr": "x", "nameEn": "Sauce"}}))[
        "saveOptionGroup"
    ]
    option = (await call(OPTION, {"input": {"groupId": group["id"], "nameAr": "x", "nameEn": "Garlic"}}))[
        "saveOption"
    ]
    async with FakeTwilio() as fake:
        other = await open_shop(factory, db, fake)  # the same demo menu: the same item ids
        try:
            theirs = caller(client, other)
            menu = (await theirs(MENU))["menu"]
            kebabs = [i for c in menu["categories"] for i in c["items"] if i["id"] == "demo-kebab"]
            assert [k["optionGroups"] for k in kebabs] == [[]]
            changed = (await theirs(GROUP, {"id": group["id"], "input": {"nameEn": "Mine"}}))[
                "saveOptionGroup"
            ]
            assert changed["__typename"] == "NotFoundError"
            moved = (await theirs(OPTION, {"id": option["id"], "input": {"priceDelta": 1}}))["saveOption"]
            assert moved["__typename"] == "NotFoundError"
            into = await theirs(OPTION, {"input": {"groupId": group["id"], "nameAr": "x", "nameEn": "x"}})
            assert into["saveOption"]["__typename"] == "NotFoundError"
            for kind, row_id in (("OPTION", option["id"]), ("OPTION_GROUP", group["id"])):
                gone = (await theirs(DELETE, {"kind": kind, "id": row_id}))["deleteMenuEntry"]
                assert gone["__typename"] == "NotFoundError"
        finally:
            await other.outbox.sender.aclose()
    menu = (await call(MENU))["menu"]
    kebab = next(i for c in menu["categories"] for i in c["items"] if i["id"] == "demo-kebab")
    assert kebab["optionGroups"] == [
        {
            "nameEn": "Sauce",
            "minSelect": 0,
            "maxSelect": 1,
            "options": [{"nameEn": "Garlic", "priceDelta": 0, "available": True}],
        }
    ]


async def test_the_menu_with_options_costs_the_same_queries_whatever_its_size(client, shop, db):
    async with db.session() as s:
        for item in ("demo-shish", "demo-kebab", "demo-laban", "demo-shawarma", "demo-falafel"):
            group = await catalog.save_option_group(
                s, restaurant_id=shop.restaurant_id, item_id=item, name_ar="x", name_en="Size"
            )
            await catalog.save_option(
                s, restaurant_id=shop.restaurant_id, group_id=group.id, name_ar="x", name_en="S"
            )
        await s.commit()
    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    await caller(client, shop)(MENU)  # the token is looked up once, then remembered
    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        menu = (await caller(client, shop)(MENU))["menu"]
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    assert (
        sum(len(i["optionGroups"]) for c in menu["categories"] for i in c["items"]) == 5 + 2
    )  # Mixed Grill's
    option_reads = [s for s in statements if "menu_option" in s]
    assert len(option_reads) == 2, option_reads  # the groups, then their options: once each


def test_the_cost_estimate_bounds_the_option_lists():
    from graphql import parse

    from app.graphql.cost import UNPAGED, estimate

    cost = estimate(schema._schema, parse(MENU), None).evaluate({})
    # menu 1, categories 20, items 20 × 20, then every option group and option of the restaurant once
    totals = catalog.MAX_RESTAURANT_OPTION_GROUPS + catalog.MAX_RESTAURANT_OPTIONS
    assert cost == 1 + UNPAGED + UNPAGED**2 + totals <= 10_000
    body = MENU.strip()[1:-1]
    twice = estimate(schema._schema, parse("{ a: " + body.strip() + " b: " + body.strip() + " }"), None)
    assert twice.evaluate({}) == 2 * cost  # each place the lists are asked for counts


async def test_a_restaurant_has_a_bounded_number_of_options(client, shop, db, monkeypatch):
    monkeypatch.setattr(catalog, "MAX_RESTAURANT_OPTION_GROUPS", 3)  # the demo's Mixed Grill has 2
    call = caller(client, shop)
    first = await call(GROUP, {"input": {"itemId": "demo-kebab", "nameAr": "x", "nameEn": "Sauce"}})
    assert first["saveOptionGroup"]["__typename"] == "MenuOptionGroup"
    second = await call(GROUP, {"input": {"itemId": "demo-shish", "nameAr": "x", "nameEn": "Sauce"}})
    assert second["saveOptionGroup"]["__typename"] == "ValidationError"
    assert "at most 3 option groups" in second["saveOptionGroup"]["message"]


def test_an_order_lines_options_cost_nothing_more_than_the_line():
    from graphql import parse

    from app.graphql.cost import estimate

    plain = "{ orders(first: 50) { nodes { lines { nameEn } } } }"
    with_options = "{ orders(first: 50) { nodes { lines { nameEn options { nameEn priceDelta } } } } }"
    assert estimate(schema._schema, parse(with_options), None).evaluate({}) == estimate(
        schema._schema, parse(plain), None
    ).evaluate({})

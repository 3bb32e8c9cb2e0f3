"""`sufrah menu load` with item options, run as the operator runs it (a subprocess)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.models import MenuOption
from app.services import catalog
from tests.test_cli import env, sufrah  # noqa: F401  (env is a fixture)

pytestmark = pytest.mark.slow


async def test_menu_load_with_options_and_a_clear_error_for_a_bad_group(env, tmp_path, session):  # noqa: F811
    restaurant_id = sufrah("restaurant", "create", "--name", "Options Test", env=env).stdout.split()[0]
    menu = json.loads(json.dumps(catalog.DEMO_MENU))
    shish = menu["categories"][0]["items"][0]
    shish["optionGroups"] = [
        {
            "nameAr": "الحجم",
            "nameEn": "Size",
            "minSelect": 1,
            "maxSelect": 1,
            "options": [
                {"nameAr": "عادي", "nameEn": "Regular"},
                {"nameAr": "كبير", "nameEn": "Large", "priceDelta": 500},
            ],
        }
    ]
    path = tmp_path / "menu.json"
    path.write_text(json.dumps(menu, ensure_ascii=False))
    for _ in range(2):  # idempotent
        out = sufrah("menu", "load", "--restaurant", restaurant_id, str(path), env=env).stdout
        assert "(3 option groups)" in out  # and the demo's Mixed Grill's two
    rows = (
        await session.execute(
            select(MenuOption.id, MenuOption.price_delta)
            .where(MenuOption.restaurant_id == restaurant_id, MenuOption.group_id == "demo-shish-1")
            .order_by(MenuOption.id)
        )
    ).all()
    assert rows == [("demo-shish-1-1", 0), ("demo-shish-1-2", 500)]
    shish["optionGroups"][0]["maxSelect"] = 3
    path.write_text(json.dumps(menu, ensure_ascii=False))
    bad = sufrah("menu", "load", "--restaurant", restaurant_id, str(path), env=env, check=False)
    assert bad.returncode == 1
    assert "item demo-shish (Shish Tawook), option group Size: maxSelect" in bad.stderr
    assert "Traceback" not in bad.stderr

"""`sufrah …` run as the operator runs it: subprocesses against a real database (and one against the
embedded one), and `simulate` against a real server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import httpx
import pytest

from app.cli import DEMO_NUMBER, build_parser
from app.db import embedded
from app.services import bots, restaurants
from app.settings import PROJECT_ROOT, Settings
from tests.servers import ServerProcess
from tests.support import auth, eventually

pytestmark = pytest.mark.slow


def sufrah(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env={**os.environ, **env},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check:
        assert result.returncode == 0, f"sufrah {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture
def env(db, settings: Settings) -> dict[str, str]:
    """The test database and secret key; `db` empties the tables afterwards."""
    return {
        "DATABASE_URL": settings.database_url or "",
        "SECRET_KEY": settings.secret_key or "",
        "DATA_DIR": str(settings.data_dir),
        "DASHBOARD_PAT": "",
        "LOG_LEVEL": "WARNING",
    }


def test_every_command_has_help(capsys):
    commands = [
        [],
        ["serve"],
        ["migrate"],
        ["export-schema"],
        ["demo"],
        ["simulate"],
        ["restaurant"],
        ["restaurant", "create"],
        ["restaurant", "list"],
        ["bot"],
        ["bot", "register"],
        ["bot", "list"],
        ["bot", "disable"],
        ["bot", "enable"],
        ["token"],
        ["token", "create"],
        ["token", "list"],
        ["token", "revoke"],
        ["menu"],
        ["menu", "load"],
        ["menu", "sync"],
    ]
    for command in commands:
        with pytest.raises(SystemExit) as exited:
            build_parser().parse_args([*command, "--help"])
        assert exited.value.code == 0
        assert "usage: sufrah" in capsys.readouterr().out


def test_help_through_the_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    for command in ("serve", "migrate", "restaurant", "bot", "token", "demo", "simulate"):
        assert command in result.stdout


async def test_restaurants_bots_and_tokens(env, client):
    rid = sufrah("restaurant", "create", "--name", "Kabsa Corner", "--id", "kabsa", env=env).stdout.strip()
    assert rid == "kabsa"
    assert "Kabsa Corner" in sufrah("restaurant", "list", env=env).stdout

    registered = sufrah(
        "bot",
        "register",
        "--restaurant",
        "kabsa",
        "--name",
        "Kabsa Bot",
        "--number",
        "whatsapp:+966512340000",
        "--account-sid",
        "AC" + "1" * 32,
        "--status",
        "ACTIVE",
        env={**env, "TWILIO_AUTH_TOKEN": "very-secret-auth-token"},
    )
    bot_id = registered.stdout.split()[0]
    assert bot_id.startswith("bot_") and "+966512340000" in registered.stdout
    duplicate = sufrah(
        "bot",
        "register",
        "--restaurant",
        "kabsa",
        "--name",
        "Again",
        "--number",
        "+966512340000",
        "--account-sid",
        "AC1",
        "--auth-token",
        "x",
        env=env,
        check=False,
    )
    assert duplicate.returncode == 1 and "already registered" in duplicate.stderr
    sufrah("bot", "disable", bot_id, env=env)
    listing = sufrah("bot", "list", "--restaurant", "kabsa", env=env).stdout
    assert f"{bot_id}  kabsa" in listing and " no " in listing and "very-secret" not in listing

    created = sufrah("token", "create", "--restaurant", "kabsa", "--name", "front desk", env=env)
    token = created.stdout.strip()
    assert token.startswith("sfr_") and "shown once" in created.stderr
    response = await client.get("/api/db/restaurants/kabsa/bots", headers=auth(token))
    assert response.status_code == 200 and response.json()[0]["isActive"] is False

    tokens = sufrah("token", "list", env=env).stdout
    assert "front desk" in tokens and token[:10] in tokens and token not in tokens
    token_id = next(line.split()[0] for line in tokens.splitlines() if "front desk" in line)
    sufrah("token", "revoke", token_id, env=env)
    # The CLI is another process: this one hears of the revocation by NOTIFY.
    revoked = await eventually(
        lambda: client.get("/api/db/conversations", headers=auth(token)), lambda r: r.status_code == 401
    )
    assert revoked.status_code == 401
    again = sufrah("token", "revoke", token_id, env=env, check=False)
    assert again.returncode == 1 and "no active token" in again.stderr

    admin = sufrah("token", "create", "--admin", "--name", "ops", env=env).stdout.strip()
    assert (await client.get("/api/admin/bots", headers=auth(admin))).status_code == 200


def test_bad_input_is_an_error_not_a_traceback(env):
    for args in (
        ["restaurant", "create", "--name", " "],
        ["token", "create", "--restaurant", "nowhere", "--name", "x"],
        ["bot", "disable", "bot_missing"],
        [
            "bot",
            "register",
            "--restaurant",
            "nowhere",
            "--name",
            "b",
            "--number",
            "+966500000000",
            "--account-sid",
            "AC1",
            "--auth-token",
            "t",
        ],
    ):
        result = sufrah(*args, env=env, check=False)
        assert result.returncode == 1 and result.stderr.startswith("sufrah: "), result.stderr
        assert "Traceback" not in result.stderr
    usage = sufrah("token", "create", "--name", "x", env=env, check=False)  # neither --admin nor --restaurant
    assert usage.returncode == 2


async def test_demo_then_simulate_against_a_running_server(env, tmp_path, session):
    first = sufrah("demo", env=env).stdout
    second = sufrah("demo", env=env).stdout  # idempotent, with a fresh token
    assert "sufrah simulate --to +15550001234" in first and "curl" in first and "/graphql" in first
    token = next(line.split()[1] for line in second.splitlines() if line.strip().startswith("token"))
    assert [r.name for r in await restaurants.list_all(session)] == ["Sufrah Demo Grill"]
    assert [b.whatsapp_number for b in await bots.list_for(session, restaurant_id="demo")] == [DEMO_NUMBER]

    with ServerProcess(env={**env, "RUN_WORKERS": "false"}, log_dir=tmp_path) as server:
        sent = sufrah(
            "simulate",
            "--to",
            DEMO_NUMBER,
            "--from",
            "+966500000009",
            "--body",
            "one shawarma please",
            "--server",
            server.url,
            env=env,
        )
        assert "HTTP 200" in sent.stdout
        located = sufrah(
            "simulate",
            "--to",
            DEMO_NUMBER,
            "--from",
            "+966500000009",
            "--latitude",
            "24.7136",
            "--longitude",
            "46.6753",
            "--server",
            f"{server.url}/",
            env=env,
        )
        assert "HTTP 200" in located.stdout  # and a trailing slash is not a different URL
        async with httpx.AsyncClient(base_url=server.url, headers=auth(token)) as c:
            [conversation] = (await c.get("/api/db/conversations")).json()
            assert conversation["customerPhone"] == "whatsapp:+966500000009"
            messages = (await c.get(f"/api/db/conversations/{conversation['id']}/messages")).json()
    customer = [m for m in messages if m["direction"] == "IN"]
    assert [m["content"] for m in customer] == ["one shawarma please", ""]
    assert [m["messageType"] for m in customer] == ["text", "location"]
    assert customer[1]["metadata"]["location"]["latitude"] == 24.7136
    assert customer[0]["metadata"]["toPhone"] == f"whatsapp:{DEMO_NUMBER}"

    unknown = sufrah("simulate", "--to", "+15559999999", "--body", "x", env=env, check=False)
    assert unknown.returncode == 1 and "no bot is registered" in unknown.stderr


async def test_zero_config_commands_on_the_embedded_database(tmp_path):
    data_dir = tmp_path / "data"
    env = {"DATA_DIR": str(data_dir), "DATABASE_URL": "", "SECRET_KEY": "k" * 40, "LOG_LEVEL": "WARNING"}
    try:
        unmigrated = sufrah("restaurant", "list", env=env, check=False)  # never migrates behind one's back
        assert unmigrated.returncode == 1 and "run `sufrah migrate` first" in unmigrated.stderr
        assert "database at head" in sufrah("migrate", env=env).stdout
        sufrah("restaurant", "create", "--name", "Embedded Eats", "--id", "emb", "--currency", "aed", env=env)
        listing = sufrah("restaurant", "list", env=env).stdout
        assert "emb" in listing and "Embedded Eats" in listing and "AED" in listing
        assert (data_dir / "pgdata" / "PG_VERSION").exists()
    finally:
        await asyncio.to_thread(embedded.stop, data_dir)


async def test_menu_load_from_a_json_file(env, tmp_path, session):
    import json

    from sqlalchemy import select

    from app.models import Branch, MenuItem, Restaurant

    restaurant_id = sufrah("restaurant", "create", "--name", "Menu Test", env=env).stdout.split()[0]
    menu = {
        "minDeliveryTotal": 1500,
        "currency": "SAR",
        "branches": [
            {
                "id": "b1",
                "nameAr": "الفرع",
                "nameEn": "Main",
                "latitude": 24.7,
                "longitude": 46.7,
                "deliveryRadiusKm": 5,
            }
        ],
        "categories": [
            {
                "id": "c1",
                "nameAr": "مشروبات",
                "nameEn": "Drinks",
                "items": [{"id": "tea", "nameAr": "شاي", "nameEn": "Tea", "price": 300}],
            }
        ],
    }
    path = tmp_path / "menu.json"
    path.write_text(json.dumps(menu, ensure_ascii=False))
    out = sufrah("menu", "load", "--restaurant", restaurant_id, str(path), env=env).stdout
    assert "1 branches, 1 categories and 1 items" in out
    sufrah("menu", "load", "--restaurant", restaurant_id, str(path), env=env)  # idempotent
    rows = (
        await session.execute(
            select(MenuItem.id, MenuItem.price).where(MenuItem.restaurant_id == restaurant_id)
        )
    ).all()
    assert rows == [("tea", 300)]
    branch = (await session.execute(select(Branch).where(Branch.restaurant_id == restaurant_id))).scalar_one()
    assert branch.name_en == "Main"
    restaurant = (
        await session.execute(select(Restaurant).where(Restaurant.id == restaurant_id))
    ).scalar_one()
    assert restaurant.min_delivery_total == 1500
    path.write_text("{not json")
    bad = sufrah("menu", "load", "--restaurant", restaurant_id, str(path), env=env, check=False)
    assert bad.returncode == 1 and "menu file" in bad.stderr


async def test_menu_load_with_options_and_a_clear_error_for_a_bad_group(env, tmp_path, session):
    import json

    from sqlalchemy import select

    from app.models import MenuOption
    from app.services import catalog

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


async def test_menu_sync_from_the_sufrah_platform(env, session):
    from sqlalchemy import select

    from app.models import MenuItem
    from tests.fakes.sufrah_api import FakeSufrah, furnish

    restaurant_id = sufrah("restaurant", "create", "--name", "Platform Grill", env=env).stdout.split()[0]
    async with FakeSufrah() as fake:
        furnish(fake.merchant("m-cli"))
        platform_env = {**env, "SUFRAH_API_BASE": fake.base_url, "SUFRAH_API_KEY": fake.api_key}
        args = ("menu", "sync", "--restaurant", restaurant_id, "--provider", "sufrah", "--merchant", "m-cli")
        done = await asyncio.to_thread(sufrah, *args, env=platform_env)  # the fake answers meanwhile
        assert "synced 2 branches, 2 categories and 3 items" in done.stdout
        fake.fail(503)
        failed = await asyncio.to_thread(
            sufrah, "menu", "sync", "--restaurant", restaurant_id, env=platform_env, check=False
        )
        assert failed.returncode == 1 and "503" in failed.stderr
    local = sufrah("restaurant", "create", "--name", "Local", env=env).stdout.split()[0]  # a local catalog
    refused = sufrah("menu", "sync", "--restaurant", local, env=env, check=False)
    assert refused.returncode != 0 and "local" in refused.stderr
    prices = dict(
        (
            await session.execute(
                select(MenuItem.id, MenuItem.price).where(MenuItem.restaurant_id == restaurant_id)
            )
        ).all()
    )
    assert prices == {"p-kabsa": 3500, "p-mandi": 5000, "p-tea": 550}

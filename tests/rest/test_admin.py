"""The admin API: admin tokens only, the spec's fields, defaults and errors, write-only secrets."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from sqlalchemy import select

from app.auth.crypto import SecretBox
from app.models import Bot
from app.services import restaurants
from tests.rest.test_legacy_reads import BOT_KEYS, assert_shape
from tests.support import Factory, auth, inbound_params, new_number, post_signed

ADMIN_EXTRA = {
    "restaurantId": str,
    "accountSid": str,
    "subaccountSid": (str, type(None)),
    "senderSid": (str, type(None)),
    "wabaId": (str, type(None)),
    "supportContact": (str, type(None)),
    "paymentLink": (str, type(None)),
    "maxMessagesPerMin": int,
    "maxMessagesPerDay": int,
}


def new_bot(**overrides: Any) -> dict[str, Any]:
    body = {
        "name": "Main Branch Bot",
        "restaurantName": "Shawarma House",
        "whatsappNumber": f"whatsapp:{new_number()}",
        "accountSid": "AC" + secrets.token_hex(16),
        "authToken": "tok-" + secrets.token_hex(16),
        # a restaurant's bot; without restaurantId a sender is a shared one (test_shared_senders.py)
        "restaurantId": "rst_" + secrets.token_hex(6),
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


@pytest.fixture
async def admin(factory: Factory) -> dict[str, str]:
    return auth(await factory.token(admin=True))


def no_secrets(text: str, *plaintexts: str) -> None:
    assert "authToken" not in text and "auth_token" not in text and "encrypted" not in text
    for plaintext in plaintexts:
        assert plaintext not in text


async def test_admin_only(client, factory: Factory):
    restaurant = await factory.restaurant()
    scoped = auth(await factory.token(restaurant.id), restaurant.id)
    calls = [
        ("GET", "/api/admin/bots", None),
        ("POST", "/api/admin/bots", new_bot()),
        ("GET", "/api/admin/bots/bot_x", None),
        ("PUT", "/api/admin/bots/bot_x", {"name": "n"}),
        ("DELETE", "/api/admin/bots/bot_x", None),
    ]
    for method, path, body in calls:
        assert (await client.request(method, path, json=body)).status_code == 401
        assert (await client.request(method, path, json=body, headers=auth("sfr_wrong"))).status_code == 401
        response = await client.request(method, path, json=body, headers=scoped)
        assert response.status_code == 403 and "admin" in response.json()["error"]
    assert (await client.get("/api/admin/bots", headers=auth("test-dashboard-pat"))).status_code == 200
    assert (
        await client.get("/api/admin/bots", headers=auth(await factory.token(admin=True)))
    ).status_code == 200


async def test_create_makes_the_restaurant_and_applies_defaults(client, admin, session):
    body = new_bot()
    response = await client.post("/api/admin/bots", json=body, headers=admin)
    assert response.status_code == 201, response.text
    bot = response.json()
    assert_shape(bot, BOT_KEYS | ADMIN_EXTRA)
    assert bot["whatsappNumber"] == body["whatsappNumber"] and bot["name"] == "Main Branch Bot"
    assert (bot["status"], bot["isActive"], bot["maxMessagesPerMin"], bot["maxMessagesPerDay"]) == (
        "PENDING",
        True,
        60,
        1000,
    )
    assert bot["accountSid"] == body["accountSid"] and bot["subaccountSid"] is None
    no_secrets(response.text, body["authToken"])
    restaurant = await restaurants.get(session, restaurant_id=bot["restaurantId"])
    assert restaurant.name == "Shawarma House"
    # and the restaurant's dashboards see it through the legacy path
    listed = await client.get(f"/api/db/restaurants/{bot['restaurantId']}/bots", headers=admin)
    assert [b["id"] for b in listed.json()] == [bot["id"]]


async def test_create_for_a_named_restaurant_new_or_existing(client, admin, factory: Factory, session):
    fresh = await client.post("/api/admin/bots", json=new_bot(restaurantId="rst_new_one"), headers=admin)
    assert fresh.status_code == 201 and fresh.json()["restaurantId"] == "rst_new_one"
    assert (await restaurants.get(session, restaurant_id="rst_new_one")).name == "Shawarma House"
    existing = await factory.restaurant("Existing Grill")
    body = new_bot(
        restaurantId=existing.id,
        status="ACTIVE",
        maxMessagesPerMin=5,
        maxMessagesPerDay=50,
        subaccountSid="AC" + "1" * 32,
        senderSid="XE123",
        wabaId="1234",
        supportContact="+966500000000",
        paymentLink="https://pay.example.com/x",
    )
    response = await client.post("/api/admin/bots", json=body, headers=admin)
    assert response.status_code == 201
    bot = response.json()
    assert bot["restaurantId"] == existing.id
    for key in (
        "status",
        "maxMessagesPerMin",
        "maxMessagesPerDay",
        "subaccountSid",
        "senderSid",
        "wabaId",
        "supportContact",
        "paymentLink",
    ):
        assert bot[key] == body[key], key
    assert (await restaurants.get(session, restaurant_id=existing.id)).name == "Existing Grill"  # not renamed


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": ...}, "name"),
        ({"restaurantName": ...}, "restaurantName"),
        ({"whatsappNumber": ...}, "whatsappNumber"),
        ({"accountSid": ...}, "accountSid"),
        ({"authToken": ...}, "authToken"),
        ({"authToken": None}, "authToken"),
        ({"name": "  "}, "name"),
        ({"restaurantName": ""}, "restaurantName"),
        ({"authToken": ""}, "authToken"),
        ({"whatsappNumber": "0501234567"}, "whatsappNumber"),
        ({"whatsappNumber": "whatsapp:+abc"}, "whatsappNumber"),
        ({"whatsappNumber": 966501234567}, "whatsappNumber"),
        ({"status": "LIVE"}, "status"),
        ({"maxMessagesPerMin": "60"}, "maxMessagesPerMin"),
        ({"maxMessagesPerMin": True}, "maxMessagesPerMin"),
        ({"maxMessagesPerMin": 0}, "maxMessagesPerMin"),
        ({"maxMessagesPerDay": 1.5}, "maxMessagesPerDay"),
        ({"isActive": "yes"}, "isActive"),
        ({"restaurantId": 12}, "restaurantId"),
        ({"restaurantId": " "}, "restaurantId"),
        ({"supportContact": ["x"]}, "supportContact"),
    ],
)
async def test_create_rejects_missing_or_malformed_fields(client, admin, overrides, field):
    response = await client.post("/api/admin/bots", json=new_bot(**overrides), headers=admin)
    assert response.status_code == 400, response.text
    assert field in response.json()["error"]


async def test_create_rejects_bodies_that_are_not_objects(client, admin):
    for content in (b"[]", b"null", b'"bot"', b"{", b""):
        response = await client.post("/api/admin/bots", content=content, headers=admin)
        assert response.status_code == 400 and "error" in response.json()


async def test_a_registered_number_is_409_in_any_spelling(client, admin, session):
    number = new_number()
    assert (
        await client.post("/api/admin/bots", json=new_bot(whatsappNumber=number), headers=admin)
    ).status_code == 201
    for spelling in (number, f"whatsapp:{number}", f" {number[:4]} {number[4:]} "):
        response = await client.post("/api/admin/bots", json=new_bot(whatsappNumber=spelling), headers=admin)
        assert response.status_code == 409 and "already registered" in response.json()["error"]
    # nothing half-made: the failed attempts left no restaurant behind
    assert len(await restaurants.list_all(session)) == 1


async def test_update_is_partial_and_rotates_the_auth_token(client, admin, session, settings):
    body = new_bot(supportContact="+966511111111")
    created = (await client.post("/api/admin/bots", json=body, headers=admin)).json()
    new_secret = "rotated-" + secrets.token_hex(8)
    response = await client.put(
        f"/api/admin/bots/{created['id']}",
        headers=admin,
        json={"name": "Renamed", "status": "ACTIVE", "authToken": new_secret},
    )
    assert response.status_code == 200
    updated = response.json()
    no_secrets(response.text, new_secret, body["authToken"])
    assert (updated["name"], updated["status"]) == ("Renamed", "ACTIVE")
    for key in ("whatsappNumber", "accountSid", "supportContact", "restaurantId", "createdAt"):
        assert updated[key] == created[key], key
    row = (await session.execute(select(Bot).where(Bot.id == created["id"]))).scalar_one()
    assert new_secret not in row.auth_token_encrypted
    assert SecretBox(settings.effective_secret_key).decrypt(row.auth_token_encrypted) == new_secret
    # sending back what GET returned (read-only fields included) is fine
    echoed = await client.put(f"/api/admin/bots/{created['id']}", json=updated, headers=admin)
    assert echoed.status_code == 200 and echoed.json()["name"] == "Renamed"


async def test_update_errors(client, admin):
    first = (await client.post("/api/admin/bots", json=new_bot(), headers=admin)).json()
    second = (await client.post("/api/admin/bots", json=new_bot(), headers=admin)).json()
    taken = await client.put(
        f"/api/admin/bots/{second['id']}", json={"whatsappNumber": first["whatsappNumber"]}, headers=admin
    )
    assert taken.status_code == 409
    assert (
        await client.put("/api/admin/bots/bot_missing", json={"name": "x"}, headers=admin)
    ).status_code == 404
    for bad in (
        {"maxMessagesPerDay": False},
        {"name": ""},
        {"restaurantId": "somewhere_else"},
        {"status": 1},
    ):
        response = await client.put(f"/api/admin/bots/{first['id']}", json=bad, headers=admin)
        assert response.status_code == 400, bad


async def test_get_and_list(client, admin):
    a = (await client.post("/api/admin/bots", json=new_bot(restaurantId="rst_a"), headers=admin)).json()
    b = (await client.post("/api/admin/bots", json=new_bot(restaurantId="rst_b"), headers=admin)).json()
    everything = await client.get("/api/admin/bots", headers=admin)
    assert [x["id"] for x in everything.json()] == [a["id"], b["id"]]
    for row in everything.json():
        assert_shape(row, BOT_KEYS | ADMIN_EXTRA)
    no_secrets(everything.text)
    only_b = await client.get("/api/admin/bots", params={"restaurantId": "rst_b"}, headers=admin)
    assert [x["id"] for x in only_b.json()] == [b["id"]]
    one = await client.get(f"/api/admin/bots/{a['id']}", headers=admin)
    assert one.json() == a
    assert (await client.get("/api/admin/bots/bot_missing", headers=admin)).status_code == 404


async def test_delete_keeps_conversations_and_frees_the_number(client, admin, factory: Factory):
    handle = await factory.bot()
    for i in range(2):
        await post_signed(
            client, "/whatsapp/webhook", inbound_params(handle, body=f"hi {i}"), handle.auth_token
        )
    response = await client.delete(f"/api/admin/bots/{handle.bot.id}", headers=admin)
    assert response.status_code == 200
    assert response.json() == {
        "id": handle.bot.id,
        "deleted": True,
        "success": True,
        "message": "Bot deleted",
    }
    assert (await client.get(f"/api/admin/bots/{handle.bot.id}", headers=admin)).status_code == 404
    assert (await client.delete(f"/api/admin/bots/{handle.bot.id}", headers=admin)).status_code == 404
    assert handle.bot.id not in [b["id"] for b in (await client.get("/api/admin/bots", headers=admin)).json()]

    tenant = auth(admin["Authorization"].split()[1], handle.restaurant.id)
    [conversation] = (await client.get("/api/db/conversations", headers=tenant)).json()
    messages = (
        await client.get(f"/api/db/conversations/{conversation['id']}/messages", headers=tenant)
    ).json()
    assert [m["content"] for m in messages] == ["hi 0", "hi 1"]

    again = await client.post(
        "/api/admin/bots",
        headers=admin,
        json=new_bot(whatsappNumber=handle.number, restaurantId=handle.restaurant.id),
    )
    assert again.status_code == 201


async def test_secrets_never_leave_through_any_bot_response(client, admin, factory: Factory):
    body = new_bot(restaurantId="rst_secret")
    created = await client.post("/api/admin/bots", json=body, headers=admin)
    bot_id = created.json()["id"]
    scoped = auth(await factory.token("rst_secret"), "rst_secret")
    responses = [
        created,
        await client.get("/api/admin/bots", headers=admin),
        await client.get(f"/api/admin/bots/{bot_id}", headers=admin),
        await client.put(f"/api/admin/bots/{bot_id}", json={"authToken": body["authToken"]}, headers=admin),
        await client.get("/api/db/restaurants/rst_secret/bots", headers=scoped),
        await client.get("/openapi.json"),
    ]
    for response in responses:
        assert response.status_code in (200, 201)
        assert body["authToken"] not in response.text
    for response in responses[:4]:
        no_secrets(response.text)
    assert "accountSid" not in responses[4].text  # Twilio ids are for admins only

"""Admin bots as the earlier dashboard's onboarding uses them: shared senders (restaurantId null),
linked by PUT {restaurantId} with their id kept, ids given on create, the auth token never returned."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.auth.crypto import SecretBox
from app.models import Bot
from tests.rest.test_admin import ADMIN_EXTRA, new_bot, no_secrets
from tests.rest.test_legacy_reads import BOT_KEYS, assert_shape
from tests.support import Factory, auth, inbound_params, post_signed

SHARED = BOT_KEYS | ADMIN_EXTRA | {"restaurantId": type(None)}


@pytest.fixture
async def admin(factory: Factory) -> dict[str, str]:
    return auth(await factory.token(admin=True))


def shared_bot(**overrides):
    return new_bot(restaurantId=..., **overrides)


async def test_a_sender_without_a_restaurant_waits_shared_and_is_listed_so(client, admin, session):
    body = shared_bot(status="ACTIVE")
    created = await client.post("/api/admin/bots", json=body, headers=admin)
    assert created.status_code == 201, created.text
    sender = created.json()
    assert_shape(sender, SHARED)
    assert sender["whatsappNumber"] == body["whatsappNumber"] and sender["isActive"] is True
    explicit_null = await client.post("/api/admin/bots", json=new_bot(restaurantId=None), headers=admin)
    assert explicit_null.status_code == 201 and explicit_null.json()["restaurantId"] is None

    listed = (await client.get("/api/admin/bots", headers=admin)).json()
    # what the onboarding's shared-senders list keeps
    shared = [b for b in listed if b["isActive"] is True and b["restaurantId"] is None]
    assert [b["id"] for b in shared] == [sender["id"], explicit_null.json()["id"]]
    assert (await client.get(f"/api/admin/bots/{sender['id']}", headers=admin)).json() == sender
    # no restaurant came of it, and it is no tenant
    assert (await session.execute(select(Bot))).scalars().all() == []
    tenant = await client.get(
        "/api/db/conversations", headers=auth(admin["Authorization"].split()[1], sender["id"])
    )
    assert tenant.status_code == 404


async def test_a_shared_senders_number_is_unknown_to_webhooks(client, admin, factory: Factory):
    body = shared_bot()
    sender = (await client.post("/api/admin/bots", json=body, headers=admin)).json()
    stand_in = await factory.bot()  # signs like the real sender would; sent to the shared number
    params = inbound_params(stand_in) | {"To": sender["whatsappNumber"]}
    unknown = await post_signed(client, "/whatsapp/webhook", params, body["authToken"])
    known_nowhere = await post_signed(
        client, "/whatsapp/webhook", params | {"To": "whatsapp:+15550001111"}, body["authToken"]
    )
    assert unknown.status_code == known_nowhere.status_code == 404


async def test_put_with_a_restaurant_links_it_keeping_the_id(
    client, admin, factory: Factory, session, settings
):
    restaurant = await factory.restaurant("Falafel Time")
    body = shared_bot(id="cmgm28wjo0001sa9oqd57vqko", supportContact="+966511111111")
    created = await client.post("/api/admin/bots", json=body, headers=admin)
    assert created.status_code == 201 and created.json()["id"] == "cmgm28wjo0001sa9oqd57vqko"

    linked = await client.put(
        "/api/admin/bots/cmgm28wjo0001sa9oqd57vqko", json={"restaurantId": restaurant.id}, headers=admin
    )
    assert linked.status_code == 200, linked.text
    bot = linked.json()
    assert_shape(bot, BOT_KEYS | ADMIN_EXTRA)
    assert (bot["id"], bot["restaurantId"]) == ("cmgm28wjo0001sa9oqd57vqko", restaurant.id)
    for key in ("whatsappNumber", "accountSid", "supportContact", "name", "createdAt"):
        assert bot[key] == created.json()[key], key
    # what the link flow reads back next: everything but the auth token
    fetched = await client.get("/api/admin/bots/cmgm28wjo0001sa9oqd57vqko", headers=admin)
    assert fetched.json() == bot and "authToken" not in fetched.json()

    tenant = auth(await factory.token(restaurant.id), restaurant.id)
    listed = await client.get(f"/api/db/restaurants/{restaurant.id}/bots", headers=tenant)
    assert [b["id"] for b in listed.json()] == ["cmgm28wjo0001sa9oqd57vqko"]
    assert [b["restaurantId"] for b in (await client.get("/api/admin/bots", headers=admin)).json()] == [
        restaurant.id
    ]
    # the bot id now names the tenant (what the dashboard sends as X-Restaurant-Id), and it works
    by_bot = await client.get(
        "/api/db/conversations", headers=auth(await factory.token(restaurant.id), bot["id"])
    )
    assert by_bot.status_code == 200
    row = (await session.execute(select(Bot).where(Bot.id == bot["id"]))).scalar_one()
    assert SecretBox(settings.effective_secret_key).decrypt(row.auth_token_encrypted) == body["authToken"]
    # and its number's webhooks now reach the restaurant
    params = inbound_params(_Handle(row), body="hi")
    assert (await post_signed(client, "/whatsapp/webhook", params, body["authToken"])).status_code == 200
    [conversation] = (await client.get("/api/db/conversations", headers=tenant)).json()
    assert conversation["botId"] == bot["id"]

    # linked bots stay where they are
    moved = await client.put(
        f"/api/admin/bots/{bot['id']}", json={"restaurantId": "rst_elsewhere"}, headers=admin
    )
    assert moved.status_code == 400


class _Handle:
    """Enough of a BotHandle for inbound_params."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.number = bot.whatsapp_number


async def test_linking_to_a_new_restaurant_creates_it_and_edits_keep_the_token(client, admin, session):
    sender = (await client.post("/api/admin/bots", json=shared_bot(), headers=admin)).json()
    # the earlier dashboard's edit form sends authToken "" for "unchanged"
    edited = await client.put(
        f"/api/admin/bots/{sender['id']}", json={"name": "Renamed", "authToken": ""}, headers=admin
    )
    assert edited.status_code == 200 and edited.json()["name"] == "Renamed"
    assert edited.json()["restaurantId"] is None
    linked = await client.put(
        f"/api/admin/bots/{sender['id']}", json={"restaurantId": "rst_brand_new"}, headers=admin
    )
    assert linked.status_code == 200 and linked.json()["restaurantId"] == "rst_brand_new"
    missing = await client.put(
        "/api/admin/bots/bot_nobody", json={"restaurantId": "rst_brand_new"}, headers=admin
    )
    assert missing.status_code == 404


async def test_ids_and_numbers_are_unique_across_shared_and_linked(client, admin, factory: Factory):
    linked = await factory.bot()
    shared = (await client.post("/api/admin/bots", json=shared_bot(id="shared_1"), headers=admin)).json()
    for body in (
        shared_bot(whatsappNumber=linked.number),
        new_bot(whatsappNumber=shared["whatsappNumber"]),
        shared_bot(id="shared_1"),
        new_bot(id="shared_1"),
        shared_bot(id=linked.bot.id),
    ):
        response = await client.post("/api/admin/bots", json=body, headers=admin)
        assert response.status_code == 409, (body, response.text)
    for bad in ("", "a b", "x" * 65, "ä"):
        response = await client.post("/api/admin/bots", json=shared_bot(id=bad), headers=admin)
        assert response.status_code == 400, bad
    taken = await client.put(
        f"/api/admin/bots/{linked.bot.id}", json={"whatsappNumber": shared["whatsappNumber"]}, headers=admin
    )
    assert taken.status_code == 409
    gone = await client.delete("/api/admin/bots/shared_1", headers=admin)
    assert gone.status_code == 200 and gone.json()["deleted"] is True
    assert (await client.get("/api/admin/bots/shared_1", headers=admin)).status_code == 404


async def test_the_auth_token_never_appears_in_any_response(client, admin, factory: Factory):
    restaurant = await factory.restaurant()
    body = shared_bot()
    responses = [await client.post("/api/admin/bots", json=body, headers=admin)]
    sender_id = responses[0].json()["id"]
    responses += [
        await client.get("/api/admin/bots", headers=admin),
        await client.get(f"/api/admin/bots/{sender_id}", headers=admin),
        await client.put(
            f"/api/admin/bots/{sender_id}", json={"authToken": body["authToken"]}, headers=admin
        ),
        await client.put(f"/api/admin/bots/{sender_id}", json={"restaurantId": restaurant.id}, headers=admin),
        await client.get(f"/api/admin/bots/{sender_id}", headers=admin),
        await client.get(f"/api/db/restaurants/{restaurant.id}/bots", headers=admin),
    ]
    for response in responses:
        assert response.status_code in (200, 201), response.text
        no_secrets(response.text, body["authToken"])

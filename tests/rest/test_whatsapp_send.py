"""GET|POST /api/whatsapp/send (the earlier backend's send API: the dashboard's sign-in code, other
platforms' notices) through the real app, the outbox and the fake Twilio."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, update

from app.auth.crypto import SecretBox
from app.channels.twilio.content import TwilioContent
from app.models import Bot, Conversation, Message
from app.workers.templates import TemplateSync
from tests.bot_support import Customer, Shop, open_shop, templated
from tests.conftest import WHATSAPP_SEND_TOKEN
from tests.fakes.twilio_api import FakeTwilio
from tests.rest.test_chat_send import follow_up_template
from tests.rest.test_legacy_reads import assert_shape
from tests.support import Factory

SEND = {"Authorization": f"Bearer {WHATSAPP_SEND_TOKEN}"}
QUEUED = {
    "status": str,
    "message": str,
    "jobId": str,
    "queuePosition": str,
    "channel": str,
    "messageId": str,
    "conversationId": str,
}


@pytest.fixture
async def shop(factory, db):
    async with FakeTwilio() as fake:
        shop = await open_shop(factory, db, fake)
        yield shop
        await shop.outbox.sender.aclose()


@pytest.fixture
def sync(shop: Shop, factory) -> TemplateSync:
    box = SecretBox(factory.settings.effective_secret_key)
    return TemplateSync(shop.db, content=TwilioContent(shop.outbox.sender), box=box)


async def stored(db, message_id: str) -> tuple[Message, Conversation]:
    async with db.session() as s:
        message = (await s.execute(select(Message).where(Message.id == message_id))).scalar_one()
        conversation = (
            await s.execute(select(Conversation).where(Conversation.id == message.conversation_id))
        ).scalar_one()
        return message, conversation


@pytest.fixture
def set_settings(app_and_db, monkeypatch):
    ctx = app_and_db[2]

    def change(**values: Any) -> None:
        monkeypatch.setattr(ctx, "settings", ctx.settings.model_copy(update=values))

    return change


async def test_a_missing_or_wrong_token_is_401(client, shop: Shop):
    body = {"phoneNumber": "+966501234567", "text": "hi"}
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Bearer {shop.token}"}):
        response = await client.post("/api/whatsapp/send", json=body, headers=headers)
        assert response.status_code == 401 and response.json() == {"error": "Unauthorized"}
    assert (await client.get("/api/whatsapp/send", params=body)).status_code == 401


async def test_unset_token_is_503(client, shop: Shop, set_settings):
    set_settings(whatsapp_send_token=None)
    response = await client.post(
        "/api/whatsapp/send", json={"phoneNumber": "+966501234567", "text": "x"}, headers=SEND
    )
    assert response.status_code == 503 and "WHATSAPP_SEND_TOKEN" in response.json()["error"]


async def test_inside_the_window_the_only_sender_sends_the_text(client, shop: Shop, db):
    await Customer(client, shop, phone="+966501112222").say("hi")
    before = len(shop.fake.sent)
    response = await client.post(
        "/api/whatsapp/send", json={"phoneNumber": "966501112222", "text": "Your code is 4821"}, headers=SEND
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert_shape(body, QUEUED)
    assert (body["status"], body["channel"], body["jobId"]) == ("queued", "freeform", body["messageId"])
    message, conversation = await stored(db, body["messageId"])
    assert message.author == "system" and message.content == "Your code is 4821"
    assert conversation.customer_phone == "+966501112222" and conversation.bot_id == shop.bot.bot.id
    await shop.outbox.send_due()
    [wire] = shop.fake.sent[before:]
    assert (wire["From"], wire["To"], wire["Body"]) == (
        f"whatsapp:{shop.bot.number}",
        "whatsapp:+966501112222",
        "Your code is 4821",
    )
    # and the GET form, as other platforms call it
    again = await client.get(
        "/api/whatsapp/send", params={"phoneNumber": "+966501112222", "text": "again"}, headers=SEND
    )
    assert again.status_code == 200 and again.json()["conversationId"] == conversation.id


async def test_outside_the_window_the_follow_up_template_goes(client, shop: Shop, sync, db):
    refused = await client.post(
        "/api/whatsapp/send", json={"phoneNumber": "+966503334444", "text": "Your code is 1"}, headers=SEND
    )
    assert refused.status_code == 422 and "template" in refused.json()["error"]
    await follow_up_template(shop, sync)
    response = await client.post(
        "/api/whatsapp/send", json={"phoneNumber": "+966503334444", "text": "Your code is 77"}, headers=SEND
    )
    assert response.status_code == 200, response.text
    assert response.json()["channel"] == "template"
    message, _ = await stored(db, response.json()["messageId"])
    assert message.content.startswith("Hello again from Sufrah: Your code is 77")
    with_variables = await client.post(
        "/api/whatsapp/send",
        json={"phoneNumber": "+966503334444", "text": "ignored", "templateVariables": {"1": "code 99"}},
        headers=SEND,
    )
    assert with_variables.status_code == 200
    await shop.outbox.send_due()
    wires = templated(shop)
    assert len(wires) == 2 and "Your code is 77" in wires[0]["ContentVariables"]
    assert "code 99" in wires[1]["ContentVariables"]


async def test_from_number_chooses_the_sender_else_the_default(
    client, shop: Shop, factory: Factory, db, set_settings
):
    second = await factory.bot()
    shop.fake.add_account(second.bot.account_sid, second.auth_token)
    body = {"phoneNumber": "+966505556666", "text": "hello"}
    ambiguous = await client.post("/api/whatsapp/send", json=body, headers=SEND)
    assert ambiguous.status_code == 400 and "fromNumber" in ambiguous.json()["error"]

    chosen = await client.post(
        "/api/whatsapp/send", json=body | {"fromNumber": second.number.lstrip("+")}, headers=SEND
    )
    assert chosen.status_code == 422  # chosen, and outside the window there: no template in that restaurant
    await Customer(
        client, Shop(second, shop.token, shop.fake, shop.runner, shop.outbox, db), phone="+966505556666"
    ).say("hi")
    chosen = await client.post("/api/whatsapp/send", json=body | {"fromNumber": second.number}, headers=SEND)
    assert chosen.status_code == 200, chosen.text
    _, conversation = await stored(db, chosen.json()["messageId"])
    assert (conversation.restaurant_id, conversation.bot_id) == (second.restaurant.id, second.bot.id)

    set_settings(whatsapp_send_from=f"whatsapp:{second.number}")
    default = await client.post("/api/whatsapp/send", json=body, headers=SEND)
    assert default.status_code == 200 and default.json()["conversationId"] == conversation.id
    unknown = await client.post(
        "/api/whatsapp/send", json=body | {"fromNumber": "+15550000000"}, headers=SEND
    )
    assert unknown.status_code == 404


async def test_a_used_up_allowance_is_429_in_the_earlier_shape(client, shop: Shop, db):
    await Customer(client, shop, phone="+966507778888").say("hi")
    async with db.session() as s:  # the sender's daily limit: what it sent today, and one more
        sent = await s.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.bot_id == shop.bot.bot.id, Message.direction == "OUT")
        )
        await s.execute(update(Bot).where(Bot.id == shop.bot.bot.id).values(max_messages_per_day=sent + 1))
        await s.commit()
    body = {"phoneNumber": "+966507778888", "text": "hi"}
    assert (await client.post("/api/whatsapp/send", json=body, headers=SEND)).status_code == 200
    response = await client.post("/api/whatsapp/send", json=body, headers=SEND)
    assert response.status_code == 429, response.text
    quota = response.json()
    assert_shape(quota, {"error": str, "code": str, "details": dict})
    assert quota["code"] == "QUOTA_EXCEEDED"
    assert_shape(
        quota["details"],
        {
            "used": int,
            "limit": int,
            "remaining": int,
            "planName": str,
            "resetDate": str,
            "daysUntilReset": int,
        },
    )
    details = quota["details"]
    assert (details["used"], details["limit"], details["remaining"]) == (sent + 1, sent + 1, 0)
    assert details["daysUntilReset"] == 1 and details["resetDate"].endswith("Z")


async def test_a_used_up_plan_allowance_is_429_with_the_plan_and_the_next_month(client, shop: Shop, db):
    from datetime import timedelta

    from app.services import usage

    await Customer(client, shop, phone="+966507779999").say("hi")  # opens this month's one session
    async with db.session() as s:
        plan = await usage.create_plan(s, name="Starter", monthly_sessions=1)
        await usage.assign_plan(s, restaurant_id=shop.restaurant_id, plan_id=plan.id)
        await s.commit()
    body = {"phoneNumber": "+966507779999", "text": "Your code is 123456"}
    response = await client.post("/api/whatsapp/send", json=body, headers=SEND)
    assert response.status_code == 429, response.text
    details = response.json()["details"]
    assert (details["used"], details["limit"], details["remaining"], details["planName"]) == (
        1,
        1,
        0,
        "Starter",
    )
    month = usage.this_month("Asia/Riyadh")
    first_of_next = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    # midnight of the 1st in Riyadh (UTC+3) is 21:00 UTC the day before
    assert details["resetDate"] == f"{first_of_next - timedelta(days=1)}T21:00:00.000Z"

    async with db.session() as s:  # an admin adds sessions: the send goes out again
        await usage.adjust(
            s, restaurant_id=shop.restaurant_id, month=month, sessions=5, reason="renewal", created_by="admin"
        )
        await s.commit()
    assert (await client.post("/api/whatsapp/send", json=body, headers=SEND)).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "hi"}, "phoneNumber"),
        ({"phoneNumber": "+966501234567"}, "text"),
        ({"phoneNumber": "not a number", "text": "hi"}, "phoneNumber"),
        ({"phoneNumber": "+966501234567", "text": 5}, "text"),
        ({"phoneNumber": "+966501234567", "text": "hi", "templateVariables": [1]}, "templateVariables"),
    ],
)
async def test_bad_sends_are_400(client, shop: Shop, body: dict[str, Any], field: str):
    response = await client.post("/api/whatsapp/send", json=body, headers=SEND)
    assert response.status_code == 400 and field in response.json()["error"], response.text


async def test_a_trailing_slash_is_redirected_with_method_and_body(client, shop: Shop):
    await Customer(client, shop, phone="+966509990000").say("hi")
    response = await client.post(
        "/api/whatsapp/send/",
        json={"phoneNumber": "+966509990000", "text": "code 1"},
        headers=SEND,
        follow_redirects=True,
    )
    assert response.status_code == 200 and response.json()["status"] == "queued", response.text
    assert response.history and response.history[0].status_code == 307

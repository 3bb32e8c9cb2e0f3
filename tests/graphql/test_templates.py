"""Templates over GraphQL: the library, WhatsApp's review as staff see it, and sending outside the
24-hour window (the follow-up template, or one staff pick), against the fake Twilio."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from app.auth.crypto import SecretBox
from app.channels.twilio.content import TwilioContent
from app.workers.templates import TemplateSync
from tests.bot_support import Customer, open_shop, templated
from tests.fakes.twilio_api import FakeTwilio
from tests.gql import gql
from tests.support import auth

TEMPLATE_FIELDS = (
    "id name status rejectionReason contentSid body footer category language usageCount approvedAt"
)


@pytest.fixture
async def shop(factory, db):
    async with FakeTwilio() as fake:
        shop = await open_shop(factory, db, fake)
        yield shop
        await shop.outbox.sender.aclose()


@pytest.fixture
def sync(shop, factory) -> TemplateSync:
    return TemplateSync(
        shop.db,
        content=TwilioContent(shop.outbox.sender),
        box=SecretBox(factory.settings.effective_secret_key),
    )


async def poll_now(shop, sync) -> None:
    async with shop.db.session() as s:
        await s.execute(
            text("UPDATE message_template SET next_sync_at = now() WHERE next_sync_at IS NOT NULL")
        )
        await s.commit()
    await sync.sync_due()


async def closed_window(client, shop) -> str:
    await Customer(client, shop).say("hi")
    async with shop.db.session() as s:
        conversation_id = await s.scalar(
            text(
                "UPDATE conversation SET last_inbound_at = now() - interval '25 hours' "
                "WHERE restaurant_id = :r RETURNING id"
            ),
            {"r": shop.restaurant_id},
        )
        await s.commit()
    return str(conversation_id)


async def test_staff_create_a_template_see_it_approved_and_reply_outside_the_window(client, shop, sync):
    def call(query, variables=None):
        return gql(client, query, variables, token=shop.token, restaurant=shop.restaurant_id)

    conversation_id = await closed_window(client, shop)
    refused = await call(
        """mutation($c: ID!) { sendMessage(conversationId: $c, body: "Your wallet is here") {
        __typename ... on OutsideCustomerWindowError { message } } }""",
        {"c": conversation_id},
    )
    assert refused["data"]["sendMessage"]["__typename"] == "OutsideCustomerWindowError"

    created = await call(
        """mutation($v: JSON) { createTemplate(input: {name: "follow_up", language: "en", category: UTILITY,
        body: "Hello again: {{1}}", variables: $v}) {
        __typename ... on Template { id name status contentSid } ... on ValidationError { message field } } }""",
        {"v": {"1": "your order is ready"}},
    )
    template = created["data"]["createTemplate"]
    assert template["__typename"] == "Template" and template["status"] == "PENDING", created
    await sync.sync_due()
    [listed] = (await call(f"{{ templates {{ {TEMPLATE_FIELDS} }} }}"))["data"]["templates"]
    assert listed["status"] == "PENDING" and listed["contentSid"].startswith("HX")

    shop.fake.approve(listed["contentSid"])
    await poll_now(shop, sync)
    approved = (await call(f"{{ templates(status: APPROVED) {{ {TEMPLATE_FIELDS} }} }}"))["data"]["templates"]
    assert [t["id"] for t in approved] == [template["id"]] and approved[0]["approvedAt"]

    chosen = await call(
        """mutation($t: ID!) { setTemplateSettings(followUpTemplateId: $t) {
        __typename ... on TemplateSettings { followUp { name } orderStatus { name } } } }""",
        {"t": template["id"]},
    )
    assert chosen["data"]["setTemplateSettings"] == {
        "__typename": "TemplateSettings",
        "followUp": {"name": "follow_up"},
        "orderStatus": None,
    }
    sent = await call(
        """mutation($c: ID!) { sendMessage(conversationId: $c, body: "Your wallet is here") {
        __typename ... on Message { content messageType metadata } } }""",
        {"c": conversation_id},
    )
    message = sent["data"]["sendMessage"]
    assert message["content"] == "Hello again: Your wallet is here" and message["messageType"] == "template"
    assert message["metadata"]["template"]["name"] == "follow_up"
    await shop.outbox.send_due()
    [wire] = templated(shop)
    assert wire["ContentSid"] == listed["contentSid"]
    assert json.loads(wire["ContentVariables"]) == {"1": "Your wallet is here"}

    # The conversation shows what was sent.
    history = await call(
        """query($c: ID!) { conversation(id: $c) { messages(last: 1) { nodes { content metadata } } } }""",
        {"c": conversation_id},
    )
    [last] = history["data"]["conversation"]["messages"]["nodes"]
    assert (
        last["content"] == "Hello again: Your wallet is here"
        and last["metadata"]["template"]["name"] == "follow_up"
    )


async def test_send_template_rejected_reason_and_tenancy(client, shop, sync, factory):
    def call(query, variables=None, token=shop.token, restaurant=shop.restaurant_id):
        return gql(client, query, variables, token=token, restaurant=restaurant)

    conversation_id = await closed_window(client, shop)
    ids = {}
    for name, body in (("greeting", "Hi {{1}}, order {{2}} is ready"), ("promo", "{{1}}")):
        answer = await call(
            """mutation($n: String!, $b: String!) { createTemplate(input: {name: $n, language: "ar",
            category: MARKETING, body: $b}) { ... on Template { id } } }""",
            {"n": name, "b": body},
        )
        ids[name] = answer["data"]["createTemplate"]["id"]
    await sync.sync_due()
    contents = {row["friendly_name"]: sid for sid, row in shop.fake.contents.items()}
    shop.fake.approve(contents["greeting_ar"])
    shop.fake.reject(contents["promo_ar"], "Templates can't be only a variable")
    await poll_now(shop, sync)

    rejected = await call(
        """query($id: ID!) { template(id: $id) { status rejectionReason } }""", {"id": ids["promo"]}
    )
    assert rejected["data"]["template"] == {
        "status": "REJECTED",
        "rejectionReason": "Templates can't be only a variable",
    }

    send = """mutation($c: ID!, $t: ID!, $v: [String!]!) { sendTemplate(conversationId: $c, templateId: $t,
        variables: $v) { __typename ... on Message { content } ... on ValidationError { field }
        ... on OutsideCustomerWindowError { message } ... on NotFoundError { message } } }"""
    not_approved = await call(send, {"c": conversation_id, "t": ids["promo"], "v": ["hi"]})
    assert not_approved["data"]["sendTemplate"]["__typename"] == "OutsideCustomerWindowError"
    too_few = await call(send, {"c": conversation_id, "t": ids["greeting"], "v": ["Sara"]})
    assert too_few["data"]["sendTemplate"] == {"__typename": "ValidationError", "field": "variables"}
    ok = await call(send, {"c": conversation_id, "t": ids["greeting"], "v": ["Sara", "#1001"]})
    assert ok["data"]["sendTemplate"] == {"__typename": "Message", "content": "Hi Sara, order #1001 is ready"}
    await shop.outbox.send_due()
    [wire] = templated(shop)
    assert (wire["ContentSid"], json.loads(wire["ContentVariables"])) == (
        contents["greeting_ar"],
        {"1": "Sara", "2": "#1001"},
    )

    # Another restaurant sees none of it and can't touch it.
    other = await factory.bot()
    other_token = await factory.token(other.restaurant.id)

    def as_other(query, variables=None):
        return call(query, variables, token=other_token, restaurant=other.restaurant.id)

    assert (await as_other("{ templates { id } }"))["data"]["templates"] == []
    assert (await as_other("query($id: ID!) { template(id: $id) { id } }", {"id": ids["greeting"]}))["data"][
        "template"
    ] is None
    deleted = await as_other(
        "mutation($id: ID!) { deleteTemplate(id: $id) { __typename } }", {"id": ids["greeting"]}
    )
    assert deleted["data"]["deleteTemplate"]["__typename"] == "NotFoundError"
    stolen = await as_other(
        "mutation($id: ID!) { setTemplateSettings(followUpTemplateId: $id) { __typename } }",
        {"id": ids["greeting"]},
    )
    assert stolen["data"]["setTemplateSettings"]["__typename"] == "NotFoundError"
    # A token for one restaurant asking for another: forbidden, as elsewhere.
    forbidden = await call("{ templates { id } }", restaurant=other.restaurant.id)
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    # Delete and edit by the owner.
    edited = await call(
        """mutation($id: ID!) { updateTemplate(id: $id, input: {body: "Hello {{1}}, {{2}} waits"}) {
        ... on Template { status contentSid } } }""",
        {"id": ids["greeting"]},
    )
    assert edited["data"]["updateTemplate"] == {"status": "PENDING", "contentSid": None}
    gone = await call("mutation($id: ID!) { deleteTemplate(id: $id) { __typename } }", {"id": ids["promo"]})
    assert gone["data"]["deleteTemplate"]["__typename"] == "TemplateDeleted"
    await sync.sync_due()
    assert (
        contents["promo_ar"] not in shop.fake.contents and contents["greeting_ar"] not in shop.fake.contents
    )


async def test_invalid_templates_are_validation_errors(client, shop):
    answer = await gql(
        client,
        """mutation { createTemplate(input: {name: "Bad Name", language: "en", category: UTILITY, body: "x"}) {
        __typename ... on ValidationError { field } } }""",
        token=shop.token,
        restaurant=shop.restaurant_id,
    )
    assert answer["data"]["createTemplate"] == {"__typename": "ValidationError", "field": "name"}
    missing = await gql(
        client,
        """mutation { createTemplate(input: {name: "ok"}) { __typename ... on ValidationError { field } } }""",
        token=shop.token,
        restaurant=shop.restaurant_id,
    )
    assert missing["data"]["createTemplate"]["__typename"] == "ValidationError"


async def test_legacy_reply_outside_the_window_without_a_template_stays_422(client, shop):
    conversation_id = await closed_window(client, shop)
    response = await client.post(
        f"/api/conversations/{conversation_id}/send",
        json={"message": "late"},
        headers=auth(shop.token, shop.restaurant_id),
    )
    assert response.status_code == 422 and "24 hours" in response.json()["error"]

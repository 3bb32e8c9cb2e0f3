"""Templates end to end against the fake Twilio: created, submitted to the Content API and WhatsApp's
review, the review synced, and used for what must reach a customer outside the 24-hour window."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from app.auth.crypto import SecretBox
from app.channels.twilio.content import TwilioContent
from app.errors import NotFound, OutsideCustomerWindow, ValidationFailed
from app.models import Message
from app.services import orders, outbound, templates
from app.workers.templates import TemplateSync
from tests.bot_support import Customer, Shop, open_shop, templated
from tests.fakes.twilio_api import FakeTwilio


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


async def run(db, fn):
    async with db.session() as s:
        result = await fn(s)
        await s.commit()
        return result


async def review_due(shop: Shop, sync: TemplateSync) -> None:
    """Poll WhatsApp's review now (the worker would, POLL seconds later)."""
    async with shop.db.session() as s:
        await s.execute(
            text(
                "UPDATE message_template SET next_sync_at = now() WHERE next_sync_at IS NOT NULL AND restaurant_id = :r"
            ),
            {"r": shop.restaurant_id},
        )
        await s.commit()
    await sync.sync_due()


async def conversation_with_closed_window(client, shop: Shop, phone: str = "+966501234567") -> str:
    customer = Customer(client, shop, phone=phone)
    await customer.say("hi")
    async with shop.db.session() as s:
        conversation_id = await s.scalar(
            text("SELECT id FROM conversation WHERE restaurant_id = :r AND customer_phone = :p"),
            {"r": shop.restaurant_id, "p": phone},
        )
        await s.execute(
            text("UPDATE conversation SET last_inbound_at = now() - interval '25 hours' WHERE id = :c"),
            {"c": conversation_id},
        )
        await s.commit()
    return conversation_id


async def approved_template(shop: Shop, sync: TemplateSync, **fields) -> templates.MessageTemplate:
    fields = {
        "name": "follow_up",
        "language": "en",
        "category": "UTILITY",
        "body": "Hello again from Sufrah: {{1}}",
        "variables": {"1": "your table is ready"},
        **fields,
    }
    created = await run(shop.db, lambda s: templates.create(s, restaurant_id=shop.restaurant_id, **fields))
    await sync.sync_due()
    row = await run(
        shop.db, lambda s: templates.get(s, restaurant_id=shop.restaurant_id, template_id=created.id)
    )
    shop.fake.approve(str(row.content_sid))
    await review_due(shop, sync)
    return await run(
        shop.db, lambda s: templates.get(s, restaurant_id=shop.restaurant_id, template_id=created.id)
    )


async def staff_reply(shop: Shop, conversation_id: str, body: str, **kwargs) -> Message:
    return await run(
        shop.db,
        lambda s: outbound.queue(
            s,
            restaurant_id=shop.restaurant_id,
            conversation_id=conversation_id,
            body=body,
            author="staff",
            **kwargs,
        ),
    )


async def test_create_submit_approve_and_a_staff_reply_outside_the_window_goes_as_the_template(
    client, shop, sync
):
    conversation_id = await conversation_with_closed_window(client, shop)
    created = await run(
        shop.db,
        lambda s: templates.create(
            s,
            restaurant_id=shop.restaurant_id,
            name="follow_up",
            language="en",
            category="utility",
            body="Hello again from Sufrah: {{1}}",
            footer="Sufrah Grill",
            variables={"1": "your table is ready"},
        ),
    )
    assert (created.status, created.content_sid) == ("pending", None)

    await sync.sync_due()
    submitted = await run(
        shop.db, lambda s: templates.get(s, restaurant_id=shop.restaurant_id, template_id=created.id)
    )
    content = shop.fake.contents[str(submitted.content_sid)]
    assert content["account_sid"] == shop.bot.bot.account_sid
    assert content["types"] == {
        "twilio/card": {"title": "Hello again from Sufrah: {{1}}", "subtitle": "Sufrah Grill"}
    }
    assert content["variables"] == {"1": "your table is ready"}
    assert content["approval"]["status"] == "received" and content["approval"]["category"] == "UTILITY"
    assert submitted.status == "pending"

    await review_due(shop, sync)  # still under review: still pending
    assert (
        await run(
            shop.db, lambda s: templates.get(s, restaurant_id=shop.restaurant_id, template_id=created.id)
        )
    ).status == "pending"

    shop.fake.approve(str(submitted.content_sid))
    await review_due(shop, sync)
    approved = await run(
        shop.db, lambda s: templates.get(s, restaurant_id=shop.restaurant_id, template_id=created.id)
    )
    assert (
        approved.status == "approved" and approved.approved_at is not None and approved.next_sync_at is None
    )

    # Not chosen as the follow-up template yet: the same refusal as without templates.
    with pytest.raises(OutsideCustomerWindow):
        await staff_reply(shop, conversation_id, "We found your wallet")
    await run(
        shop.db,
        lambda s: templates.set_purposes(
            s, restaurant_id=shop.restaurant_id, follow_up_template_id=created.id
        ),
    )

    message = await staff_reply(shop, conversation_id, "We found your wallet")
    assert message.content == "Hello again from Sufrah: We found your wallet\n\nSufrah Grill"
    assert (message.template_name, message.content_sid) == ("follow_up", approved.content_sid)
    assert message.meta["template"]["name"] == "follow_up" and message.message_type == "template"
    await shop.outbox.send_due()
    [sent] = templated(shop)
    assert sent["ContentSid"] == approved.content_sid
    assert json.loads(sent["ContentVariables"]) == {"1": "We found your wallet"}
    assert sent["Body"] is None
    used = await run(
        shop.db, lambda s: templates.get(s, restaurant_id=shop.restaurant_id, template_id=created.id)
    )
    assert used.usage_count == 1


async def test_a_rejected_template_shows_the_reason_and_is_never_used(client, shop, sync):
    conversation_id = await conversation_with_closed_window(client, shop)
    created = await run(
        shop.db,
        lambda s: templates.create(
            s,
            restaurant_id=shop.restaurant_id,
            name="promo",
            language="ar",
            category="MARKETING",
            body="{{1}}",
        ),
    )
    await sync.sync_due()
    row = await run(
        shop.db, lambda s: templates.get(s, restaurant_id=shop.restaurant_id, template_id=created.id)
    )
    shop.fake.reject(str(row.content_sid), "The template body cannot be only a variable.")
    await review_due(shop, sync)
    rejected = await run(
        shop.db, lambda s: templates.get(s, restaurant_id=shop.restaurant_id, template_id=created.id)
    )
    assert (rejected.status, rejected.rejection_reason) == (
        "rejected",
        "The template body cannot be only a variable.",
    )

    await run(
        shop.db,
        lambda s: templates.set_purposes(
            s, restaurant_id=shop.restaurant_id, follow_up_template_id=created.id
        ),
    )
    with pytest.raises(OutsideCustomerWindow):
        await staff_reply(shop, conversation_id, "hello?")
    with pytest.raises(OutsideCustomerWindow, match="rejected"):
        await staff_reply(shop, conversation_id, "", template_id=created.id, variables={"1": "hi"})


async def test_staff_pick_a_template_and_fill_its_variables(client, shop, sync):
    conversation_id = await conversation_with_closed_window(client, shop)
    template = await approved_template(
        shop, sync, name="pickup_reminder", body="Hi {{1}}, your order {{2}} waits for you", variables={}
    )
    with pytest.raises(ValidationFailed) as missing:
        await staff_reply(shop, conversation_id, "", template_id=template.id, variables={"1": "Sara"})
    assert missing.value.field == "variables"
    message = await staff_reply(
        shop, conversation_id, "", template_id=template.id, variables={"1": "Sara", "2": "#1001"}
    )
    assert message.content == "Hi Sara, your order #1001 waits for you"
    await shop.outbox.send_due()
    [sent] = templated(shop)
    assert json.loads(sent["ContentVariables"]) == {"1": "Sara", "2": "#1001"}


async def test_order_status_notice_outside_the_window_uses_the_order_status_template(client, shop, sync):
    customer = Customer(client, shop)
    for said in ("hi", "1", "2", "1", "2", "1", "1", "3"):
        await customer.say(said)
    assert "#1001" in await customer.say("1")
    template = await approved_template(
        shop,
        sync,
        name="order_update",
        body="Your order {{1}} is {{2}}.",
        variables={"1": "#1000", "2": "ready"},
    )
    await run(
        shop.db,
        lambda s: templates.set_purposes(
            s, restaurant_id=shop.restaurant_id, order_status_template_id=template.id
        ),
    )
    async with shop.db.session() as s:
        await s.execute(
            text(
                "UPDATE conversation SET last_inbound_at = now() - interval '25 hours' WHERE restaurant_id = :r"
            ),
            {"r": shop.restaurant_id},
        )
        order_id = await s.scalar(
            text("SELECT id FROM customer_order WHERE restaurant_id = :r"), {"r": shop.restaurant_id}
        )
        await s.commit()

    async def prepare(s):
        await orders.change_status(s, restaurant_id=shop.restaurant_id, order_id=order_id, status="PREPARING")

    await run(shop.db, prepare)
    await shop.outbox.send_due()
    [sent] = templated(shop)
    assert sent["ContentSid"] == template.content_sid
    variables = json.loads(sent["ContentVariables"])
    assert variables["1"] == "#1001" and variables["2"] in ("being prepared", "قيد التحضير")


async def test_no_approved_template_is_the_same_refusal_as_today(client, shop, sync):
    conversation_id = await conversation_with_closed_window(client, shop)
    created = await run(
        shop.db,
        lambda s: templates.create(
            s,
            restaurant_id=shop.restaurant_id,
            name="follow_up",
            language="en",
            category="UTILITY",
            body="Hi {{1}}",
        ),
    )
    await run(
        shop.db,
        lambda s: templates.set_purposes(
            s, restaurant_id=shop.restaurant_id, follow_up_template_id=created.id
        ),
    )
    with pytest.raises(OutsideCustomerWindow, match="24 hours"):  # chosen but still pending
        await staff_reply(shop, conversation_id, "hello?")


async def test_editing_an_approved_template_resubmits_it_and_retires_the_old_content(client, shop, sync):
    template = await approved_template(shop, sync)
    old_sid = str(template.content_sid)
    edited = await run(
        shop.db,
        lambda s: templates.edit(
            s, restaurant_id=shop.restaurant_id, template_id=template.id, body="Hello again, {{1}}"
        ),
    )
    assert (edited.status, edited.content_sid, edited.retired_content_sids) == ("pending", None, [old_sid])
    await sync.sync_due()
    await sync.sync_due()
    resubmitted = await run(
        shop.db, lambda s: templates.get(s, restaurant_id=shop.restaurant_id, template_id=template.id)
    )
    assert resubmitted.content_sid not in (None, old_sid) and resubmitted.status == "pending"
    assert old_sid not in shop.fake.contents
    assert shop.fake.contents[str(resubmitted.content_sid)]["types"] == {
        "twilio/text": {"body": "Hello again, {{1}}"}
    }
    # A name-only edit of the friendly name is not reviewed again.
    renamed = await run(
        shop.db,
        lambda s: templates.edit(
            s, restaurant_id=shop.restaurant_id, template_id=template.id, friendly_name="Follow-up"
        ),
    )
    assert renamed.content_sid == resubmitted.content_sid and renamed.friendly_name == "Follow-up"


async def test_delete_removes_the_template_here_and_at_twilio(client, shop, sync):
    template = await approved_template(shop, sync)
    await run(
        shop.db,
        lambda s: templates.set_purposes(
            s, restaurant_id=shop.restaurant_id, follow_up_template_id=template.id
        ),
    )
    await run(
        shop.db, lambda s: templates.delete(s, restaurant_id=shop.restaurant_id, template_id=template.id)
    )
    with pytest.raises(NotFound):
        await run(
            shop.db, lambda s: templates.get(s, restaurant_id=shop.restaurant_id, template_id=template.id)
        )
    assert await run(shop.db, lambda s: templates.list_templates(s, restaurant_id=shop.restaurant_id)) == []
    await sync.sync_due()
    assert str(template.content_sid) not in shop.fake.contents
    async with shop.db.session() as s:
        assert (
            await s.scalar(text("SELECT count(*) FROM message_template WHERE id = :t"), {"t": template.id})
            == 0
        )
        assert (
            await s.scalar(
                text("SELECT follow_up_template_id FROM restaurant WHERE id = :r"), {"r": shop.restaurant_id}
            )
            is None
        )
    # The name is free again.
    await run(
        shop.db,
        lambda s: templates.create(
            s,
            restaurant_id=shop.restaurant_id,
            name="follow_up",
            language="en",
            category="UTILITY",
            body="Hi",
        ),
    )


async def test_twilio_refusing_the_content_rejects_the_template_with_twilios_reason(shop, sync):
    shop.fake.script_content((400, {"code": 20001, "message": "Invalid body: too many emoji"}))
    created = await run(
        shop.db,
        lambda s: templates.create(
            s, restaurant_id=shop.restaurant_id, name="hello", language="en", category="UTILITY", body="Hi"
        ),
    )
    await sync.sync_due()
    row = await run(
        shop.db, lambda s: templates.get(s, restaurant_id=shop.restaurant_id, template_id=created.id)
    )
    assert (row.status, row.rejection_reason) == ("rejected", "Invalid body: too many emoji")


async def test_twilio_down_leaves_the_template_pending_for_a_retry(shop, sync):
    shop.fake.script_content(503)
    created = await run(
        shop.db,
        lambda s: templates.create(
            s, restaurant_id=shop.restaurant_id, name="hello", language="en", category="UTILITY", body="Hi"
        ),
    )
    await sync.sync_due()
    row = await run(
        shop.db, lambda s: templates.get(s, restaurant_id=shop.restaurant_id, template_id=created.id)
    )
    assert row.status == "pending" and row.content_sid is None and "503" in (row.sync_error or "")
    await review_due(shop, sync)
    row = await run(
        shop.db, lambda s: templates.get(s, restaurant_id=shop.restaurant_id, template_id=created.id)
    )
    assert row.content_sid is not None and row.sync_error is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "Follow Up"}, "name"),
        ({"body": "Hi {{1}} and {{3}}"}, "body"),
        ({"body": "x" * 1025}, "body"),
        ({"category": "PROMO"}, "category"),
        ({"body": "Hi {{1}}", "variables": {"2": "x"}}, "variables"),
        ({"buttons": [{"title": "a"}] * 4}, "buttons"),
    ],
)
async def test_invalid_templates_are_refused_with_the_field(shop, fields, field):
    values = {"name": "ok_name", "language": "en", "category": "UTILITY", "body": "Hi {{1}}", **fields}
    with pytest.raises(ValidationFailed) as refused:
        await run(shop.db, lambda s: templates.create(s, restaurant_id=shop.restaurant_id, **values))
    assert refused.value.field == field


async def test_duplicate_names_per_language_and_tenancy(shop, factory):
    create = {"name": "hello", "language": "en", "category": "UTILITY", "body": "Hi"}
    first = await run(shop.db, lambda s: templates.create(s, restaurant_id=shop.restaurant_id, **create))
    await run(
        shop.db,
        lambda s: templates.create(s, restaurant_id=shop.restaurant_id, **{**create, "language": "ar"}),
    )
    with pytest.raises(ValidationFailed):
        await run(shop.db, lambda s: templates.create(s, restaurant_id=shop.restaurant_id, **create))
    other = await factory.restaurant("Other")
    await run(shop.db, lambda s: templates.create(s, restaurant_id=other.id, **create))  # its own library
    with pytest.raises(NotFound):
        await run(shop.db, lambda s: templates.get(s, restaurant_id=other.id, template_id=first.id))


def test_render_and_placeholders():
    assert (
        templates.render("Order {{1}} is {{ 2 }}; {{1}}", {"1": "#7", "2": "ready"})
        == "Order #7 is ready; #7"
    )
    assert templates.placeholders("{{2}} {{1}} {{2}}") == [2, 1]


async def test_a_branch_alert_outside_the_window_goes_as_the_follow_up_template_on_one_line(
    client, shop, sync
):
    """The alert number has never written to the bot (no 24-hour window): the alert goes as the
    restaurant's follow-up template, its text one WhatsApp parameter (no line breaks: WhatsApp
    refuses a parameter with new lines, tabs or more than four spaces in a row)."""
    from app.services import catalog
    from tests.services.test_alerts import MALQA, pickup

    template = await approved_template(shop, sync)
    await run(
        shop.db,
        lambda s: templates.set_purposes(
            s, restaurant_id=shop.restaurant_id, follow_up_template_id=template.id
        ),
    )
    await run(
        shop.db,
        lambda s: catalog.set_branch_alert_phone(
            s, restaurant_id=shop.restaurant_id, branch_id="demo-malqa", phone="+966550001111"
        ),
    )
    await pickup(Customer(client, shop, phone="+966500000002"), MALQA)
    await shop.outbox.send_due()
    [alert] = [m for m in templated(shop) if m["To"] == "whatsapp:+966550001111"]
    assert alert["ContentSid"] == template.content_sid
    [text_] = json.loads(alert["ContentVariables"]).values()
    assert "#1001" in text_ and "Al Malqa branch" in text_
    assert "\n" not in text_ and "\t" not in text_ and "     " not in text_


def test_a_variable_is_one_line_as_whatsapp_requires():
    template = templates.MessageTemplate(body="Hi {{1}}")
    assert templates.check_variables(template, {"1": "two\nlines\tand     spaces "}) == {
        "1": "two lines and spaces"
    }

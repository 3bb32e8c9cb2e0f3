"""The Content API seam against the fake Twilio, over real HTTP: create, submit, review, delete."""

import json

import aiohttp
import pytest
import pytest_asyncio

from app.channels.twilio.content import Approval, TwilioContent
from app.channels.twilio.sender import TwilioRejectedError, TwilioRetryableError, TwilioSender
from tests.fakes.twilio_api import FakeTwilio

pytestmark = pytest.mark.asyncio

ACCOUNT = "AC" + "3" * 32
TOKEN = "content-token"


@pytest_asyncio.fixture
async def fake():
    async with FakeTwilio() as fake:
        fake.add_account(ACCOUNT, TOKEN)
        yield fake


@pytest_asyncio.fixture
async def sender(fake):
    sender = TwilioSender(base_url=fake.base_url, timeout=2.0)
    yield sender
    await sender.aclose()


def create(content: TwilioContent, **kwargs):
    return content.create(
        account_sid=ACCOUNT,
        auth_token=kwargs.pop("auth_token", TOKEN),
        friendly_name="order_update",
        language="en",
        variables={"1": "#1042"},
        types=kwargs.pop("types", {"twilio/text": {"body": "Your order {{1}} is ready"}}),
    )


async def test_a_content_is_created_submitted_reviewed_and_deleted(fake, sender):
    content = TwilioContent(sender)
    created = await create(content)
    assert created.sid.startswith("HX") and len(created.sid) == 34
    stored = fake.contents[created.sid]
    # JSON on the wire, without the nulls of the types the request does not use.
    assert stored["types"] == {"twilio/text": {"body": "Your order {{1}} is ready"}}
    assert stored["variables"] == {"1": "#1042"} and stored["friendly_name"] == "order_update"

    fetched = await content.fetch(account_sid=ACCOUNT, auth_token=TOKEN, content_sid=created.sid)
    assert fetched == created
    before = await content.approval(account_sid=ACCOUNT, auth_token=TOKEN, content_sid=created.sid)
    assert before.status == "unsubmitted"

    submitted = await content.submit_for_whatsapp(
        account_sid=ACCOUNT,
        auth_token=TOKEN,
        content_sid=created.sid,
        name="order_update",
        category="UTILITY",
    )
    assert submitted == Approval(
        status="received", rejection_reason="", name="order_update", category="UTILITY"
    )
    fake.reject(created.sid, "Variables can't be at the start or end of the template")
    rejected = await content.approval(account_sid=ACCOUNT, auth_token=TOKEN, content_sid=created.sid)
    assert (rejected.status, rejected.rejection_reason) == (
        "rejected",
        "Variables can't be at the start or end of the template",
    )
    fake.approve(created.sid)
    approved = await content.approval(account_sid=ACCOUNT, auth_token=TOKEN, content_sid=created.sid)
    assert approved.status == "approved"

    await content.delete(account_sid=ACCOUNT, auth_token=TOKEN, content_sid=created.sid)
    assert created.sid not in fake.contents
    await content.delete(account_sid=ACCOUNT, auth_token=TOKEN, content_sid=created.sid)  # gone: fine
    with pytest.raises(TwilioRejectedError) as missing:
        await content.fetch(account_sid=ACCOUNT, auth_token=TOKEN, content_sid=created.sid)
    assert missing.value.status == 404


async def test_interactive_types_go_out_as_given(fake, sender):
    quick_reply = {
        "twilio/quick-reply": {
            "body": "Delivery or pickup?",
            "actions": [{"title": "Delivery", "id": "delivery"}, {"title": "Pickup", "id": "pickup"}],
        },
        "twilio/text": {"body": "Delivery or pickup? 1. Delivery 2. Pickup"},
    }
    created = await create(TwilioContent(sender), types=quick_reply)
    assert fake.contents[created.sid]["types"] == quick_reply
    picker = {
        "twilio/list-picker": {
            "body": "Pick a category",
            "button": "Menu",
            "items": [{"id": "c1", "item": "Grills", "description": "From the charcoal"}],
        }
    }
    listed = await create(TwilioContent(sender), types=picker)
    assert fake.contents[listed.sid]["types"] == picker


async def test_without_the_accounts_credentials_the_fake_answers_401_and_the_seam_says_rejected(fake, sender):
    with pytest.raises(TwilioRejectedError) as refused:
        await create(TwilioContent(sender), auth_token="wrong-token")
    assert (refused.value.status, refused.value.code) == (401, 20003)
    assert "Authenticate" in str(refused.value)
    assert fake.contents == {}
    assert fake.content_requests[-1] == {"method": "POST", "path": "/v1/Content", "status": 401}


async def test_a_raw_request_without_authorization_is_refused(fake):
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{fake.base_url}/v1/Content", data=json.dumps({"types": {}})) as response,
    ):
        assert response.status == 401
        assert (await response.json())["code"] == 20003


async def test_twilio_down_is_retryable(fake, sender):
    fake.script_content(503)
    with pytest.raises(TwilioRetryableError) as down:
        await create(TwilioContent(sender))
    assert down.value.status == 503


async def test_a_template_message_goes_out_as_content_sid_and_json_variables(fake, sender):
    created = await create(TwilioContent(sender))
    await sender.send(
        account_sid=ACCOUNT,
        auth_token=TOKEN,
        from_="+966500000001",
        to="+966500000002",
        content_sid=created.sid,
        content_variables={"1": "#1042"},
    )
    [message] = fake.sent
    assert message["ContentSid"] == created.sid
    assert json.loads(message["ContentVariables"]) == {"1": "#1042"}
    assert message["Body"] is None

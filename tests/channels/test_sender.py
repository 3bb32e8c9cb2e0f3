"""TwilioSender against the fake Messages API, over real HTTP."""

import asyncio
import socket
import sys
import time
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from app.channels.twilio.sender import (
    SendResult,
    TwilioError,
    TwilioRejectedError,
    TwilioRetryableError,
    TwilioSender,
)
from tests.fakes.twilio_api import FakeTwilio

pytestmark = pytest.mark.asyncio

REPO_ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "AC" + "1" * 32
TOKEN = "not-a-real-token"
RESTAURANT = "+966500000001"
CUSTOMER = "+966500000002"


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


def send_as_restaurant(sender: TwilioSender, **kwargs):
    return sender.send(account_sid=ACCOUNT, auth_token=TOKEN, from_=RESTAURANT, to=CUSTOMER, **kwargs)


async def test_accepted_send_returns_the_sid_and_reaches_twilio_with_whatsapp_prefixes(fake, sender):
    result = await send_as_restaurant(
        sender,
        body="Your order is on its way",
        media_url="https://example.com/menu.png",
        status_callback="https://sufrah.example/twilio/status",
    )

    [message] = fake.sent
    assert result == SendResult(sid=message["sid"], status="queued")
    assert result.sid.startswith("MM") and len(result.sid) == 34
    assert message == {
        "sid": result.sid,
        "account_sid": ACCOUNT,
        "To": "whatsapp:+966500000002",
        "From": "whatsapp:+966500000001",
        "Body": "Your order is on its way",
        "MediaUrl": ["https://example.com/menu.png"],
        "StatusCallback": "https://sufrah.example/twilio/status",
    }


async def test_prefixed_addresses_are_kept_and_text_only_sends_get_an_sm_sid(fake, sender):
    result = await sender.send(
        account_sid=ACCOUNT,
        auth_token=TOKEN,
        from_="whatsapp:+966500000001",
        to="whatsapp:+966500000002",
        body="مرحبا",
    )

    assert result.sid.startswith("SM")
    assert fake.sent[0]["To"] == "whatsapp:+966500000002"
    assert fake.sent[0]["Body"] == "مرحبا"
    assert fake.sent[0]["MediaUrl"] == []


async def test_initial_status_comes_from_twilio(fake, sender):
    fake.script((201, {"status": "accepted"}))

    result = await send_as_restaurant(sender, body="hi")

    assert result.status == "accepted"


async def test_429_is_retryable_with_retry_after(fake, sender):
    fake.script((429, {}, {"Retry-After": "7"}))

    with pytest.raises(TwilioRetryableError) as caught:
        await send_as_restaurant(sender, body="hi")

    assert caught.value.status == 429
    assert caught.value.retry_after == 7.0
    assert fake.sent == []
    assert [r["status"] for r in fake.requests] == [429]


async def test_429_without_retry_after_then_the_retry_is_accepted(fake, sender):
    fake.script(429)

    with pytest.raises(TwilioRetryableError) as caught:
        await send_as_restaurant(sender, body="hi")
    assert caught.value.retry_after is None
    await send_as_restaurant(sender, body="hi")

    assert [r["status"] for r in fake.requests] == [429, 201]
    assert len(fake.sent) == 1


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_are_retryable(fake, sender, status):
    fake.script(status)

    with pytest.raises(TwilioRetryableError) as caught:
        await send_as_restaurant(sender, body="hi")

    assert caught.value.status == status
    assert fake.sent == []


async def test_slow_twilio_times_out_as_retryable(fake):
    fake.delay = 0.5
    sender = TwilioSender(base_url=fake.base_url, timeout=0.1)
    started = time.monotonic()
    try:
        with pytest.raises(TwilioRetryableError) as caught:
            await send_as_restaurant(sender, body="hi")
    finally:
        await sender.aclose()

    assert time.monotonic() - started < 0.4
    assert caught.value.status is None
    assert isinstance(caught.value.__cause__, TimeoutError)


async def test_unreachable_twilio_is_retryable():
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sender = TwilioSender(base_url=f"http://127.0.0.1:{port}", timeout=2.0)
    try:
        with pytest.raises(TwilioRetryableError):
            await send_as_restaurant(sender, body="hi")
    finally:
        await sender.aclose()


async def test_400_is_rejected_with_twilio_code_and_message(fake, sender):
    fake.script((400, {"code": 21211, "message": "Invalid 'To' Phone Number: +966500000002"}))

    with pytest.raises(TwilioRejectedError) as caught:
        await send_as_restaurant(sender, body="hi")

    assert caught.value.status == 400
    assert caught.value.code == 21211
    assert caught.value.message == "Invalid 'To' Phone Number: +966500000002"
    assert fake.sent == []


async def test_wrong_auth_token_is_rejected_and_not_leaked(fake, sender):
    with pytest.raises(TwilioRejectedError) as caught:
        await sender.send(
            account_sid=ACCOUNT, auth_token="wrong-token", from_=RESTAURANT, to=CUSTOMER, body="hi"
        )

    assert caught.value.status == 401
    assert caught.value.code == 20003
    assert "wrong-token" not in str(caught.value) and "wrong-token" not in repr(caught.value.__cause__)
    assert [r["status"] for r in fake.requests] == [401]


async def test_the_auth_token_is_never_logged(fake, sender, caplog):
    caplog.set_level("DEBUG")

    await send_as_restaurant(sender, body="hi")
    fake.script(400)
    with pytest.raises(TwilioRejectedError):
        await send_as_restaurant(sender, body="hi")

    assert caplog.records
    assert TOKEN not in caplog.text


async def test_an_error_without_a_twilio_code_has_code_none(fake, sender):
    fake.script((404, {"code": 404}))  # the library puts the HTTP status where a code is missing

    with pytest.raises(TwilioRejectedError) as caught:
        await send_as_restaurant(sender, body="hi")

    assert caught.value.status == 404
    assert caught.value.code is None


async def test_a_message_needs_a_body_or_media(sender):
    with pytest.raises(ValueError):
        await send_as_restaurant(sender)


async def test_concurrent_sends_are_each_recorded_once(fake, sender):
    bodies = [f"order #{i}" for i in range(20)]

    results = await asyncio.gather(*(send_as_restaurant(sender, body=b) for b in bodies))

    sent = await fake.wait_for(20)
    assert len(sent) == 20
    assert sorted(m["Body"] for m in sent) == sorted(bodies)
    assert {r.sid for r in results} == {m["sid"] for m in sent}


async def test_aclose_is_idempotent_and_a_closed_sender_reopens(fake, sender):
    await send_as_restaurant(sender, body="one")
    await sender.aclose()
    await sender.aclose()

    await send_as_restaurant(sender, body="two")

    assert [m["Body"] for m in fake.sent] == ["one", "two"]


async def test_the_client_cache_is_bounded_and_an_evicted_account_still_sends(fake):
    accounts = [("AC" + f"{i:032x}", f"token-{i}") for i in range(4)]
    for account, token in accounts:
        fake.add_account(account, token)
    sender = TwilioSender(base_url=fake.base_url, timeout=2.0, max_clients=2)
    try:
        for account, token in [*accounts, accounts[0]]:  # the first one was evicted by then
            await sender.send(
                account_sid=account, auth_token=token, from_=RESTAURANT, to=CUSTOMER, body=account
            )
        session = sender._session
        assert [m["Body"] for m in fake.sent] == [a for a, _ in [*accounts, accounts[0]]]
        assert len(sender._clients) == 2
        assert (
            session is not None and not session.closed
        )  # evicted clients share it: nothing closed under a send
    finally:
        await sender.aclose()

    rotating = TwilioSender(base_url=fake.base_url)  # e.g. a token rotated again and again
    for i in range(1000):
        rotating._client(ACCOUNT, f"rotated-token-{i}")
    assert len(rotating._clients) == 256
    await rotating.aclose()


async def test_the_error_tree():
    assert issubclass(TwilioRetryableError, TwilioError)
    assert issubclass(TwilioRejectedError, TwilioError)


async def test_standalone_fake_process():
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.twilio_api",
        "--port",
        "0",
        "--account",
        f"{ACCOUNT}:{TOKEN}",
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    sender = TwilioSender(timeout=5.0)
    try:
        base_url = (await asyncio.wait_for(process.stdout.readline(), 10)).decode().strip()
        assert base_url.startswith("http://127.0.0.1:")
        sender = TwilioSender(base_url=base_url, timeout=5.0)

        result = await send_as_restaurant(sender, body="from another process")
        async with httpx.AsyncClient(base_url=base_url) as http:
            sent = (await http.get("/_fake/sent")).json()
            (await http.post("/_fake/script", json=[503])).raise_for_status()
        with pytest.raises(TwilioRetryableError):
            await send_as_restaurant(sender, body="scripted failure")
    finally:
        await sender.aclose()
        process.terminate()
        await process.wait()

    assert [(m["sid"], m["To"], m["Body"]) for m in sent] == [
        (result.sid, "whatsapp:+966500000002", "from another process")
    ]
    assert process.returncode == 0

"""Media staff can see: an inbound attachment is downloaded from (fake) Twilio with the account's
credentials, only from Twilio's hosts, with retries, a size cap and a type allow-list, and shown
through our own signed link; a staff upload goes out to WhatsApp on our public link."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from app.auth.crypto import SecretBox
from app.channels.twilio.media import TwilioMediaFetcher
from app.channels.twilio.sender import TwilioSender
from app.context import AppContext
from app.db.engine import Database
from app.models import Message, MessageMedia
from app.workers.media import MediaDownloads
from app.workers.outbox import Outbox
from tests.fakes.twilio_api import FakeTwilio
from tests.support import PUBLIC_BASE_URL, BotHandle, Factory, auth, inbound_params, post_signed

JPEG = b"\xff\xd8\xff\xe0" + b"photo" * 200
MESSAGES = "{ conversation(id: $id) { messages(last: 5) { nodes { mediaUrl mediaUrls metadata } } } }"


@dataclass
class Chat:
    bot: BotHandle
    fake: FakeTwilio
    ctx: AppContext
    token: str
    fetchers: list[TwilioMediaFetcher]

    def downloads(self, *, max_bytes: int = 1 << 20) -> MediaDownloads:
        fetcher = TwilioMediaFetcher(base_url=self.fake.base_url, timeout=2.0, max_bytes=max_bytes)
        self.fetchers.append(fetcher)
        return MediaDownloads(
            self.ctx.db,
            fetcher=fetcher,
            store=self.ctx.media_store,
            box=SecretBox(self.ctx.settings.effective_secret_key),
            base_delay=0.01,
        )

    async def receive(self, client, *urls: tuple[str, str]) -> str:
        """A customer message with these attachments (url, type); returns its conversation id."""
        extra = {"NumMedia": str(len(urls)), "Body": ""}
        for i, (url, ctype) in enumerate(urls):
            extra[f"MediaUrl{i}"], extra[f"MediaContentType{i}"] = url, ctype
        response = await post_signed(
            client, "/whatsapp/webhook", inbound_params(self.bot, **extra), self.bot.auth_token
        )
        assert response.status_code == 200, response.text
        async with self.ctx.db.session() as s:
            return (
                (await s.execute(select(Message.conversation_id).order_by(Message.created_at.desc())))
                .scalars()
                .first()
            )


@pytest.fixture
async def chat(app_and_db, db: Database, factory: Factory) -> AsyncIterator[Chat]:
    bot = await factory.bot()
    async with FakeTwilio() as fake:
        fake.add_account(bot.bot.account_sid, bot.auth_token)
        chat = Chat(
            bot=bot, fake=fake, ctx=app_and_db[2], token=await factory.token(bot.restaurant.id), fetchers=[]
        )
        yield chat
        for fetcher in chat.fetchers:
            await fetcher.aclose()


async def media_rows(db: Database) -> list[MessageMedia]:
    async with db.session() as s:
        return list((await s.execute(select(MessageMedia).order_by(MessageMedia.position))).scalars())


async def test_an_inbound_photo_is_downloaded_with_basic_auth_and_shown_through_our_link(
    chat: Chat, client, resolver_client
):
    url = chat.fake.add_media(chat.bot.bot.account_sid, JPEG, "image/jpeg")
    conversation_id = await chat.receive(client, (url, "image/jpeg"))
    # committed with the message: the job exists as soon as Twilio has its answer
    (row,) = await media_rows(chat.ctx.db)
    assert (row.state, row.source_url, row.content_type) == ("pending", url, "image/jpeg")

    assert await chat.downloads().download_due() == 1

    (row,) = await media_rows(chat.ctx.db)
    assert (row.state, row.size_bytes, row.error) == ("stored", len(JPEG), None)
    api, cdn = chat.fake.media_requests
    assert api["authorization"] and api["status"] == 307  # credentials to Twilio's API host only
    assert not cdn["authorization"] and cdn["status"] == 200  # and never to the CDN it redirects to
    assert chat.fake.cdn_saw_credentials == 0

    headers = auth(chat.token, chat.bot.restaurant.id)
    legacy = (await client.get(f"/api/db/conversations/{conversation_id}/messages", headers=headers)).json()
    link = legacy[-1]["mediaUrl"]
    assert re.fullmatch(rf"/media/{chat.bot.restaurant.id}/{row.id}\?exp=\d+&sig=[0-9a-f]{{64}}", link)
    assert legacy[-1]["mediaUrls"] == [link]
    assert legacy[-1]["metadata"]["media"] == [{"url": url, "contentType": "image/jpeg"}]  # Twilio's URL kept

    query = {"query": f"query($id: ID!) {MESSAGES}", "variables": {"id": conversation_id}}
    compiled = (await client.post("/graphql", json=query, headers=headers)).json()
    resolved = (await resolver_client.post("/graphql", json=query, headers=headers)).json()
    assert compiled == resolved  # SQL (sufrah_media_url) and Python sign the same link
    (node,) = compiled["data"]["conversation"]["messages"]["nodes"]
    assert node["mediaUrl"] == link and node["mediaUrls"] == [link]

    picture = await client.get(link)  # no token: an <img> can't send one
    assert picture.status_code == 200 and picture.content == JPEG
    assert picture.headers["content-type"] == "image/jpeg"
    assert picture.headers["content-length"] == str(len(JPEG))
    assert picture.headers["x-content-type-options"] == "nosniff"
    assert picture.headers["cache-control"].startswith("private")
    assert picture.headers["content-disposition"].startswith("inline")


async def test_a_foreign_media_host_is_refused_and_never_sees_credentials(chat: Chat, client):
    foreign = chat.fake.add_media(chat.bot.bot.account_sid, JPEG, "image/jpeg").replace(
        "127.0.0.1", "localhost"
    )
    await chat.receive(client, (foreign, "image/jpeg"))
    await chat.downloads().download_due()
    (row,) = await media_rows(chat.ctx.db)
    assert row.state == "failed" and "not Twilio's" in (row.error or "")
    assert chat.fake.media_requests == []  # nothing was sent there at all


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", True),
        ("https://api.dublin.ie1.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", True),
        ("http://api.twilio.com/x", False),  # never in clear text
        ("https://api.twilio.com:8443/x", False),
        ("https://api.twilio.com.evil.example/x", False),
        ("https://evil.example/api.twilio.com", False),
        ("https://user:pw@api.twilio.com/x", False),
        ("https://media.twiliocdn.com/x", False),
        ("http://127.0.0.1:9/x", True),  # TWILIO_API_BASE_URL's host
        ("http://127.0.0.1:10/x", False),
    ],
)
def test_credentials_go_only_to_twilios_api_hosts(url: str, allowed: bool):
    fetcher = TwilioMediaFetcher(base_url="http://127.0.0.1:9", timeout=1, max_bytes=10)
    assert fetcher.may_authenticate(url) is allowed


async def test_a_404_right_after_the_webhook_is_retried_until_the_file_is_there(chat: Chat, client):
    url = chat.fake.add_media(chat.bot.bot.account_sid, JPEG, "image/jpeg", not_found=2)
    await chat.receive(client, (url, "image/jpeg"))
    downloads = chat.downloads()
    await downloads.download_due()
    (row,) = await media_rows(chat.ctx.db)
    assert row.state == "pending" and "404" in (row.error or "")
    for _ in range(100):
        await downloads.download_due()
        if (await media_rows(chat.ctx.db))[0].state != "pending":
            break
        await asyncio.sleep(0.02)
    (row,) = await media_rows(chat.ctx.db)
    assert (row.state, row.attempts) == ("stored", 3)
    assert [r["status"] for r in chat.fake.media_requests] == [404, 404, 307, 200]


async def test_too_large_and_unlisted_types_are_not_kept(chat: Chat, client):
    big = chat.fake.add_media(chat.bot.bot.account_sid, b"x" * 5000, "image/jpeg", redirect=False)
    page = chat.fake.add_media(chat.bot.bot.account_sid, b"<script>alert(1)</script>", "text/html")
    await chat.receive(client, (big, "image/jpeg"), (page, "text/html"))
    await chat.downloads(max_bytes=1000).download_due()
    large, html = await media_rows(chat.ctx.db)
    assert large.state == "failed" and "larger than 1000 bytes" in (large.error or "")
    assert html.state == "failed" and "text/html is not kept" in (html.error or "")
    async with chat.ctx.db.session() as s:
        message = (await s.execute(select(Message))).scalar_one()
    assert message.media_urls == [big, page]  # still Twilio's: nothing of ours to show


async def test_the_link_is_refused_for_another_restaurant_after_expiry_and_unsigned(
    chat: Chat, client, factory: Factory
):
    url = chat.fake.add_media(chat.bot.bot.account_sid, JPEG, "image/jpeg")
    await chat.receive(client, (url, "image/jpeg"))
    await chat.downloads().download_due()
    (row,) = await media_rows(chat.ctx.db)
    links, mine = chat.ctx.media_links, chat.bot.restaurant.id
    other = (await factory.restaurant("Other")).id
    good = links.path(mine, row.id)
    assert (await client.get(good)).status_code == 200

    moved = await client.get(good.replace(f"/media/{mine}/", f"/media/{other}/"))
    assert moved.status_code == 403 and "signature" in moved.json()["error"]
    # a link the other restaurant may hold for the same id names nothing of theirs
    assert (await client.get(links.path(other, row.id))).status_code == 404

    past = int(time.time()) - 10
    expired = await client.get(f"/media/{mine}/{row.id}?exp={past}&sig={links.signature(mine, row.id, past)}")
    assert expired.status_code == 403 and "expired" in expired.json()["error"]
    longer = good.split("exp=")[0] + f"exp={int(time.time()) + 10**6}&sig=" + good.split("sig=")[1]
    assert (await client.get(longer)).status_code == 403  # the expiry is signed too
    for bad in (f"/media/{mine}/{row.id}", f"/media/{mine}/{row.id}?exp=abc&sig=00"):
        refused = await client.get(bad)
        assert refused.status_code == 403 and refused.json()["error"]


async def test_links_are_the_same_in_sql_and_python(chat: Chat):
    async with chat.ctx.db.engine.connect() as conn:
        sql = await conn.scalar(text("SELECT sufrah_media_url('rst_1', 'media:med_1')"))
        many = await conn.scalar(
            text("""SELECT sufrah_media_urls('rst_1', '["media:med_1", "https://x/y"]')""")
        )
    assert sql == chat.ctx.media_links.path("rst_1", "med_1")
    assert many == [sql, "https://x/y"]


async def test_a_staff_upload_is_sent_to_whatsapp_on_our_public_link(chat: Chat, client, db: Database):
    conversation_id = await chat.receive(client, *())  # the customer wrote: the window is open
    headers = auth(chat.token, chat.bot.restaurant.id)
    png = b"\x89PNG\r\n\x1a\n" + b"menu" * 100
    uploaded = await client.post(
        "/api/media?filename=menu.png", content=png, headers={**headers, "Content-Type": "image/png"}
    )
    assert uploaded.status_code == 201, uploaded.text
    body = uploaded.json()
    assert body["sendUrl"].startswith(f"{PUBLIC_BASE_URL}/media/{chat.bot.restaurant.id}/{body['id']}?exp=")
    assert int(body["sendUrl"].split("exp=")[1].split("&")[0]) > time.time() + 6 * 24 * 3600

    sent = await client.post(
        f"/api/conversations/{conversation_id}/send-media",
        json={"mediaUrl": body["sendUrl"], "caption": "our menu"},
        headers=headers,
    )
    assert sent.status_code == 200, sent.text
    outbox = Outbox(
        db,
        sender=TwilioSender(base_url=chat.fake.base_url, timeout=2.0),
        box=SecretBox(chat.ctx.settings.effective_secret_key),
        public_base_url=PUBLIC_BASE_URL,
        base_delay=0.01,
        grace=timedelta(seconds=0.5),
    )
    await outbox.send_due()
    (wire,) = await chat.fake.wait_for(1)
    assert wire["MediaUrl"] == [body["sendUrl"]] and wire["Body"] == "our menu"
    fetched = await client.get(body["sendUrl"].removeprefix(PUBLIC_BASE_URL))  # what Twilio will fetch
    assert fetched.status_code == 200 and fetched.content == png
    await outbox.sender.aclose()


async def test_uploads_refuse_what_they_cannot_send(chat: Chat, client):
    headers = auth(chat.token, chat.bot.restaurant.id)
    html = await client.post(
        "/api/media", content=b"<html>", headers={**headers, "Content-Type": "text/html"}
    )
    assert html.status_code == 400 and "text/html" in html.json()["error"]
    empty = await client.post("/api/media", content=b"", headers={**headers, "Content-Type": "image/png"})
    assert empty.status_code == 400
    anonymous = await client.post("/api/media", content=b"x", headers={"Content-Type": "image/png"})
    assert anonymous.status_code == 401


async def test_documents_are_downloads(chat: Chat, client):
    url = chat.fake.add_media(chat.bot.bot.account_sid, b"%PDF-1.4 menu", "application/pdf")
    await chat.receive(client, (url, "application/pdf"))
    await chat.downloads().download_due()
    (row,) = await media_rows(chat.ctx.db)
    pdf = await client.get(chat.ctx.media_links.path(chat.bot.restaurant.id, row.id))
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("attachment")

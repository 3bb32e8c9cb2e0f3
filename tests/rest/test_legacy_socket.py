"""The legacy socket /ws: legacy-shaped frames from the event log, one restaurant per connection."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlencode

import pytest
import websockets

from app.realtime.hub import Hub, SubscriptionOverflow
from app.rest.legacy_socket import frame
from tests.rest.test_legacy_reads import CONVERSATION_KEYS, MESSAGE_KEYS, assert_shape
from tests.support import Factory, auth, inbound_params, post_signed


class LegacySocket:
    def __init__(self, live_url: str, **query: str) -> None:
        self.url = f"ws://{live_url}/ws?{urlencode(query)}"
        self.ws: Any = None

    async def __aenter__(self) -> LegacySocket:
        self.ws = await websockets.connect(self.url)
        await asyncio.sleep(0.2)  # let the subscription register before the test makes changes
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()

    async def frame(self, timeout: float = 5.0) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))  # type: ignore[no-any-return]

    async def frames_until(self, kind: str) -> list[dict[str, Any]]:
        seen = [await self.frame()]
        while seen[-1]["type"] != kind:
            seen.append(await self.frame())
        return seen

    async def nothing_more(self, timeout: float = 0.5) -> None:
        try:
            message = await asyncio.wait_for(self.ws.recv(), timeout)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected frame {message}")


async def say(client, bot, body: str, customer: str = "+966501234567") -> None:
    response = await post_signed(
        client, "/whatsapp/webhook", inbound_params(bot, body=body, customer=customer), bot.auth_token
    )
    assert response.status_code == 200


@pytest.fixture
async def two_shops(factory: Factory):
    mine = await factory.bot(await factory.restaurant("Mine"))
    theirs = await factory.bot(await factory.restaurant("Theirs"))
    return (mine, await factory.token(mine.restaurant.id)), (
        theirs,
        await factory.token(theirs.restaurant.id),
    )


async def test_a_connection_only_hears_its_own_restaurant(client, live_url, two_shops):
    (mine, my_token), (theirs, their_token) = two_shops
    async with (
        LegacySocket(live_url, token=my_token) as me,
        LegacySocket(live_url, token=their_token) as them,
    ):
        await say(client, theirs, "for them")
        created, updated = await them.frame(), await them.frame()
        assert created["type"] == "message.created" and created["data"]["content"] == "for them"
        assert_shape(created["data"], MESSAGE_KEYS)
        assert created["data"]["restaurantId"] == theirs.restaurant.id and created["cursor"]
        assert updated["type"] == "conversation.updated"
        assert_shape(updated["data"], CONVERSATION_KEYS)
        assert updated["data"]["unreadCount"] == 1
        await me.nothing_more()

        await say(client, mine, "for me")
        assert (await me.frame())["data"]["content"] == "for me"
        await them.nothing_more()


async def test_ping_is_answered_pong(live_url, two_shops):
    (_, token), _ = two_shops
    async with LegacySocket(live_url, token=token) as ws:
        await ws.ws.send("ping")
        assert await asyncio.wait_for(ws.ws.recv(), 5) == "pong"
        await ws.ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await asyncio.wait_for(ws.ws.recv(), 5)) == {"type": "pong"}
        await ws.ws.send(b"\x00binary")  # ignored, the socket stays up
        await ws.ws.send(
            '{"a":' * 50_000
        )  # JSON nested deeper than Python's parser goes (within 256 KiB): the same
        await ws.ws.send("ping")
        assert await asyncio.wait_for(ws.ws.recv(), 5) == "pong"


async def test_a_staff_reply_through_rest_arrives_as_message_created(client, live_url, two_shops):
    (mine, token), _ = two_shops
    await say(client, mine, "where is my order?")
    headers = auth(token)
    [conversation] = (await client.get("/api/db/conversations", headers=headers)).json()
    async with LegacySocket(live_url, token=token) as ws:
        sent = await client.post(
            f"/api/conversations/{conversation['id']}/send", json={"message": "on its way"}, headers=headers
        )
        assert sent.status_code == 200
        created = await ws.frame()
        assert created["type"] == "message.created"
        assert created["data"]["id"] == sent.json()["id"]
        assert (created["data"]["direction"], created["data"]["content"]) == ("OUT", "on its way")
        updated = await ws.frame()
        assert updated["type"] == "conversation.updated" and updated["data"]["id"] == conversation["id"]

        toggled = await client.post(
            f"/api/conversations/{conversation['id']}/toggle-bot", json={"enabled": False}, headers=headers
        )
        assert toggled.status_code == 200
        frame = await ws.frame()
        assert frame["type"] == "conversation.updated" and frame["data"]["isBotActive"] is False


async def test_bot_switches_arrive_as_bot_status_updated(client, live_url, two_shops, factory: Factory):
    (mine, token), _ = two_shops
    async with LegacySocket(live_url, token=token) as ws:
        await client.post("/api/bot/toggle", json={"enabled": False}, headers=auth(token))
        frame = await ws.frame()
        assert frame["type"] == "bot.status.updated"
        assert frame["data"] == {"restaurantId": mine.restaurant.id, "botEnabled": False}

        admin = auth(await factory.token(admin=True))
        await client.put(f"/api/admin/bots/{mine.bot.id}", json={"status": "FAILED"}, headers=admin)
        frame = await ws.frame()
        assert frame["type"] == "bot.status.updated"
        assert frame["data"]["id"] == mine.bot.id and frame["data"]["status"] == "FAILED"
        assert "accountSid" not in json.dumps(frame)


async def test_an_admin_names_the_restaurant(client, live_url, two_shops, factory: Factory):
    (mine, _), (theirs, _) = two_shops
    admin = await factory.token(admin=True)
    for tenant in (mine.restaurant.id, mine.bot.id):  # a restaurant id, or one of its bot ids
        async with LegacySocket(live_url, token=admin, restaurantId=tenant) as ws:
            await say(client, theirs, "not for this socket")
            await say(client, mine, f"via {tenant}")
            assert (await ws.frame())["data"]["content"] == f"via {tenant}"


@pytest.mark.parametrize(
    ("who", "query", "code"),
    [
        ("nobody", {}, 4401),
        ("nobody", {"token": "sfr_wrong"}, 4401),
        ("mine", {"restaurantId": "THEIRS"}, 4403),
        ("mine", {"restaurantId": "nowhere"}, 4403),
        ("admin", {}, 4400),
        ("admin", {"restaurantId": "nowhere"}, 4404),
        ("mine", {"after": "not-a-cursor"}, 4400),
        ("mine", {"after": "THEIR_CURSOR"}, 4400),
    ],
)
async def test_refusals_close_with_a_code(live_url, two_shops, factory: Factory, who, query, code):
    (_mine, my_token), (theirs, _) = two_shops
    from app.realtime.events import encode_cursor

    tokens = {"mine": my_token, "admin": await factory.token(admin=True), "nobody": None}
    replace = {"THEIRS": theirs.restaurant.id, "THEIR_CURSOR": encode_cursor(theirs.restaurant.id, 1)}
    params = {k: replace.get(v, v) for k, v in query.items()}
    if tokens[who]:
        params["token"] = tokens[who]
    async with websockets.connect(f"ws://{live_url}/ws?{urlencode(params)}") as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == code


async def test_resume_after_a_cursor_misses_nothing(client, live_url, two_shops):
    (mine, token), _ = two_shops
    async with LegacySocket(live_url, token=token) as ws:
        await say(client, mine, "before the drop")
        cursor = (await ws.frame())["cursor"]
    for i in range(2):
        await say(client, mine, f"while away {i}")
    async with LegacySocket(live_url, token=token, after=cursor) as ws:
        frames = [await ws.frame() for _ in range(5)]  # conversation.updated, then 2 x (created, updated)
        assert [f["data"]["content"] for f in frames if f["type"] == "message.created"] == [
            "while away 0",
            "while away 1",
        ]
        await ws.nothing_more()


async def test_a_reader_that_falls_behind_is_told_to_come_back(live_url, two_shops, monkeypatch):
    (_, token), _ = two_shops

    async def overflowing(self, **kwargs):  # what Hub.subscribe raises when a socket's queue overflows
        raise SubscriptionOverflow("subscriber fell behind")
        yield  # pragma: no cover

    monkeypatch.setattr(Hub, "subscribe", overflowing)
    async with websockets.connect(f"ws://{live_url}/ws?token={token}") as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013


def test_kinds_without_a_legacy_shape_are_not_sent():
    from app.realtime.hub import Delivered

    assert frame(Delivered("r", 1, "menu.updated", "mnu_1", None, object())) is None
    assert frame(Delivered("r", 2, "message.created", "msg_1", "c", None)) is None  # the row is gone

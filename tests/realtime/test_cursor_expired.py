"""Resuming from a cursor older than the retained event log is refused (CURSOR_EXPIRED on GraphQL,
close code 4410 on /ws), instead of silently skipping what was pruned; a cursor the log still
covers resumes as before."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlencode

import pytest
import websockets
from sqlalchemy import text

from app.realtime import events
from app.workers import EVENT_RETENTION_DAYS
from tests.gql import Socket
from tests.support import Factory, auth

EVENTS = "subscription($after: String) { events(after: $after) { kind cursor node { __typename } } }"


@pytest.fixture
async def shop(client, factory: Factory):
    """A restaurant whose log holds events 1..4 (the bot switched off and on twice)."""
    restaurant = await factory.restaurant()
    token = await factory.token(restaurant.id)
    for enabled in (False, True, False, True):
        response = await client.post("/api/bot/toggle", json={"enabled": enabled}, headers=auth(token))
        assert response.status_code == 200
    return restaurant.id, token


async def prune_up_to(db, restaurant_id: str, seq: int) -> None:
    """Events up to `seq` grow older than the retention window, and the retention worker runs."""
    async with db.session() as s:
        await s.execute(
            text(
                "UPDATE event SET created_at = now() - make_interval(days => :d)"
                " WHERE restaurant_id = :r AND seq <= :n"
            ),
            {"d": EVENT_RETENTION_DAYS + 1, "r": restaurant_id, "n": seq},
        )
        assert await events.prune(s, older_than_days=EVENT_RETENTION_DAYS) == seq
        await s.commit()


async def graphql_outcome(live_url: str, token: str, after: int, restaurant_id: str) -> dict:
    """The first message a subscription resumed after position `after` gets."""
    async with Socket(live_url) as ws:
        assert (await ws.init(token))["type"] == "connection_ack"
        await ws.subscribe(EVENTS, {"after": events.encode_cursor(restaurant_id, after)})
        return await ws.receive()


async def legacy_outcome(live_url: str, token: str, after: int, restaurant_id: str) -> dict | int:
    """The first frame /ws resumed after position `after` sends, or its close code."""
    query = urlencode({"token": token, "after": events.encode_cursor(restaurant_id, after)})
    async with websockets.connect(f"ws://{live_url}/ws?{query}") as ws:
        try:
            return json.loads(await asyncio.wait_for(ws.recv(), 5))  # type: ignore[no-any-return]
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None
            return closed.rcvd.code


def expired(message: dict) -> bool:
    errors = message.get("payload") or []
    if isinstance(errors, dict):
        errors = errors.get("errors") or []
    return any((e.get("extensions") or {}).get("code") == "CURSOR_EXPIRED" for e in errors)


@pytest.mark.parametrize("pruned", [3, 4])  # some of what followed the cursor is left, or none of it
async def test_a_cursor_older_than_the_retained_log_is_refused(db, live_url, shop, pruned):
    restaurant_id, token = shop
    await prune_up_to(db, restaurant_id, pruned)

    message = await graphql_outcome(live_url, token, 1, restaurant_id)
    assert message["type"] in ("next", "error") and expired(message), message
    assert await legacy_outcome(live_url, token, 1, restaurant_id) == 4410


async def test_a_cursor_the_log_still_covers_resumes(db, live_url, shop):
    restaurant_id, token = shop
    await prune_up_to(db, restaurant_id, 3)

    message = await graphql_outcome(live_url, token, 3, restaurant_id)  # event 4 is still there
    assert message["type"] == "next" and not message["payload"].get("errors"), message
    assert message["payload"]["data"]["events"]["cursor"] == events.encode_cursor(restaurant_id, 4)
    frame = await legacy_outcome(live_url, token, 3, restaurant_id)
    assert isinstance(frame, dict) and frame["cursor"] == events.encode_cursor(restaurant_id, 4)


async def test_an_up_to_date_cursor_after_everything_was_pruned_misses_nothing(client, db, live_url, shop):
    restaurant_id, token = shop
    await prune_up_to(db, restaurant_id, 4)
    async with Socket(live_url) as ws:
        assert (await ws.init(token))["type"] == "connection_ack"
        await ws.subscribe(EVENTS, {"after": events.encode_cursor(restaurant_id, 4)})
        await ws.nothing_more()  # not refused: nothing after 4 was pruned
        await client.post("/api/bot/toggle", json={"enabled": False}, headers=auth(token))
        assert (await ws.next_data())["events"]["cursor"] == events.encode_cursor(restaurant_id, 5)

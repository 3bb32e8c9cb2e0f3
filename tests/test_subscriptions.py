"""Live updates over GraphQL WebSockets: exactly once, in order, resumable by cursor, tenant-scoped."""

from __future__ import annotations

import asyncio

import pytest
import websockets
from gql import Client
from gql import gql as parse
from gql.transport.websockets import WebsocketsTransport

from app.channels.twilio.inbound import parse_inbound
from app.realtime import events
from app.realtime.hub import Hub, SubscriptionOverflow
from app.realtime.payloads import LOADERS
from app.services import inbound
from tests.gql import Socket, gql
from tests.support import Factory, inbound_params, post_signed

MESSAGES = "subscription($after: String, $c: ID) { messageCreated(after: $after, conversationId: $c) { id content cursor conversationId } }"
EVENTS = """subscription($after: String) { events(after: $after) {
  __typename ... on Message { id content cursor } ... on Conversation { id unreadCount cursor } } }"""


async def say(client, bot, body: str, customer: str = "+966501234567") -> None:
    response = await post_signed(client, "/whatsapp/webhook", inbound_params(bot, body=body, customer=customer),
                                 bot.auth_token)
    assert response.status_code == 200


@pytest.fixture
async def shop(factory: Factory):
    bot = await factory.bot()
    return bot, await factory.token(bot.restaurant.id)


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_new_message_arrives_live(client, live_url, shop, protocol):
    bot, token = shop
    async with Socket(live_url, protocol=protocol) as ws:
        assert (await ws.init(token, bot.restaurant.id))["type"] == "connection_ack"
        await ws.subscribe(MESSAGES)
        await asyncio.sleep(0.2)  # the subscription is registered before the message exists
        await say(client, bot, "live one")
        data = await ws.next_data()
        assert data["messageCreated"]["content"] == "live one"
        assert data["messageCreated"]["cursor"]
        await ws.nothing_more()


async def test_bad_credentials_close_the_socket_with_4403(live_url, shop, factory):
    bot, token = shop
    other = await factory.restaurant("Other")
    for bad_token, restaurant in (("nope", bot.restaurant.id), (token, other.id)):
        async with Socket(live_url) as ws:
            await ws.send({"type": "connection_init", "payload": {"authorization": f"Bearer {bad_token}",
                                                                   "restaurantId": restaurant}})
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.receive()
            assert closed.value.rcvd.code == 4403


async def test_stock_gql_client_end_to_end(client, live_url, shop):
    bot, token = shop
    for protocol in (WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL, WebsocketsTransport.APOLLO_SUBPROTOCOL):
        transport = WebsocketsTransport(
            url=f"ws://{live_url}/graphql", subprotocols=[protocol],
            init_payload={"authorization": f"Bearer {token}", "restaurantId": bot.restaurant.id},
        )
        async with Client(transport=transport) as session:
            received: list[str] = []

            async def listen() -> None:
                async for result in session.subscribe(parse("subscription { messageCreated { content } }")):
                    received.append(result["messageCreated"]["content"])
                    return

            task = asyncio.create_task(listen())
            await asyncio.sleep(0.3)
            await say(client, bot, f"via {protocol}")
            await asyncio.wait_for(task, 5)
            assert received == [f"via {protocol}"]


async def test_a_subscriber_never_sees_another_restaurant(client, live_url, shop, factory):
    bot, token = shop
    other = await factory.bot(await factory.restaurant("Other"))
    other_token = await factory.token(other.restaurant.id)
    async with Socket(live_url) as mine, Socket(live_url) as theirs:
        await mine.init(token, bot.restaurant.id)
        await theirs.init(other_token, other.restaurant.id)
        await mine.subscribe(EVENTS, {"after": None})
        await theirs.subscribe(EVENTS)
        await asyncio.sleep(0.2)
        await say(client, other, "for the other restaurant")
        got = await theirs.next_data()
        assert got["events"]["__typename"] == "Message"
        await mine.nothing_more(0.5)
        # Someone else's cursor can't be replayed on my stream.
        await mine.subscribe(MESSAGES, {"after": got["events"]["cursor"]})
        message = await mine.receive()
        assert message["type"] == "error" or message["payload"].get("errors"), message


async def test_resume_after_a_dropped_socket_misses_nothing_and_repeats_nothing(client, live_url, shop):
    bot, token = shop
    async with Socket(live_url) as ws:
        await ws.init(token, bot.restaurant.id)
        await ws.subscribe(MESSAGES)
        await asyncio.sleep(0.2)
        await say(client, bot, "before the drop")
        cursor = (await ws.next_data())["messageCreated"]["cursor"]
    for i in range(3):
        await say(client, bot, f"while away {i}")
    async with Socket(live_url) as ws:
        await ws.init(token, bot.restaurant.id)
        await ws.subscribe(MESSAGES, {"after": cursor})
        replayed = [(await ws.next_data())["messageCreated"]["content"] for _ in range(3)]
        assert replayed == ["while away 0", "while away 1", "while away 2"]
        await say(client, bot, "live again")
        assert (await ws.next_data())["messageCreated"]["content"] == "live again"
        await ws.nothing_more()


async def test_events_stream_carries_messages_and_conversations_in_order(client, live_url, shop):
    bot, token = shop
    async with Socket(live_url) as ws:
        await ws.init(token, bot.restaurant.id)
        await ws.subscribe(EVENTS)
        await asyncio.sleep(0.2)
        await say(client, bot, "one")
        first, second = (await ws.next_data())["events"], (await ws.next_data())["events"]
        assert (first["__typename"], first["content"]) == ("Message", "one")
        assert (second["__typename"], second["unreadCount"]) == ("Conversation", 1)
        query = "mutation($id: ID!) { markConversationRead(id: $id) { __typename } }"
        conversation_id = second["id"]
        await gql(client, query, {"id": conversation_id}, token=token, restaurant=bot.restaurant.id)
        third = (await ws.next_data())["events"]
        assert (third["__typename"], third["unreadCount"]) == ("Conversation", 0)
        seqs = [events.decode_cursor(e["cursor"], restaurant_id=bot.restaurant.id) for e in (first, second, third)]
        assert seqs == sorted(seqs) and len(set(seqs)) == 3


async def test_writers_of_one_restaurant_commit_in_event_order(db, shop):
    """The trap in event-log-notes.md: a writer that takes its number first but commits last.
    The per-restaurant counter makes the second writer wait, so a reader can never skip the first."""
    bot, _ = shop
    restaurant_id = bot.restaurant.id

    def message(body: str, customer: str):
        return parse_inbound(inbound_params(bot, body=body, customer=customer))

    async with db.session() as reader:
        start = await events.last_seq(reader, restaurant_id=restaurant_id)
    slow = db.sessionmaker()
    await inbound.ingest(slow, restaurant_id=restaurant_id, bot_id=bot.bot.id, inbound=message("slow", "+966500000001"))

    async def fast_writer() -> None:
        async with db.session() as fast:
            await inbound.ingest(fast, restaurant_id=restaurant_id, bot_id=bot.bot.id,
                                 inbound=message("fast", "+966500000002"))
            await fast.commit()

    fast = asyncio.create_task(fast_writer())
    await asyncio.sleep(0.3)
    async with db.session() as reader:
        visible = await events.read(reader, restaurant_id=restaurant_id, after=start)
    assert visible == [] and not fast.done()  # nothing visible yet: no reader can skip past "slow"
    await slow.commit()
    await slow.close()
    await asyncio.wait_for(fast, 5)
    async with db.session() as reader:
        rows = await events.read(reader, restaurant_id=restaurant_id, after=start)
    assert [r.seq for r in rows] == list(range(start + 1, start + 5))
    kinds = [r.kind for r in rows]
    assert kinds == ["message.created", "conversation.updated"] * 2


async def test_other_restaurants_do_not_wait_for_each_other(db, factory):
    a, b = await factory.bot(), await factory.bot(await factory.restaurant("B"))
    held = db.sessionmaker()
    await inbound.ingest(held, restaurant_id=a.restaurant.id, bot_id=a.bot.id, inbound=parse_inbound(inbound_params(a)))
    async with db.session() as other:
        await asyncio.wait_for(
            inbound.ingest(other, restaurant_id=b.restaurant.id, bot_id=b.bot.id,
                           inbound=parse_inbound(inbound_params(b))), 2)
        await other.commit()
    await held.rollback()
    await held.close()


async def test_a_slow_subscriber_is_cut_off_without_delaying_others(client, db, shop):
    bot, _ = shop
    hub = Hub(db, loaders=LOADERS, queue_size=3, poll_interval=0.05)
    await hub.start()
    try:
        slow = hub.subscribe(restaurant_id=bot.restaurant.id, after=None)
        fast = hub.subscribe(restaurant_id=bot.restaurant.id, after=None)
        slow_first = asyncio.create_task(slow.__anext__())
        fast_items: list[int] = []

        async def consume_fast() -> None:
            async for item in fast:
                fast_items.append(item.seq)
                if len(fast_items) == 20:
                    return

        fast_task = asyncio.create_task(consume_fast())
        await asyncio.sleep(0.2)
        for i in range(10):
            await say(client, bot, f"burst {i}")
        await asyncio.wait_for(fast_task, 5)
        assert fast_items == sorted(fast_items) and len(set(fast_items)) == 20
        await slow_first  # the slow one took one item, then stopped reading
        with pytest.raises(SubscriptionOverflow):
            for _ in range(30):
                await asyncio.wait_for(slow.__anext__(), 2)
        await fast.aclose()
    finally:
        await hub.stop()


async def test_event_cursor_closes_the_gap_between_reading_and_subscribing(client, live_url, shop):
    bot, token = shop
    cursor = (await gql(client, "{ eventCursor }", token=token, restaurant=bot.restaurant.id))["data"]["eventCursor"]
    await say(client, bot, "between the read and the subscribe")
    async with Socket(live_url) as ws:
        await ws.init(token, bot.restaurant.id)
        await ws.subscribe(MESSAGES, {"after": cursor})
        assert (await ws.next_data())["messageCreated"]["content"] == "between the read and the subscribe"


async def test_nested_fields_in_subscriptions_see_each_event_fresh(client, live_url, shop):
    bot, token = shop
    query = "subscription { messageCreated { content conversation { unreadCount lastMessage { content } } } }"
    async with Socket(live_url) as ws:
        await ws.init(token, bot.restaurant.id)
        await ws.subscribe(query)
        await asyncio.sleep(0.2)
        for i in range(3):
            await say(client, bot, f"n{i}")
            data = (await ws.next_data())["messageCreated"]
            assert data["conversation"]["unreadCount"] == i + 1
            assert data["conversation"]["lastMessage"]["content"] == f"n{i}"

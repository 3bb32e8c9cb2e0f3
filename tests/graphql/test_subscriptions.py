"""Live updates over GraphQL WebSockets: exactly once, in order, resumable by cursor, tenant-scoped."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from gql import Client
from gql import gql as parse
from gql.transport.websockets import WebsocketsTransport
from sqlalchemy import select

from app.channels.twilio.inbound import parse_inbound
from app.graphql.fast.frames import FrameQueue as Outbox
from app.ids import new_id
from app.models import Conversation, Message
from app.realtime import events
from app.realtime.hub import Hub, SubscriptionOverflow
from app.realtime.payloads import LOADERS
from app.services import inbound
from tests.gql import Socket, gql
from tests.support import Factory, inbound_params, post_signed

MESSAGES = "subscription($after: String, $c: ID) { messageCreated(after: $after, conversationId: $c) { id content cursor conversationId } }"
EVENTS = """subscription($after: String) { events(after: $after) { kind cursor node {
  __typename ... on Message { id content cursor } ... on Conversation { id unreadCount cursor } } } }"""


async def say(client, bot, body: str, customer: str = "+966501234567") -> None:
    response = await post_signed(
        client, "/whatsapp/webhook", inbound_params(bot, body=body, customer=customer), bot.auth_token
    )
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
            await ws.send(
                {
                    "type": "connection_init",
                    "payload": {"authorization": f"Bearer {bad_token}", "restaurantId": restaurant},
                }
            )
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.receive()
            assert closed.value.rcvd.code == 4403


async def test_stock_gql_client_end_to_end(client, live_url, shop):
    bot, token = shop
    for protocol in (WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL, WebsocketsTransport.APOLLO_SUBPROTOCOL):
        transport = WebsocketsTransport(
            url=f"ws://{live_url}/graphql",
            subprotocols=[protocol],
            init_payload={"authorization": f"Bearer {token}", "restaurantId": bot.restaurant.id},
        )
        async with Client(transport=transport) as session:
            received: list[str] = []

            async def listen(received: list[str]) -> None:
                async for result in session.subscribe(parse("subscription { messageCreated { content } }")):
                    received.append(result["messageCreated"]["content"])
                    return

            task = asyncio.create_task(listen(received))
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
        assert got["events"]["node"]["__typename"] == "Message"
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
        assert (first["kind"], first["node"]["__typename"], first["node"]["content"]) == (
            "MESSAGE_CREATED",
            "Message",
            "one",
        )
        assert (second["kind"], second["node"]["unreadCount"]) == ("CONVERSATION_UPDATED", 1)
        # A new conversation also raises a staff notification, in the same transaction (issue #15).
        notified = (await ws.next_data())["events"]
        assert (notified["kind"], notified["node"]["__typename"]) == ("NOTIFICATION_CREATED", "Notification")
        query = "mutation($id: ID!) { markConversationRead(id: $id) { __typename } }"
        conversation_id = second["node"]["id"]
        await gql(client, query, {"id": conversation_id}, token=token, restaurant=bot.restaurant.id)
        third = (await ws.next_data())["events"]
        assert (third["kind"], third["node"]["unreadCount"]) == ("CONVERSATION_UPDATED", 0)
        seqs = [
            events.decode_cursor(e["cursor"], restaurant_id=bot.restaurant.id) for e in (first, second, third)
        ]
        assert seqs == sorted(seqs) and len(set(seqs)) == 3
        # The envelope's cursor is the node's: the same position, said once for every kind.
        assert [e["cursor"] for e in (first, second, third)] == [
            e["node"]["cursor"] for e in (first, second, third)
        ]


async def test_events_say_whether_a_message_is_new_or_changed(client, db, live_url, shop):
    """Both are a `Message`: only the envelope's kind tells a new one from a delivery-status change."""
    bot, token = shop
    selection = """subscription { events { kind cursor node {
      __typename ... on Message { id content deliveryStatus } } } }"""
    async with Socket(live_url) as ws:
        await ws.init(token, bot.restaurant.id)
        await ws.subscribe(selection)
        await asyncio.sleep(0.2)
        await say(client, bot, "where is my order?")
        created = (await ws.next_data())["events"]
        assert (created["kind"], created["node"]["__typename"]) == ("MESSAGE_CREATED", "Message")
        assert created["node"]["content"] == "where is my order?"
        async with db.session() as s:  # a reply already at Twilio (its own event is not this test's)
            [conversation_id] = (await s.execute(select(Conversation.id))).scalars().all()
            reply = Message(
                restaurant_id=bot.restaurant.id,
                id=new_id("msg"),
                conversation_id=conversation_id,
                direction="OUT",
                author="staff",
                content="on its way",
                wa_sid="SMreply1",
                delivery_status="queued",
            )
            s.add(reply)
            await s.commit()
        status = {
            "MessageSid": "SMreply1",
            "MessageStatus": "delivered",
            "AccountSid": bot.bot.account_sid,
            "From": f"whatsapp:{bot.number}",
            "To": "whatsapp:+966501234567",
        }
        response = await post_signed(client, "/whatsapp/status", status, bot.auth_token)
        assert response.status_code in (200, 204)
        seen: list[dict] = []  # the new conversation's events come first (and the bot's, if it answers)
        while not any(e["kind"] == "MESSAGE_UPDATED" for e in seen):
            assert len(seen) < 10, seen
            seen.append((await ws.next_data())["events"])
        [updated] = [e for e in seen if e["kind"] == "MESSAGE_UPDATED"]
        assert (updated["node"]["id"], updated["node"]["deliveryStatus"]) == (reply.id, "delivered")
        assert all(
            e["kind"] == "MESSAGE_CREATED"
            for e in seen
            if e["node"].get("id") != reply.id and "id" in e["node"]
        )


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
    await inbound.ingest(
        slow, restaurant_id=restaurant_id, bot_id=bot.bot.id, inbound=message("slow", "+966500000001")
    )

    async def fast_writer() -> None:
        async with db.session() as fast:
            await inbound.ingest(
                fast, restaurant_id=restaurant_id, bot_id=bot.bot.id, inbound=message("fast", "+966500000002")
            )
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
    assert [r.seq for r in rows] == list(range(start + 1, start + 7))
    kinds = [r.kind for r in rows]  # each customer's first message: a new conversation, notified
    assert kinds == ["message.created", "conversation.updated", "notification.created"] * 2


async def test_other_restaurants_do_not_wait_for_each_other(db, factory):
    a, b = await factory.bot(), await factory.bot(await factory.restaurant("B"))
    held = db.sessionmaker()
    await inbound.ingest(
        held, restaurant_id=a.restaurant.id, bot_id=a.bot.id, inbound=parse_inbound(inbound_params(a))
    )
    async with db.session() as other:
        await asyncio.wait_for(
            inbound.ingest(
                other,
                restaurant_id=b.restaurant.id,
                bot_id=b.bot.id,
                inbound=parse_inbound(inbound_params(b)),
            ),
            2,
        )
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
    cursor = (await gql(client, "{ eventCursor }", token=token, restaurant=bot.restaurant.id))["data"][
        "eventCursor"
    ]
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


async def test_sockets_sharing_a_selection_get_the_same_bytes_and_the_others_their_own(
    client, live_url, shop
):
    """An event is executed once per distinct selection and sent as the same bytes to every socket
    that asked for it; a different selection or a different conversation filter is its own."""
    bot, token = shop
    await say(client, bot, "from the other customer", customer="+966500000002")
    listed = await gql(
        client,
        "{ conversations(first: 5) { nodes { id customerPhone } } }",
        token=token,
        restaurant=bot.restaurant.id,
    )
    other = next(
        n["id"] for n in listed["data"]["conversations"]["nodes"] if n["customerPhone"].endswith("0002")
    )
    narrow = "subscription { messageCreated { id direction } }"
    async with Socket(live_url) as a, Socket(live_url) as b, Socket(live_url) as c, Socket(live_url) as d:
        for ws in (a, b, c, d):
            await ws.init(token, bot.restaurant.id)
        await a.subscribe(MESSAGES)
        await b.subscribe(MESSAGES)
        await c.subscribe(narrow)
        await d.subscribe(MESSAGES, {"c": other})
        await asyncio.sleep(0.2)

        await say(client, bot, "shared one")
        frame_a, frame_b = await a.ws.recv(), await b.ws.recv()
        assert frame_a == frame_b  # same operation id ("1") on both sockets: the very same frame
        assert json.loads(frame_a)["payload"]["data"]["messageCreated"]["content"] == "shared one"
        assert set((await c.next_data())["messageCreated"]) == {"id", "direction"}
        await d.nothing_more()

        await say(client, bot, "to the other one", customer="+966500000002")
        assert (await d.next_data())["messageCreated"]["content"] == "to the other one"
        assert (await a.next_data())["messageCreated"]["content"] == "to the other one"


async def test_an_event_envelope_is_shared_like_its_node(client, live_url, shop):
    """The `events` envelope is made once per event, like its node: sockets asking for the same
    selection get the same frame, and a `messageCreated` socket gets the node the envelope holds."""
    bot, token = shop
    async with Socket(live_url) as a, Socket(live_url) as b, Socket(live_url) as c:
        for ws in (a, b, c):
            await ws.init(token, bot.restaurant.id)
        await a.subscribe(EVENTS)
        await b.subscribe(EVENTS)
        await c.subscribe(MESSAGES)
        await asyncio.sleep(0.2)
        await say(client, bot, "for all three")
        frame_a, frame_b = await a.ws.recv(), await b.ws.recv()
        assert frame_a == frame_b
        envelope = json.loads(frame_a)["payload"]["data"]["events"]
        message = (await c.next_data())["messageCreated"]
        assert envelope["kind"] == "MESSAGE_CREATED" and envelope["node"]["id"] == message["id"]
        assert envelope["cursor"] == message["cursor"]


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_a_burst_arrives_in_order_exactly_once(client, live_url, shop, protocol):
    bot, token = shop
    async with Socket(live_url, protocol=protocol) as ws, Socket(live_url, protocol=protocol) as twin:
        for socket in (ws, twin):
            await socket.init(token, bot.restaurant.id)
            await socket.subscribe(MESSAGES)
        await asyncio.sleep(0.2)
        sent = [f"burst {i}" for i in range(25)]
        await asyncio.gather(
            *(say(client, bot, body, customer=f"+96650000{i % 3:04d}") for i, body in enumerate(sent))
        )
        for socket in (ws, twin):
            got = [(await socket.next_data())["messageCreated"] for _ in sent]
            assert sorted(m["content"] for m in got) == sorted(sent)
            seqs = [events.decode_cursor(m["cursor"], restaurant_id=bot.restaurant.id) for m in got]
            assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # event-log order, no repeats
            await socket.nothing_more()


async def test_a_socket_that_stops_reading_is_bounded_and_its_frames_are_dropped_on_overflow():
    """A WebSocket's outbox holds a bounded number of frames; when an operation overflows, its
    frames still waiting are dropped (it ends with SUBSCRIBER_TOO_SLOW and resumes by cursor) and
    the socket's other operations are untouched."""
    reading = asyncio.Event()
    written: list[str] = []

    async def send(frame: str) -> None:
        await reading.wait()
        written.append(frame)

    outbox = Outbox(send, limit=3)
    slow, other = object(), object()
    assert outbox.put(slow, "s1") and outbox.put(slow, "s2") and outbox.put(other, "o1")
    assert not outbox.put(slow, "s3")  # full
    outbox.discard(slow)
    await asyncio.wait_for(outbox.drained(slow), 1)  # nothing of it left to wait for
    assert outbox.put(other, "o2")
    reading.set()
    await asyncio.wait_for(outbox.drained(other), 1)
    assert written == ["o1", "o2"]
    await outbox.close()

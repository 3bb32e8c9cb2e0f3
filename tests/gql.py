"""Small GraphQL helpers for tests: HTTP queries, and a graphql-transport-ws / graphql-ws socket."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import httpx
import websockets

from tests.support import auth


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    restaurant: str | None = None,
) -> dict[str, Any]:
    headers = auth(token, restaurant) if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


class Socket:
    """A GraphQL-over-WebSocket client speaking either subprotocol, driven step by step by a test."""

    def __init__(self, url: str, *, protocol: str = "graphql-transport-ws") -> None:
        self.url = url
        self.protocol = protocol
        self._ids = itertools.count(1)
        self.ws: Any = None

    async def __aenter__(self) -> Socket:
        self.ws = await websockets.connect(f"ws://{self.url}/graphql", subprotocols=[self.protocol])
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def receive(self, timeout: float = 5.0) -> dict[str, Any]:
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if message.get("type") not in ("ka", "ping", "pong"):
                return message  # type: ignore[no-any-return]

    async def init(self, token: str, restaurant: str | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {"authorization": f"Bearer {token}"}
        if restaurant:
            payload["restaurantId"] = restaurant
        await self.send({"type": "connection_init", "payload": payload})
        return await self.receive()

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        op_id = str(next(self._ids))
        kind = "subscribe" if self.protocol == "graphql-transport-ws" else "start"
        await self.send(
            {"id": op_id, "type": kind, "payload": {"query": query, "variables": variables or {}}}
        )
        return op_id

    async def next_data(self, timeout: float = 5.0) -> dict[str, Any]:
        message = await self.receive(timeout)
        assert message["type"] in ("next", "data"), message
        assert not message["payload"].get("errors"), message
        return message["payload"]["data"]  # type: ignore[no-any-return]

    async def nothing_more(self, timeout: float = 0.5) -> None:
        try:
            message = await self.receive(timeout)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected message {message}")

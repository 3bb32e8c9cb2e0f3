"""A refused request costs one lookup and says nothing in the server's log.

An unauthenticated request with 25 aliased fields used to look the token up 25 times and leave 23
"Task exception was never retrieved" tracebacks at ERROR: refusals were amplified into log noise
an attacker could produce at will.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import pytest

from app.services import tokens
from tests.gql import gql

FIELDS = 25


@pytest.fixture
def lookups(monkeypatch) -> list[str | None]:
    """The tokens looked up in the database, in order."""
    asked: list[str | None] = []
    authenticate = tokens.authenticate

    async def counted(session: Any, *, token: str | None, **kw: Any) -> Any:
        asked.append(token)
        return await authenticate(session, token=token, **kw)

    monkeypatch.setattr(tokens, "authenticate", counted)
    return asked


@pytest.fixture
async def loop_errors() -> Any:
    """What reaches the event loop's exception handler (where asyncio reports a task's exception
    that was never retrieved)."""
    loop = asyncio.get_running_loop()
    seen: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    yield seen
    loop.set_exception_handler(previous)


async def settle() -> None:
    """Let tasks still running after the answer finish, and collect the ones left unreferenced."""
    for _ in range(20):
        await asyncio.sleep(0.01)
    gc.collect()
    await asyncio.sleep(0)


@pytest.mark.parametrize("field", ["stats { totalConversations }", "restaurants { id }"])
@pytest.mark.parametrize("token", [None, "not-a-token"])
async def test_a_refused_request_with_many_fields_is_looked_up_once_and_logs_nothing(
    client, caplog, lookups, loop_errors, factory, field, token
):
    await factory.restaurant()
    query = "{ " + " ".join(f"f{i}: {field}" for i in range(FIELDS)) + " }"
    with caplog.at_level(logging.INFO):
        result = await gql(client, query, token=token) if token else await gql(client, query)
        await settle()
    # the first field refused nulls the whole (non-null) answer: one clear error
    assert result["data"] is None
    assert [e["extensions"]["code"] for e in result["errors"]] == ["UNAUTHENTICATED"], result
    assert loop_errors == []
    assert [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []
    assert lookups == [token]

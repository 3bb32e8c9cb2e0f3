"""What a webhook's caller can make the server log: values escaped (no forged lines, no terminal
escapes) and a bounded number of lines per minute, with a count of what was held back."""

from __future__ import annotations

import logging

import pytest

from app.logs import MAX_SHOWN, Throttled, untrusted
from app.services import inbound
from tests.support import Factory, inbound_params

FORGED = "\n2026-01-01 00:00:00 CRITICAL sufrah: forged line\x1b[2J"


@pytest.fixture
def fresh_allowance(monkeypatch):
    """This test's webhook warnings start with the per-minute allowance unused."""
    monkeypatch.setattr(inbound, "_log", Throttled(inbound.log))


async def test_refused_webhooks_log_escaped_values_a_few_times_a_minute(
    client, db, factory: Factory, caplog, fresh_allowance
):
    bot = await factory.bot()
    with caplog.at_level(logging.INFO, logger="sufrah.webhooks"):
        for i in range(25):
            params = inbound_params(bot, To="whatsapp:+15550001111", sid=f"SM{i}{FORGED}")
            assert (await client.post("/whatsapp/webhook", data=params)).status_code == 404
    lines = [r.getMessage() for r in caplog.records if r.name == "sufrah.webhooks"]
    assert len(lines) == 10  # of 25
    for line in lines:
        assert "\n" not in line and "\x1b" not in line
        assert "\\n2026-01-01 00:00:00 CRITICAL sufrah: forged line\\x1b[2J" in line  # still readable
        assert "'+15550001111'" in line


def test_untrusted_values_are_shown_escaped_and_cut():
    assert str(untrusted("SM1\r\nERROR x\x1b[31m")) == "'SM1\\r\\nERROR x\\x1b[31m'"
    assert str(untrusted("مرحبا")) == "'مرحبا'"  # printable text stays readable
    long = str(untrusted("A" * 10_000))
    assert long.startswith("'" + "A" * MAX_SHOWN + "'") and long.endswith(
        f"(+{10_000 - MAX_SHOWN} characters)"
    )
    assert str(untrusted(None)) == "'None'"


def test_throttled_lines_resume_with_a_count_of_those_held_back(caplog):
    now = [0.0]
    throttled = Throttled(logging.getLogger("test.throttled"), per_minute=3, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="test.throttled"):
        for i in range(10):
            throttled.warning("refused %s", i)
            throttled.info("other kind %s", i)  # each kind has its own allowance
        now[0] = 59.0
        throttled.warning("refused %s", "still the same minute")
        now[0] = 60.0
        throttled.warning("refused %s", "a minute later")
        throttled.warning("refused %s", "and again")
    messages = [r.getMessage() for r in caplog.records if r.name == "test.throttled"]
    assert messages == [
        "refused 0",
        "other kind 0",
        "refused 1",
        "other kind 1",
        "refused 2",
        "other kind 2",
        "refused a minute later (8 more like this were not logged)",
        "refused and again",
    ]

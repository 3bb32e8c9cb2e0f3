"""Browser tests of the operator inbox: Debian's Chromium, headless, driven by Playwright, against real
`sufrah serve` processes on the test database, with Twilio faked at its HTTP boundary.

Playwright's wheel brings its driver; the browser is the system's (`apt-get install chromium`), never
one Playwright downloads. Without either, every test here skips and says which is missing. Set
CHROMIUM_PATH to use another Chromium build.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.db.engine import Database
from app.services import catalog
from app.settings import Settings
from tests.fakes.twilio_api import FakeTwilio
from tests.servers import ServerProcess
from tests.support import BotHandle, Factory, inbound_params, sign

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def missing_browser() -> str | None:
    """Why the browser tests can't run here, or None."""
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not Path(CHROMIUM).is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)"
    return None


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    reason = missing_browser()
    if reason:
        pytest.skip(f"browser tests need Chromium and Playwright: {reason}")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def new_page(browser: Any, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Open pages in fresh browser contexts; fail the test on any script error or request to another
    host, and keep a screenshot of each page in tmp_path when the test ends."""
    contexts: list[Any] = []
    problems: list[str] = []

    async def open_page(viewport: dict[str, int] = DESKTOP) -> Any:
        context = await browser.new_context(viewport=viewport, service_workers="block")
        contexts.append(context)
        page = await context.new_page()
        page.set_default_timeout(10_000)
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on(
            "console",
            lambda msg: (
                problems.append(f"console {msg.type}: {msg.text}")
                if msg.type == "error" and not _expected_console_error(msg.text)
                else None
            ),
        )
        page.on(
            "request",
            lambda request: (
                problems.append(f"third-party request: {request.url}")
                if not request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:"))
                else None
            ),
        )
        return page

    yield open_page
    for i, context in enumerate(contexts):
        for j, page in enumerate(context.pages):
            await page.screenshot(path=str(tmp_path / f"page-{i}-{j}.png"))
        await context.close()
    assert not problems, problems


def _expected_console_error(text: str) -> bool:
    # While a server is down Chromium logs the failed socket and fetch attempts by itself.
    expected = ("WebSocket connection to", "net::ERR_CONNECTION_REFUSED", "Failed to load resource")
    return any(part in text for part in expected)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio() as twilio:
        yield twilio


@pytest.fixture
def server_env(database_url: str, settings: Settings, fake: FakeTwilio) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "SECRET_KEY": settings.secret_key or "",
        "LOG_LEVEL": "WARNING",
        "DASHBOARD_PAT": "",
        "TWILIO_API_BASE_URL": fake.base_url,
    }


@contextmanager
def running(process: ServerProcess) -> Iterator[ServerProcess]:
    """Like `with ServerProcess(...)`, but a server that fails to become ready is stopped too."""
    try:
        yield process.start()
    finally:
        process.stop()


@pytest.fixture
def server(db: Database, server_env: dict[str, str], tmp_path: Path) -> Iterator[ServerProcess]:
    with running(ServerProcess(env=server_env, log_dir=tmp_path)) as process:
        yield process


@dataclass
class Shop:
    bot: BotHandle
    token: str

    @property
    def restaurant_id(self) -> str:
        return self.bot.restaurant.id


async def open_shop(factory: Factory, db: Database, fake: FakeTwilio, name: str = "Sufrah Grill") -> Shop:
    """A restaurant with the demo menu, one WhatsApp number known to the fake Twilio, and a staff token."""
    bot = await factory.bot(await factory.restaurant(name=name))
    async with db.session() as s:
        await catalog.load_demo_menu(s, restaurant_id=bot.restaurant.id)
        await s.commit()
    fake.add_account(bot.bot.account_sid, bot.auth_token)
    return Shop(bot=bot, token=await factory.token(bot.restaurant.id))


def status_callback(shop: Shop, sent: dict[str, Any], status: str) -> dict[str, str]:
    """Twilio's delivery-status callback for a message the fake accepted."""
    return {
        "MessageSid": sent["sid"],
        "MessageStatus": status,
        "AccountSid": shop.bot.bot.account_sid,
        "From": sent["From"],
        "To": sent["To"],
    }


@dataclass
class Customer:
    """A customer's WhatsApp: signed webhooks to a server, and what the fake Twilio delivered to them."""

    shop: Shop
    fake: FakeTwilio
    phone: str
    name: str | None = None

    async def say(self, text: str = "", *, via: ServerProcess, **params: str) -> None:
        if self.name:
            params.setdefault("ProfileName", self.name)
        sent = inbound_params(self.shop.bot, customer=self.phone, body=text, **params)
        await post_signed(via, "/whatsapp/webhook", sent, self.shop.bot.auth_token)

    def received(self) -> list[dict[str, Any]]:
        return [m for m in self.fake.sent if m["To"] == f"whatsapp:{self.phone}"]

    async def say_and_wait(
        self, text: str = "", *, via: ServerProcess, timeout: float = 15, **params: str
    ) -> str:
        """Say something and wait for the bot's answer (the bot runs in the server's workers)."""
        before = len(self.received())
        await self.say(text, via=via, **params)
        await until(
            lambda: len(self.received()) > before, timeout=timeout, what=f"the bot's answer to {text!r}"
        )
        await asyncio.sleep(0.15)  # a step may answer with more than one message
        return "\n---\n".join(m["Body"] or "" for m in self.received()[before:])

    async def order_shawarma(self, *, via: ServerProcess) -> str:
        """A pickup order for one Chicken Shawarma, one step at a time; returns the confirmation. (Without
        a payment link the bot asks no payment method: cash.)"""
        # new order, pickup, first branch, Sandwiches, Chicken Shawarma, quantity 1, checkout, confirm
        steps = ["hi", "1", "2", "1", "2", "1", "1", "3", "1"]
        answer = ""
        for step in steps:
            answer = await self.say_and_wait(step, via=via)
        return answer


async def post_signed(server: ServerProcess, path: str, params: dict[str, str], auth_token: str) -> None:
    signature = sign(f"{server.url}{path}", params, auth_token)
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.post(path, data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code in (200, 204), response.text


async def until(condition: Callable[[], bool], *, timeout: float = 10, what: str = "a condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


# Run in the page: what a screen reader or a low-vision user would miss. Not a full WCAG audit; the
# checks that matter for this page: every control named, landmarks present, WCAG AA text contrast.
AUDIT = """() => {
  const problems = [];
  const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  const named = (el) => (el.labels && el.labels.length > 0) || el.getAttribute("aria-label")
    || el.getAttribute("aria-labelledby") || (el.textContent || "").trim();
  for (const el of document.querySelectorAll("button, input, select, textarea, a[href]")) {
    if (visible(el) && !named(el)) problems.push(`unnamed ${el.tagName} ${el.id || el.className}`);
  }
  for (const role of ["header.topbar", "main"]) {
    if (!document.querySelector(role)) problems.push(`missing landmark ${role}`);
  }
  const rgb = (value) => (value.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const [r, g, b, a = 1] = rgb(getComputedStyle(node).backgroundColor);
      if (a > 0.5) return [r, g, b];
    }
    return [255, 255, 255];
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let text = walker.nextNode(); text; text = walker.nextNode()) {
    const el = text.parentElement;
    if (!text.textContent.trim() || !visible(el)) continue;
    if (el.closest(".visually-hidden, [aria-hidden=true]")) continue;
    const style = getComputedStyle(el);
    if (el.matches("button:disabled")) continue;
    const [fg, bg] = [luminance(rgb(style.color)), luminance(background(el))];
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    const sample = text.textContent.trim().slice(0, 30);
    if (ratio < 4.5) problems.push(`contrast ${ratio.toFixed(2)} for "${sample}"`);
  }
  return problems;
}"""


async def accessibility_problems(page: Any) -> list[str]:
    return list(await page.evaluate(AUDIT))

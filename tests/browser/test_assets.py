"""The inbox as plain HTTP (no browser needed): where it is served, its headers, its vendored client."""

from __future__ import annotations

import hashlib
import re

import httpx

from app.inbox import STATIC_DIR
from tests.support import PUBLIC_BASE_URL

VENDOR = STATIC_DIR / "vendor" / "graphql-ws-6.4.2"


async def test_the_root_leads_to_the_inbox(client: httpx.AsyncClient):
    for path in ("/", "/inbox"):
        response = await client.get(path)
        assert response.status_code == 307
        assert response.headers["location"] == "/inbox/"


async def test_the_page_is_served_with_a_strict_policy_and_revalidated(client: httpx.AsyncClient):
    response = await client.get("/inbox/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "connect-src 'self' wss://bot.sufrah.test;" in policy  # its own socket origin, no other host
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module" src="/inbox/static/app.js">' in response.text

    again = await client.get("/inbox/", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


async def test_the_policy_names_the_pages_own_websocket_origin_and_nothing_else(client: httpx.AsyncClient):
    def connect_src(response: httpx.Response) -> str:
        policy = dict(
            part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";")
        )
        return policy["connect-src"]

    assert PUBLIC_BASE_URL == "https://bot.sufrah.test"
    assert connect_src(await client.get("/inbox/")) == "'self' wss://bot.sufrah.test"
    # PUBLIC_BASE_URL's host reached over http (a proxy that terminates TLS): the browser is on https
    assert connect_src(await client.get("http://bot.sufrah.test/inbox/")) == "'self' wss://bot.sufrah.test"
    assert connect_src(await client.get("http://127.0.0.1:8000/inbox/")) == "'self' ws://127.0.0.1:8000"
    assert connect_src(await client.get("https://[::1]:8443/inbox/")) == "'self' wss://[::1]:8443"
    # a Host that isn't a plain host[:port] can't add sources or directives to the policy
    forged = await client.get("/inbox/", headers={"Host": "evil.test script-src *"})
    assert (
        connect_src(forged) == "'self'" and "script-src 'self'" in forged.headers["content-security-policy"]
    )
    assert connect_src(await client.get("/inbox/", headers={"Host": "a.test;script-src"})) == "'self'"


async def test_assets_are_javascript_and_the_vendored_library_is_cached_for_good(client: httpx.AsyncClient):
    for path in ("app.js", "queries.js", "vendor/graphql-ws-6.4.2/client.js"):
        response = await client.get(f"/inbox/static/{path}")
        assert response.status_code == 200, path
        assert re.match(r"(text|application)/javascript", response.headers["content-type"]), path
        assert "connect-src 'self' wss://bot.sufrah.test;" in response.headers["content-security-policy"], (
            path
        )
    assert (await client.get("/inbox/static/app.css")).headers["cache-control"] == "no-cache"
    vendored = await client.get("/inbox/static/vendor/graphql-ws-6.4.2/client.js")
    assert vendored.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert (await client.get("/inbox/static/nothing-here.js")).status_code == 404
    assert (await client.get("/inbox/static/../__init__.py")).status_code == 404


def test_the_vendored_client_is_the_published_one_unmodified():
    notes = (VENDOR / "README.md").read_text()
    for name in ("client.js", "common-CGW11Fyb.js"):
        digest = hashlib.sha256((VENDOR / name).read_bytes()).hexdigest()
        assert f"sha256 `{name}` {digest}" in notes, name
    assert "MIT License" in (VENDOR / "LICENSE.md").read_text()
    app = (STATIC_DIR / "app.js").read_text()
    assert 'from "./vendor/graphql-ws-6.4.2/client.js"' in app


def test_nothing_is_loaded_from_another_host():
    html = (STATIC_DIR / "index.html").read_text()
    css = (STATIC_DIR / "app.css").read_text()
    assert not re.search(r"""(src|href)=["'](https?:)?//""", html)
    assert not re.search(r"url\(|@import", css)
    # The page's only absolute URLs are links staff may follow (a map), never resources it loads.
    for source in ("app.js", "queries.js"):
        hosts = set(re.findall(r"https?://([\w.-]+)", (STATIC_DIR / source).read_text()))
        assert hosts <= {"www.openstreetmap.org"}, hosts

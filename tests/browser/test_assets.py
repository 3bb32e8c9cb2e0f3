"""The inbox as plain HTTP (no browser needed): where it is served, its headers, its vendored client."""

from __future__ import annotations

import hashlib
import re

import httpx

from app.inbox import CONTENT_SECURITY_POLICY, STATIC_DIR

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
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in CONTENT_SECURITY_POLICY
    assert "connect-src 'self' ws: wss:" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY and "unsafe-eval" not in CONTENT_SECURITY_POLICY
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module" src="/inbox/static/app.js">' in response.text

    again = await client.get("/inbox/", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


async def test_assets_are_javascript_and_the_vendored_library_is_cached_for_good(client: httpx.AsyncClient):
    for path in ("app.js", "queries.js", "vendor/graphql-ws-6.4.2/client.js"):
        response = await client.get(f"/inbox/static/{path}")
        assert response.status_code == 200, path
        assert re.match(r"(text|application)/javascript", response.headers["content-type"]), path
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
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

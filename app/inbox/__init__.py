"""The operator inbox: a static page served by the app, built only on the public GraphQL API.

    GET /                   -> 307 /inbox/
    GET /inbox/             the page (static/index.html)
    GET /inbox/static/...   its ES modules, stylesheet and the vendored graphql-ws client

Nothing here reads the database or checks a token: the page asks for a token and sends it with every
GraphQL request (HTTP headers) and in the socket's connection_init payload, like any other client.
No build step and no Node at run time: the files under static/ are what the browser runs.

Caching: the page and our own assets are `no-cache` (revalidated with their ETag, a 304 costs no
body), so a deploy shows at once without fingerprinted file names; the vendored library lives in a
versioned folder and is cached for a year. Every response carries a strict Content-Security-Policy:
scripts, styles and fetches from this origin only (plus its WebSocket), nothing inline, no frames.
The WebSocket is named by its own origin (`wss://<the page's host>`), not by any `ws:`/`wss:` host:
`'self'` alone misses WebSockets in some browsers. The page's origin is the request's Host and
scheme, the scheme taken from PUBLIC_BASE_URL when that names the same host (behind a proxy that
terminates TLS the request itself says http); a Host that isn't a plain host[:port] gets `'self'` only.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"
PAGE = "/inbox/"

CSP_TEMPLATE = (
    "default-src 'self'; "
    "connect-src 'self'{sockets}; "  # the page's own ws(s) origin: see content_security_policy
    "script-src 'self'; "
    "style-src 'self'; "
    "img-src 'self'; "
    "object-src 'none'; "
    "base-uri 'none'; "
    "form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
REVALIDATE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"
# host or [IPv6 literal], optional port: nothing that could end a CSP source or directive
_HOST = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


def content_security_policy(scope: Scope) -> str:
    """The policy for a response to `scope`: its connect-src names the page's own WebSocket origin."""
    host = Headers(scope=scope).get("host", "")
    if not _HOST.fullmatch(host):
        return CSP_TEMPLATE.format(sockets="")
    secure = scope.get("scheme") in ("https", "wss")
    ctx = scope.get("state", {}).get("ctx")
    public = urlsplit(ctx.settings.base_url) if ctx is not None else None
    if public is not None and public.netloc.lower() == host.lower():
        secure = public.scheme == "https"
    return CSP_TEMPLATE.format(sockets=f" {'wss' if secure else 'ws'}://{host}")


class InboxFiles(StaticFiles):
    """StaticFiles (ETag, Last-Modified, 304s) plus the inbox's caching and security headers."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        response.headers["Content-Security-Policy"] = content_security_policy(scope)
        response.headers["Cache-Control"] = IMMUTABLE if path.startswith("vendor/") else REVALIDATE
        return response


files = InboxFiles(directory=STATIC_DIR)


async def page(request: Request) -> Response:
    return await files.get_response("index.html", request.scope)


async def to_page(request: Request) -> Response:
    return RedirectResponse(PAGE)


routes = [
    Route("/", to_page, methods=["GET"]),
    Route("/inbox", to_page, methods=["GET"]),
    Route(PAGE, page, methods=["GET"]),
    Mount("/inbox/static", app=files, name="inbox-static"),
]

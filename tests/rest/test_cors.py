"""CORS for the configured dashboard origins only (CORS_ORIGINS; tests/conftest.py sets two)."""

from __future__ import annotations

import httpx

from app.main import create_app
from tests.conftest import DASHBOARD_ORIGIN
from tests.support import Factory, auth

PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, x-restaurant-id, x-api-key, accept-language, content-type",
}


async def test_a_configured_origins_preflight_is_allowed(client):
    response = await client.options(
        "/api/conversations/cnv_x/messages", headers={"Origin": DASHBOARD_ORIGIN, **PREFLIGHT}
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == DASHBOARD_ORIGIN
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "x-restaurant-id", "x-api-key", "accept-language"} <= allowed
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in response.headers  # bearer headers, no cookies


async def test_another_origins_preflight_is_refused(client):
    response = await client.options(
        "/api/conversations/cnv_x/messages", headers={"Origin": "https://evil.example.com", **PREFLIGHT}
    )
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_actual_requests_carry_the_header_only_for_a_configured_origin(client, factory: Factory):
    restaurant = await factory.restaurant()
    headers = auth(await factory.token(restaurant.id), restaurant.id)
    ours = await client.get(
        "/api/db/conversations", headers={**headers, "Origin": "https://admin.example.com"}
    )
    assert ours.status_code == 200
    assert ours.headers["access-control-allow-origin"] == "https://admin.example.com"
    theirs = await client.get(
        "/api/db/conversations", headers={**headers, "Origin": "https://evil.example.com"}
    )
    assert theirs.status_code == 200 and "access-control-allow-origin" not in theirs.headers


async def test_unset_cors_origins_sends_no_cors_headers(settings):
    # No lifespan needed: a preflight never reaches a handler (the router answers 405 for OPTIONS).
    app = create_app(settings.model_copy(update={"cors_origins": None}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        response = await c.options("/api/db/conversations", headers={"Origin": DASHBOARD_ORIGIN, **PREFLIGHT})
    assert response.status_code == 405
    assert "access-control-allow-origin" not in response.headers

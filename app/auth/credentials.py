"""Where a caller's credentials come from, read in one place for every edge.

A caller presents a token and, optionally, the tenant it acts for (a restaurant id, or one of its
bot ids, which narrows it to that bot). Each transport carries them its own way:

    HTTP (REST, GraphQL)      Authorization: Bearer <token>      X-Restaurant-Id: <ref>
    GraphQL connection_init   {"authorization": "Bearer <token>" (or the bare token, or "token"),
                               "restaurantId" (or "x-restaurant-id")}: browsers can't set socket
                               headers; keys are matched without regard to case
    legacy /ws                ?token=<token>&restaurantId=<ref>, else the HTTP headers, else a first
                              frame {"type": "auth", "token": ..., "restaurantId": ...}

What the credentials are worth (a known token, a tenant in its scope) is app.auth.cache's to say;
this module only reads them. An empty value counts as absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Credentials:
    token: str | None = None
    tenant_ref: str | None = None

    def otherwise(self, fallback: Credentials) -> Credentials:
        """These credentials, each part missing here taken from `fallback`."""
        return Credentials(self.token or fallback.token, self.tenant_ref or fallback.tenant_ref)


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` value (the scheme in any case)."""
    scheme, _, value = (authorization or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def from_headers(headers: Mapping[str, str]) -> Credentials:
    """An HTTP request's (or a WebSocket handshake's) Authorization and X-Restaurant-Id headers."""
    return Credentials(bearer(headers.get("authorization")), headers.get("x-restaurant-id") or None)


def from_params(params: Mapping[str, object]) -> Credentials:
    """A GraphQL socket's connection_init payload."""
    lowered = {str(key).lower(): value for key, value in params.items()}
    authorization = lowered.get("authorization") or lowered.get("token")
    token = None
    if isinstance(authorization, str) and authorization.strip():
        token = bearer(authorization) or authorization.strip()
    tenant_ref = lowered.get("restaurantid") or lowered.get("x-restaurant-id")
    return Credentials(token, tenant_ref if isinstance(tenant_ref, str) and tenant_ref else None)


def from_query(query: Mapping[str, str]) -> Credentials:
    """The legacy socket's `?token=` and `?restaurantId=` (browsers can't set its headers either)."""
    return Credentials(query.get("token") or None, query.get("restaurantId") or None)


def from_frame(frame: Mapping[str, object]) -> Credentials:
    """The legacy socket's first frame `{"type": "auth", "token": ..., "restaurantId": ...}`."""
    token, tenant_ref = frame.get("token"), frame.get("restaurantId")
    return Credentials(
        token if isinstance(token, str) and token else None,
        tenant_ref if isinstance(tenant_ref, str) and tenant_ref else None,
    )

"""The one way out to Twilio: send a WhatsApp message through the Messages API.

    TwilioError                  base. Raised itself only when Twilio answered 2xx without a readable
    │                            message: the send may have been accepted, so do not repeat it blindly.
    ├── TwilioRetryableError     429, 5xx, timeout, connection failure: nothing is known to have been
    │                            accepted; try again later, no sooner than `retry_after` when it is set.
    │                            (A timeout is ambiguous: Twilio may have accepted the message anyway.)
    └── TwilioRejectedError      any other 4xx: Twilio refused this message for good (bad number, bad
                                 credentials, outside the WhatsApp window...); `code` is Twilio's error
                                 code (e.g. 21211, 63016) and `message` its explanation. Do not retry.

The library never retries on its own: the caller (a durable outbox) owns retries, because it must know
whether a send was accepted so that an accepted send is never repeated.

`TwilioSender(base_url=...)` is the seam for tests: every request twilio-python would send to
api.twilio.com goes to `base_url` instead (see tests/fakes/twilio_api.py).

One twilio-python `Client` is kept per (account, auth token), least recently used first out beyond
`max_clients`: a rotated token, or thousands of restaurants' accounts, can't grow the process without
bound. The clients hold no connection of their own: all of them send over the sender's one aiohttp
session, so an evicted client has nothing to close, and the session is closed by `aclose()`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from twilio.base import values
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class SendResult:
    sid: str  # Twilio's MessageSid, "SM…" or "MM…"
    status: str  # the initial status, usually "queued" or "accepted"


class TwilioError(Exception):
    """Base class; see the module docstring for when each subclass is raised."""


class TwilioRetryableError(TwilioError):
    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        ambiguous: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status  # HTTP status, None for timeouts and connection errors
        self.retry_after = retry_after  # seconds, from a Retry-After header when Twilio sent one
        # True when the request may have reached Twilio (a timeout, a connection dropped mid-request):
        # Twilio may have accepted the message, so a blind retry could send it twice.
        self.ambiguous = ambiguous


class TwilioRejectedError(TwilioError):
    def __init__(self, message: str, *, status: int, code: int | None) -> None:
        super().__init__(f"HTTP {status}, Twilio error {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class TwilioSender:
    """Sends messages with twilio-python's async client over one shared aiohttp session.

    Safe to share between concurrent tasks of one event loop. Auth tokens are passed per call, kept only
    inside cached clients, and never logged.
    """

    def __init__(self, *, base_url: str | None = None, timeout: float = 10.0, max_clients: int = 256) -> None:
        """base_url None: Twilio's real API. Otherwise e.g. "http://127.0.0.1:8123" (TWILIO_API_BASE_URL).
        timeout bounds each whole send (connect, request, response), in seconds. max_clients: how
        many (account, auth token) clients are kept (see the module docstring)."""
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._http_client = _RoutedHttpClient(base_url=base_url, session=self._get_session)
        self._clients: OrderedDict[tuple[str, str], Client] = OrderedDict()
        self._max_clients = max_clients

    async def send(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_: str,
        to: str,
        body: str | None = None,
        media_url: str | None = None,
        status_callback: str | None = None,
        content_sid: str | None = None,
        content_variables: dict[str, str] | None = None,
    ) -> SendResult:
        """Ask Twilio to send one WhatsApp message; bare E.164 numbers get the "whatsapp:" prefix.
        A template (an approved Content API SID, "HX…") goes as ContentSid + ContentVariables (JSON)."""
        if body is None and media_url is None and content_sid is None:
            raise ValueError("a message needs a body, a media_url or a content_sid")
        message = await self.call(
            account_sid=account_sid,
            auth_token=auth_token,
            request=lambda client: client.messages.create_async(
                to=_whatsapp(to),
                from_=_whatsapp(from_),
                body=values.unset if body is None else body,
                media_url=values.unset if media_url is None else [media_url],
                status_callback=values.unset if status_callback is None else status_callback,
                content_sid=values.unset if content_sid is None else content_sid,
                content_variables=(
                    values.unset if content_variables is None else json.dumps(content_variables)
                ),
            ),
        )
        if not message.sid:
            raise TwilioError("Twilio answered 2xx without a MessageSid; the send may be accepted")
        logger.debug("twilio accepted %s from account %s: %s", message.sid, account_sid, message.status)
        return SendResult(sid=message.sid, status=str(message.status or ""))

    async def call(
        self, *, account_sid: str, auth_token: str, request: Callable[[Client], Awaitable[T]]
    ) -> T:
        """Run one twilio-python request with this account's cached client, within the timeout; every
        failure comes out as this module's exception family (the Content API seam uses it too)."""
        client = self._client(account_sid, auth_token)
        try:
            async with asyncio.timeout(self._timeout):
                return await request(client)
        except TimeoutError as exc:  # also aiohttp's own timeouts, which subclass it
            raise TwilioRetryableError(
                f"no answer from Twilio within {self._timeout}s", ambiguous=True
            ) from exc
        except aiohttp.ClientConnectorError as exc:  # never connected: certainly not accepted
            raise TwilioRetryableError(f"could not reach Twilio: {exc!r}") from exc
        except aiohttp.ClientError as exc:
            raise TwilioRetryableError(f"connection to Twilio failed: {exc!r}", ambiguous=True) from exc
        except TwilioRestException as exc:
            reason = re.sub(r"^Unable to (create|fetch|delete|update) record: ", "", exc.msg)
            raise _from_status(exc.status, exc.code, reason) from exc
        except TwilioServiceException as exc:  # RFC 9457 error bodies
            raise _from_status(exc.status, exc.code, exc.detail or exc.title) from exc
        except json.JSONDecodeError as exc:
            raise TwilioError("Twilio answered 2xx with an unreadable body; it may be accepted") from exc

    async def aclose(self) -> None:
        """Close the HTTP session; a later send() opens a new one."""
        session, self._session = self._session, None
        self._clients.clear()
        if session is not None:
            await session.close()

    def _client(self, account_sid: str, auth_token: str) -> Client:
        key = (account_sid, auth_token)  # a rotated token gets a fresh client
        client = self._clients.get(key)
        if client is not None:
            self._clients.move_to_end(key)
            return client
        client = self._clients[key] = Client(account_sid, auth_token, http_client=self._http_client)
        while len(self._clients) > self._max_clients:
            self._clients.popitem(last=False)  # shares the session: nothing of its own to close
        return client

    def _get_session(self) -> aiohttp.ClientSession:
        # Created on first use, i.e. inside the running loop; no await between check and set.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session


class _RoutedHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]  # twilio ships no types
    """twilio-python's async HTTP client, sent to `base_url` over the sender's shared session.

    `request` is replaced rather than extended: the parent opens its own ClientSession in __init__
    (outside any loop), ignores its `timeout`, and does not release the response if cancelled mid-read.
    429/5xx are classified here because only here are the response headers (Retry-After) visible.
    """

    def __init__(self, *, base_url: str | None, session: Callable[[], aiohttp.ClientSession]) -> None:
        super().__init__(pool_connections=False)
        self._base = urlsplit(base_url.rstrip("/")) if base_url else None
        self._session = session

    async def request(
        self,
        method: str,
        url: str,
        params: Mapping[str, str | int | float] | None = None,  # a query: Twilio's are flat
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # unused: TwilioSender bounds the whole send
        allow_redirects: bool = False,
    ) -> Response:
        url = self._route(url)
        headers = dict(headers or {})
        if auth is not None:  # by hand: aiohttp 3.14 deprecates BasicAuth, which the parent uses
            headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
        body: dict[str, object] = {"data": data}  # lists (MediaUrl) become repeated form fields
        if headers.get("Content-Type") == "application/json":  # the Content API takes JSON bodies
            body = {"data": json.dumps(_without_nulls(data or {}))}
        async with self._session().request(
            method.upper(),
            url,
            params=params,
            headers=headers,
            **body,  # type: ignore[arg-type]
            allow_redirects=allow_redirects,
        ) as response:
            text = await response.text()
        logger.debug("twilio %s %s -> %s", method.upper(), url, response.status)
        if response.status == 429 or response.status >= 500:
            raise TwilioRetryableError(
                f"Twilio answered HTTP {response.status}",
                status=response.status,
                retry_after=_seconds(response.headers.get("Retry-After")),
            )
        return Response(response.status, text, response.headers)

    def _route(self, url: str) -> str:
        """Swap the origin of a Twilio URL (api.twilio.com, or a regional host) for base_url's."""
        if self._base is None:
            return url
        parts = urlsplit(url)
        return urlunsplit(
            (self._base.scheme, self._base.netloc, self._base.path + parts.path, parts.query, "")
        )


def _from_status(status: int, code: int | None, message: str) -> TwilioError:
    if code == status:  # the library fills in the HTTP status when the body has no Twilio code
        code = None
    if status == 429 or status >= 500:
        return TwilioRetryableError(f"Twilio answered HTTP {status}: {message}", status=status)
    return TwilioRejectedError(message, status=status, code=code)


def _without_nulls(value: object) -> object:
    """A JSON body without the nulls twilio-python's request models fill in for every unset field
    (e.g. each of the 14 content types a create request does not use)."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _whatsapp(address: str) -> str:
    return f"whatsapp:{address}" if address.startswith("+") else address


def _seconds(retry_after: str | None) -> float | None:
    """A Retry-After header (delta-seconds or an HTTP date) as seconds from now."""
    if not retry_after:
        return None
    try:
        return max(0.0, float(retry_after))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(retry_after)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())

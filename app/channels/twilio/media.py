"""Downloading a customer's attachment from Twilio: the one request that carries an account's
credentials anywhere but the Messages API, so the rules are here, in one place.

    GET MediaUrl  (HTTP Basic: account SID + auth token, ONLY to api.twilio.com, api.<region>.twilio.com
       │           or the host of TWILIO_API_BASE_URL; any other host: refused, nothing is sent)
       ├── 200: the file, read in chunks and dropped past MEDIA_MAX_BYTES
       └── 307/302 to Twilio's CDN: followed, never with Authorization (the redirect's URL is
           pre-signed and needs none; wherever it points, it must never see the token)

    MediaFetchError             base; never raised itself
    ├── MediaRetryable          404 (Twilio answers 404 for a moment after the webhook), 429, 5xx,
    │                           timeout, connection failure: try again later
    └── MediaRefused            a foreign host, a type outside the allow-list (app/media/policy.py),
                                too large, 401/403 and other 4xx: do not retry
"""

from __future__ import annotations

import asyncio
import base64
import re
from dataclasses import dataclass

import aiohttp
from yarl import URL

from app.media import policy

MAX_REDIRECTS = 5
_TWILIO_API_HOST = re.compile(r"^api(\.[a-z0-9-]+)*\.twilio\.com$")


class MediaFetchError(Exception):
    """Base class; see the module docstring for when each subclass is raised."""


class MediaRetryable(MediaFetchError):
    pass


class MediaRefused(MediaFetchError):
    pass


@dataclass(frozen=True, slots=True)
class Fetched:
    data: bytes
    content_type: str


def _basic(login: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()


def _origin(url: URL) -> tuple[str, str, int | None]:
    return (url.scheme, (url.host or "").lower(), url.port)


class TwilioMediaFetcher:
    def __init__(self, *, base_url: str | None, timeout: float, max_bytes: int) -> None:
        self._own = URL(base_url) if base_url else None
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._session: aiohttp.ClientSession | None = None

    def may_authenticate(self, url: str | URL) -> bool:
        """Whether the account's credentials may be sent to `url` (see the module docstring)."""
        target = URL(url) if isinstance(url, str) else url
        if target.user is not None or target.password is not None:
            return False
        if self._own is not None and _origin(target) == _origin(self._own):
            return True
        host = (target.host or "").lower()
        return target.scheme == "https" and target.port == 443 and bool(_TWILIO_API_HOST.match(host))

    async def fetch(
        self, url: str, *, account_sid: str, auth_token: str, declared_type: str | None = None
    ) -> Fetched:
        """The file at Twilio's MediaUrl; raises MediaRetryable or MediaRefused."""
        first = URL(url)
        if first.scheme not in ("http", "https") or not first.host:
            raise MediaRefused("the media URL is not an http(s) URL")
        if not self.may_authenticate(first):
            raise MediaRefused(f"media host {first.host} is not Twilio's: not downloaded with credentials")
        credentials = {"Authorization": _basic(account_sid, auth_token)}
        current = first
        try:
            for hop in range(MAX_REDIRECTS + 1):
                with_auth = hop == 0
                async with self._get_session().get(
                    current,
                    headers=credentials if with_auth else None,
                    allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(
                        total=self.timeout * 6, sock_connect=self.timeout, sock_read=self.timeout
                    ),
                ) as response:
                    if response.status in (301, 302, 303, 307, 308):
                        location = response.headers.get("Location")
                        if not location:
                            raise MediaRefused(f"Twilio answered {response.status} without a Location")
                        current = current.join(URL(location))
                        if current.scheme not in ("http", "https"):
                            raise MediaRefused("the media redirect is not an http(s) URL")
                        continue
                    return await self._read(response, declared_type)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise MediaRetryable(f"media download failed: {type(exc).__name__}") from exc
        raise MediaRefused(f"more than {MAX_REDIRECTS} redirects")

    async def _read(self, response: aiohttp.ClientResponse, declared_type: str | None) -> Fetched:
        status = response.status
        if status == 404 or status == 429 or status >= 500:
            raise MediaRetryable(f"Twilio answered {status} for the media")
        if status != 200:
            raise MediaRefused(f"Twilio answered {status} for the media")
        content_type = policy.normalize(response.headers.get("Content-Type"))
        if content_type in ("", "application/octet-stream"):
            content_type = policy.normalize(declared_type)
        if not policy.allowed(content_type):
            raise MediaRefused(f"media of type {content_type or 'unknown'} is not kept")
        if response.content_length is not None and response.content_length > self.max_bytes:
            raise MediaRefused(f"the media is larger than {self.max_bytes} bytes")
        chunks, size = [], 0
        async for chunk in response.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > self.max_bytes:
                raise MediaRefused(f"the media is larger than {self.max_bytes} bytes")
            chunks.append(chunk)
        return Fetched(b"".join(chunks), content_type)

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
            await asyncio.sleep(0)

"""Signed links to stored media: what `mediaUrl` shows once an attachment is in our store.

    /media/{restaurant_id}/{media_id}?exp={unix seconds}&sig={hex HMAC-SHA256}

The signature covers `{restaurant_id}/{media_id}/{exp}` under a key derived from SECRET_KEY for this
purpose only, so a link opens one attachment of one restaurant until `exp`, in an <img> or <audio>
tag that can't send a bearer token. A stored attachment is kept in the message's `media_urls` as the
marker `media:{media_id}` and turned into a link when read: in Python here, in SQL by
`sufrah_media_url` (migration 0008), which the compiled GraphQL path uses. Both expire a link at the
end of the next whole period of MEDIA_URL_TTL_SECONDS: the link is the same for a period (a browser
caches the picture), valid for at least one, and both paths write the same link.

SQL gets the key as two connection settings (the HMAC's inner and outer pads, `server_settings`),
never as a statement parameter, so it reaches no statement log. The one process-wide instance is set
by the app's lifespan (`configure`); without it (the CLI) a marker is shown as its unsigned path.
"""

from __future__ import annotations

import hashlib
import hmac
import time

MARKER = "media:"
_BLOCK = 64  # SHA-256's block size, for the pads


class MediaLinks:
    def __init__(self, secret_key: str, *, ttl_seconds: int = 3600, base_url: str = "") -> None:
        self._key = hmac.new(secret_key.encode(), b"sufrah:media-links", hashlib.sha256).digest()
        self.ttl = int(ttl_seconds)
        self.base_url = base_url.rstrip("/")

    def signature(self, restaurant_id: str, media_id: str, exp: int) -> str:
        message = f"{restaurant_id}/{media_id}/{exp}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def _url(self, restaurant_id: str, media_id: str, exp: int) -> str:
        sig = self.signature(restaurant_id, media_id, exp)
        return f"/media/{restaurant_id}/{media_id}?exp={exp}&sig={sig}"  # ids are [a-z0-9_]

    def path(self, restaurant_id: str, media_id: str, *, now: float | None = None) -> str:
        """The short-lived link staff read (relative: the inbox and dashboards are on our origin)."""
        now = time.time() if now is None else now
        return self._url(restaurant_id, media_id, (int(now // self.ttl) + 2) * self.ttl)

    def public(self, restaurant_id: str, media_id: str, *, ttl_seconds: int) -> str:
        """An absolute link valid for `ttl_seconds`: for Twilio, which fetches a sent file later."""
        return self.base_url + self._url(restaurant_id, media_id, int(time.time()) + int(ttl_seconds))

    def verify(self, restaurant_id: str, media_id: str, *, exp: str | None, sig: str | None) -> str | None:
        """None when the link is good; else why not (for the 403's message)."""
        if not exp or not sig or not exp.isdigit():
            return "this media link is not signed"
        expected = self.signature(restaurant_id, media_id, int(exp))
        if not hmac.compare_digest(expected.encode(), sig.encode("utf-8", "replace")):
            return "this media link's signature does not match"
        if int(exp) < time.time():
            return "this media link has expired; reload the conversation for a fresh one"
        return None

    def server_settings(self) -> dict[str, str]:
        """The connection settings `sufrah_media_url` reads (see the module docstring)."""
        padded = self._key.ljust(_BLOCK, b"\0")
        return {
            "sufrah.media_ipad": bytes(b ^ 0x36 for b in padded).hex(),
            "sufrah.media_opad": bytes(b ^ 0x5C for b in padded).hex(),
            "sufrah.media_ttl": str(self.ttl),
        }


_current: MediaLinks | None = None


def configure(links: MediaLinks | None) -> None:
    """Set the process's links (the app's lifespan); None forgets them."""
    global _current
    _current = links


def shown(restaurant_id: str, url: str | None) -> str | None:
    """A `media_urls` entry as the APIs show it: a stored attachment's marker becomes its link."""
    if url is None or not url.startswith(MARKER):
        return url
    media_id = url[len(MARKER) :]
    if _current is None:
        return f"/media/{restaurant_id}/{media_id}"
    return _current.path(restaurant_id, media_id)

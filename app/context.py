"""What the app holds for its lifetime, created in the lifespan and reached by every edge."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection

from app.auth.cache import Authenticator
from app.auth.crypto import SecretBox
from app.channels.sufrah import SufrahPlatform
from app.db.engine import Database
from app.media.links import MediaLinks
from app.media.store import MediaStore
from app.settings import Settings

if TYPE_CHECKING:
    from app.realtime.hub import Hub
    from app.spool import BotDirectory, Spool


@dataclass
class AppContext:
    settings: Settings
    db: Database
    box: SecretBox
    hub: Hub
    auth: Authenticator
    spool: Spool
    directory: BotDirectory
    media_store: MediaStore
    media_links: MediaLinks
    platform: SufrahPlatform | None = None  # the Sufrah merchant platform (syncMenu, the workers)


def app_context(conn: HTTPConnection) -> AppContext:
    return conn.state.ctx  # type: ignore[no-any-return]

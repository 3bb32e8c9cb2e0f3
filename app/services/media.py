"""Attachments in our media store: recorded with their message, downloaded after the commit
(app/workers/media.py), read back through signed links (app/media/links.py), uploaded by staff.

A message's `media_urls` keeps Twilio's URL until its file is stored; then the entry becomes the
marker `media:{id}` (shown as our signed link), and Twilio's URL stays in `metadata.media`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.errors import NotFound, ValidationFailed
from app.ids import new_id
from app.media import policy
from app.media.links import MARKER
from app.media.store import MediaStore
from app.models import MessageMedia
from app.realtime import events
from app.realtime.events import Change

_LINK_STORED = text(
    """
    UPDATE message SET media_urls = jsonb_set(media_urls, ARRAY[CAST(:position AS text)], to_jsonb(CAST(:marker AS text))),
                       updated_at = now()
    WHERE restaurant_id = :r AND id = :m AND jsonb_array_length(media_urls) > :position
    RETURNING conversation_id
    """
)


def storage_key(*, restaurant_id: str, media_id: str, content_type: str) -> str:
    """Where a file lives in the store: written once, never changed."""
    return f"{restaurant_id}/{media_id}.{policy.extension(content_type)}"


async def record_inbound(
    session: AsyncSession,
    *,
    restaurant_id: str,
    message_id: str,
    media: Sequence[tuple[str, str | None]],
) -> None:
    """Queue a new inbound message's attachments for download, in the caller's transaction."""
    if not media:
        return
    await session.execute(
        insert(MessageMedia).values(
            [
                {
                    "restaurant_id": restaurant_id,
                    "id": new_id("med"),
                    "message_id": message_id,
                    "position": position,
                    "source_url": url,
                    "content_type": policy.normalize(content_type) or None,
                    "next_attempt_at": func.now(),
                }
                for position, (url, content_type) in enumerate(media)
            ]
        )
    )


async def mark_stored(
    session: AsyncSession,
    *,
    restaurant_id: str,
    media_id: str,
    content_type: str,
    size: int,
    key: str,
) -> None:
    """The file is in the store: the message shows our link from now on (and says so live)."""
    row = (
        await session.execute(
            update(MessageMedia)
            .where(col(MessageMedia.restaurant_id) == restaurant_id, col(MessageMedia.id) == media_id)
            .values(
                state="stored",
                content_type=content_type,
                size_bytes=size,
                storage_key=key,
                error=None,
                next_attempt_at=None,
                updated_at=text("now()"),
            )
            .returning(col(MessageMedia.message_id), col(MessageMedia.position))
        )
    ).one_or_none()
    if row is None or row.message_id is None:
        return
    conversation_id = (
        await session.execute(
            _LINK_STORED,
            {"r": restaurant_id, "m": row.message_id, "position": row.position, "marker": MARKER + media_id},
        )
    ).scalar_one_or_none()
    if conversation_id is not None:
        await events.record(
            session,
            restaurant_id=restaurant_id,
            changes=[Change(events.MESSAGE_UPDATED, row.message_id, conversation_id)],
        )


async def mark_failed(session: AsyncSession, *, restaurant_id: str, media_id: str, error: str) -> None:
    """Given up: the message keeps Twilio's URL, the reason is kept for support."""
    await session.execute(
        update(MessageMedia)
        .where(col(MessageMedia.restaurant_id) == restaurant_id, col(MessageMedia.id) == media_id)
        .values(state="failed", error=error, next_attempt_at=None, updated_at=text("now()"))
    )


async def retry_later(
    session: AsyncSession, *, restaurant_id: str, media_id: str, delay: float, error: str
) -> None:
    """Try again after `delay` seconds."""
    await session.execute(
        update(MessageMedia)
        .where(col(MessageMedia.restaurant_id) == restaurant_id, col(MessageMedia.id) == media_id)
        .values(
            error=error,
            next_attempt_at=text(f"now() + make_interval(secs => {float(delay)!r})"),
            updated_at=text("now()"),
        )
    )


async def get_stored(session: AsyncSession, *, restaurant_id: str, media_id: str) -> MessageMedia:
    """A stored attachment of this restaurant; NotFound otherwise (also while it is downloading)."""
    row = (
        await session.execute(
            select(MessageMedia).where(
                col(MessageMedia.restaurant_id) == restaurant_id,
                col(MessageMedia.id) == media_id,
                col(MessageMedia.state) == "stored",
            )
        )
    ).scalar_one_or_none()
    if row is None or row.storage_key is None:
        raise NotFound("no such media")
    return row


async def upload(
    session: AsyncSession,
    *,
    restaurant_id: str,
    store: MediaStore,
    data: bytes,
    content_type: str | None,
    filename: str | None,
    max_bytes: int,
) -> MessageMedia:
    """Keep a staff upload (an image or document to send); ValidationFailed for a bad file."""
    ctype = policy.normalize(content_type)
    if not data:
        raise ValidationFailed("the file is empty", field="file")
    if len(data) > max_bytes:
        raise ValidationFailed(f"the file is larger than {max_bytes} bytes", field="file")
    if not policy.allowed(ctype):
        raise ValidationFailed(
            f"files of type {ctype or 'unknown'} can't be sent; send an image, audio, video or document",
            field="contentType",
        )
    media_id = new_id("med")
    key = storage_key(restaurant_id=restaurant_id, media_id=media_id, content_type=ctype)
    await store.put(key, data, content_type=ctype)
    row = MessageMedia(
        restaurant_id=restaurant_id,
        id=media_id,
        state="stored",
        content_type=ctype,
        size_bytes=len(data),
        storage_key=key,
        filename=(filename or "")[:200] or None,
    )
    session.add(row)
    await session.flush()
    return row

"""Media over HTTP: staff read stored attachments through signed links, and upload files to send.

    GET  /media/{restaurant_id}/{media_id}?exp=&sig=   the file (app/media/links.py signs the link;
                                                       403 bad or expired, 404 unknown), usable in
                                                       <img>/<audio>/<video>: no token needed
    POST /api/media?filename=...                       a staff upload: the raw file as the body, its
                                                       type as Content-Type (bearer token, like every
                                                       staff write); 201 {id, url, sendUrl, ...}

`sendUrl` is a link valid for MEDIA_SEND_TTL_SECONDS (7 days) on PUBLIC_BASE_URL: pass it as the
`mediaUrl` of a message (GraphQL sendMessage, REST send-media) and Twilio fetches the file from us.
Documents are served as attachments and nothing with `nosniff` off, so a file can't act as a page.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.context import app_context
from app.errors import NotFound
from app.media import policy
from app.media.store import MediaMissing
from app.rest.common import error, path_param, query_text, tenant_of
from app.services import media


async def read_media(request: Request) -> Response:
    """GET /media/{restaurant_id}/{media_id}: a stored attachment, for whoever holds a valid link."""
    ctx = app_context(request)
    restaurant_id, media_id = path_param(request, "restaurant_id"), path_param(request, "media_id")
    exp, sig = request.query_params.get("exp"), request.query_params.get("sig")
    refusal = ctx.media_links.verify(restaurant_id, media_id, exp=exp, sig=sig)
    if refusal is not None:
        return error(403, refusal)
    async with ctx.db.session() as session:
        row = await media.get_stored(session, restaurant_id=restaurant_id, media_id=media_id)
    try:
        data = await ctx.media_store.get(row.storage_key or "")
    except MediaMissing:
        raise NotFound("this file is missing from the media store") from None
    content_type = row.content_type or "application/octet-stream"
    disposition = "attachment" if policy.is_document(content_type) else "inline"
    filename = (row.filename or f"{row.id}.{policy.extension(content_type)}").replace('"', "")
    filename = filename.encode("ascii", "replace").decode()
    max_age = max(int(exp or 0) - int(time.time()), 0)
    return Response(
        data,
        media_type=content_type,
        headers={
            "Cache-Control": f"private, max-age={max_age}",
            "Content-Disposition": f'{disposition}; filename="{filename}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


async def upload_media(request: Request) -> JSONResponse:
    """POST /api/media: keep a staff file to send; 201 with its links."""
    ctx = app_context(request)
    filename = query_text(request, "filename")
    async with ctx.db.session() as session:
        tenant = await tenant_of(request, session)
        data = await request.body()
        row = await media.upload(
            session,
            restaurant_id=tenant.restaurant_id,
            store=ctx.media_store,
            data=data,
            content_type=request.headers.get("content-type"),
            filename=filename,
            max_bytes=ctx.settings.media_max_bytes,
        )
        await session.commit()
    links = ctx.media_links
    return JSONResponse(
        {
            "id": row.id,
            "contentType": row.content_type,
            "size": row.size_bytes,
            "filename": row.filename,
            "url": links.path(row.restaurant_id, row.id),
            "sendUrl": links.public(
                row.restaurant_id, row.id, ttl_seconds=ctx.settings.media_send_ttl_seconds
            ),
        },
        status_code=201,
    )


routes = [
    Route("/media/{restaurant_id}/{media_id}", read_media, methods=["GET"]),
    Route("/api/media", upload_media, methods=["POST"]),
]

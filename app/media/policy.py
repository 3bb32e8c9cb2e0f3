"""Which files we keep and how a browser is given them: one allow-list for downloads and uploads.

Images, audio and video play inline; PDF and office documents are offered for download
(Content-Disposition: attachment), so nothing a customer sends can run as a page on our origin.
WhatsApp's own media types (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media)
are all here; SVG and HTML are not (they can carry script).
"""

from __future__ import annotations

INLINE = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
    "audio/ogg": "ogg",
    "audio/mpeg": "mp3",
    "audio/mp4": "m4a",
    "audio/aac": "aac",
    "audio/amr": "amr",
    "audio/wav": "wav",
    "video/mp4": "mp4",
    "video/3gpp": "3gp",
    "video/quicktime": "mov",
}
DOCUMENTS = {
    "application/pdf": "pdf",
    "text/plain": "txt",
    "text/csv": "csv",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.ms-powerpoint": "ppt",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
}
ALLOWED = {**INLINE, **DOCUMENTS}


def normalize(content_type: str | None) -> str:
    """`image/JPEG; charset=x` -> `image/jpeg`; '' when missing."""
    return (content_type or "").partition(";")[0].strip().lower()


def allowed(content_type: str | None) -> bool:
    return normalize(content_type) in ALLOWED


def is_document(content_type: str | None) -> bool:
    """Served as a download rather than shown inline."""
    return normalize(content_type) not in INLINE


def extension(content_type: str | None) -> str:
    return ALLOWED.get(normalize(content_type), "bin")

"""Media that staff can see: customers' photos, voice notes, videos and documents, and staff uploads.

    Twilio webhook ──► message + message_media rows (pending), one transaction (app/services/inbound.py)
                          │ after the commit
                          ▼
    app/workers/media.py ── app/channels/twilio/media.py: GET MediaUrl with the bot's account
                          │   credentials (Twilio's hosts only), 307 to the CDN without them
                          ▼
    app/media/store.py: LocalMediaStore (DATA_DIR/media) | S3MediaStore (MEDIA_S3_BUCKET)
                          │
                          ▼
    GET /media/{restaurant}/{media}?exp=&sig= (app/rest/media.py), links from app/media/links.py

Why a package of its own and not app/services alone: the store and the links are infrastructure that
the services, the worker, the REST edge and SQL (the links' twin in migration 0008) all share, while
the one network call that needs Twilio's credentials stays behind the Twilio seam (app/channels/twilio).
"""

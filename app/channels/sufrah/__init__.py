"""The Sufrah merchant platform, reached through one client (app/channels/sufrah/client.py)."""

from app.channels.sufrah.client import (
    Availability,
    PlatformBranch,
    PlatformCategory,
    PlatformProduct,
    SubmittedOrder,
    SufrahPlatform,
)

__all__ = [
    "Availability",
    "PlatformBranch",
    "PlatformCategory",
    "PlatformProduct",
    "SubmittedOrder",
    "SufrahPlatform",
]

"""GraphQL of the restaurant's catalog provider and its menu sync from the Sufrah merchant platform
(app/services/merchant.py): which provider, and how the last sync went (the earlier dashboard's
sync-status shape, K4)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from app import models
from app.graphql.results import ForbiddenError, NotFoundError, ValidationError


@strawberry.enum
class CatalogProvider(Enum):
    LOCAL = "local"
    SUFRAH = "sufrah"


@strawberry.enum
class MenuSyncHealth(Enum):
    NEVER = "never"  # not synced yet
    HEALTHY = "healthy"  # the last attempt succeeded
    ERROR = "error"  # the last attempt failed: see errorMessage


@strawberry.type(description="Where the menu comes from, and the Sufrah platform sync's last outcome.")
class CatalogSource:
    provider: CatalogProvider
    merchant_id: str | None
    sync_enabled: bool = strawberry.field(description="The menu is synced from the platform on a schedule.")
    sync_status: MenuSyncHealth
    last_successful_sync: datetime | None
    last_attempt_at: datetime | None
    next_sync_at: datetime | None
    error_message: str | None = strawberry.field(
        description="The last failure, while it is the latest attempt."
    )
    items_synced: int
    categories_synced: int
    branches_synced: int


def catalog_source(restaurant: models.Restaurant, sync: models.MenuSync | None) -> CatalogSource:
    platform = restaurant.catalog_provider == "sufrah"
    failed = (
        sync is not None
        and sync.last_error is not None
        and sync.last_error_at is not None
        and (sync.last_success_at is None or sync.last_error_at >= sync.last_success_at)
    )
    if sync is None or (sync.last_success_at is None and not failed):
        health = MenuSyncHealth.NEVER
    else:
        health = MenuSyncHealth.ERROR if failed else MenuSyncHealth.HEALTHY
    return CatalogSource(
        provider=CatalogProvider(restaurant.catalog_provider),
        merchant_id=restaurant.merchant_id,
        sync_enabled=platform,
        sync_status=health,
        last_successful_sync=sync.last_success_at if sync else None,
        last_attempt_at=sync.last_attempt_at if sync else None,
        next_sync_at=sync.next_sync_at if sync and platform else None,
        error_message=sync.last_error if sync and failed else None,
        items_synced=sync.items_synced if sync else 0,
        categories_synced=sync.categories_synced if sync else 0,
        branches_synced=sync.branches_synced if sync else 0,
    )


CatalogSourceResult = Annotated[
    CatalogSource | NotFoundError | ForbiddenError | ValidationError, strawberry.union("CatalogSourceResult")
]

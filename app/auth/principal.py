"""Who is calling (`Principal`) and for which restaurant (`Tenant`): the one type edges hand to services."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated API caller: an admin (every restaurant) or a token scoped to named restaurants."""

    token_id: str | None  # None for DASHBOARD_PAT
    is_admin: bool
    restaurant_ids: frozenset[str]

    def can_access(self, restaurant_id: str) -> bool:
        return self.is_admin or restaurant_id in self.restaurant_ids


@dataclass(frozen=True, slots=True)
class Tenant:
    """A principal acting for one restaurant. `bot_id` is set when the caller named one of the
    restaurant's bots (X-Restaurant-Id may carry a bot id): lists then narrow to that sender."""

    principal: Principal
    restaurant_id: str
    bot_id: str | None = None

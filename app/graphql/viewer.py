"""GraphQL of the caller itself (`Viewer`): whether its token is an admin's and which restaurants it
names, so a page can offer admin tools without asking for something it would be refused."""

from __future__ import annotations

import strawberry

from app.auth.principal import Principal


@strawberry.type(description="The caller's token: what it may act for (nothing secret).")
class Viewer:
    is_admin: bool = strawberry.field(description="An admin token: every restaurant, plans and usage.")
    restaurant_ids: list[strawberry.ID] = strawberry.field(
        description="The restaurants a scoped token names; empty for an admin (who may act for all)."
    )

    @classmethod
    def of(cls, principal: Principal) -> Viewer:
        return cls(
            is_admin=principal.is_admin,
            restaurant_ids=[strawberry.ID(r) for r in sorted(principal.restaurant_ids)],
        )

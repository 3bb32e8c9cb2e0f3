"""GraphQL types of the template library (app/services/templates.py): WhatsApp templates, their
review status, and the restaurant's choice of follow-up and order-status templates."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from app import models
from app.graphql.projection import Projection
from app.graphql.results import ForbiddenError, NotFoundError, OutsideCustomerWindowError, ValidationError
from app.graphql.types import Message


@strawberry.enum(description="WhatsApp's review: pending until approved or rejected (with a reason).")
class TemplateStatus(Enum):
    DRAFT = "draft"
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@strawberry.enum
class TemplateCategory(Enum):
    UTILITY = "UTILITY"
    MARKETING = "MARKETING"
    AUTHENTICATION = "AUTHENTICATION"


@strawberry.type(description="A WhatsApp template (a Twilio Content API content) of the restaurant.")
class Template:
    id: strawberry.ID
    name: str = strawberry.field(description="WhatsApp's template name: lowercase letters, digits, _.")
    friendly_name: str
    language: str
    category: TemplateCategory
    body: str = strawberry.field(description="With {{1}}, {{2}}, … for the variables.")
    footer: str | None
    buttons: JSON | None = strawberry.field(description="Quick replies: [{title, id?}], at most 3.")
    variables: JSON = strawberry.field(description='Sample values for the review, e.g. {"1": "Sara"}.')
    content_sid: str | None
    status: TemplateStatus
    rejection_reason: str | None
    sync_error: str | None = strawberry.field(description="The last failure asking Twilio, if any.")
    approved_at: datetime | None
    usage_count: int
    last_used_at: datetime | None
    created_at: datetime
    updated_at: datetime


TEMPLATE = Projection(Template, models.MessageTemplate)


@strawberry.input
class TemplateButtonInput:
    title: str
    id: str | None = None


@strawberry.input(description="A template; on update, omitted fields stay as they are.")
class TemplateInput:
    name: str | None = None
    friendly_name: str | None = None
    language: str | None = None
    category: TemplateCategory | None = None
    body: str | None = None
    footer: str | None = None
    buttons: list[TemplateButtonInput] | None = None
    variables: JSON | None = None


@strawberry.type(description="The templates used outside WhatsApp's 24-hour window.")
class TemplateSettings:
    follow_up: Template | None = strawberry.field(
        description="Staff replies outside the window go as this template, the reply as {{1}}."
    )
    order_status: Template | None = strawberry.field(
        description="Order status notices outside the window: {{1}} the order, {{2}} its status."
    )


@strawberry.type
class TemplateDeleted:
    id: strawberry.ID


TemplateResult = Annotated[
    Template | NotFoundError | ForbiddenError | ValidationError, strawberry.union("TemplateResult")
]
TemplateDeleteResult = Annotated[
    TemplateDeleted | NotFoundError | ForbiddenError, strawberry.union("TemplateDeleteResult")
]
TemplateSettingsResult = Annotated[
    TemplateSettings | NotFoundError | ForbiddenError | ValidationError,
    strawberry.union("TemplateSettingsResult"),
]
SendTemplateResult = Annotated[
    Message | NotFoundError | ForbiddenError | ValidationError | OutsideCustomerWindowError,
    strawberry.union("SendTemplateResult"),
]

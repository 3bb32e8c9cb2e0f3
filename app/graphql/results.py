"""Expected failures of mutations, members of their result unions (Strawberry's errors guide):
a client branches on `__typename` instead of reading an error list. Every one implements `Error`,
so a client that only shows what went wrong writes `... on Error { message }` once, whatever the
union; a new failure type implements it too (tests/graphql/test_results.py checks the schema)."""

from __future__ import annotations

import strawberry

from app.errors import Forbidden, NotFound, OutsideCustomerWindow, SufrahError, ValidationFailed


@strawberry.interface(description="An expected failure: `message` says what went wrong, for people.")
class Error:
    message: str


@strawberry.type(description="The thing named does not exist, or is another restaurant's.")
class NotFoundError(Error):
    pass


@strawberry.type(description="This token may not do that.")
class ForbiddenError(Error):
    pass


@strawberry.type(description="The input was refused; `field` names the argument at fault, when one is.")
class ValidationError(Error):
    field: str | None


@strawberry.type(
    description="WhatsApp refuses a free-form message 24 hours after the customer last wrote: send a template."
)
class OutsideCustomerWindowError(Error):
    pass


Failure = NotFoundError | ForbiddenError | ValidationError | OutsideCustomerWindowError


def failure(exc: SufrahError) -> Failure:
    """The union member for an expected failure; anything else is raised again (a GraphQL error)."""
    if isinstance(exc, NotFound):
        return NotFoundError(message=exc.message)
    if isinstance(exc, Forbidden):
        return ForbiddenError(message=exc.message)
    if isinstance(exc, OutsideCustomerWindow):
        return OutsideCustomerWindowError(message=exc.message)
    if isinstance(exc, ValidationFailed):
        return ValidationError(message=exc.message, field=exc.field)
    raise exc

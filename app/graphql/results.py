"""Expected failures of mutations, members of their result unions (Strawberry's errors guide):
a client branches on `__typename` instead of reading an error list."""

from __future__ import annotations

import strawberry

from app.errors import Forbidden, NotFound, OutsideCustomerWindow, SufrahError, ValidationFailed


@strawberry.type
class NotFoundError:
    message: str


@strawberry.type
class ForbiddenError:
    message: str


@strawberry.type
class ValidationError:
    message: str
    field: str | None


@strawberry.type
class OutsideCustomerWindowError:
    message: str


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

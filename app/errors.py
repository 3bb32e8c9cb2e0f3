"""The domain exception tree. Services raise these; each edge maps them to its own error shape.

    SufrahError                      base; never raised itself
    ├── NotFound                     the object does not exist *for this tenant* (another tenant's
    │                                object is indistinguishable from a missing one). REST 404.
    ├── Unauthenticated              no token, or a token that is unknown or revoked. REST 401.
    ├── Forbidden                    a valid token asked for a tenant or action outside its scope. 403.
    ├── ValidationFailed             the input is malformed; `field` names the culprit. REST 400.
    ├── Conflict                     the input clashes with stored data (e.g. a WhatsApp number that
    │                                is already registered). REST 409.
    ├── OutsideCustomerWindow        a free-form message to a customer whose last message is older
    │                                than WhatsApp's 24-hour window; use a template instead. REST 422.
    ├── InvalidSignature             a webhook whose X-Twilio-Signature does not verify. REST 403.
    └── StatementTimeout             the database cancelled a statement that ran past the pool's
                                     statement_timeout (DB_STATEMENT_TIMEOUT_SECONDS): ask for less
                                     or try again later. REST 503, GraphQL code TIMEOUT.

Anything else that escapes a service is a bug: edges log it and answer 500 without details.
"""

from typing import ClassVar


class SufrahError(Exception):
    """Base class; carries a message safe to show to the API caller."""

    graphql_code: ClassVar[str] = "BAD_REQUEST"

    @property
    def extensions(self) -> dict[str, str]:
        """GraphQL reads a raised exception's `extensions`: the code holds wherever this escapes a resolver."""
        return {"code": self.graphql_code}

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(SufrahError):
    graphql_code = "NOT_FOUND"


class Unauthenticated(SufrahError):
    graphql_code = "UNAUTHENTICATED"


class Forbidden(SufrahError):
    graphql_code = "FORBIDDEN"


class ValidationFailed(SufrahError):
    graphql_code = "BAD_USER_INPUT"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Conflict(SufrahError):
    pass


class OutsideCustomerWindow(SufrahError):
    pass


class InvalidSignature(SufrahError):
    pass


class StatementTimeout(SufrahError):
    graphql_code = "TIMEOUT"

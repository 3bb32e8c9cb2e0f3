"""The domain exception tree. Services raise these; each class carries its own transport mapping
(`http_status` for REST, the legacy socket and the admin API; `graphql_code` for GraphQL, read from
`extensions` as graphql-core does when an exception escapes a resolver), so no edge keeps a table.

    SufrahError                 400 BAD_REQUEST       base; never raised itself
    ├── NotFound                404 NOT_FOUND         missing *for this tenant*
    ├── Unauthenticated         401 UNAUTHENTICATED   no token, or an unknown or revoked one
    ├── Forbidden               403 FORBIDDEN         a valid token outside its scope
    ├── ValidationFailed        400 BAD_USER_INPUT    malformed input; `field` names the culprit
    ├── Conflict                409 BAD_REQUEST       clashes with stored data
    ├── OutsideCustomerWindow   422 BAD_REQUEST       free-form message past WhatsApp's 24 hours
    ├── InvalidSignature        403 BAD_REQUEST       a webhook whose signature does not verify
    ├── PlatformFailed          502 PLATFORM_FAILED   the Sufrah merchant platform refused or failed
    └── StatementTimeout        503 TIMEOUT           the database cancelled a slow statement

Anything else that escapes a service is a bug: edges log it and answer 500 without details.
"""

from typing import ClassVar


class SufrahError(Exception):
    """Base class, never raised itself; carries a message safe to show to the API caller."""

    http_status: ClassVar[int] = 400
    graphql_code: ClassVar[str] = "BAD_REQUEST"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def extensions(self) -> dict[str, str]:
        """What graphql-core reads from a raised exception: the code holds wherever this escapes."""
        return {"code": self.graphql_code}


class NotFound(SufrahError):
    """The object does not exist for this tenant (another tenant's object is indistinguishable from
    a missing one): the caller should stop asking for it."""

    http_status = 404
    graphql_code = "NOT_FOUND"


class Unauthenticated(SufrahError):
    """No token, or a token that is unknown or revoked: the caller should sign in again."""

    http_status = 401
    graphql_code = "UNAUTHENTICATED"


class Forbidden(SufrahError):
    """A valid token asked for a tenant or action outside its scope: use a token that holds it."""

    http_status = 403
    graphql_code = "FORBIDDEN"


class ValidationFailed(SufrahError):
    """The input is malformed; `field` names the culprit: fix that input, retrying as is fails again."""

    http_status = 400
    graphql_code = "BAD_USER_INPUT"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Conflict(SufrahError):
    """The input clashes with stored data (e.g. a WhatsApp number already registered): change it."""

    http_status = 409


class OutsideCustomerWindow(SufrahError):
    """A free-form message to a customer whose last message is older than WhatsApp's 24-hour window:
    send an approved template instead."""

    http_status = 422


class InvalidSignature(SufrahError):
    """A webhook whose X-Twilio-Signature does not verify against its bot's auth token: the sender
    is not Twilio, or the bot's auth token or the public URL (BASE_URL) is wrong; do not retry."""

    http_status = 403


class PlatformFailed(SufrahError):
    """The Sufrah merchant platform (app/channels/sufrah) could not be reached, timed out, or refused the
    call. `retryable`: it was down, slow or busy (try again later); otherwise it refused this call (a
    wrong merchant id or API key, an order it won't take): fix that first. `status` is its HTTP status."""

    http_status = 502
    graphql_code = "PLATFORM_FAILED"

    def __init__(self, message: str, *, retryable: bool = False, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


class StatementTimeout(SufrahError):
    """The database cancelled a statement that ran past the pool's statement_timeout
    (DB_STATEMENT_TIMEOUT_SECONDS): ask for less, or try again later."""

    http_status = 503
    graphql_code = "TIMEOUT"

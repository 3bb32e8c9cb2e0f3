"""Each domain error carries its own HTTP status and GraphQL code, and REST answers with them."""

from __future__ import annotations

import pytest

from app import errors
from app.errors import SufrahError
from tests.support import Factory, inbound_params

CLASSES = [SufrahError, *SufrahError.__subclasses__()]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_class_has_a_status_a_code_and_a_docstring(cls):
    assert isinstance(cls.http_status, int) and 400 <= cls.http_status < 600
    assert isinstance(cls.graphql_code, str) and cls.graphql_code
    assert (cls.__doc__ and cls.__doc__ != SufrahError.__doc__) or cls is SufrahError
    assert cls("x").extensions == {"code": cls.graphql_code}
    assert cls.__name__ in errors.__doc__


def test_todays_values():
    assert {c.__name__: (c.http_status, c.graphql_code) for c in CLASSES} == {
        "SufrahError": (400, "BAD_REQUEST"),
        "NotFound": (404, "NOT_FOUND"),
        "Unauthenticated": (401, "UNAUTHENTICATED"),
        "Forbidden": (403, "FORBIDDEN"),
        "ValidationFailed": (400, "BAD_USER_INPUT"),
        "Conflict": (409, "BAD_REQUEST"),
        "OutsideCustomerWindow": (422, "BAD_REQUEST"),
        "InvalidSignature": (403, "BAD_REQUEST"),
        "PlatformFailed": (502, "PLATFORM_FAILED"),
        "StatementTimeout": (503, "TIMEOUT"),
    }


async def test_rest_answers_each_status(client, factory: Factory):
    bot = await factory.bot()
    assert (await client.get("/api/conversations")).status_code == 401
    bad_sig = inbound_params(bot)
    response = await client.post("/whatsapp/webhook", data=bad_sig, headers={"X-Twilio-Signature": "nope"})
    assert response.status_code == 403
    assert response.json() == {"error": "invalid Twilio signature"}
    unknown = inbound_params(bot, To="whatsapp:+15550009999")
    assert (await client.post("/whatsapp/webhook", data=unknown)).status_code == 404
    assert (await client.post("/whatsapp/webhook", data={"From": "x"})).status_code == 400

"""/openapi.json: it documents exactly the /api routes, and requests generated from it (valid, junk,
and everything between) never get a 5xx, and are answered with a documented status and shape."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Route

from app.main import create_app
from app.rest.openapi import DOCUMENT
from tests.support import Factory, inbound_params, post_signed

METHODS = ("get", "post", "put", "delete", "patch")
OPERATIONS = [
    (method, path) for path, item in DOCUMENT["paths"].items() for method in item if method in METHODS
]


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = DOCUMENT
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def conforms(value: Any, schema: dict[str, Any], where: str = "$") -> None:
    """Just enough JSON Schema for this document: $ref, allOf, type, const, enum, required, properties, items."""
    schema = resolve(schema)
    for part in schema.get("allOf", []):
        conforms(value, part, where)
    kinds = schema.get("type")
    if kinds is not None:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        checks = {
            "string": lambda v: isinstance(v, str),
            "integer": lambda v: type(v) is int,
            "boolean": lambda v: isinstance(v, bool),
            "null": lambda v: v is None,
            "object": lambda v: isinstance(v, dict),
            "array": lambda v: isinstance(v, list),
        }
        assert any(checks[k](value) for k in kinds), f"{where}: {value!r} is not {kinds}"
    if "const" in schema:
        assert value == schema["const"], where
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    if isinstance(value, dict):
        for key in schema.get("required", []):
            assert key in value, f"{where}.{key} is required"
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                conforms(value[key], sub, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            conforms(item, schema["items"], f"{where}[{i}]")


def normalize(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


async def test_the_document_is_served(client):
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json() == json.loads(json.dumps(DOCUMENT))
    assert DOCUMENT["openapi"] == "3.1.0"


def test_every_api_route_is_documented_and_nothing_else(settings):
    served = {
        (method.lower(), normalize(route.path))
        for route in create_app(settings).routes
        if isinstance(route, Route) and route.path.startswith("/api")
        for method in route.methods or ()
        if method != "HEAD"
    }
    assert served == {(method, normalize(path)) for method, path in OPERATIONS}


def test_the_document_is_self_consistent():
    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                resolve(node)  # raises KeyError when dangling
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(DOCUMENT)
    for method, path in OPERATIONS:
        operation = DOCUMENT["paths"][path][method]
        declared = {resolve(p)["name"] for p in operation.get("parameters", []) if resolve(p)["in"] == "path"}
        assert declared == set(re.findall(r"\{([^}]+)\}", path)), (method, path)
        assert "401" in operation["responses"] and any(s.startswith("2") for s in operation["responses"])
        for status, response in operation["responses"].items():
            assert "application/json" in resolve(response)["content"], (method, path, status)


# -- fuzzing every documented operation ---------------------------------------------------------------

JUNK_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "0",
            "-1",
            "1e3",
            "9" * 30,
            "null",
            "true",
            "\x00",
            "a/b",
            "..",
            "%00",
            "stats",
            "ـ١٢",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-14:00",
            "2025-10-16T10:30:00.000Z",
            "whatsapp:+966501234567",
            "https://cdn.example.com/x.jpg",
        ]
    ),
)
JSON_VALUES = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), JUNK_TEXT
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=30)


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`good` four times in five: junk everywhere at once would only ever reach the first check."""
    return st.integers(0, 4).flatmap(lambda n: bad if n == 0 else good)


def value_of(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A value of the schema's type more often than not, else any JSON."""
    schema = resolve(schema)
    kinds = schema.get("type", [])
    kinds = kinds if isinstance(kinds, list) else [kinds]
    typed: list[st.SearchStrategy[Any]] = []
    if "examples" in schema:
        typed.append(st.sampled_from(schema["examples"]))
    if "enum" in schema:
        typed.append(st.sampled_from(schema["enum"]))
    if "integer" in kinds:
        low, high = schema.get("minimum", -(2**40)), schema.get("maximum", 2**40)
        typed.append(st.integers(low - 3, high + 3))
    if "boolean" in kinds:
        typed.append(st.booleans())
    if "string" in kinds:
        typed.extend([st.text(min_size=1, max_size=20), JUNK_TEXT])
        if "whatsapp" in schema.get("description", ""):
            typed.append(st.integers(500000000, 599999999).map(lambda n: f"+966{n}"))
    return mostly(st.one_of(*typed), JSON_VALUES) if typed else JSON_VALUES


def plausible(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A value the schema's own words say should be accepted."""
    schema = resolve(schema)
    kinds = schema.get("type", [])
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "integer" in kinds:
        return st.integers(schema.get("minimum", 0), schema.get("maximum", 1000))
    if "boolean" in kinds:
        return st.booleans()
    if "whatsapp" in schema.get("description", ""):
        return st.integers(500000000, 599999999).map(lambda n: f"+966{n}")
    if "examples" in schema:
        return st.sampled_from(schema["examples"])
    return st.text(alphabet="abcdefghijklmnopqrstuvwxyz ابت", min_size=1, max_size=20).filter(str.strip)


def body_of(schema: dict[str, Any]) -> st.SearchStrategy[bytes]:
    schema = resolve(schema)
    properties = schema.get("properties", {})
    required = schema.get("required", [])

    def objects(value: Any) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries(
            {name: value(properties[name]) for name in required},
            optional={name: value(sub) for name, sub in properties.items() if name not in required},
        )

    return mostly(
        st.one_of(objects(plausible), objects(value_of)).map(lambda o: json.dumps(o).encode()),
        st.one_of(
            objects(value_of).map(
                lambda o: json.dumps(o, ensure_ascii=False).encode("utf-8", "surrogatepass")
            ),
            JSON_VALUES.map(lambda v: json.dumps(v).encode()),
            st.binary(max_size=40),
        ),
    )


@pytest.fixture
async def world(client, factory: Factory) -> dict[str, Any]:
    bot = await factory.bot()
    await post_signed(client, "/whatsapp/webhook", inbound_params(bot, body="hi"), bot.auth_token)
    token = await factory.token(bot.restaurant.id)
    [conversation] = (
        await client.get("/api/db/conversations", headers={"Authorization": f"Bearer {token}"})
    ).json()
    return {
        "ids": [conversation["id"], bot.bot.id, bot.restaurant.id],
        "tenants": [bot.restaurant.id, bot.bot.id],
        "tokens": [await factory.token(admin=True), token, "test-dashboard-pat"],
    }


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m.upper()} {p}" for m, p in OPERATIONS])
@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(data=st.data())
async def test_generated_requests_never_get_a_5xx(client, world, method, path, data):
    operation = DOCUMENT["paths"][path][method]
    url, query, headers = path, {}, {}
    for parameter in map(resolve, operation.get("parameters", [])):
        name, where = parameter["name"], parameter["in"]
        if where == "path":
            pattern, reserved = re.compile(parameter["schema"]["pattern"]), parameter["schema"].get("not", {})
            junk = JUNK_TEXT.filter(
                lambda v, pattern=pattern, reserved=reserved: (
                    bool(pattern.fullmatch(v)) and v not in reserved.get("enum", ())
                )
            )
            value = data.draw(mostly(st.sampled_from(world["ids"]), junk), label=name)
            url = url.replace("{" + name + "}", quote(value, safe=""))
        elif where == "query" and data.draw(st.booleans(), label=f"with {name}"):
            value = data.draw(value_of(parameter["schema"]), label=name)
            query[name] = value if isinstance(value, str) else json.dumps(value)
        elif where == "header":
            value = data.draw(
                mostly(st.sampled_from(world["tenants"]), st.one_of(st.none(), HEADER_TEXT)), label=name
            )
            if value is not None:
                headers[name] = value
    token = data.draw(
        mostly(st.sampled_from(world["tokens"]), st.one_of(st.none(), HEADER_TEXT)), label="token"
    )
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    content = None
    if "application/json" in operation.get("requestBody", {}).get("content", {}):  # not a raw upload
        content = data.draw(
            body_of(operation["requestBody"]["content"]["application/json"]["schema"]), label="body"
        )
        headers["Content-Type"] = "application/json"

    response = await client.request(method, url, params=query, headers=headers, content=content)

    assert response.status_code < 500, response.text
    assert str(response.status_code) in operation["responses"], (response.status_code, response.text)
    documented = resolve(operation["responses"][str(response.status_code)])
    conforms(response.json(), documented["content"]["application/json"]["schema"])

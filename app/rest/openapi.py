"""The OpenAPI 3.1 document of the legacy REST contract and the admin API, served at /openapi.json.

Written by hand, next to the handlers it describes; tests/rest/test_openapi.py checks that every /api
route is in it (and nothing else), and fuzzes each operation from it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.models import BOT_STATUSES
from app.rest.admin import WRITABLE
from app.services.pages import LEGACY_MAX_MESSAGES, LEGACY_MAX_OFFSET, MAX_PAGE

_JSON_TYPE = {str: "string", bool: "boolean", int: "integer"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(kind: str) -> dict[str, Any]:
    return {"type": [kind, "null"]}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): {"$ref": f"#/components/responses/E{s}"} for s in statuses}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "minLength": 1, "pattern": "^[^/]+$"},
    }


def _query_int(name: str, default: int, low: int, high: int, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "integer", "default": default, "minimum": low, "maximum": high},
    }


TENANT = {"$ref": "#/components/parameters/RestaurantId"}
CONVERSATION_ID = _path("id", "a conversation id")
CONVERSATION_ID["schema"]["not"] = {"enum": ["stats"]}  # /api/db/conversations/stats is a path of its own
BOT_ID = _path("id", "a bot id")
TENANT_ID = {
    "name": "tenantId",
    "in": "query",
    "required": False,
    "description": "narrows X-Restaurant-Id to one of its bots, as the earlier backend's dashboard sends it; "
    "never authentication (the token must be allowed it, else 403)",
    "schema": {"type": "string"},
}
LIST_CONVERSATIONS_PARAMS = [
    TENANT,
    {
        "name": "status",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": ["active", "closed"]},
    },
    _query_int("limit", 50, 1, MAX_PAGE, "page size"),
    _query_int("offset", 0, 0, LEGACY_MAX_OFFSET, "rows to skip"),
]


def _list_conversations(summary: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "tags": ["conversations"],
            "parameters": LIST_CONVERSATIONS_PARAMS,
            "responses": {
                "200": _json({"type": "array", "items": _ref("Conversation")}, "newest activity first"),
                **_errors(400, 401, 403, 404),
            },
        }
    }


def _bot_fields(*, required: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for name, (_, kind) in WRITABLE.items():
        properties[name] = {"type": _JSON_TYPE[kind]}
    properties["whatsappNumber"] |= {
        "description": "E.164, optionally prefixed: whatsapp:+966501234567",
        "examples": ["whatsapp:+966501234567", "+966501234567"],
    }
    properties["accountSid"] |= {"examples": ["AC" + "0" * 32]}
    properties["authToken"] |= {
        "writeOnly": True,
        "description": "Twilio auth token; stored encrypted, never returned",
    }
    properties["status"] |= {"enum": list(BOT_STATUSES), **({"default": "PENDING"} if required else {})}
    for name, default in (("maxMessagesPerMin", 60), ("maxMessagesPerDay", 1000)):
        properties[name] |= {"minimum": 1, "maximum": 1_000_000, **({"default": default} if required else {})}
    properties["restaurantId"] = {
        "type": ["string", "null"],
        "description": "the bot's restaurant, created (named restaurantName) if it does not exist; "
        "absent or null: a shared sender, not yet linked"
        if required
        else "links a shared sender to this restaurant (created if it does not exist), keeping its id; "
        "a linked bot's must be its own restaurant (a bot can't move)",
    }
    if required:
        properties["id"] = {
            "type": "string",
            "pattern": "^[A-Za-z0-9_-]{1,64}$",
            "description": "keep this id (e.g. from the earlier backend); absent: a new one",
        }
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": True}
    if required:
        schema["required"] = ["name", "restaurantName", "whatsappNumber", "accountSid", "authToken"]
    return schema


_TIME = {"type": "string", "format": "date-time", "examples": ["2025-10-16T10:30:00.000Z"]}

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
    "Conversation": {
        "type": "object",
        "required": [
            "id",
            "restaurantId",
            "customerPhone",
            "customerName",
            "status",
            "lastMessageAt",
            "unreadCount",
            "isBotActive",
            "createdAt",
            "updatedAt",
        ],
        "properties": {
            "id": {"type": "string"},
            "restaurantId": {"type": "string"},
            "botId": {"type": "string"},
            "customerPhone": {"type": "string", "examples": ["whatsapp:+966501234567"]},
            "customerName": _nullable("string"),
            "status": {"type": "string", "enum": ["active", "closed"]},
            "lastMessageAt": _TIME,
            "unreadCount": {"type": "integer", "minimum": 0},
            "isBotActive": {"type": "boolean"},
            "createdAt": _TIME,
            "updatedAt": _TIME,
        },
    },
    "Message": {
        "type": "object",
        "required": [
            "id",
            "conversationId",
            "restaurantId",
            "direction",
            "messageType",
            "content",
            "mediaUrl",
            "waSid",
            "createdAt",
            "metadata",
        ],
        "properties": {
            "id": {"type": "string"},
            "conversationId": {"type": "string"},
            "restaurantId": {"type": "string"},
            "direction": {"type": "string", "enum": ["IN", "OUT"]},
            "messageType": {"type": "string", "examples": ["text", "image", "location", "button"]},
            "content": {"type": "string"},
            "mediaUrl": _nullable("string"),
            "mediaUrls": {"type": "array", "items": {"type": "string"}},
            "waSid": _nullable("string"),
            "deliveryStatus": _nullable("string"),
            "errorCode": _nullable("string"),
            "errorMessage": _nullable("string"),
            "createdAt": _TIME,
            "metadata": {
                "type": "object",
                "properties": {"fromPhone": {"type": "string"}, "toPhone": {"type": "string"}},
                "additionalProperties": True,
            },
        },
    },
    "Stats": {
        "type": "object",
        "required": ["totalConversations", "activeConversations", "totalUnread"],
        "properties": {
            "totalConversations": {"type": "integer"},
            "activeConversations": {"type": "integer"},
            "totalUnread": {"type": "integer"},
        },
    },
    "Bot": {
        "type": "object",
        "description": "Never carries a Twilio secret.",
        "required": [
            "id",
            "name",
            "restaurantName",
            "whatsappNumber",
            "status",
            "isActive",
            "createdAt",
            "updatedAt",
        ],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "restaurantName": {"type": "string"},
            "whatsappNumber": {"type": "string", "examples": ["whatsapp:+966508034010"]},
            "status": {"type": "string", "enum": list(BOT_STATUSES)},
            "isActive": {"type": "boolean"},
            "createdAt": _TIME,
            "updatedAt": _TIME,
        },
    },
    "AdminBot": {
        "description": "A bot as admins see it: the Bot fields, its restaurant and Twilio ids; never the auth token.",
        "allOf": [
            _ref("Bot"),
            {
                "type": "object",
                "required": ["restaurantId", "accountSid", "maxMessagesPerMin", "maxMessagesPerDay"],
                "properties": {
                    "restaurantId": {
                        "type": ["string", "null"],
                        "description": "null: a shared sender, not yet linked",
                    },
                    "accountSid": {"type": "string"},
                    "subaccountSid": _nullable("string"),
                    "senderSid": _nullable("string"),
                    "wabaId": _nullable("string"),
                    "supportContact": _nullable("string"),
                    "paymentLink": _nullable("string"),
                    "maxMessagesPerMin": {"type": "integer"},
                    "maxMessagesPerDay": {"type": "integer"},
                },
            },
        ],
    },
    "BotCreate": _bot_fields(required=True),
    "BotUpdate": _bot_fields(required=False),
    "BotSwitch": {
        "type": "object",
        "required": ["restaurantId", "botEnabled"],
        "properties": {"restaurantId": {"type": "string"}, "botEnabled": {"type": "boolean"}},
    },
    "Toggle": {
        "type": "object",
        "required": ["enabled"],
        "properties": {"enabled": {"type": "boolean"}},
        "additionalProperties": True,
    },
    "ChatMessage": {
        "type": "object",
        "description": "An outgoing message as the earlier backend's chat page reads it (numbers are digits "
        "without +; status is the delivery status, `queued` at first).",
        "required": [
            "id",
            "conversation_id",
            "content",
            "original_content",
            "timestamp",
            "status",
            "message_type",
            "messageType",
            "wa_sid",
            "channel",
            "from_phone",
            "to_phone",
            "direction",
            "is_from_customer",
            "is_bot_active",
        ],
        "properties": {
            "id": {"type": "string"},
            "conversation_id": {"type": "string"},
            "content": {"type": "string"},
            "original_content": {"type": "string"},
            "media_url": _nullable("string"),
            "timestamp": _TIME,
            "status": _nullable("string"),
            "message_type": {"type": "string"},
            "messageType": {"type": "string"},
            "wa_sid": _nullable("string"),
            "channel": {"type": "string", "enum": ["freeform", "template"]},
            "from_phone": _nullable("string"),
            "to_phone": _nullable("string"),
            "direction": {"const": "OUT"},
            "is_from_customer": {"const": False},
            "is_bot_active": {"type": "boolean"},
            "template_preview": _nullable("object"),
            "content_sid": _nullable("string"),
        },
    },
    "ChatReply": {
        "type": "object",
        "required": ["success", "data", "message"],
        "properties": {
            "success": {"const": True},
            "data": {
                "type": "object",
                "required": ["message"],
                "properties": {"message": _ref("ChatMessage")},
            },
            "message": _ref("ChatMessage"),
        },
    },
    "SendQueued": {
        "type": "object",
        "required": ["status", "message", "jobId", "queuePosition", "channel", "messageId", "conversationId"],
        "properties": {
            "status": {"const": "queued"},
            "message": {"type": "string"},
            "jobId": {"type": "string", "description": "the message's id"},
            "queuePosition": {"type": "string"},
            "channel": {"type": "string", "enum": ["freeform", "template"]},
            "messageId": {"type": "string"},
            "conversationId": {"type": "string"},
        },
    },
    "QuotaExceeded": {
        "type": "object",
        "required": ["error", "code", "details"],
        "properties": {
            "error": {"type": "string"},
            "code": {"const": "QUOTA_EXCEEDED"},
            "details": {
                "type": "object",
                "required": ["used", "limit", "remaining", "planName", "resetDate", "daysUntilReset"],
                "properties": {
                    "used": {"type": "integer"},
                    "limit": {"type": "integer"},
                    "remaining": {"type": "integer"},
                    "planName": {"type": "string"},
                    "resetDate": _TIME,
                    "daysUntilReset": {"type": "integer"},
                },
            },
        },
    },
    "MediaUpload": {
        "type": "object",
        "required": ["id", "contentType", "size", "filename", "url", "sendUrl"],
        "properties": {
            "id": {"type": "string"},
            "contentType": {"type": "string"},
            "size": {"type": "integer"},
            "filename": _nullable("string"),
            "url": {"type": "string", "description": "a short-lived link for staff (<img>, <audio>, ...)"},
            "sendUrl": {
                "type": "string",
                "description": "a link valid for days on PUBLIC_BASE_URL: the mediaUrl to send it with",
            },
        },
    },
}

_ERROR_TEXT = {
    400: "bad input (body, query or X-Restaurant-Id)",
    401: "no token, or an unknown or revoked one",
    403: "the token may not act for this restaurant, or this endpoint needs an admin token",
    404: "not found (another restaurant's object is not found either)",
    409: "the WhatsApp number is already registered",
    422: "outside WhatsApp's 24-hour customer window: only a template message may be sent now",
    503: "disabled: WHATSAPP_SEND_TOKEN is not set (or a statement timed out)",
}


def _conversation_action(
    summary: str, body: dict[str, Any], ok: dict[str, Any], *extra_errors: int
) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "tags": ["conversations"],
            "parameters": [TENANT, CONVERSATION_ID, TENANT_ID],
            "requestBody": _body(body),
            "responses": {"200": ok, **_errors(400, 401, 403, 404, *extra_errors)},
        }
    }


ADMIN: list[dict[str, list[str]]] = [{"bearer": []}]
_SEND: dict[str, Any] = {
    "phoneNumber": {"type": "string", "description": "the recipient, E.164 (whatsapp: or + optional)"},
    "text": {"type": "string", "minLength": 1, "maxLength": 4096},
    "fromNumber": {"type": "string", "description": "a sender's whatsapp number"},
}

PATHS: dict[str, Any] = {
    "/api/db/conversations": _list_conversations("Conversations of the restaurant"),
    "/api/db/conversations/stats": {
        "get": {
            "summary": "Conversation counters (a fixed path: never taken for a conversation id)",
            "tags": ["conversations"],
            "parameters": [TENANT],
            "responses": {"200": _json(_ref("Stats"), "counters"), **_errors(400, 401, 403, 404)},
        }
    },
    "/api/db/conversations/{id}": {
        "get": {
            "summary": "One conversation",
            "tags": ["conversations"],
            "parameters": [TENANT, CONVERSATION_ID],
            "responses": {
                "200": _json(_ref("Conversation"), "the conversation"),
                **_errors(400, 401, 403, 404),
            },
        }
    },
    "/api/db/conversations/{id}/messages": {
        "get": {
            "summary": "Messages of a conversation; reading them marks the conversation read",
            "tags": ["conversations"],
            "parameters": [
                TENANT,
                CONVERSATION_ID,
                _query_int("limit", 100, 1, LEGACY_MAX_MESSAGES, "page size"),
                _query_int(
                    "offset", 0, 0, LEGACY_MAX_OFFSET, "messages to skip, counting back from the newest"
                ),
                {
                    "name": "before",
                    "in": "query",
                    "required": False,
                    "description": "only messages created before this ISO 8601 time",
                    "schema": {"type": "string", "format": "date-time"},
                },
            ],
            "responses": {
                "200": _json(
                    {"type": "array", "items": _ref("Message")},
                    "the newest `limit` messages before `before`, oldest first",
                ),
                **_errors(400, 401, 403, 404),
            },
        }
    },
    "/api/db/restaurants/{restaurantId}/bots": {
        "get": {
            "summary": "Bots of a restaurant (the path names the tenant: a restaurant id or one of its bot ids)",
            "tags": ["bots"],
            "parameters": [_path("restaurantId", "a restaurant id, or one of its bot ids")],
            "responses": {
                "200": _json({"type": "array", "items": _ref("Bot")}, "oldest first"),
                **_errors(400, 401, 403, 404),
            },
        }
    },
    "/api/conversations": _list_conversations("The old path of GET /api/db/conversations: the same data"),
    "/api/conversations/{id}/send": _conversation_action(
        "A staff reply, queued for WhatsApp",
        {
            "type": "object",
            "required": ["message"],
            "properties": {"message": {"type": "string", "minLength": 1, "maxLength": 4096}},
            "additionalProperties": True,
        },
        _json(_ref("Message"), "the queued message (direction OUT)"),
        422,
    ),
    "/api/conversations/{id}/messages": _conversation_action(
        "The earlier backend's agent reply: queued for WhatsApp (outside the 24-hour window as the "
        "follow-up template); pauses the bot for the conversation",
        {
            "type": "object",
            "required": ["content"],
            "properties": {
                "content": {"type": "string", "minLength": 1, "maxLength": 4096},
                "messageType": {"type": "string", "enum": ["text"], "default": "text"},
                "fromNumber": {"type": "string", "description": "the conversation's own sender, if given"},
            },
            "additionalProperties": True,
        },
        _json(_ref("ChatReply"), "the queued message"),
        422,
    ),
    "/api/conversations/{id}/send-media": _conversation_action(
        "A staff media reply, queued for WhatsApp",
        {
            "type": "object",
            "required": ["mediaUrl"],
            "properties": {
                "mediaUrl": {
                    "type": "string",
                    "format": "uri",
                    "description": "http(s) URL",
                    "examples": ["https://cdn.example.com/menu.jpg"],
                },
                "caption": {"type": ["string", "null"]},
                "mediaType": {"type": "string", "enum": ["image", "video", "audio", "document"]},
                "fromNumber": {"type": "string", "description": "the conversation's own sender, if given"},
            },
            "additionalProperties": True,
        },
        _json(
            {"allOf": [_ref("Message"), {"type": "object", "properties": {"message": _ref("ChatMessage")}}]},
            "the queued message (direction OUT), with the earlier backend's {success, data: {message}, "
            "message} beside it",
        ),
        422,
    ),
    "/api/media": {
        "post": {
            "summary": "Upload a file for staff to send (an image, audio, video or document)",
            "description": "The raw file is the body and its type the Content-Type (images, audio, video, "
            "PDF and office documents; at most MEDIA_MAX_BYTES, 16 MiB by default, else 413). Send it with "
            "send-media (or GraphQL sendMessage), `mediaUrl` = the answer's `sendUrl`.",
            "tags": ["conversations"],
            "parameters": [
                TENANT,
                {"name": "filename", "in": "query", "required": False, "schema": {"type": "string"}},
            ],
            "requestBody": {
                "required": True,
                "content": {"image/*": {}, "audio/*": {}, "video/*": {}, "application/pdf": {}},
            },
            "responses": {
                "201": _json(_ref("MediaUpload"), "the stored file"),
                **_errors(400, 401, 403, 404),
            },
        }
    },
    "/api/conversations/{id}/toggle-bot": _conversation_action(
        "The bot on or off for one conversation (off: staff answer by hand)",
        _ref("Toggle"),
        _json(
            _ref("Conversation"),
            "the conversation, with the earlier backend's {success, data: {conversation}}",
        ),
    ),
    "/api/whatsapp/send": {
        method: {
            "summary": "Send a text from a restaurant's sender to a number (other platforms, sign-in codes)",
            "description": "Bearer WHATSAPP_SEND_TOKEN (not an API token). The sender is fromNumber's, else "
            "WHATSAPP_SEND_FROM's, else the only live one. Stored in that sender's conversation with the "
            "number and queued; outside the 24-hour window sent as the follow-up template "
            "(templateVariables, else the text as {{1}}). A trailing / is redirected (307).",
            "tags": ["send"],
            "security": [{"sendToken": []}],
            **(
                {
                    "parameters": [
                        {
                            "name": "phoneNumber",
                            "in": "query",
                            "required": True,
                            "schema": _SEND["phoneNumber"],
                        },
                        {"name": "text", "in": "query", "required": True, "schema": _SEND["text"]},
                        {
                            "name": "fromNumber",
                            "in": "query",
                            "required": False,
                            "schema": _SEND["fromNumber"],
                        },
                        {
                            "name": "templateVariables",
                            "in": "query",
                            "required": False,
                            "description": 'a JSON object: {"1": "123456"}',
                            "schema": {"type": "string"},
                        },
                    ]
                }
                if method == "get"
                else {
                    "requestBody": _body(
                        {
                            "type": "object",
                            "required": ["phoneNumber", "text"],
                            "properties": _SEND
                            | {
                                "templateVariables": {
                                    "type": "object",
                                    "additionalProperties": {"type": "string"},
                                }
                            },
                            "additionalProperties": True,
                        }
                    )
                }
            ),
            "responses": {
                "200": _json(_ref("SendQueued"), "queued"),
                "429": _json(_ref("QuotaExceeded"), "the sender's allowance is used up"),
                **_errors(400, 401, 404, 422, 503),
            },
        }
        for method in ("get", "post")
    },
    "/api/bot/toggle": {
        "post": {
            "summary": "The bot on or off for the whole restaurant",
            "tags": ["bots"],
            "parameters": [TENANT],
            "requestBody": _body(_ref("Toggle")),
            "responses": {"200": _json(_ref("BotSwitch"), "the switch"), **_errors(400, 401, 403, 404)},
        }
    },
    "/api/admin/bots": {
        "get": {
            "summary": "Every live bot (admin token only)",
            "tags": ["admin"],
            "security": ADMIN,
            "parameters": [
                {
                    "name": "restaurantId",
                    "in": "query",
                    "required": False,
                    "description": "only this restaurant's bots",
                    "schema": {"type": "string"},
                }
            ],
            "responses": {
                "200": _json({"type": "array", "items": _ref("AdminBot")}, "oldest first"),
                **_errors(400, 401, 403),
            },
        },
        "post": {
            "summary": "Register a WhatsApp sender (admin token only)",
            "tags": ["admin"],
            "security": ADMIN,
            "requestBody": _body(_ref("BotCreate")),
            "responses": {"201": _json(_ref("AdminBot"), "the new bot"), **_errors(400, 401, 403, 409)},
        },
    },
    "/api/admin/bots/{id}": {
        "get": {
            "summary": "One bot (admin token only)",
            "tags": ["admin"],
            "security": ADMIN,
            "parameters": [BOT_ID],
            "responses": {"200": _json(_ref("AdminBot"), "the bot"), **_errors(400, 401, 403, 404)},
        },
        "put": {
            "summary": "Change a bot: only the fields given (admin token only)",
            "tags": ["admin"],
            "security": ADMIN,
            "parameters": [BOT_ID],
            "requestBody": _body(_ref("BotUpdate")),
            "responses": {"200": _json(_ref("AdminBot"), "the bot"), **_errors(400, 401, 403, 404, 409)},
        },
        "delete": {
            "summary": "Retire a bot; its conversations and messages stay (admin token only)",
            "tags": ["admin"],
            "security": ADMIN,
            "parameters": [BOT_ID],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["id", "deleted"],
                        "properties": {
                            "id": {"type": "string"},
                            "deleted": {"const": True},
                            "success": {"const": True},
                            "message": {"type": "string"},
                        },
                    },
                    "retired",
                ),
                **_errors(400, 401, 403, 404),
            },
        },
    },
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Sufrah legacy REST and admin API",
        "version": "1.0.0",
        "description": (
            "The HTTP contract existing dashboards call, on the same services as GraphQL (/graphql). "
            "Every call carries `Authorization: Bearer <token>`; tenant endpoints also `X-Restaurant-Id` "
            "(a restaurant id or one of its bot ids; optional for a token scoped to one restaurant). "
            'Errors are `{"error": "..."}`. Live updates: the WebSocket `GET /ws?token=...&restaurantId=...` '
            'sends `{"type", "data", "cursor"}` frames (message.created, message.updated, '
            "conversation.updated, bot.status.updated, order.updated) and answers `ping` with `pong`."
        ),
    },
    "security": [{"bearer": []}],
    "paths": PATHS,
    "components": {
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": "an API token"},
            "sendToken": {"type": "http", "scheme": "bearer", "description": "WHATSAPP_SEND_TOKEN"},
        },
        "parameters": {
            "RestaurantId": {
                "name": "X-Restaurant-Id",
                "in": "header",
                "required": False,
                "description": "the tenant: a restaurant id or one of its bot ids (a bot id narrows lists to "
                "that sender); optional for a token scoped to exactly one restaurant",
                "schema": {"type": "string"},
            }
        },
        "responses": {f"E{status}": _json(_ref("Error"), text) for status, text in _ERROR_TEXT.items()},
        "schemas": SCHEMAS,
    },
}


async def openapi_json(request: Request) -> JSONResponse:
    return JSONResponse(DOCUMENT)


routes = [Route("/openapi.json", openapi_json, methods=["GET"])]

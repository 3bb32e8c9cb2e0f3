"""A local fake of Twilio's Messages API and Content API, over real HTTP, for tests and benchmarks.

In a test:

    async with FakeTwilio() as fake:
        fake.add_account("AC...", "token")
        fake.script(429, (400, {"code": 21211, "message": "Invalid 'To' Phone Number"}), 201)
        sender = TwilioSender(base_url=fake.base_url)
        ...
        await fake.wait_for(1)

As a process, for end-to-end tests of a separate server process (first stdout line: the base URL):

    python -m tests.fakes.twilio_api --port 0 --account AC...:token [--account ...] [--delay 0.05]

with `GET /_fake/sent`, `GET /_fake/requests` (JSON lists) and `POST /_fake/script` (a JSON list of
script entries: a status code, [status, body] or [status, body, headers]) to read and script it.

The Content API (content.twilio.com/v1, routed here like every Twilio host): POST /v1/Content,
GET and DELETE /v1/Content/{sid}, POST /v1/Content/{sid}/ApprovalRequests/whatsapp,
GET /v1/Content/{sid}/ApprovalRequests, with twilio-python's JSON shapes and Basic auth (the
account's SID and token; 401 otherwise). A submitted content stays "received" until the test ends
the review: `fake.approve(sid)` / `fake.reject(sid, reason)` (or POST /_fake/content/{sid}/approve
and /_fake/content/{sid}/reject with {"reason": ...}). `fake.contents` holds what was created,
`fake.content_creates` counts the creates answered 201, and `fake.script_content(500, ...)` scripts
its creates (`script` is the Messages API's). Quick-reply and list-picker contents are held
to WhatsApp's limits (≤ 3 buttons of ≤ 20 characters, ≤ 10 rows of ≤ 24, descriptions ≤ 72): 400.

Media, as Twilio serves an inbound attachment's MediaUrl:

    url = fake.add_media("AC...", b"...jpeg bytes...", "image/jpeg", not_found=1)

GET url needs the account's Basic credentials (401 without, like Twilio); it answers 404 `not_found`
times first (Twilio does, for a moment after the webhook), then 307 to a second path standing in
for Twilio's CDN, which needs no credentials and refuses (400, recorded in `cdn_saw_credentials`) a
request that carries an Authorization header. `media_requests` records every media request.

Like the real API, a request that has been answered late (see `delay`) is still accepted: a client
timeout does not mean the message was not sent.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import json
import signal
import uuid
from collections import deque
from datetime import UTC, datetime
from email.utils import format_datetime
from http.client import responses as http_reasons
from typing import Any, Self

from aiohttp import web

MESSAGES_PATH = "/2010-04-01/Accounts/{account_sid}/Messages.json"
MEDIA_PATH = "/2010-04-01/Accounts/{account_sid}/Messages/{message_sid}/Media/{media_sid}"
CDN_PATH = "/_cdn/{token}"

ScriptEntry = int | tuple[int, dict[str, Any]] | tuple[int, dict[str, Any], dict[str, str]]


class FakeTwilio:
    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self.base_url = ""  # "http://127.0.0.1:PORT" once started
        self.delay = 0.0  # seconds to sleep before answering each Messages request
        self.sent: list[dict[str, Any]] = []  # accepted messages, in order
        self.requests: list[dict[str, Any]] = []  # every Messages request, with the status answered
        self.contents: dict[str, dict[str, Any]] = {}  # content SID -> its JSON (with "approval")
        self.content_requests: list[dict[str, Any]] = []  # every Content API request: method, path, status
        self._accounts: dict[str, str] = {}
        self._script: deque[tuple[int, dict[str, Any], dict[str, str]]] = deque()
        self._content_script: deque[tuple[int, dict[str, Any], dict[str, str]]] = deque()
        self._sent_changed = asyncio.Condition()
        self.media_requests: list[dict[str, Any]] = []  # every media and CDN request
        self.cdn_saw_credentials = 0
        self._media: dict[str, dict[str, Any]] = {}  # media sid -> bytes, type, 404s left, CDN token
        self._runner: web.AppRunner | None = None

    def add_account(self, account_sid: str, auth_token: str) -> None:
        self._accounts[account_sid] = auth_token

    def add_media(
        self,
        account_sid: str,
        data: bytes,
        content_type: str,
        *,
        not_found: int = 0,
        redirect: bool = True,
        message_sid: str | None = None,
    ) -> str:
        """Serve `data` as an attachment of a message of this account; returns its MediaUrl."""
        message_sid = message_sid or "MM" + uuid.uuid4().hex
        media_sid = "ME" + uuid.uuid4().hex
        self._media[media_sid] = {
            "account_sid": account_sid,
            "data": data,
            "content_type": content_type,
            "not_found": not_found,
            "redirect": redirect,
            "token": uuid.uuid4().hex,
        }
        path = MEDIA_PATH.format(account_sid=account_sid, message_sid=message_sid, media_sid=media_sid)
        return self.base_url + path

    def script(self, *responses: ScriptEntry) -> None:
        """Queue the next answers to authenticated, well-formed requests; 201 once the queue is empty.

        An entry is a status, (status, body) or (status, body, headers). For 2xx the body's keys override
        the message JSON (e.g. {"status": "accepted"}); otherwise they override Twilio's error JSON
        (e.g. {"code": 21211, "message": "Invalid 'To' Phone Number"}). Headers: e.g. {"Retry-After": "2"}.
        """
        for entry in responses:
            status, body, headers = (entry, {}, {}) if isinstance(entry, int) else (*entry, {})[:3]
            self._script.append((int(status), dict(body), dict(headers)))

    def script_content(self, *responses: ScriptEntry) -> None:
        """Like `script`, for the Content API only (e.g. 500: it is down while messages still go)."""
        for entry in responses:
            status, body, headers = (entry, {}, {}) if isinstance(entry, int) else (*entry, {})[:3]
            self._content_script.append((int(status), dict(body), dict(headers)))

    def shown(self, sent: dict[str, Any]) -> str:
        """What the customer's phone shows for an accepted message, as text: its Body, or for a content
        its body (variables filled in) with its buttons or list rows numbered as a customer reads them."""
        content = self.contents.get(str(sent.get("ContentSid")))
        if content is None:
            return str(sent.get("Body") or "")
        values = {**content["variables"], **json.loads(sent.get("ContentVariables") or "{}")}
        types = content["types"]
        kind = next(k for k in ("twilio/quick-reply", "twilio/list-picker", "twilio/text") if k in types)
        shape = types[kind]
        rows = [a["title"] for a in shape.get("actions", [])] + [
            f"{i['item']} — {i['description']}" if i.get("description") else i["item"]
            for i in shape.get("items", [])
        ]
        text = "\n".join([shape["body"], *(f"{n}. {row}" for n, row in enumerate(rows, start=1))])
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", str(value))
        return text

    @property
    def content_creates(self) -> int:
        """How many contents were created (POST /v1/Content answered 201)."""
        return sum(
            1
            for r in self.content_requests
            if r["method"] == "POST" and r["path"] == "/v1/Content" and r["status"] == 201
        )

    async def wait_for(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until at least n messages were accepted; return them all."""
        try:
            async with asyncio.timeout(timeout), self._sent_changed:
                await self._sent_changed.wait_for(lambda: len(self.sent) >= n)
        except TimeoutError:
            raise TimeoutError(f"fake Twilio accepted {len(self.sent)} of {n} in {timeout}s") from None
        return list(self.sent)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(MESSAGES_PATH, self._create_message)
        app.router.add_post("/v1/Content", self._create_content)
        app.router.add_get("/v1/Content/{sid}", self._fetch_content)
        app.router.add_delete("/v1/Content/{sid}", self._delete_content)
        app.router.add_post("/v1/Content/{sid}/ApprovalRequests/whatsapp", self._submit_content)
        app.router.add_get("/v1/Content/{sid}/ApprovalRequests", self._fetch_approval)
        app.router.add_post("/_fake/content/{sid}/{verdict:approve|reject}", self._review)
        app.router.add_get(MEDIA_PATH, self._get_media)
        app.router.add_get(CDN_PATH, self._get_cdn)
        app.router.add_get("/_fake/sent", self._list_sent)
        app.router.add_get("/_fake/requests", self._list_requests)
        app.router.add_post("/_fake/script", self._set_script)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]
        self.base_url = f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _create_message(self, request: web.Request) -> web.Response:
        account_sid = request.match_info["account_sid"]
        form = await request.post()
        fields = {
            "To": form.get("To"),
            "From": form.get("From"),
            "Body": form.get("Body"),
            "MediaUrl": form.getall("MediaUrl", []),
            "StatusCallback": form.get("StatusCallback"),
        }
        # A template send (ContentSid + ContentVariables): recorded only when used.
        fields.update({k: form[k] for k in ("ContentSid", "ContentVariables") if k in form})
        if self.delay:
            await asyncio.sleep(self.delay)
        status, body, headers = self._answer(account_sid, request.headers.get("Authorization"), fields)
        self.requests.append({"account_sid": account_sid, **fields, "status": status})
        if "sid" in body and 200 <= status < 300:
            self.sent.append({"sid": body["sid"], "account_sid": account_sid, **fields})
            async with self._sent_changed:
                self._sent_changed.notify_all()
        return web.json_response(body, status=status, headers=headers)

    def _answer(
        self, account_sid: str, authorization: str | None, fields: dict[str, Any]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if not self._authorized(account_sid, authorization):
            return 401, _error(401, {"code": 20003, "message": "Authenticate"}), {}
        if not fields["To"]:
            return 400, _error(400, {"code": 21604, "message": "A 'To' phone number is required."}), {}
        if not fields["From"]:
            return 400, _error(400, {"code": 21603, "message": "A 'From' phone number is required."}), {}
        if not fields["Body"] and not fields["MediaUrl"] and not fields.get("ContentSid"):
            return 400, _error(400, {"code": 21602, "message": "Message body is required."}), {}
        if fields.get("ContentVariables") is not None:
            try:
                variables = json.loads(str(fields["ContentVariables"]))
                assert isinstance(variables, dict)
            except (ValueError, AssertionError):
                message = "The ContentVariables Parameter is invalid."
                return 400, _error(400, {"code": 21656, "message": message}), {}
        content = self.contents.get(str(fields.get("ContentSid")))
        if fields.get("ContentSid") and (content is None or content["account_sid"] != account_sid):
            return 400, _error(400, {"code": 21655, "message": "The ContentSid is Invalid."}), {}
        status, overrides, headers = self._script.popleft() if self._script else (201, {}, {})
        if not 200 <= status < 300:
            return status, _error(status, overrides), headers
        return status, {**_message(account_sid, fields), **overrides}, headers

    def _authorized(self, account_sid: str, authorization: str | None) -> bool:
        scheme, _, encoded = (authorization or "").partition(" ")
        try:
            login, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return scheme == "Basic" and login == account_sid and self._accounts.get(account_sid) == password

    # The Content API.

    def approve(self, content_sid: str) -> None:
        """WhatsApp approves a submitted content."""
        self._set_approval(content_sid, "approved", "")

    def reject(self, content_sid: str, reason: str) -> None:
        """WhatsApp rejects a submitted content, saying why."""
        self._set_approval(content_sid, "rejected", reason)

    def _set_approval(self, content_sid: str, status: str, reason: str) -> None:
        approval = self.contents[content_sid]["approval"]
        if approval["status"] == "unsubmitted":
            raise ValueError(f"{content_sid} was never submitted for WhatsApp approval")
        approval.update(status=status, rejection_reason=reason)

    async def _review(self, request: web.Request) -> web.Response:
        sid, verdict = request.match_info["sid"], request.match_info["verdict"]
        if sid not in self.contents:
            return web.json_response({"error": "unknown content"}, status=404)
        reason = (await request.json()).get("reason", "") if request.can_read_body else ""
        self.approve(sid) if verdict == "approve" else self.reject(sid, reason or "rejected")
        return web.json_response(self.contents[sid]["approval"])

    def _content_account(self, request: web.Request) -> str | None:
        """The account whose SID and token the Basic auth header carries, else None."""
        _scheme, _, encoded = (request.headers.get("Authorization") or "").partition(" ")
        try:
            login = base64.b64decode(encoded, validate=True).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return None
        return login if self._authorized(login, request.headers.get("Authorization")) else None

    def _content_answer(self, request: web.Request, status: int, body: dict[str, Any] | None) -> web.Response:
        self.content_requests.append({"method": request.method, "path": request.path, "status": status})
        if status == 204:
            return web.Response(status=204)
        return web.json_response(body, status=status)

    def _own_content(
        self, request: web.Request
    ) -> tuple[str | None, dict[str, Any] | None, web.Response | None]:
        account = self._content_account(request)
        if account is None:
            return (
                None,
                None,
                self._content_answer(request, 401, _error(401, {"code": 20003, "message": "Authenticate"})),
            )
        content = self.contents.get(request.match_info["sid"])
        if content is None or content["account_sid"] != account:
            missing = _error(404, {"code": 20404, "message": "The requested resource was not found"})
            return account, None, self._content_answer(request, 404, missing)
        return account, content, None

    async def _create_content(self, request: web.Request) -> web.Response:
        account = self._content_account(request)
        if account is None:
            return self._content_answer(request, 401, _error(401, {"code": 20003, "message": "Authenticate"}))
        try:
            payload = await request.json()
        except ValueError:
            return self._content_answer(request, 400, _error(400, {"code": 20001, "message": "Invalid JSON"}))
        types = payload.get("types") or {}
        if not isinstance(types, dict) or not types or not payload.get("language"):
            invalid = _error(400, {"code": 20001, "message": "types and language are required"})
            return self._content_answer(request, 400, invalid)
        if problem := _whatsapp_limits(types):
            return self._content_answer(request, 400, _error(400, {"code": 20001, "message": problem}))
        queue = self._content_script
        status, overrides, _headers = queue.popleft() if queue else (201, {}, {})
        if not 200 <= status < 300:
            return self._content_answer(request, status, _error(status, overrides))
        sid = "HX" + uuid.uuid4().hex
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        url = f"https://content.twilio.com/v1/Content/{sid}"
        content = {
            "account_sid": account,
            "date_created": now,
            "date_updated": now,
            "friendly_name": payload.get("friendly_name"),
            "language": payload["language"],
            "links": {
                "approval_create": f"{url}/ApprovalRequests/whatsapp",
                "approval_fetch": f"{url}/ApprovalRequests",
            },
            "sid": sid,
            "types": types,
            "url": url,
            "variables": payload.get("variables") or {},
            "approval": {"status": "unsubmitted", "rejection_reason": "", "name": None, "category": None},
        }
        self.contents[sid] = content
        return self._content_answer(request, 201, _public(content))

    async def _fetch_content(self, request: web.Request) -> web.Response:
        _account, content, refusal = self._own_content(request)
        if refusal is not None or content is None:
            return refusal or web.Response(status=500)
        return self._content_answer(request, 200, _public(content))

    async def _delete_content(self, request: web.Request) -> web.Response:
        _account, content, refusal = self._own_content(request)
        if refusal is not None or content is None:
            return refusal or web.Response(status=500)
        del self.contents[content["sid"]]
        return self._content_answer(request, 204, None)

    async def _submit_content(self, request: web.Request) -> web.Response:
        _account, content, refusal = self._own_content(request)
        if refusal is not None or content is None:
            return refusal or web.Response(status=500)
        payload = await request.json()
        name, category = payload.get("name"), payload.get("category")
        if not name or category not in ("UTILITY", "MARKETING", "AUTHENTICATION"):
            invalid = _error(400, {"code": 20001, "message": "name and a valid category are required"})
            return self._content_answer(request, 400, invalid)
        content["approval"].update(status="received", rejection_reason="", name=name, category=category)
        return self._content_answer(request, 201, _approval(content))

    async def _fetch_approval(self, request: web.Request) -> web.Response:
        _account, content, refusal = self._own_content(request)
        if refusal is not None or content is None:
            return refusal or web.Response(status=500)
        body = {
            "account_sid": content["account_sid"],
            "sid": content["sid"],
            "url": content["links"]["approval_fetch"],
            "whatsapp": {"type": "whatsapp", **_approval(content), "flows": None},
        }
        return self._content_answer(request, 200, body)

    async def _get_media(self, request: web.Request) -> web.Response:
        account_sid, media_sid = request.match_info["account_sid"], request.match_info["media_sid"]
        authorization = request.headers.get("Authorization")
        entry = self._media.get(media_sid)
        if not self._authorized(account_sid, authorization):
            status, response = (
                401,
                web.json_response(_error(401, {"code": 20003, "message": "Authenticate"}), status=401),
            )
        elif entry is None or entry["account_sid"] != account_sid:
            status, response = 404, web.json_response(_error(404, {"code": 20404}), status=404)
        elif entry["not_found"] > 0:
            entry["not_found"] -= 1
            status, response = 404, web.json_response(_error(404, {"code": 20404}), status=404)
        elif entry["redirect"]:
            location = CDN_PATH.format(token=entry["token"])
            status, response = 307, web.Response(status=307, headers={"Location": self.base_url + location})
        else:
            status, response = 200, web.Response(body=entry["data"], content_type=entry["content_type"])
        self.media_requests.append(
            {"path": request.path, "authorization": authorization is not None, "status": status}
        )
        return response

    async def _get_cdn(self, request: web.Request) -> web.Response:
        authorization = request.headers.get("Authorization")
        entry = next((e for e in self._media.values() if e["token"] == request.match_info["token"]), None)
        if authorization is not None:
            self.cdn_saw_credentials += 1
            status, response = 400, web.json_response({"error": "credentials sent to the CDN"}, status=400)
        elif entry is None:
            status, response = 404, web.Response(status=404)
        else:
            status, response = 200, web.Response(body=entry["data"], content_type=entry["content_type"])
        self.media_requests.append(
            {"path": request.path, "authorization": authorization is not None, "status": status}
        )
        return response

    async def _list_sent(self, _: web.Request) -> web.Response:
        return web.json_response(self.sent)

    async def _list_requests(self, _: web.Request) -> web.Response:
        return web.json_response(self.requests)

    async def _set_script(self, request: web.Request) -> web.Response:
        self.script(*(entry if isinstance(entry, int) else tuple(entry) for entry in await request.json()))
        return web.json_response({"queued": len(self._script)})


def _message(account_sid: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Twilio's JSON for a freshly created message."""
    sid = ("MM" if fields["MediaUrl"] else "SM") + uuid.uuid4().hex
    now = format_datetime(datetime.now(UTC))
    uri = f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}"
    return {
        "account_sid": account_sid,
        "api_version": "2010-04-01",
        "body": fields["Body"] or "",
        "date_created": now,
        "date_sent": None,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": fields["From"],
        "messaging_service_sid": None,
        "num_media": str(len(fields["MediaUrl"])),
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "queued",
        "subresource_uris": {"media": f"{uri}/Media.json"},
        "to": fields["To"],
        "uri": f"{uri}.json",
    }


def _whatsapp_limits(types: dict[str, Any]) -> str | None:
    """What WhatsApp would refuse in an interactive content, or None."""
    quick = types.get("twilio/quick-reply")
    if quick is not None:
        actions = quick.get("actions") or []
        if not quick.get("body") or not 1 <= len(actions) <= 3:
            return "a quick reply needs a body and 1 to 3 actions"
        if any(len(a.get("title") or "") > 20 or not a.get("id") for a in actions):
            return "a quick reply button needs an id and a title of at most 20 characters"
    picker = types.get("twilio/list-picker")
    if picker is not None:
        items = picker.get("items") or []
        if not picker.get("body") or not 1 <= len(items) <= 10 or len(picker.get("button") or "") > 20:
            return "a list picker needs a body, a button of at most 20 characters and 1 to 10 items"
        if any(
            len(i.get("item") or "") > 24 or not i.get("id") or len(i.get("description") or "") > 72
            for i in items
        ):
            return "a list item needs an id, a title of at most 24 and a description of at most 72 characters"
    return None


def _public(content: dict[str, Any]) -> dict[str, Any]:
    """A content's JSON as Twilio answers it (the fake's review state is kept beside it)."""
    return {k: v for k, v in content.items() if k != "approval"}


def _approval(content: dict[str, Any]) -> dict[str, Any]:
    """The WhatsApp approval JSON (ApprovalCreateInstance / ApprovalFetchInstance.whatsapp)."""
    approval = content["approval"]
    return {
        "allow_category_change": True,
        "category": approval["category"],
        "content_type": next(iter(content["types"]), None),
        "name": approval["name"],
        "rejection_reason": approval["rejection_reason"],
        "status": approval["status"],
    }


def _error(status: int, overrides: dict[str, Any]) -> dict[str, Any]:
    """Twilio's JSON error shape; codes default to the 20xxx family (20429, 20500, ...)."""
    error = {"code": 20000 + status, "message": http_reasons.get(status, "Error"), "status": status}
    error.update(overrides)
    error.setdefault("more_info", f"https://www.twilio.com/docs/errors/{error['code']}")
    return error


async def _serve(args: argparse.Namespace) -> None:
    async with FakeTwilio(host=args.host, port=args.port) as fake:
        for account in args.account:
            sid, _, token = account.partition(":")
            fake.add_account(sid, token)
        fake.delay = args.delay
        print(fake.base_url, flush=True)
        stopped = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stopped.set)
        await stopped.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="A local fake of Twilio's Messages API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: an ephemeral port")
    parser.add_argument("--account", action="append", default=[], metavar="SID:TOKEN")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()

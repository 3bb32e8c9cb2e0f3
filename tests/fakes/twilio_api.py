"""A local fake of Twilio's Messages API, over real HTTP, for tests and benchmarks.

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
        self._accounts: dict[str, str] = {}
        self._script: deque[tuple[int, dict[str, Any], dict[str, str]]] = deque()
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
        if not fields["Body"] and not fields["MediaUrl"]:
            return 400, _error(400, {"code": 21602, "message": "Message body is required."}), {}
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

"""`sufrah`: the operator's command line. Every command calls the same services as the API.

Commands that read or write data open the database DATABASE_URL names (or the embedded one under
DATA_DIR) and run one transaction. They expect the schema at the head migration (`sufrah migrate`);
only `serve` and `demo`, the zero-configuration starts, migrate by themselves.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from app.errors import SufrahError
from app.settings import Settings, load_settings

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.crypto import SecretBox
    from app.models import Bot


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.db.engine import resolve_url
    from app.main import create_app

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = load_settings(**overrides)
    url = resolve_url(settings)  # starts the embedded server once; the app's lifespan migrates
    settings = load_settings(**overrides, database_url=url)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    print(
        f"sufrah: serving on http://{settings.host}:{settings.port} (database: {_describe(url)})", flush=True
    )
    uvicorn.run(
        create_app(settings, freeze_gc=True),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        ws_ping_interval=20,
        ws_ping_timeout=20,
        ws_per_message_deflate=False,  # per-socket compression costs more CPU than the bytes it saves here
        ws_max_size=settings.max_ws_frame_bytes,  # a longer message closes the socket (1009), app.rest.limits
        timeout_graceful_shutdown=10,
    )
    return 0


def _describe(url: str) -> str:
    return "embedded PostgreSQL" if "?host=/" in url else url.split("@")[-1]


def _migrate(args: argparse.Namespace) -> int:
    from app.db import migrate
    from app.db.engine import resolve_url

    url = resolve_url(load_settings())
    if args.revision.startswith("-") or args.downgrade:
        migrate.downgrade(url, args.revision)
    else:
        migrate.upgrade(url, args.revision)
    print(f"sufrah: database at {args.revision}")
    return 0


def _export_schema(args: argparse.Namespace) -> int:
    from app.graphql.schema import schema
    from app.settings import PROJECT_ROOT

    sdl = str(schema) + "\n"
    if args.output == "-":
        sys.stdout.write(sdl)
    else:
        path = args.output or str(PROJECT_ROOT / "schema.graphql")
        with open(path, "w", encoding="utf-8") as f:
            f.write(sdl)
        print(f"sufrah: wrote {path}")
    return 0


# -- running a command against the database ------------------------------------------------------

T = TypeVar("T")


def _with_db(work: Callable[[AsyncSession, Settings], Awaitable[T]], *, migrate_first: bool = False) -> T:
    """Run `work` in one session (it commits what it wants kept). The schema must be at the head
    migration; `migrate_first` brings it there (as `serve` does), otherwise the command refuses."""
    from sqlalchemy.exc import DBAPIError, ProgrammingError

    from app.db import migrate
    from app.db.engine import Database, resolve_url

    settings = load_settings()
    url = resolve_url(settings)
    if migrate_first:
        migrate.upgrade(url)  # Alembic runs its own event loop: before ours

    async def run() -> T:
        db = Database.connect(url, pool_size=1, max_overflow=0)
        try:
            try:
                current = await migrate.current(db.engine)
            except ProgrammingError:
                current = None  # no alembic_version table: never migrated
            except (DBAPIError, OSError) as exc:
                raise SufrahError(f"cannot reach the database at {_describe(url)}: {exc}") from None
            if current != migrate.head():
                raise SufrahError(
                    f"the database schema is at {current or 'nothing'}, not {migrate.head()}: "
                    "run `sufrah migrate` first"
                )
            async with db.session() as session:
                return await work(session, settings)
        finally:
            await db.dispose()

    return asyncio.run(run())


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(c) for c in headers], *[["-" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _day(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else None


def _box(settings: Settings) -> SecretBox:
    from app.auth.crypto import SecretBox

    return SecretBox(settings.effective_secret_key)


# -- restaurant -----------------------------------------------------------------------------------


def _restaurant_create(args: argparse.Namespace) -> int:
    from app.services import restaurants

    async def work(session: AsyncSession, settings: Settings) -> int:
        row = await restaurants.create(session, name=args.name, restaurant_id=args.id, currency=args.currency)
        await session.commit()
        print(row.id)
        return 0

    return _with_db(work)


def _restaurant_list(args: argparse.Namespace) -> int:
    from app.services import restaurants

    async def work(session: AsyncSession, settings: Settings) -> int:
        rows = await restaurants.list_all(session)
        _table(
            ["ID", "NAME", "CURRENCY", "BOT", "CREATED"],
            [(r.id, r.name, r.currency, "on" if r.bot_enabled else "off", _day(r.created_at)) for r in rows],
        )
        return 0

    return _with_db(work)


# -- bot ------------------------------------------------------------------------------------------


def _auth_token(args: argparse.Namespace) -> str:
    """--auth-token, else TWILIO_AUTH_TOKEN, else a prompt (so the secret stays out of shell history)."""
    if args.auth_token:
        return str(args.auth_token)
    if os.environ.get("TWILIO_AUTH_TOKEN"):
        return os.environ["TWILIO_AUTH_TOKEN"]
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("Twilio auth token: ")
    raise SufrahError("give the Twilio auth token with --auth-token or TWILIO_AUTH_TOKEN")


def _bot_register(args: argparse.Namespace) -> int:
    from app.services import bots, restaurants
    from app.services.bots import BotChanges

    auth_token = _auth_token(args)

    async def work(session: AsyncSession, settings: Settings) -> int:
        restaurant = await restaurants.get(session, restaurant_id=args.restaurant)
        changes = BotChanges(
            name=args.name,
            restaurant_name=args.restaurant_name or restaurant.name,
            whatsapp_number=args.number,
            account_sid=args.account_sid,
            auth_token=auth_token,
            subaccount_sid=args.subaccount_sid,
            sender_sid=args.sender_sid,
            waba_id=args.waba_id,
            status=args.status,
            support_contact=args.support_contact,
            payment_link=args.payment_link,
            max_messages_per_min=args.max_per_min,
            max_messages_per_day=args.max_per_day,
        )
        bot = await bots.register(session, restaurant_id=restaurant.id, changes=changes, box=_box(settings))
        await session.commit()
        print(f"{bot.id}  whatsapp:{bot.whatsapp_number}  ({bot.status}) for restaurant {restaurant.id}")
        return 0

    return _with_db(work)


def _bot_list(args: argparse.Namespace) -> int:
    from app.services import bots

    async def work(session: AsyncSession, settings: Settings) -> int:
        rows = await bots.list_for(session, restaurant_id=args.restaurant)
        _table(
            ["ID", "RESTAURANT", "NAME", "NUMBER", "STATUS", "ACTIVE", "CREATED"],
            [
                (
                    b.id,
                    b.restaurant_id,
                    b.name,
                    b.whatsapp_number,
                    b.status,
                    "yes" if b.is_active else "no",
                    _day(b.created_at),
                )
                for b in rows
            ],
        )
        return 0

    return _with_db(work)


def _bot_set_active(active: bool) -> Callable[[argparse.Namespace], int]:
    def command(args: argparse.Namespace) -> int:
        from app.services import bots
        from app.services.bots import BotChanges

        async def work(session: AsyncSession, settings: Settings) -> int:
            bot = await bots.update_bot(
                session,
                restaurant_id=None,
                bot_id=args.bot_id,
                changes=BotChanges(is_active=active),
                box=_box(settings),
            )
            await session.commit()
            print(f"{bot.id} {'enabled' if active else 'disabled'}")
            return 0

        return _with_db(work)

    return command


# -- menu -----------------------------------------------------------------------------------------


def _menu_load(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app.services import catalog, restaurants

    async def work(session: AsyncSession, settings: Settings) -> int:
        await restaurants.get(session, restaurant_id=args.restaurant)
        menu = await catalog.load_menu(
            session, restaurant_id=args.restaurant, data=catalog.read_menu_file(Path(args.file))
        )
        await session.commit()
        print(
            f"loaded {len(menu.branches)} branches, {len(menu.categories)} categories and "
            f"{len(menu.items)} items ({sum(map(len, menu.option_groups.values()))} option groups) "
            f"into {args.restaurant}"
        )
        return 0

    return _with_db(work)


def _menu_sync(args: argparse.Namespace) -> int:
    from app.services import merchant
    from app.workers import platform_from_settings

    async def work(session: AsyncSession, settings: Settings) -> int:
        if args.provider:
            await merchant.set_provider(
                session, restaurant_id=args.restaurant, provider=args.provider, merchant_id=args.merchant
            )
            await session.commit()
        platform = platform_from_settings(settings)
        try:
            status = await merchant.sync_menu(session, platform, restaurant_id=args.restaurant)
            await session.commit()
        finally:
            await platform.aclose()
        if status.last_error is not None and status.last_error_at == status.last_attempt_at:
            print(f"menu sync of {args.restaurant} failed: {status.last_error}", file=sys.stderr)
            return 1
        print(
            f"synced {status.branches_synced} branches, {status.categories_synced} categories and "
            f"{status.items_synced} items into {args.restaurant} from the Sufrah platform"
        )
        return 0

    return _with_db(work)


# -- token ----------------------------------------------------------------------------------------


def _token_create(args: argparse.Namespace) -> int:
    from app.services import tokens

    async def work(session: AsyncSession, settings: Settings) -> int:
        row, plaintext = await tokens.create(
            session, name=args.name, is_admin=args.admin, restaurant_ids=args.restaurant
        )
        await session.commit()
        scope = "admin" if row.is_admin else "restaurants " + ", ".join(row.restaurant_ids)
        print(f"created token {row.id} ({scope}); it is shown once, store it now:", file=sys.stderr)
        print(plaintext)
        return 0

    return _with_db(work)


def _token_list(args: argparse.Namespace) -> int:
    from app.services import tokens

    async def work(session: AsyncSession, settings: Settings) -> int:
        rows = await tokens.list_all(session)
        _table(
            ["ID", "NAME", "PREFIX", "SCOPE", "CREATED", "REVOKED"],
            [
                (
                    t.id,
                    t.name,
                    t.token_prefix + "...",
                    "admin" if t.is_admin else ",".join(t.restaurant_ids),
                    _day(t.created_at),
                    _day(t.revoked_at),
                )
                for t in rows
            ],
        )
        return 0

    return _with_db(work)


def _token_revoke(args: argparse.Namespace) -> int:
    from app.services import tokens

    async def work(session: AsyncSession, settings: Settings) -> int:
        await tokens.revoke(session, token_id=args.token_id)
        await session.commit()
        print(f"{args.token_id} revoked")
        return 0

    return _with_db(work)


# -- demo and simulate ----------------------------------------------------------------------------

DEMO_RESTAURANT = "demo"
DEMO_NAME = "Sufrah Demo Grill"
DEMO_NUMBER = "+15550001234"
DEMO_ACCOUNT_SID = "AC" + "0" * 32
DEMO_CUSTOMER = "+966500000001"


def _demo(args: argparse.Namespace) -> int:
    from app.services import bots, restaurants, tokens
    from app.services.bots import BotChanges

    async def work(session: AsyncSession, settings: Settings) -> int:
        restaurant = await restaurants.create(session, name=DEMO_NAME, restaurant_id=DEMO_RESTAURANT)
        bot = await bots.find_by_number(session, whatsapp_number=DEMO_NUMBER)
        if bot is None:
            bot = await bots.register(
                session,
                restaurant_id=restaurant.id,
                box=_box(settings),
                changes=BotChanges(
                    name="Demo Bot",
                    restaurant_name=DEMO_NAME,
                    whatsapp_number=DEMO_NUMBER,
                    account_sid=DEMO_ACCOUNT_SID,
                    auth_token=secrets.token_hex(16),
                    status="ACTIVE",
                ),
            )
        elif bot.restaurant_id != restaurant.id:
            raise SufrahError(f"{DEMO_NUMBER} is already registered to restaurant {bot.restaurant_id}")
        from app.services import catalog

        await catalog.load_demo_menu(session, restaurant_id=restaurant.id)
        _, token = await tokens.create(session, name="demo", restaurant_ids=[restaurant.id])
        await session.commit()
        base = settings.base_url
        graphql = (
            '{"query": "{ conversations { nodes { customerPhone unreadCount lastMessage { content } } } }"}'
        )
        print(f"""Sufrah demo is ready.

  restaurant  {restaurant.id} ({restaurant.name})
  bot         {bot.id}, WhatsApp number {DEMO_NUMBER}
  token       {token}
              (shown once; `sufrah demo` again makes a new one)

Start the server in another terminal:  sufrah serve

Then write to the bot as a customer would (a correctly signed Twilio webhook, no Twilio needed):
  sufrah simulate --to {DEMO_NUMBER} --from {DEMO_CUSTOMER} --body "hello"

Read the conversation back:
  curl -s {base}/api/db/conversations -H 'Authorization: Bearer {token}'
  curl -s {base}/graphql -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\
       -d '{graphql}'

Live updates: {base.replace("http", "ws", 1)}/ws?token={token}  (or GraphQL subscriptions on /graphql)""")
        return 0

    return _with_db(work, migrate_first=True)


def _simulate(args: argparse.Namespace) -> int:
    import httpx
    from twilio.request_validator import RequestValidator

    from app.phone import to_e164
    from app.services import bots

    customer = to_e164(args.sender, field="--from")
    if (args.latitude is None) != (args.longitude is None):
        raise SufrahError("--latitude and --longitude go together")

    async def lookup(session: AsyncSession, settings: Settings) -> tuple[Bot, str, str]:
        bot = await bots.find_by_number(session, whatsapp_number=args.to)
        if bot is None:
            raise SufrahError(f"no bot is registered for {args.to}")
        try:
            auth_token = _box(settings).decrypt(bot.auth_token_encrypted)
        except ValueError:
            raise SufrahError(
                "this bot's auth token can't be read: SECRET_KEY differs from the server's"
            ) from None
        return bot, auth_token, (args.server or settings.base_url).rstrip("/")

    bot, auth_token, base = _with_db(lookup)
    sid = "SM" + secrets.token_hex(16)
    params = {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": bot.account_sid,
        "From": f"whatsapp:{customer}",
        "To": f"whatsapp:{bot.whatsapp_number}",
        "Body": args.body,
        "NumMedia": "0",
        "ProfileName": args.name,
        "WaId": customer.lstrip("+"),
        "ApiVersion": "2010-04-01",
    }
    if args.latitude is not None:
        params |= {
            "Latitude": str(args.latitude),
            "Longitude": str(args.longitude),
            "MessageType": "location",
        }
        if args.address:
            params["Address"] = args.address
    if args.button:
        params |= {
            "ButtonPayload": args.button,
            "ButtonText": args.body or args.button,
            "MessageType": "button",
        }
    url = f"{base}/whatsapp/webhook"
    signature = RequestValidator(auth_token).compute_signature(url, params)
    try:
        response = httpx.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=15)
    except httpx.HTTPError as exc:
        raise SufrahError(f"could not reach {url}: {exc}") from None
    print(f"{params['From']} -> {params['To']}: {sid}: HTTP {response.status_code}")
    if response.is_success:
        return 0
    print(response.text, file=sys.stderr)
    if response.status_code == 403:
        print(
            "hint: the server checks signatures against its PUBLIC_BASE_URL; pass that as --server",
            file=sys.stderr,
        )
    return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sufrah", description="Sufrah WhatsApp ordering backend.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="run the HTTP server (migrates first)",
        description="Run the API server. Without DATABASE_URL it starts an embedded PostgreSQL.",
    )
    serve.add_argument("--host", help="interface to bind (default: HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default: PORT or 8000)")
    serve.set_defaults(func=_serve)

    mig = sub.add_parser("migrate", help="apply database migrations", description="Apply Alembic migrations.")
    mig.add_argument("revision", nargs="?", default="head", help="target revision (default: head)")
    mig.add_argument("--downgrade", action="store_true", help="move down to REVISION instead of up")
    mig.set_defaults(func=_migrate)

    export = sub.add_parser(
        "export-schema",
        help="write the GraphQL schema (SDL) to schema.graphql",
        description="Export the GraphQL schema from the code.",
    )
    export.add_argument("--output", "-o", help="file to write, or - for stdout (default: schema.graphql)")
    export.set_defaults(func=_export_schema)

    _restaurant_commands(sub)
    _bot_commands(sub)
    _menu_commands(sub)
    _token_commands(sub)

    demo = sub.add_parser(
        "demo",
        help="create a demo restaurant, bot and token, and show how to try them",
        description=f"Create (once) restaurant '{DEMO_RESTAURANT}' ({DEMO_NAME}) with a bot on "
        f"{DEMO_NUMBER}, make a new token for it, and print how to try the whole "
        "loop with `sufrah simulate`, curl and GraphQL.",
    )
    demo.set_defaults(func=_demo)

    sim = sub.add_parser(
        "simulate",
        help="play a customer: send a signed inbound WhatsApp message to a running server",
        description="Send the webhook Twilio would send for a customer's WhatsApp message, signed with the "
        "bot's auth token (read from the database: run it with the server's DATABASE_URL/DATA_DIR "
        "and SECRET_KEY), to SERVER/whatsapp/webhook.",
    )
    sim.add_argument("--to", required=True, metavar="NUMBER", help="the bot's WhatsApp number")
    sim.add_argument(
        "--from",
        dest="sender",
        default=DEMO_CUSTOMER,
        metavar="NUMBER",
        help=f"the customer's number (default {DEMO_CUSTOMER})",
    )
    sim.add_argument("--body", default="", help="the message text")
    sim.add_argument("--name", default="Demo Customer", help="the customer's WhatsApp profile name")
    sim.add_argument(
        "--server",
        metavar="URL",
        help="the server's public URL (default: PUBLIC_BASE_URL, else http://HOST:PORT)",
    )
    sim.add_argument("--latitude", type=float, help="send a location (with --longitude)")
    sim.add_argument("--longitude", type=float, help="send a location (with --latitude)")
    sim.add_argument("--address", help="the location's address (with --latitude/--longitude)")
    sim.add_argument("--button", metavar="PAYLOAD", help="send a quick-reply button press with this payload")
    sim.set_defaults(func=_simulate)
    return parser


def _restaurant_commands(sub: Any) -> None:
    group = sub.add_parser(
        "restaurant", help="create and list restaurants (tenants)", description="Restaurants: the tenants."
    )
    commands = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = commands.add_parser(
        "create",
        help="create a restaurant (prints its id)",
        description="Create a restaurant; an --id that exists already is kept as it is.",
    )
    create.add_argument("--name", required=True)
    create.add_argument("--id", help="the restaurant id (default: a new random one)")
    create.add_argument("--currency", default="SAR", help="ISO 4217 code (default SAR)")
    create.set_defaults(func=_restaurant_create)
    listing = commands.add_parser("list", help="list restaurants", description="List every restaurant.")
    listing.set_defaults(func=_restaurant_list)


def _menu_commands(sub: Any) -> None:
    from app.services.catalog import MENU_FILE_HELP

    group = sub.add_parser(
        "menu",
        help="load a restaurant's branches and menu from a JSON file",
        description="Branches and the menu.",
    )
    commands = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    load = commands.add_parser(
        "load",
        help="replace a restaurant's branches and menu with a JSON file",
        description="Replace the restaurant's branches, categories and items with the file's. Prices are in "
        "minor units (halalas). The file looks like:\n" + MENU_FILE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    load.add_argument("--restaurant", required=True, help="the restaurant id")
    load.add_argument("file", help="path to the JSON file")
    load.set_defaults(func=_menu_load)
    sync = commands.add_parser(
        "sync",
        help="sync a restaurant's menu from the Sufrah merchant platform now",
        description="Read the merchant's branches, categories and products (per branch) from the Sufrah "
        "platform (SUFRAH_API_BASE, SUFRAH_API_KEY) and write them over the restaurant's menu. With "
        "--provider, first set where its menu comes from.",
    )
    sync.add_argument("--restaurant", required=True, help="the restaurant id")
    sync.add_argument("--provider", choices=("local", "sufrah"), help="set the catalog provider first")
    sync.add_argument("--merchant", help="the platform's merchant id (with --provider sufrah)")
    sync.set_defaults(func=_menu_sync)


def _bot_commands(sub: Any) -> None:
    group = sub.add_parser(
        "bot",
        help="register, list and disable WhatsApp senders",
        description="Bots: a restaurant's WhatsApp senders (Twilio numbers).",
    )
    commands = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    reg = commands.add_parser(
        "register",
        help="register a WhatsApp sender for a restaurant",
        description="Register a Twilio WhatsApp sender. The auth token is stored encrypted (SECRET_KEY); "
        "give it with --auth-token, TWILIO_AUTH_TOKEN, or at the prompt.",
    )
    reg.add_argument("--restaurant", required=True, metavar="ID", help="the restaurant's id")
    reg.add_argument("--name", required=True, help="the bot's name")
    reg.add_argument("--number", required=True, help="WhatsApp number, +9665... or whatsapp:+9665...")
    reg.add_argument("--account-sid", required=True, help="Twilio account SID (AC...)")
    reg.add_argument("--auth-token", help="Twilio auth token (default: TWILIO_AUTH_TOKEN, else a prompt)")
    reg.add_argument(
        "--restaurant-name", help="name shown for the restaurant (default: the restaurant's name)"
    )
    reg.add_argument("--status", choices=["PENDING", "ACTIVE", "FAILED", "VERIFYING"], help="default PENDING")
    reg.add_argument("--subaccount-sid")
    reg.add_argument("--sender-sid")
    reg.add_argument("--waba-id")
    reg.add_argument("--support-contact")
    reg.add_argument("--payment-link")
    reg.add_argument("--max-per-min", type=int, help="messages per minute (default 60)")
    reg.add_argument("--max-per-day", type=int, help="messages per day (default 1000)")
    reg.set_defaults(func=_bot_register)
    listing = commands.add_parser(
        "list", help="list live bots", description="List bots (never their secrets)."
    )
    listing.add_argument("--restaurant", metavar="ID", help="only this restaurant's bots")
    listing.set_defaults(func=_bot_list)
    for name, active, text in (("disable", False, "stop"), ("enable", True, "resume")):
        command = commands.add_parser(
            name, help=f"{name} a bot", description=f"{text.title()} answering as this bot."
        )
        command.add_argument("bot_id", metavar="BOT_ID")
        command.set_defaults(func=_bot_set_active(active))


def _token_commands(sub: Any) -> None:
    group = sub.add_parser(
        "token",
        help="create, list and revoke API tokens",
        description="API tokens: random, shown once, stored as a hash, revocable.",
    )
    commands = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = commands.add_parser(
        "create",
        help="create a token and print it (once)",
        description="Create an API token. The token goes to stdout (once), the rest "
        "to stderr, so `TOKEN=$(sufrah token create ...)` works.",
    )
    scope = create.add_mutually_exclusive_group(required=True)
    scope.add_argument("--admin", action="store_true", help="every restaurant, and the admin API")
    scope.add_argument(
        "--restaurant", action="append", metavar="ID", help="a restaurant it may act for (repeat)"
    )
    create.add_argument("--name", required=True, help="what the token is for, to tell tokens apart")
    create.set_defaults(func=_token_create)
    listing = commands.add_parser(
        "list",
        help="list tokens (never the tokens themselves)",
        description="List tokens: id, name, prefix, scope, created, revoked.",
    )
    listing.set_defaults(func=_token_list)
    revoke = commands.add_parser("revoke", help="revoke a token", description="Revoke a token at once.")
    revoke.add_argument("token_id", metavar="TOKEN_ID")
    revoke.set_defaults(func=_token_revoke)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SufrahError as exc:
        print(f"sufrah: {exc.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

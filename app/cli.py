"""`sufrah`: the operator's command line. Every command calls the same services as the API."""

from __future__ import annotations

import argparse
import logging
import sys

from app.settings import load_settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.db import migrate
    from app.db.engine import resolve_url
    from app.main import create_app

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = load_settings(**overrides)
    url = resolve_url(settings)
    migrate.upgrade(url)
    settings = load_settings(**overrides, database_url=url)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(f"sufrah: serving on http://{settings.host}:{settings.port} (database: {_describe(url)})", flush=True)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        ws_ping_interval=20,
        ws_ping_timeout=20,
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sufrah", description="Sufrah WhatsApp ordering backend.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the HTTP server (migrates first)",
                           description="Run the API server. Without DATABASE_URL it starts an embedded PostgreSQL.")
    serve.add_argument("--host", help="interface to bind (default: HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default: PORT or 8000)")
    serve.set_defaults(func=_serve)

    mig = sub.add_parser("migrate", help="apply database migrations", description="Apply Alembic migrations.")
    mig.add_argument("revision", nargs="?", default="head", help="target revision (default: head)")
    mig.add_argument("--downgrade", action="store_true", help="move down to REVISION instead of up")
    mig.set_defaults(func=_migrate)

    export = sub.add_parser("export-schema", help="write the GraphQL schema (SDL) to schema.graphql",
                            description="Export the GraphQL schema from the code.")
    export.add_argument("--output", "-o", help="file to write, or - for stdout (default: schema.graphql)")
    export.set_defaults(func=_export_schema)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

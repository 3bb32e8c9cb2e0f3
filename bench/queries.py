"""Queries: our GraphQL, our legacy REST and PostGraphile v4 side by side on one generated dataset.

    .venv/bin/python -m bench.queries [--restaurants 100 --conversations 100000 --messages 1000000]
                                      [--concurrency 16] [--duration 10] [--warmup 2] [--servers 1]
                                      [--scales 100000,1000000] [--with-10m] [--no-postgraphile]
                                      [--only q1,q2,stats] [--profile svg|raw]

Q1    the 20 conversations with the latest activity (one restaurant; restaurants taken in turn);
Q2    Q1 with the last 10 messages of each;
stats the dashboard's counters (total, active, unread, waiting for staff, messages today, median
      first response).
Each target runs for --duration seconds at a fixed --concurrency (closed loop, after --warmup
seconds), from a load process of its own. Ours: `sufrah serve` (RUN_WORKERS=false) with an admin
token and X-Restaurant-Id. PostGraphile: `postgraphile -c ... -s public` (npm postgraphile@4 on
Node, installed into bench/.work/node on first use), queried with `condition: {restaurantId}`;
its stats is one SQL function (schema bench_pgl) running the same SQL as ours.
Then Q1/Q2/stats p50 on datasets of each --scales size (messages; conversations = messages/10,
same restaurants): p50 should stay flat as the data grows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common, dataset
from bench.common import PROFILE_CHOICES, HttpOp

NODE_DIR = common.WORK / "node"

CONVERSATION_FIELDS = "id customerPhone customerName status lastMessageAt unreadCount isBotActive"
MESSAGE_FIELDS = "id direction content createdAt deliveryStatus"

OURS = {
    "q1": f"query Q1 {{ conversations(first: 20) {{ nodes {{ {CONVERSATION_FIELDS} }} }} }}",
    "q2": f"query Q2 {{ conversations(first: 20) {{ nodes {{ {CONVERSATION_FIELDS}"
    f" messages(last: 10) {{ nodes {{ {MESSAGE_FIELDS} }} }} }} }} }}",
    "stats": "query Stats { stats { totalConversations activeConversations totalUnread waitingForStaff"
    " messagesToday medianFirstResponseSeconds } }",
}
_PGL_CONVERSATIONS = (
    "allConversations(first: 20, orderBy: [LAST_MESSAGE_AT_DESC, ID_DESC], condition: {restaurantId: $r})"
)
PGL = {
    "q1": f"query Q1($r: String!) {{ {_PGL_CONVERSATIONS} {{ nodes {{ {CONVERSATION_FIELDS} }} }} }}",
    "q2": f"query Q2($r: String!) {{ {_PGL_CONVERSATIONS} {{ nodes {{ {CONVERSATION_FIELDS}"
    f" messagesByRestaurantIdAndConversationId(first: 10, orderBy: [CREATED_AT_DESC, ID_DESC])"
    f" {{ nodes {{ {MESSAGE_FIELDS} }} }} }} }} }}",
    "stats": "query Stats($r: String!) { stats(restaurantId: $r) { totalConversations activeConversations"
    " totalUnread waitingForStaff messagesToday medianFirstResponseSeconds } }",
}
QUERIES = ("q1", "q2", "stats")


# -- PostGraphile --------------------------------------------------------------------------------


def ensure_postgraphile() -> Path:
    """postgraphile@4 in bench/.work/node (npm install on first use)."""
    exe = NODE_DIR / "node_modules" / ".bin" / "postgraphile"
    if not exe.exists():
        if shutil.which("npm") is None:
            raise RuntimeError("npm not found: install Node 20 + npm, or pass --no-postgraphile")
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        (NODE_DIR / "package.json").write_text('{"name": "sufrah-bench-postgraphile", "private": true}\n')
        print("installing postgraphile@4 into bench/.work/node ...", flush=True)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "postgraphile@4"],
            cwd=NODE_DIR,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return exe


def stats_function_sql() -> str:
    """PostGraphile's stats: one SQL function computing what our stats resolver computes, with the
    activity part taken from app/services/conversations.py itself."""
    from app.services.conversations import _ACTIVITY

    activity = re.sub(r"(?<![:\w]):r\b", "$1", _ACTIVITY.text.strip())
    return f"""
    CREATE SCHEMA IF NOT EXISTS bench_pgl;
    DROP FUNCTION IF EXISTS bench_pgl.stats(text);
    DROP TYPE IF EXISTS bench_pgl.stats;
    CREATE TYPE bench_pgl.stats AS (total_conversations int, active_conversations int, total_unread int,
                                    waiting_for_staff int, messages_today int, median_first_response_seconds float8);
    CREATE FUNCTION bench_pgl.stats(restaurant_id text) RETURNS bench_pgl.stats LANGUAGE sql STABLE STRICT AS $fn$
      SELECT c.total, c.active, c.unread, c.waiting, a.today::int, a.median::float8
      FROM (SELECT count(*)::int AS total,
                   (count(*) FILTER (WHERE status = 'active'))::int AS active,
                   coalesce(sum(unread_count), 0)::int AS unread,
                   (count(*) FILTER (WHERE status = 'active' AND NOT is_bot_active AND last_inbound_at IS NOT NULL
                                       AND last_inbound_at >= last_message_at))::int AS waiting
            FROM public.conversation WHERE conversation.restaurant_id = $1) c,
           ({activity}) AS a(today, median)
    $fn$;
    """


class PostGraphile:
    def __init__(self, pg: common.Postgres, database: str, *, workers: int = 1) -> None:
        self.port = common.free_port()
        self.pg, self.database, self.workers = pg, database, workers
        self.log_path = common.WORK / "logs" / f"postgraphile-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    def start(self) -> PostGraphile:
        exe = ensure_postgraphile()
        asyncio.run(_execute(self.pg.dsn(self.database), stats_function_sql()))
        cmd = [
            "node",
            str(exe),
            "-c",
            self.pg.node_url(self.database),
            "-s",
            "public,bench_pgl",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--disable-query-log",
            "--max-pool-size",
            "20",
        ]
        if self.workers > 1:
            cmd += ["--cluster-workers", str(self.workers)]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = common.register_child(
                subprocess.Popen(
                    cmd, cwd=NODE_DIR, stdout=log, stderr=log, env={**os.environ, "NODE_ENV": "production"}
                )
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgraphile exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                post_json(self.url, {"query": "{ __typename }"}, {})
                return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"postgraphile did not start:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None:
            common._stop_child(self.proc)

    def pids(self) -> list[int]:
        import psutil

        assert self.proc is not None
        proc = psutil.Process(self.proc.pid)
        return [proc.pid, *(c.pid for c in proc.children(recursive=True))]


async def _execute(dsn: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def post_json(url: str, payload: dict[str, Any], headers: dict[str, str]) -> Any:
    req = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **headers},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def get_json(url: str, headers: dict[str, str]) -> Any:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as resp:
        return json.loads(resp.read())


# -- the operations ----------------------------------------------------------------------------------


def ours_graphql_ops(server: common.Server, token: str, restaurants: list[str], query: str) -> list[HttpOp]:
    body = json.dumps({"query": OURS[query]}).encode()
    return [
        HttpOp(
            "POST",
            f"{server.url}/graphql",
            {"Authorization": f"Bearer {token}", "X-Restaurant-Id": r, "Content-Type": "application/json"},
            body,
        )
        for r in restaurants
    ]


def ours_rest_ops(server: common.Server, token: str, restaurants: list[str], query: str) -> list[HttpOp]:
    ops = []
    for r in restaurants:
        headers = {"Authorization": f"Bearer {token}", "X-Restaurant-Id": r}
        if query == "q1":
            ops.append(HttpOp("GET", f"{server.url}/api/db/conversations?limit=20", headers))
        elif query == "q2":
            ops.append(
                HttpOp(
                    "GET",
                    f"{server.url}/api/db/conversations?limit=20",
                    headers,
                    kind="rest_q2",
                    extra={"messages_url": f"{server.url}/api/db/conversations/{{id}}/messages?limit=10"},
                )
            )
        else:
            ops.append(HttpOp("GET", f"{server.url}/api/db/conversations/stats", headers))
    return ops


def pgl_ops(pgl: PostGraphile, restaurants: list[str], query: str) -> list[HttpOp]:
    return [
        HttpOp(
            "POST",
            pgl.url,
            {"Content-Type": "application/json"},
            json.dumps({"query": PGL[query], "variables": {"r": r}}).encode(),
        )
        for r in restaurants
    ]


def check_equivalence(
    server: common.Server, token: str, pgl: PostGraphile | None, restaurant: str
) -> dict[str, Any]:
    """Ours and PostGraphile answer the same conversations, messages and stats (sanity before timing)."""
    headers = {"Authorization": f"Bearer {token}", "X-Restaurant-Id": restaurant}
    out: dict[str, Any] = {}
    ours = {q: post_json(f"{server.url}/graphql", {"query": OURS[q]}, headers) for q in QUERIES}
    for q, answer in ours.items():
        if answer.get("errors"):
            raise RuntimeError(f"our {q} failed: {answer['errors']}")
    ours_ids = [c["id"] for c in ours["q1"]["data"]["conversations"]["nodes"]]
    ours_msgs = {
        c["id"]: sorted(m["id"] for m in c["messages"]["nodes"])
        for c in ours["q2"]["data"]["conversations"]["nodes"]
    }
    rest = get_json(f"{server.url}/api/db/conversations?limit=20", headers)
    out["rest_q1_same_as_graphql"] = [c["id"] for c in rest] == ours_ids
    out["conversations"] = len(ours_ids)
    out["messages_per_conversation"] = sorted({len(v) for v in ours_msgs.values()})
    if pgl is not None:
        theirs = {
            q: post_json(pgl.url, {"query": PGL[q], "variables": {"r": restaurant}}, {}) for q in QUERIES
        }
        for q, answer in theirs.items():
            if answer.get("errors"):
                raise RuntimeError(f"PostGraphile {q} failed: {answer['errors']}")
        their_ids = [c["id"] for c in theirs["q1"]["data"]["allConversations"]["nodes"]]
        their_msgs = {
            c["id"]: sorted(m["id"] for m in c["messagesByRestaurantIdAndConversationId"]["nodes"])
            for c in theirs["q2"]["data"]["allConversations"]["nodes"]
        }
        out["postgraphile_q1_same"] = their_ids == ours_ids
        out["postgraphile_q2_same"] = their_msgs == ours_msgs
        a, b = ours["stats"]["data"]["stats"], theirs["stats"]["data"]["stats"]
        out["postgraphile_stats_same"] = all(
            (a[k] is None and b[k] is None)
            or (a[k] is not None and b[k] is not None and abs(a[k] - b[k]) < 1e-6)
            for k in a
        )
    return out


def measure(
    name: str,
    ops: list[HttpOp],
    args: argparse.Namespace,
    *,
    graphql: bool,
    duration: float | None = None,
    pids: list[int] | None = None,
    pg: common.Postgres | None = None,
) -> dict[str, Any]:
    import psutil

    procs = [psutil.Process(p) for p in (pids or [])]
    cpu0 = sum(p.cpu_times().user + p.cpu_times().system for p in procs)
    pg0 = common.postgres_cpu_seconds(pg) if pg else math.nan
    t0 = time.perf_counter()
    result = common.call_in_process(
        common.http_load,
        ops,
        args.concurrency,
        duration or args.duration,
        args.warmup,
        graphql,
        None,
        timeout=(duration or args.duration) + args.warmup + 120,
    )
    wall = time.perf_counter() - t0
    cpu = sum(p.cpu_times().user + p.cpu_times().system for p in procs) - cpu0
    pg_cpu = (common.postgres_cpu_seconds(pg) - pg0) if pg else math.nan
    row = {
        "target": name,
        "rps": result.rps,
        **common.latency_summary(result.latencies),
        "errors": result.errors,
        "server_cpu_pct": round(100 * cpu / wall, 1) if procs else math.nan,
        "postgres_cpu_pct": round(100 * pg_cpu / wall, 1),
        "load_cpu_pct": round(100 * result.client_cpu / result.elapsed, 1),
    }
    if result.first_error:
        print(f"  {name}: first error {result.first_error}", file=sys.stderr)
    print(
        f"  {name:<28} {row['rps']:>8.1f} rps  p50 {row['p50_ms']:>7.2f} ms  p99 {row['p99_ms']:>7.2f} ms"
        f"  errors {row['errors']}",
        flush=True,
    )
    return row


def restaurant_ids(spec: dataset.Spec) -> list[str]:
    return [dataset.restaurant_id(i) for i in range(spec.restaurants)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    dataset.add_arguments(parser)
    parser.add_argument("--concurrency", "-c", type=int, default=16, help="requests in flight (default 16)")
    parser.add_argument(
        "--duration", "-d", type=float, default=10.0, help="measured seconds per target (default 10)"
    )
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first (default 2)")
    parser.add_argument(
        "--servers",
        type=int,
        default=1,
        help="sufrah serve processes, and PostGraphile --cluster-workers (default 1)",
    )
    parser.add_argument(
        "--scales",
        default="100000,1000000",
        help="message counts for the flatness series (default 100000,1000000; '' to skip)",
    )
    parser.add_argument(
        "--with-10m", action="store_true", help="add 10,000,000 messages to the series (~10 min once)"
    )
    parser.add_argument("--scale-duration", type=float, default=6.0, help="measured seconds per series point")
    parser.add_argument("--no-postgraphile", action="store_true")
    parser.add_argument("--only", default="q1,q2,stats", help="queries to run (default q1,q2,stats)")
    parser.add_argument(
        "--profile", choices=PROFILE_CHOICES, help="py-spy our (first) server during our GraphQL runs"
    )
    parser.add_argument(
        "--name", default="queries", help="results file name in bench/results/ (default queries)"
    )
    args = parser.parse_args()
    common.install_cleanup()
    wanted = [q for q in args.only.split(",") if q in QUERIES]
    meta = common.run_metadata(args.name, args, command=common.command_line("queries"))

    pg = common.Postgres().start()
    main_spec = dataset.spec_from(args)
    meta["dataset"] = dataset.ensure(pg, main_spec, jobs=args.jobs, force=args.force)
    meta["postgres"] = {"version": asyncio.run(pg.version()), **asyncio.run(pg.settings())}
    url = pg.url(main_spec.database)
    token = asyncio.run(common.create_token(url))
    restaurants = restaurant_ids(main_spec)

    rows: list[dict[str, Any]] = []
    servers = common.start_servers(url, args.servers)
    pgl = None if args.no_postgraphile else PostGraphile(pg, main_spec.database, workers=args.servers).start()
    try:
        # The busiest restaurant when skewed; any when uniform.
        meta["equivalence"] = check_equivalence(servers[0], token, pgl, restaurants[0])
        print(f"equivalence: {meta['equivalence']}", flush=True)
        spids = [s.pid for s in servers]
        for q in wanted:
            print(f"{q}:", flush=True)
            profiler = common.Profiler(servers[0].pid, f"queries-{q}", args.profile) if args.profile else None
            ops = [op for s in servers for op in ours_graphql_ops(s, token, restaurants, q)]
            rows.append({"query": q, **measure("sufrah GraphQL", ops, args, graphql=True, pids=spids, pg=pg)})
            if profiler:
                print(f"  profile: {profiler.stop()}")
            ops = [op for s in servers for op in ours_rest_ops(s, token, restaurants, q)]
            rows.append(
                {
                    "query": q,
                    **measure("sufrah legacy REST", ops, args, graphql=False, pids=spids, pg=pg),
                    "note": {
                        "q2": "21 requests (list + 20 message pages, concurrent); marks read",
                        "stats": "3 of the 6 numbers",
                    }.get(q, ""),
                }
            )
            if pgl is not None:
                rows.append(
                    {
                        "query": q,
                        **measure(
                            "PostGraphile v4",
                            pgl_ops(pgl, restaurants, q),
                            args,
                            graphql=True,
                            pids=pgl.pids(),
                            pg=pg,
                        ),
                    }
                )
    finally:
        if pgl is not None:
            pgl.stop()
        for s in servers:
            s.stop()

    # -- the flatness series ----------------------------------------------------------------------------
    scale_rows: list[dict[str, Any]] = []
    sizes = [int(x) for x in args.scales.split(",") if x.strip()] + ([10_000_000] if args.with_10m else [])
    ratio = main_spec.messages / main_spec.conversations
    for m in sorted(set(sizes)):
        spec = dataset.Spec(
            main_spec.restaurants,
            max(main_spec.restaurants, int(m / ratio)),
            m,
            main_spec.skew,
            main_spec.days,
        )
        if spec == main_spec:
            for r in rows:
                if r["target"] == "sufrah GraphQL":
                    scale_rows.append(
                        {
                            "messages": m,
                            "conversations": spec.conversations,
                            "query": r["query"],
                            "rps": r["rps"],
                            "p50_ms": r["p50_ms"],
                            "p99_ms": r["p99_ms"],
                        }
                    )
            continue
        dataset.ensure(pg, spec, jobs=args.jobs)
        s_url = pg.url(spec.database)
        s_token = asyncio.run(common.create_token(s_url))
        server = common.start_servers(s_url, 1)[0]
        try:
            print(f"series: {m:,} messages", flush=True)
            for q in wanted:
                row = measure(
                    f"sufrah GraphQL {q}",
                    ours_graphql_ops(server, s_token, restaurant_ids(spec), q),
                    args,
                    graphql=True,
                    duration=args.scale_duration,
                )
                scale_rows.append(
                    {
                        "messages": m,
                        "conversations": spec.conversations,
                        "query": q,
                        "rps": row["rps"],
                        "p50_ms": row["p50_ms"],
                        "p99_ms": row["p99_ms"],
                    }
                )
        finally:
            server.stop()
    scale_rows.sort(key=lambda r: (QUERIES.index(r["query"]), r["messages"]))
    flatness = {}
    for q in wanted:
        points = [r for r in scale_rows if r["query"] == q]
        if len(points) >= 2:
            flatness[q] = round(points[-1]["p50_ms"] / points[0]["p50_ms"], 2)
    for r in scale_rows:
        first = next(p for p in scale_rows if p["query"] == r["query"])
        r["p50_vs_smallest"] = r["p50_ms"] / first["p50_ms"] if first["p50_ms"] else math.nan

    # -- ratios and output ---------------------------------------------------------------------------
    verdicts = {}
    for q in wanted:
        ours = next(r for r in rows if r["query"] == q and r["target"] == "sufrah GraphQL")
        theirs = next((r for r in rows if r["query"] == q and r["target"] == "PostGraphile v4"), None)
        for r in rows:
            if r["query"] == q:
                r["vs_postgraphile"] = r["rps"] / theirs["rps"] if theirs and theirs["rps"] else math.nan
        if theirs:
            verdicts[q] = {
                "ours_rps": round(ours["rps"], 1),
                "postgraphile_rps": round(theirs["rps"], 1),
                "ratio": round(ours["rps"] / theirs["rps"], 3) if theirs["rps"] else None,
                "met": ours["rps"] >= theirs["rps"],
            }
    columns = [
        ("query", "query"),
        ("target", "target"),
        ("rps", "rps"),
        ("p50_ms", "p50 ms"),
        ("p99_ms", "p99 ms"),
        ("errors", "errors"),
        ("vs_postgraphile", "÷ PostGraphile"),
        ("server_cpu_pct", "server CPU %"),
        ("postgres_cpu_pct", "postgres CPU %"),
        ("load_cpu_pct", "load CPU %"),
        ("note", "note"),
    ]
    scale_columns = [
        ("query", "query"),
        ("messages", "messages"),
        ("conversations", "conversations"),
        ("rps", "rps"),
        ("p50_ms", "p50 ms"),
        ("p99_ms", "p99 ms"),
        ("p50_vs_smallest", "p50 ÷ smallest"),
    ]
    title = (
        f"{main_spec.restaurants} restaurants, {main_spec.conversations:,} conversations, "
        f"{main_spec.messages:,} messages; concurrency {args.concurrency}, {args.duration:g}s each"
    )
    common.print_table(f"queries: {title}", rows, columns)
    if scale_rows:
        common.print_table("p50 as the data grows (sufrah GraphQL)", scale_rows, scale_columns)
    for q, v in verdicts.items():
        print(f"{q}: ours / PostGraphile = {v['ratio']} ({'MET' if v['met'] else 'NOT MET'}: match or beat)")
    notes = [
        "rps: answered requests (HTTP 200, no GraphQL errors) per second, closed loop at fixed concurrency, measured"
        " after a warm-up; p50/p99: the client's round trip. Restaurants are taken in turn, the same for every target.",
        "Ours authenticates a bearer token and resolves X-Restaurant-Id on every request (remembered between"
        " requests while the LISTEN connection is up, app/auth/cache.py); GraphQL Q1/Q2/stats are compiled to one"
        " SQL statement (app/graphql/fast/sql.py), and after the warm-up each is answered from its plan (the same"
        " statements, rebound to the caller's restaurant, without GraphQL parsing, validation or execution:"
        " app/graphql/fast/plans.py). PostGraphile runs as the database owner with no authentication and"
        " filters with `condition: {restaurantId}`.",
        "Legacy REST Q2 is 21 HTTP requests (the list, then each conversation's messages, concurrently); note that"
        " GET .../messages also marks the conversation read (a write + an event), so it is not a pure read."
        " Legacy REST stats returns only 3 of the 6 numbers.",
        "PostGraphile stats is a SQL function (schema bench_pgl) with the same SQL as ours (the activity part is"
        " read from app/services/conversations.py); its Q2 orders messages newest first (ours returns the same 10"
        " oldest first).",
        f"Equivalence checked before timing: {meta['equivalence']}.",
        "Flatness series: datasets with the same restaurants and messages/conversation, growing; p50 ÷ smallest"
        " should stay near 1 for Q1/Q2. Stats counts rows, so it grows with a restaurant's size by design.",
        "CPU %: CPU seconds over wall seconds (100 % = one core) of the server process(es), PostgreSQL and the load"
        f" process; the machine has {meta['machine']['cpus']} cores shared by all three.",
    ]

    def plot(fig: Any) -> None:
        axes = fig.subplots(1, 3)
        targets = []
        for r in rows:
            if r["target"] not in targets:
                targets.append(r["target"])
        width = 0.8 / max(1, len(targets))
        colors = {"sufrah GraphQL": "#d62728", "PostGraphile v4": "#1f77b4"}
        for k, t in enumerate(targets):
            vals = [next((r["rps"] for r in rows if r["query"] == q and r["target"] == t), 0) for q in wanted]
            b = axes[0].bar(
                [i + k * width for i in range(len(wanted))],
                vals,
                width,
                label=t,
                color=colors.get(t, "#7f7f7f" if "REST" in t else None),
            )
            common.bar_labels(axes[0], b)
            p50 = [
                next((r["p50_ms"] for r in rows if r["query"] == q and r["target"] == t), 0) for q in wanted
            ]
            b = axes[1].bar(
                [i + k * width for i in range(len(wanted))],
                p50,
                width,
                label=t,
                color=colors.get(t, "#7f7f7f" if "REST" in t else None),
            )
            common.bar_labels(axes[1], b, "{:.1f}")
        for ax, label in ((axes[0], "requests / s"), (axes[1], "p50 ms")):
            ax.set_xticks([i + width * (len(targets) - 1) / 2 for i in range(len(wanted))], wanted)
            ax.set_ylabel(label)
            ax.legend(fontsize=7)
        axes[0].set_title(f"throughput (concurrency {args.concurrency})")
        axes[1].set_title("median latency")
        for q in wanted:
            pts = [r for r in scale_rows if r["query"] == q]
            if pts:
                axes[2].plot([p["messages"] for p in pts], [p["p50_ms"] for p in pts], marker="o", label=q)
        axes[2].set_xscale("log")
        axes[2].set_xlabel("messages in the database")
        axes[2].set_ylabel("p50 ms (sufrah GraphQL)")
        axes[2].set_title("p50 as data grows")
        axes[2].set_ylim(bottom=0)
        axes[2].legend(fontsize=7)

    paths = common.write_results(
        args.name,
        meta=meta,
        sections=[(title, rows, columns), ("p50 as the data grows", scale_rows, scale_columns)],
        notes=notes,
        data={"verdicts": verdicts, "flatness_p50_largest_over_smallest": flatness},
        plot=plot,
    )
    print("wrote " + ", ".join(str(p.relative_to(common.ROOT)) for p in paths))
    common.cleanup()


if __name__ == "__main__":
    main()

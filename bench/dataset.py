"""A generated dataset for the query benchmarks, loaded with COPY.

    .venv/bin/python -m bench.dataset [--restaurants 100] [--conversations 100000] [--messages 1000000]
                                      [--skew 0] [--days 30] [--jobs 2] [--force]

Writes database `q_r<R>_c<C>_m<M>[_s<skew>]` on the embedded PostgreSQL (bench/.work/pg), migrated to
the app's head first, so the schema is the app's own: composite keys with restaurant_id first, every
constraint and index in place at the end. The event tables stay empty. A database whose recorded
parameters match is reused (--force regenerates it).

How: restaurants and bots (one ACTIVE bot each, auth token encrypted under the bench SECRET_KEY),
then conversations and messages generated in --jobs processes, each COPYing its share (binary COPY
through asyncpg's copy_records_to_table). The message table's keys and the secondary indexes of
both big tables are dropped for the load and rebuilt after (faster than maintaining them row by
row); FK triggers are off for the load (session_replication_role = replica) and the FK is validated
when it is added back. Then VACUUM ANALYZE.

Shape: conversations spread over restaurants (uniform, or Zipf-like with --skew s: restaurant i gets
weight 1/(i+1)^s); messages per conversation M/C on average (heavy-tailed with --skew > 0);
alternating customer / bot turns, about one in five answers by staff; times spread over --days
days up to now, so "today" has messages and the stats query has replies to measure.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import bisect
import json
import multiprocessing as mp
import random
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common

CHUNK = 50_000
TEXTS = [
    "مرحبا، أبغى أطلب",
    "hello, I'd like to order",
    "كم سعر الشاورما؟",
    "two shawarma and a pepsi please",
    "وين وصل الطلب؟",
    "thanks!",
    "ممكن توصيل للعنوان هذا",
    "is the restaurant open now?",
    "أبغى أغير الطلب",
    "can I pay by card?",
    "شكرا لكم",
    "the order was great",
]
ANSWERS = [
    "أهلاً بك في مطعمنا! تفضل القائمة",
    "Your order #1042 is confirmed",
    "تم استلام طلبك",
    "We deliver within 30 minutes",
    "طلبك في الطريق",
    "Thank you for ordering!",
]
NAMES = ["محمد", "Fatimah", "عبدالله", "Sara", "خالد", "Omar", "نورة", None]


@dataclass(frozen=True)
class Spec:
    restaurants: int
    conversations: int
    messages: int
    skew: float = 0.0
    days: int = 30
    seed: int = 1

    @property
    def database(self) -> str:
        name = f"q_r{self.restaurants}_c{self.conversations}_m{self.messages}"
        return name + (f"_s{self.skew:g}".replace(".", "p") if self.skew else "")

    def key(self) -> dict[str, Any]:
        return {**asdict(self), "version": 2}


def restaurant_id(i: int) -> str:
    return f"rst_q{i:05d}"


def bot_id(i: int) -> str:
    return f"bot_q{i:05d}"


def conversation_counts(spec: Spec) -> list[int]:
    """Conversations per restaurant (each at least one)."""
    weights = [1.0 / (i + 1) ** spec.skew for i in range(spec.restaurants)]
    total = sum(weights)
    counts = [max(1, int(spec.conversations * w / total)) for w in weights]
    i = 0
    while sum(counts) < spec.conversations:
        counts[i % len(counts)] += 1
        i += 1
    while sum(counts) > spec.conversations:
        j = max(range(len(counts)), key=counts.__getitem__)
        counts[j] -= 1
    return counts


def message_counts(spec: Spec) -> array.array:
    """Messages per conversation, summing to exactly spec.messages (each at least one)."""
    rng = random.Random(spec.seed)
    c, m = spec.conversations, spec.messages
    weights = (
        [rng.paretovariate(1.5) for _ in range(c)] if spec.skew else [rng.uniform(0.5, 1.5) for _ in range(c)]
    )
    total = sum(weights)
    spare = m - c
    counts = array.array("I", (1 + int(spare * w / total) for w in weights))
    missing = m - sum(counts)
    for _k in range(missing):
        counts[rng.randrange(c)] += 1
    return counts


# -- generation, one share per process ---------------------------------------------------------------


def _generate_share(
    dsn: str, spec: Spec, share: int, shares: int, bounds: list[int], counts: array.array, now_ts: float
) -> tuple[int, int]:
    common.use_uvloop()
    return asyncio.run(_copy_share(dsn, spec, share, shares, bounds, counts, now_ts))


async def _copy_share(
    dsn: str, spec: Spec, share: int, shares: int, bounds: list[int], counts: array.array, now_ts: float
) -> tuple[int, int]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    await conn.execute("SET session_replication_role = replica; SET synchronous_commit = off")
    rng = random.Random(spec.seed * 7919 + share)
    now = datetime.fromtimestamp(now_ts, UTC)
    span = spec.days * 86400.0
    conv_cols = [
        "restaurant_id",
        "id",
        "bot_id",
        "customer_phone",
        "customer_name",
        "status",
        "last_message_at",
        "last_inbound_at",
        "unread_count",
        "is_bot_active",
        "created_at",
        "updated_at",
    ]
    msg_cols = [
        "restaurant_id",
        "id",
        "conversation_id",
        "direction",
        "author",
        "message_type",
        "content",
        "media_urls",
        "wa_sid",
        "delivery_status",
        "metadata",
        "created_at",
        "updated_at",
        "bot_turn",
        "bot_id",
        "send_state",
        "send_attempts",
        "sent_at",
    ]
    conv_rows: list[tuple[Any, ...]] = []
    msg_rows: list[tuple[Any, ...]] = []
    n_conv = n_msg = 0
    td = timedelta
    choice, random_ = rng.choice, rng.random

    async def flush(final: bool = False) -> None:
        nonlocal conv_rows, msg_rows
        if conv_rows and (final or len(conv_rows) >= CHUNK // 5):
            await conn.copy_records_to_table("conversation", records=conv_rows, columns=conv_cols)
            conv_rows = []
        if msg_rows and (final or len(msg_rows) >= CHUNK):
            await conn.copy_records_to_table("message", records=msg_rows, columns=msg_cols)
            msg_rows = []

    for i in range(share, spec.conversations, shares):
        r = bisect.bisect_right(bounds, i) - 1
        rid, bid = restaurant_id(r), bot_id(r)
        cid = f"cnv_q{i:021d}"
        phone = f"+9665{i:08d}"
        name = choice(NAMES)
        n = counts[i]
        # Gaps between turns: about a minute and a half; a conversation's history ends at or before now.
        gaps = [rng.expovariate(1 / 90.0) for _ in range(n)]
        length = sum(gaps)
        end = now - td(seconds=rng.random() ** 2 * span)  # more recent activity is more common
        t = end - td(seconds=length)
        from_phone = f"whatsapp:{phone}"
        to_phone = f"whatsapp:+1555{r:07d}"
        meta_in = json.dumps(
            {
                "fromPhone": from_phone,
                "toPhone": to_phone,
                "profileName": name or "",
                "twilio": {
                    "MessageSid": "",
                    "AccountSid": "AC" + "0" * 32,
                    "From": from_phone,
                    "To": to_phone,
                    "NumMedia": "0",
                    "ApiVersion": "2010-04-01",
                    "WaId": phone[1:],
                    "SmsStatus": "received",
                },
            }
        )
        last_in = None
        unread = 0
        for j in range(n):
            t = t + td(seconds=gaps[j])
            mid = f"msg_q{i:015d}{j:06d}"
            if j % 2 == 0:
                last_in = t
                unread += 1
                msg_rows.append(
                    (
                        rid,
                        mid,
                        cid,
                        "IN",
                        "customer",
                        "text",
                        choice(TEXTS),
                        "[]",
                        f"SM{i:016x}{j:014x}",
                        "received",
                        meta_in,
                        t,
                        t,
                        "done",
                        None,
                        None,
                        0,
                        None,
                    )
                )
            else:
                unread = 0
                staff = random_() < 0.2
                msg_rows.append(
                    (
                        rid,
                        mid,
                        cid,
                        "OUT",
                        "staff" if staff else "bot",
                        "text",
                        choice(ANSWERS),
                        "[]",
                        f"SM{i:016x}{j:014x}",
                        "read" if random_() < 0.7 else "delivered",
                        "{}",
                        t,
                        t,
                        None,
                        bid,
                        "sent",
                        1,
                        t,
                    )
                )
        created = end - td(seconds=length)
        conv_rows.append(
            (
                rid,
                cid,
                bid,
                phone,
                name,
                "closed" if random_() < 0.2 else "active",
                t,
                last_in,
                unread,
                random_() < 0.8,
                created,
                t,
            )
        )
        n_conv += 1
        n_msg += n
        await flush()
    await flush(final=True)
    await conn.close()
    return n_conv, n_msg


# -- load ------------------------------------------------------------------------------------------


async def _prepare(dsn: str, spec: Spec, counts_per_restaurant: list[int]) -> list[str]:
    """Restaurants and bots; drop what would slow the big COPYs; returns the statements that restore it."""
    import asyncpg

    from app.auth.crypto import SecretBox

    token = SecretBox(common.SECRET_KEY).encrypt("bench-auth-token-" + "0" * 16)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(
            "restaurant",
            columns=["id", "name", "currency", "timezone"],
            records=[
                (restaurant_id(r), f"Bench Restaurant {r}", "SAR", "Asia/Riyadh")
                for r in range(spec.restaurants)
            ],
        )
        await conn.copy_records_to_table(
            "bot",
            columns=[
                "restaurant_id",
                "id",
                "name",
                "restaurant_name",
                "whatsapp_number",
                "account_sid",
                "auth_token_encrypted",
                "status",
            ],
            records=[
                (
                    restaurant_id(r),
                    bot_id(r),
                    f"Bench Bot {r}",
                    f"Bench Restaurant {r}",
                    f"+1555{r:07d}",
                    "AC" + "0" * 32,
                    token,
                    "ACTIVE",
                )
                for r in range(spec.restaurants)
            ],
        )
        restore: list[str] = []
        # Secondary indexes of both big tables; the message table's keys and FK too.
        for table in ("message", "conversation"):
            for row in await conn.fetch(
                """SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
                   FROM pg_index i WHERE i.indrelid = $1::regclass
                     AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
                table,
            ):
                restore.append(row["def"])
                await conn.execute(f"DROP INDEX {row['name']}")
        cons = await conn.fetch(
            """SELECT conname, contype::text AS contype, pg_get_constraintdef(oid) AS def FROM pg_constraint
               WHERE conrelid = 'message'::regclass AND contype IN ('p', 'u', 'f')
               ORDER BY CASE contype WHEN 'f' THEN 0 ELSE 1 END"""
        )
        # Other tables' foreign keys to message (e.g. message_media) hang on its primary key: they go
        # first and come back last.
        referencing = await conn.fetch(
            """SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS def
               FROM pg_constraint WHERE confrelid = 'message'::regclass AND contype = 'f'
                 AND conrelid <> 'message'::regclass"""
        )
        for c in referencing:
            await conn.execute(f'ALTER TABLE {c["tbl"]} DROP CONSTRAINT "{c["conname"]}"')
        for c in cons:
            await conn.execute(f'ALTER TABLE message DROP CONSTRAINT "{c["conname"]}"')
        keys = [
            f'ALTER TABLE message ADD CONSTRAINT "{c["conname"]}" {c["def"]}'
            for c in sorted(cons, key=lambda c: {"p": 0, "u": 1, "f": 2}[c["contype"]])
        ]
        keys += [f'ALTER TABLE {c["tbl"]} ADD CONSTRAINT "{c["conname"]}" {c["def"]}' for c in referencing]
        return keys + restore
    finally:
        await conn.close()


async def _finish(dsn: str, spec: Spec, restore: list[str], started: float) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SET maintenance_work_mem = '1GB'; SET max_parallel_maintenance_workers = 2")
        for stmt in restore:
            t = time.perf_counter()
            await conn.execute(stmt)
            print(f"  {stmt[:90]}... {time.perf_counter() - t:.1f}s", flush=True)
        await conn.execute("VACUUM ANALYZE")
        info = {
            **spec.key(),
            "generated_in_s": round(time.perf_counter() - started, 1),
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        await conn.execute(f"COMMENT ON DATABASE \"{spec.database}\" IS '{json.dumps(info)}'")
    finally:
        await conn.close()


async def describe(pg: common.Postgres, database: str) -> dict[str, Any] | None:
    """The parameters recorded on a generated database (None: absent or unfinished)."""
    import asyncpg

    if not await pg.exists(database):
        return None
    conn = await asyncpg.connect(pg.dsn("postgres"))
    try:
        comment = await conn.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1", database
        )
    finally:
        await conn.close()
    try:
        return json.loads(comment) if comment else None
    except ValueError:
        return None


def ensure(pg: common.Postgres, spec: Spec, *, jobs: int = 2, force: bool = False) -> dict[str, Any]:
    """The dataset's database, generated unless an identical one exists. Returns its description."""
    found = asyncio.run(describe(pg, spec.database))
    if found and not force and all(found.get(k) == v for k, v in spec.key().items()):
        print(f"dataset {spec.database}: reused (generated {found.get('generated_at')})", flush=True)
        return found
    started = time.perf_counter()
    print(
        f"dataset {spec.database}: generating {spec.restaurants} restaurants, {spec.conversations:,} conversations,"
        f" {spec.messages:,} messages with {jobs} processes ...",
        flush=True,
    )
    url = asyncio.run(pg.recreate(spec.database))
    common.migrate(url)
    dsn = pg.dsn(spec.database)
    per_restaurant = conversation_counts(spec)
    bounds = [0]
    for n in per_restaurant:
        bounds.append(bounds[-1] + n)
    counts = message_counts(spec)
    restore = asyncio.run(_prepare(dsn, spec, per_restaurant))
    now_ts = time.time()
    t = time.perf_counter()
    if jobs <= 1:
        totals = [_generate_share(dsn, spec, 0, 1, bounds, counts, now_ts)]
    else:
        ctx = mp.get_context("spawn")
        with ctx.Pool(jobs) as pool:
            totals = pool.starmap(
                _generate_share, [(dsn, spec, k, jobs, bounds, counts, now_ts) for k in range(jobs)]
            )
    n_conv, n_msg = sum(x[0] for x in totals), sum(x[1] for x in totals)
    print(
        f"  copied {n_conv:,} conversations, {n_msg:,} messages in {time.perf_counter() - t:.1f}s", flush=True
    )
    asyncio.run(_finish(dsn, spec, restore, started))
    print(f"dataset {spec.database}: ready in {time.perf_counter() - started:.0f}s", flush=True)
    info = asyncio.run(describe(pg, spec.database))
    assert info is not None
    return info


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--restaurants", type=int, default=100, help="restaurants R (default 100)")
    parser.add_argument("--conversations", type=int, default=100_000, help="conversations C (default 100000)")
    parser.add_argument(
        "--messages",
        type=int,
        default=1_000_000,
        help="messages M (default 1000000; 10000000 works, ~10 min)",
    )
    parser.add_argument(
        "--skew",
        type=float,
        default=0.0,
        help="0: uniform; s > 0: restaurant i gets weight 1/(i+1)^s, heavy-tailed conversations",
    )
    parser.add_argument(
        "--days", type=int, default=30, help="history spread over this many days (default 30)"
    )
    parser.add_argument("--jobs", type=int, default=2, help="generating processes (default 2)")
    parser.add_argument("--force", action="store_true", help="regenerate even if an identical dataset exists")


def spec_from(args: argparse.Namespace) -> Spec:
    if args.messages < args.conversations:
        raise SystemExit("--messages must be at least --conversations (every conversation has a message)")
    if args.conversations < args.restaurants:
        raise SystemExit("--conversations must be at least --restaurants")
    return Spec(args.restaurants, args.conversations, args.messages, args.skew, args.days)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(parser)
    parser.add_argument("--keep-running", action="store_true", help="leave the embedded PostgreSQL running")
    args = parser.parse_args()
    common.install_cleanup()
    pg = common.Postgres().start()
    if args.keep_running:
        common._cleanups.remove(pg.stop)
    info = ensure(pg, spec_from(args), jobs=args.jobs, force=args.force)
    print(json.dumps(info, indent=2))
    print(f"connect: {pg.bin('psql')} '{pg.dsn(spec_from(args).database)}'")
    common.cleanup()


if __name__ == "__main__":
    main()

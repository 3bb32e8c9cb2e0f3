"""What every benchmark shares: the embedded PostgreSQL, `sufrah serve` processes, tenants and tokens,
signed webhooks, an HTTP load generator in a process of its own, percentiles, and the results files.

Everything runs on loopback and is stopped again on exit (try/finally in each benchmark, plus an
atexit hook and SIGTERM/SIGINT handlers here as the safety net). Scratch data lives in bench/.work/
(git-ignored); results go to bench/results/<name>.{json,md,png}.

Keep this module's top-level imports light: load-generator processes are started with `spawn` and
import it again.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import datetime as dt
import json
import math
import multiprocessing as mp
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
WORK = BENCH_DIR / ".work"
RESULTS = BENCH_DIR / "results"
PG_DIR = WORK / "pg"  # the embedded cluster: one server, one database per benchmark / dataset
PYTHON = sys.executable

# Development-mode secrets, fixed so a dataset generated once stays readable by later runs.
SECRET_KEY = "sufrah-bench-secret-key-" + "0123456789abcdef" * 2
# Signatures are checked against PUBLIC_BASE_URL, never the socket address: every server process
# of a run shares this one, so a webhook signed once may be posted to any of them.
PUBLIC_BASE_URL = "http://bench.sufrah.test"
WEBHOOK_PATH = "/whatsapp/webhook"

if str(ROOT) not in sys.path:  # `python bench/x.py` as well as `python -m bench.x`
    sys.path.insert(0, str(ROOT))


# -- cleanup ---------------------------------------------------------------------------------------

_children: list[Any] = []  # Popen or multiprocessing.Process objects we started
_cleanups: list[Callable[[], None]] = []
_cleaned = False


def register_child(proc: Any) -> Any:
    _children.append(proc)
    return proc


def on_exit(fn: Callable[[], None]) -> None:
    """Run `fn` at exit (after the children are stopped), once, in reverse registration order."""
    _cleanups.append(fn)


def cleanup() -> None:
    """Stop every process this run started (by its own pid), then run the exit hooks. Idempotent."""
    global _cleaned
    if _cleaned:
        return
    _cleaned = True
    for proc in reversed(_children):
        with contextlib.suppress(Exception):
            _stop_child(proc)
    for fn in reversed(_cleanups):
        with contextlib.suppress(Exception):
            fn()


def _stop_child(proc: Any, timeout: float = 10.0) -> None:
    if isinstance(proc, subprocess.Popen):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    else:  # multiprocessing.Process
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout)
            if proc.is_alive():
                proc.kill()
                proc.join()


def _on_signal(signum: int, _frame: object) -> None:
    cleanup()
    sys.exit(128 + signum)


def install_cleanup() -> None:
    """Call once from a benchmark's main(): children and the database are stopped however it ends."""
    atexit.register(cleanup)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _on_signal)


def raise_nofile(limit: int = 65536) -> int:
    """Raise RLIMIT_NOFILE (soft, and hard when we may) for 10k sockets; returns the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, limit)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
    except (ValueError, OSError):
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# -- the embedded PostgreSQL ---------------------------------------------------------------------


@dataclass
class Postgres:
    """The embedded server under bench/.work/pg (Unix socket only) and the databases on it."""

    data_dir: Path = PG_DIR
    socket_dir: str = ""
    port: int = 5432

    def start(self) -> Postgres:
        from app.db import embedded

        url = embedded.start(self.data_dir, database="postgres")
        self.socket_dir = url.split("?host=", 1)[1]
        with contextlib.suppress(Exception):
            self.port = int(
                re.search(
                    r"^port\s*=\s*(\d+)", (Path(self.socket_dir) / "postgresql.conf").read_text(), re.M
                ).group(1)
            )  # type: ignore[union-attr]
        on_exit(self.stop)
        return self

    def stop(self) -> None:
        from app.db import embedded

        embedded.stop(self.data_dir)

    def url(self, database: str) -> str:
        """SQLAlchemy/app form (DATABASE_URL)."""
        return f"postgresql+asyncpg://postgres@/{database}?host={self.socket_dir}"

    def dsn(self, database: str) -> str:
        """asyncpg / libpq form."""
        return f"postgresql://postgres@/{database}?host={self.socket_dir}"

    def node_url(self, database: str) -> str:
        """node-postgres (PostGraphile) form: the socket directory as `host`."""
        return f"postgres://postgres@localhost/{database}?host={urllib.parse.quote(self.socket_dir)}"

    def bin(self, name: str) -> str:
        """A client binary of the same PostgreSQL version as the server (pgserver ships them)."""
        import pgserver

        path = Path(pgserver.__file__).parent / "pginstall" / "bin" / name
        return str(path) if path.exists() else (shutil.which(name) or name)

    async def exists(self, database: str) -> bool:
        import asyncpg

        conn = await asyncpg.connect(self.dsn("postgres"))
        try:
            return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database))
        finally:
            await conn.close()

    async def recreate(self, database: str) -> str:
        """Drop (forcing other sessions off) and create `database`; returns its app URL."""
        import asyncpg

        conn = await asyncpg.connect(self.dsn("postgres"))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{database}"')
        finally:
            await conn.close()
        return self.url(database)

    async def version(self) -> str:
        import asyncpg

        conn = await asyncpg.connect(self.dsn("postgres"))
        try:
            return str(await conn.fetchval("SHOW server_version"))
        finally:
            await conn.close()

    async def settings(self) -> dict[str, str]:
        import asyncpg

        conn = await asyncpg.connect(self.dsn("postgres"))
        try:
            rows = await conn.fetch(
                "SELECT name, setting || coalesce(unit, '') AS v FROM pg_settings WHERE name = ANY($1)",
                [
                    "shared_buffers",
                    "fsync",
                    "synchronous_commit",
                    "max_connections",
                    "work_mem",
                    "wal_level",
                    "jit",
                    "max_wal_size",
                    "checkpoint_timeout",
                ],
            )
            return {r["name"]: r["v"] for r in rows}
        finally:
            await conn.close()


def migrate(url: str) -> None:
    """Bring a database to the app's head migration (Alembic runs its own loop: call outside ours)."""
    from app.db import migrate as m

    m.upgrade(url)


# -- sufrah serve processes ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _child_limits() -> None:  # preexec_fn of server processes
    raise_nofile()


class Server:
    """One `sufrah serve` process on a port of its own, logging to bench/.work/logs/.

    Bench defaults: LOG_LEVEL=WARNING (an INFO line per request would be measured too) and
    RUN_WORKERS=false (the bot's turns and the outbox would add their own load to pure ingest/query
    numbers); `workers=True` runs them, pointed at `twilio_url` (a fake Twilio) if given.
    """

    def __init__(
        self,
        database_url: str,
        *,
        workers: bool = False,
        twilio_url: str | None = None,
        env: dict[str, str] | None = None,
        port: int | None = None,
        label: str = "sufrah",
    ) -> None:
        self.port = port or free_port()
        self.label = label
        data_dir = WORK / "data" / f"{label}-{self.port}"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
            "SECRET_KEY": SECRET_KEY,
            "DATA_DIR": str(data_dir),  # the spool and bot directory of this process
            "LOG_LEVEL": "WARNING",
            "RUN_WORKERS": "true" if workers else "false",
            "TWILIO_API_BASE_URL": twilio_url or "http://127.0.0.1:9",  # never the real Twilio
            # The load generators open every socket with one admin token: lift the per-token cap
            # (100 sockets per process by default), which is there for real clients, not for them.
            "GRAPHQL_WS_MAX_SOCKETS_PER_TOKEN": "1000000",
            **(env or {}),
        }
        self.env.pop("ENV", None)  # development: production would insist on more secrets
        (WORK / "logs").mkdir(parents=True, exist_ok=True)
        self.log_path = WORK / "logs" / f"{label}-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> Server:
        with self.log_path.open("ab") as log:
            self.proc = register_child(
                subprocess.Popen(
                    [PYTHON, "-m", "app.cli", "serve"],
                    env=self.env,
                    cwd=ROOT,
                    stdout=log,
                    stderr=log,
                    preexec_fn=_child_limits,
                )
            )
        return self

    def wait_ready(self, timeout: float = 60.0) -> Server:
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.label} exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.label} did not become ready:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None:
            _stop_child(self.proc, timeout=15)

    def rss(self) -> int:
        import psutil

        return int(psutil.Process(self.pid).memory_info().rss)

    def cpu_seconds(self) -> float:
        import psutil

        t = psutil.Process(self.pid).cpu_times()
        return float(t.user + t.system)


def start_servers(database_url: str, n: int, **kw: Any) -> list[Server]:
    """n server processes, started together (migrations serialize on their advisory lock)."""
    servers = [Server(database_url, label=f"sufrah{i}", **kw).start() for i in range(n)]
    for s in servers:
        s.wait_ready()
    return servers


def start_fake_twilio(accounts: Sequence[tuple[str, str]]) -> tuple[subprocess.Popen[bytes], str]:
    """The tests' fake Twilio Messages API as a process (for runs with RUN_WORKERS=true)."""
    args = [PYTHON, "-m", "tests.fakes.twilio_api", "--port", "0"]
    for sid, token in accounts:
        args += ["--account", f"{sid}:{token}"]
    proc = register_child(subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL))
    assert proc.stdout is not None
    return proc, proc.stdout.readline().decode().strip()


# -- tenants, tokens, signed webhooks ------------------------------------------------------------


@dataclass(frozen=True)
class BotInfo:
    restaurant_id: str
    bot_id: str
    number: str  # E.164
    account_sid: str
    auth_token: str


async def create_tenants(url: str, n: int, *, prefix: str = "bench") -> list[BotInfo]:
    """n restaurants with one ACTIVE bot each, through the app's own services."""
    from app.auth.crypto import SecretBox
    from app.db.engine import Database
    from app.services import bots, restaurants
    from app.services.bots import BotChanges

    box = SecretBox(SECRET_KEY)
    db = Database.connect(url, pool_size=1, max_overflow=0)
    out: list[BotInfo] = []
    base = 1_000_000 + secrets.randbelow(800_000) * 10  # 7 digits, unique across reruns on one database
    try:
        for i in range(n):
            token = secrets.token_hex(16)
            sid = "AC" + secrets.token_hex(16)
            number = f"+1555{base + i:07d}"
            async with db.session() as s:
                r = await restaurants.create(
                    s, name=f"Bench {prefix} {i}", restaurant_id=f"{prefix}_r{i:04d}"
                )
                bot = await bots.register(
                    s,
                    restaurant_id=r.id,
                    box=box,
                    changes=BotChanges(
                        name=f"bot {i}",
                        restaurant_name=r.name,
                        whatsapp_number=number,
                        account_sid=sid,
                        auth_token=token,
                        status="ACTIVE",
                    ),
                )
                await s.commit()
            out.append(BotInfo(r.id, bot.id, bot.whatsapp_number, sid, token))
    finally:
        await db.dispose()
    return out


async def create_token(url: str, *, admin: bool = True, restaurant_ids: Sequence[str] = ()) -> str:
    from app.db.engine import Database
    from app.services import tokens

    db = Database.connect(url, pool_size=1, max_overflow=0)
    try:
        async with db.session() as s:
            _, plaintext = await tokens.create(
                s, name="bench", is_admin=admin, restaurant_ids=list(restaurant_ids)
            )
            await s.commit()
    finally:
        await db.dispose()
    return plaintext


def customer_phone(i: int) -> str:
    return f"+9665{i:08d}"


def inbound_params(bot: BotInfo, *, customer: str, body: str, sid: str | None = None) -> dict[str, str]:
    """What Twilio posts for a customer's WhatsApp text message."""
    sid = sid or "SM" + secrets.token_hex(16)
    return {
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ProfileName": "Bench Customer",
        "MessageType": "text",
        "SmsSid": sid,
        "WaId": customer.lstrip("+"),
        "SmsStatus": "received",
        "Body": body,
        "To": f"whatsapp:{bot.number}",
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": sid,
        "AccountSid": bot.account_sid,
        "From": f"whatsapp:{customer}",
        "ApiVersion": "2010-04-01",
    }


@dataclass(frozen=True)
class SignedRequest:
    """A webhook ready to post: form body and headers computed before any timing starts."""

    sid: str
    body: bytes
    headers: dict[str, str]


def sign(params: dict[str, str], auth_token: str, path: str = WEBHOOK_PATH) -> str:
    """X-Twilio-Signature exactly as Twilio computes it (the twilio library's own signer)."""
    from twilio.request_validator import RequestValidator

    return str(RequestValidator(auth_token).compute_signature(PUBLIC_BASE_URL + path, params))


def signed_webhook(bot: BotInfo, *, customer: str, body: str, sid: str | None = None) -> SignedRequest:
    params = inbound_params(bot, customer=customer, body=body, sid=sid)
    return SignedRequest(
        sid=params["MessageSid"],
        body=urllib.parse.urlencode(params).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sign(params, bot.auth_token),
        },
    )


# -- statistics ----------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); NaN for no values."""
    n = len(sorted_values)
    if n == 0:
        return math.nan
    if n == 1:
        return float(sorted_values[0])
    k = (n - 1) * p / 100.0
    lo = math.floor(k)
    hi = min(lo + 1, n - 1)
    return float(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo))


def latency_summary(seconds: Iterable[float]) -> dict[str, float]:
    """Latencies in seconds -> milliseconds: p50, p90, p99, p99.9, max, mean, n."""
    values = sorted(seconds)
    ms = 1000.0
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 50) * ms, 3),
        "p90_ms": round(percentile(values, 90) * ms, 3),
        "p99_ms": round(percentile(values, 99) * ms, 3),
        "p999_ms": round(percentile(values, 99.9) * ms, 3),
        "max_ms": round(values[-1] * ms, 3) if values else math.nan,
        "mean_ms": round(sum(values) / len(values) * ms, 3) if values else math.nan,
    }


# -- running a function in a process of its own --------------------------------------------------


def _child_main(conn: Any, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        conn.send((True, fn(*args)))
    except BaseException:  # noqa: BLE001 - report everything to the parent
        conn.send((False, traceback.format_exc()))
    finally:
        conn.close()


def call_in_process(fn: Callable[..., Any], *args: Any, timeout: float | None = None) -> Any:
    """Run fn(*args) in a fresh (spawned) process and return its result: a load generator on a
    core of its own rather than in the driver, which sits idle meanwhile."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = register_child(ctx.Process(target=_child_main, args=(child, fn, args), daemon=True))
    proc.start()
    child.close()
    try:
        if not parent.poll(timeout):
            raise TimeoutError(f"{getattr(fn, '__name__', fn)} did not finish in {timeout}s")
        ok, value = parent.recv()
    except EOFError:
        raise RuntimeError(f"{getattr(fn, '__name__', fn)} died (exit code {proc.exitcode})") from None
    finally:
        _stop_child(proc, timeout=5)
        with contextlib.suppress(ValueError):
            _children.remove(proc)
    if not ok:
        raise RuntimeError(f"load process failed:\n{value}")
    return value


def use_uvloop() -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


# -- HTTP load: closed loop, fixed concurrency, in its own process --------------------------------


@dataclass
class HttpOp:
    """One request (method, url, headers, body) or a dashboard page built of several (`kind`)."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    kind: str = "http"  # "http" | "rest_q2" (list, then each conversation's messages, concurrently)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class LoadResult:
    ok: int
    errors: int
    elapsed: float
    latencies: list[float]
    statuses: dict[str, int]
    sample: str  # one response body (truncated), to show what was measured
    first_error: str | None = None
    client_cpu: float = 0.0
    failed: list[int] = field(default_factory=list)  # indexes of failed ops (max_ops mode)

    @property
    def rps(self) -> float:
        return self.ok / self.elapsed if self.elapsed > 0 else 0.0


def http_load(
    ops: list[HttpOp],
    concurrency: int,
    duration: float,
    warmup: float,
    check_graphql: bool = False,
    max_ops: int | None = None,
) -> LoadResult:
    """Closed loop: `concurrency` workers each send an op, wait for its answer, send the next (ops
    taken round-robin). Measures `duration` seconds after `warmup` seconds; with `max_ops` (and
    duration 0) each op runs once instead. Runs where it is called: use through call_in_process."""
    use_uvloop()
    return asyncio.run(_http_load(ops, concurrency, duration, warmup, check_graphql, max_ops))


async def _http_load(
    ops: list[HttpOp],
    concurrency: int,
    duration: float,
    warmup: float,
    check_graphql: bool,
    max_ops: int | None,
) -> LoadResult:
    import aiohttp

    latencies: list[float] = []
    statuses: dict[str, int] = {}
    counters = {"ok": 0, "errors": 0, "next": 0}
    sample: list[str] = []
    first_error: list[str] = []
    failed: list[int] = []
    perf = time.perf_counter
    connector = aiohttp.TCPConnector(limit=0, force_close=False, enable_cleanup_closed=True)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, skip_auto_headers=("User-Agent",)
    ) as http:

        async def one(op: HttpOp) -> tuple[bool, str, bytes]:
            async with http.request(op.method, op.url, headers=op.headers, data=op.body) as resp:
                data = await resp.read()
                good = resp.status == 200 and not (check_graphql and b'"errors"' in data)
                return good, str(resp.status), data

        async def rest_q2(op: HttpOp) -> tuple[bool, str, bytes]:
            good, status, data = await one(op)
            if not good:
                return good, status, data
            ids = [c["id"] for c in json.loads(data)]
            template = op.extra["messages_url"]
            results = await asyncio.gather(
                *(one(HttpOp("GET", template.format(id=i), op.headers)) for i in ids)
            )
            bad = [r for r in results if not r[0]]
            if bad:
                return False, bad[0][1], bad[0][2]
            return True, "200", data

        async def run_op(op: HttpOp) -> tuple[bool, str, bytes]:
            return await (rest_q2(op) if op.kind == "rest_q2" else one(op))

        start = perf()
        measure_from = start + warmup
        stop_at = measure_from + duration
        total = max_ops if max_ops is not None else None

        async def worker() -> None:
            while True:
                i = counters["next"]
                if total is not None and i >= total:
                    return
                now = perf()
                if total is None and now >= stop_at:
                    return
                counters["next"] = i + 1
                op = ops[i % len(ops)]
                t0 = perf()
                try:
                    good, status, data = await run_op(op)
                except Exception as exc:  # noqa: BLE001
                    good, status, data = False, type(exc).__name__, str(exc).encode()
                t1 = perf()
                if total is None and t0 < measure_from:
                    continue  # warm-up
                statuses[status] = statuses.get(status, 0) + 1
                if good:
                    counters["ok"] += 1
                    latencies.append(t1 - t0)
                    if not sample:
                        sample.append(data[:600].decode(errors="replace"))
                else:
                    counters["errors"] += 1
                    failed.append(i)
                    if not first_error:
                        first_error.append(f"{status}: {data[:300].decode(errors='replace')}")

        cpu0 = time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        end = perf()
        cpu = time.process_time() - cpu0
    elapsed = (end - measure_from) if total is None else (end - start)
    return LoadResult(
        ok=counters["ok"],
        errors=counters["errors"],
        elapsed=max(elapsed, 1e-9),
        latencies=latencies,
        statuses=statuses,
        sample=sample[0] if sample else "",
        first_error=first_error[0] if first_error else None,
        client_cpu=cpu,
        failed=failed,
    )


# -- results --------------------------------------------------------------------------------------


def git_revision() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "app", "migrations"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def run_metadata(name: str, args: Any, **extra: Any) -> dict[str, Any]:
    return {
        "benchmark": name,
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git": git_revision(),
        "machine": machine(),
        "args": vars(args) if hasattr(args, "__dict__") else args,
        **extra,
    }


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> list[list[str]]:
    return [[fmt(row.get(key)) for key, _ in columns] for row in rows]


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    head = "| " + " | ".join(title for _, title in columns) + " |"
    sep = "| " + " | ".join("---" for _ in columns) + " |"
    body = ["| " + " | ".join(cells) + " |" for cells in table(rows, columns)]
    return "\n".join([head, sep, *body])


def print_table(title: str, rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> None:
    cells = [[t for _, t in columns], *table(rows, columns)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    numeric = [
        all(isinstance(row.get(key), int | float) or row.get(key) is None for row in rows)
        for key, _ in columns
    ]
    print(f"\n{title}")
    for n, r in enumerate(cells):
        print(
            "  "
            + "  ".join(
                c.rjust(w) if n and numeric[i] else c.ljust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=False))
            ).rstrip()
        )
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))
    sys.stdout.flush()


def _jsonable(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def write_results(
    name: str,
    *,
    meta: dict[str, Any],
    sections: Sequence[tuple[str, list[dict[str, Any]], Sequence[tuple[str, str]]]],
    notes: Sequence[str] = (),
    data: dict[str, Any] | None = None,
    plot: Callable[[Any], None] | None = None,
) -> list[Path]:
    """bench/results/<name>.json (everything), .md (tables + notes) and .png (plot(fig)), each written
    to a .tmp file first and renamed, so a run that dies leaves the previous results whole."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    paths = []
    payload = {"meta": meta, "sections": {title: rows for title, rows, _ in sections}, **(data or {})}
    json_path = RESULTS / f"{name}.json"
    _atomic_write(json_path, json.dumps(_jsonable(payload), indent=2, sort_keys=False) + "\n")
    paths.append(json_path)

    m = meta.get("machine", {})
    lines = [
        f"# {name}",
        "",
        f"Run {meta.get('started_at')} at `{meta.get('git')}` on {m.get('cpus')} CPUs ({m.get('cpu_model')}),"
        f" load average at start {m.get('load_average_at_start')}. Command: `{meta.get('command', '')}`.",
        "",
    ]
    for title, rows, columns in sections:
        lines += [f"## {title}", "", markdown_table(rows, columns), ""]
    if notes:
        lines += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    if plot is not None:
        lines += [f"![{name}]({name}.png)", ""]
    md_path = RESULTS / f"{name}.md"
    _atomic_write(md_path, "\n".join(lines))
    paths.append(md_path)

    if plot is not None:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            fig = plt.figure(figsize=(12, 5.5), dpi=100)
            plot(fig)
            fig.suptitle(
                f"{name} — {meta.get('started_at')} @ {meta.get('git')} ({m.get('cpus')} CPUs)", fontsize=10
            )
            fig.tight_layout()
            png = RESULTS / f"{name}.png"
            tmp = png.with_suffix(".png.tmp")
            fig.savefig(tmp, format="png")
            plt.close(fig)
            tmp.replace(png)
            paths.append(png)
        except ImportError:
            print("matplotlib is not installed: no chart (pip install matplotlib)", file=sys.stderr)
    return paths


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def bar_labels(ax: Any, bars: Any, fmt_str: str = "{:,.0f}") -> None:
    for bar in bars:
        h = bar.get_height()
        if h and not math.isnan(h):
            ax.annotate(
                fmt_str.format(h),
                (bar.get_x() + bar.get_width() / 2, h),
                ha="center",
                va="bottom",
                fontsize=7,
                xytext=(0, 2),
                textcoords="offset points",
            )


def command_line(name: str) -> str:
    return " ".join([".venv/bin/python", "-m", f"bench.{name}", *sys.argv[1:]])


def checkpoint(dsn: str) -> None:
    """CHECKPOINT (and wait), so one phase's dirty pages aren't flushed during the next phase."""

    async def run() -> None:
        import asyncpg

        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("CHECKPOINT")
        finally:
            await conn.close()

    asyncio.run(run())


# -- where the CPU went ---------------------------------------------------------------------------


def postgres_cpu_seconds(pg: Postgres) -> float:
    """User+system CPU of the postmaster and its live children (backends, walwriter, checkpointer)."""
    import psutil

    try:
        pid = int((pg.data_dir / "pgdata" / "postmaster.pid").read_text().split()[0])
        root = psutil.Process(pid)
    except (OSError, ValueError, psutil.Error):
        return math.nan
    # The postmaster's children_* times hold the backends it has reaped (a load process's pool
    # closes before we read again); live children are added one by one.
    t = root.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for proc in root.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            c = proc.cpu_times()
            total += c.user + c.system
    return total


class CpuMeter:
    """CPU seconds used by the servers and by PostgreSQL between start() and stop(), as % of one core."""

    def __init__(self, pg: Postgres, servers: Sequence[Any] = ()) -> None:
        self.pg, self.servers = pg, list(servers)

    def start(self) -> CpuMeter:
        self.t0 = time.perf_counter()
        self.pg0 = postgres_cpu_seconds(self.pg)
        self.s0 = sum(s.cpu_seconds() for s in self.servers)
        return self

    def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self.t0
        pg = postgres_cpu_seconds(self.pg) - self.pg0
        srv = sum(s.cpu_seconds() for s in self.servers) - self.s0
        return {
            "server_cpu_pct": round(100 * srv / wall, 1) if self.servers else math.nan,
            "postgres_cpu_pct": round(100 * pg / wall, 1),
        }


PROFILE_CHOICES = ["svg", "raw", "svg-native", "raw-native"]


class Profiler:
    """py-spy attached to a server process for the measured phase: `svg` (a flame graph) or `raw`
    (collapsed stacks, summarized by `python -m bench.profile FILE`); `-native` variants add C frames
    (and pause the process to sample, which slows it). Needs `pip install py-spy` and ptrace."""

    def __init__(self, pid: int, name: str, fmt: str = "svg", rate: int = 250) -> None:
        exe = shutil.which("py-spy") or str(Path(PYTHON).parent / "py-spy")
        out_dir = WORK / "profiles"
        out_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.path = out_dir / f"{name}-{stamp}.{'svg' if fmt.startswith('svg') else 'txt'}"
        fmt_arg = "flamegraph" if fmt in ("svg", "svg-native") else "raw"
        extra = ["--native"] if fmt.endswith("-native") else ["--nonblocking"]
        self.proc = register_child(
            subprocess.Popen(
                [
                    exe,
                    "record",
                    "--pid",
                    str(pid),
                    "--rate",
                    str(rate),
                    "--format",
                    fmt_arg,
                    "-o",
                    str(self.path),
                    *extra,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        time.sleep(0.5)

    def stop(self) -> Path:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.path


def summarize_collapsed(path: Path, top: int = 25) -> list[tuple[str, float, float]]:
    """(function, self %, inclusive %) from py-spy's raw collapsed stacks, busiest first."""
    own: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [
            f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].split("/")[-1] + ")" if " (" in f else f
            for f in stack.split(";")
        ]
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for f in set(frames):
            incl[f] = incl.get(f, 0) + n
    if not total:
        return []
    rows = [(f, 100 * own.get(f, 0) / total, 100 * incl[f] / total) for f in incl]
    rows.sort(key=lambda r: -r[1])
    return rows[:top]

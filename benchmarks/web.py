"""The subscription site under concurrent load: home page and one-click unsubscribe.

    .venv/bin/python benchmarks/web.py [--pg ADMIN_URL] [--duration S] [--connections N]
                                       [--workers N[,N...]] [--json]

Setup: a throwaway PostgreSQL database (created here, migrated, dropped at the end, also
on Ctrl-C, SIGTERM or an error) holding the 9,915 papers of the shared arXiv dump (loaded
as ``digest ingest jsonl`` does) and ``--subscribers`` active readers, each with its own
random link id; one signed one-click unsubscribe URL per reader is computed with the same
secret key and base URL as the server's. Then, for each ``--workers`` value (default: 1,
then 2), the site is started as ``digest web --workers W --no-access-log`` (uvicorn;
``DIGEST_*`` variables of the calling environment are not passed on) and loaded, each
scenario after a warm-up:

- home page, cached, without ``Accept-Encoding`` (the full HTML);
- home page, cached, with ``Accept-Encoding: gzip`` (the pre-compressed copy);
- one-click unsubscribe: ``POST /u/TOKEN`` with ``List-Unsubscribe=One-Click`` (RFC 8058),
  every request for a different reader, so each one is a real UPDATE. Afterwards the
  database must show as many newly unsubscribed readers as POSTs reached the server:
  exactly the POSTs answered (Python generator, which lets the last ones finish), or
  between those answered and those sent (wrk drops the requests in flight at the end).

The load generator is ``wrk`` when installed (one thread by default, keep-alive
connections, a Lua script cycling through the readers' URLs), else a Python asyncio client
with raw keep-alive HTTP/1.1 connections (``--loadgen python`` forces it); the output says
which. Both are closed loops: ``--connections`` requests are always outstanding, so the
mean latency is about connections / throughput. Errors are socket errors, timeouts and
non-2xx answers.

The machine's cores are shared by the server, PostgreSQL, the load generator and whatever
else runs; the CPU each used during a scenario is printed in cores (CPU seconds / wall
seconds; PostgreSQL: the backends connected to the database at the end of the run, so
connections opened and closed meanwhile are missing: their number is printed).
Targets: home page >= 1,000 requests/s; one-click unsubscribe >= 300 requests/s with
p99 < 100 ms; no errors. Exit status 1 when a request failed, the database disagrees or a
server did not start.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from digest.db import Database  # noqa: E402
from digest.db.models import SubscriberRow, new_link_id  # noqa: E402
from digest.ingest.lines import ingest_lines  # noqa: E402
from digest.ingest.parse_jsonl import read_lines  # noqa: E402
from digest.links import LinkSigner  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "arxiv-2025-04-05.jsonl.gz"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
ONE_CLICK = b"List-Unsubscribe=One-Click"
FORM_TYPE = "application/x-www-form-urlencoded"
TARGET_HOME_RPS = 1000
TARGET_UNSUB_RPS = 300
TARGET_UNSUB_P99_MS = 100.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- figures ------------------------------------------------------------------------------
@dataclass
class Load:
    """One load run as the generator saw it."""

    generator: str
    seconds: float
    requests: int  # answered (any status)
    ok: int  # 2xx
    errors: dict[str, int]  # kind -> count: connect, read, write, timeout, status (non-2xx)
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    sent: int | None = None  # requests written (wrk: incl. those cut off at the end)
    cpu_seconds: float = 0.0  # the load generator's own CPU time

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


@dataclass
class Scenario:
    name: str
    load: Load
    cpu: dict[str, float]  # who used the cores during the run, in cores
    target: str
    met: bool
    pg_connections_opened: int = 0  # new PostgreSQL connections during the run
    bytes_per_response: int | None = None
    database: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["load"]["rps"] = round(self.load.rps, 1)
        out["load"]["error_count"] = self.load.error_count
        return out


def percentile(ordered: list[float], p: float) -> float:
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


# -- CPU accounting (Linux /proc) --------------------------------------------------------------
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a process, or None when it is gone or unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def tree_cpu(root: int) -> float:
    """CPU seconds used so far by ``root`` and its descendants (the uvicorn workers)."""
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (got := _stat(int(entry))) is not None:
            stats[int(entry)] = got
    total, todo, seen = 0.0, [root], set()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in stats:
            continue
        seen.add(pid)
        total += stats[pid][1]
        todo.extend(children.get(pid, []))
    return total


def postgres_cpu(admin_url: str, dbname: str) -> dict[int, float] | None:
    """CPU seconds used so far by each PostgreSQL backend connected to ``dbname`` (a local
    server whose /proc is readable), else None."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        pids = [
            r[0]
            for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (dbname,)
            ).fetchall()
        ]
    found = {}
    for pid in pids:
        got = _stat(pid)
        if got is not None:  # None: the connection ended meanwhile, or /proc is not ours
            found[pid] = got[1]
    return found if found or not pids else None


def postgres_sessions(admin_url: str, dbname: str) -> int:
    """Connections ever opened to ``dbname`` (``pg_stat_database.sessions``, PostgreSQL 14+;
    counted when a connection ends at the latest)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = %s", (dbname,)
        ).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def busy_cpu() -> float:
    """CPU seconds all processes of the machine have used so far (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values) - idle) / CLOCK_TICKS


# -- the database ----------------------------------------------------------------------------
class ThrowawayDatabase:
    def __init__(self, admin_url: str):
        self.admin_url = admin_url
        self.name = f"digest_bench_web_{uuid.uuid4().hex[:8]}"
        self.url = admin_url.rsplit("/", 1)[0] + "/" + self.name
        self.created = False

    def create(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        self.created = True

    def drop(self) -> None:
        if self.created:
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self.created = False

    def sql(self, statement: str) -> list[tuple[Any, ...]]:
        """One statement in autocommit (VACUUM cannot run in a transaction)."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(statement)
            return cur.fetchall() if cur.description else []


def load_papers(db: Database, path: Path) -> int:
    lines = [line for line in read_lines(path) if line.strip()]
    with db.session() as session:
        counts = ingest_lines(session, lines, "bench", datetime.now(UTC))
    return counts.new


def add_subscribers(db: Database, count: int) -> list[str]:
    """``count`` active readers in bulk (one multi-row INSERT per 5,000); their link ids."""
    now = datetime.now(UTC)
    link_ids = []
    seen = set()
    while len(link_ids) < count:
        link_id = new_link_id()
        if link_id not in seen:
            seen.add(link_id)
            link_ids.append(link_id)
    rows = [
        {
            "email": f"reader{i}@example.org",
            "email_key": f"reader{i}@example.org",
            "name": None,
            "status": "active",
            "timezone": "UTC",
            "frequency": "daily",
            "delivery_hour": 7,
            "weekday": 0,
            "created_at": now,
            "updated_at": now,
            "confirmed_at": now,
            "link_id": link_id,
            "confirm_count": 0,
        }
        for i, link_id in enumerate(link_ids)
    ]
    with db.engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(insert(SubscriberRow), rows[start : start + 5000])
    return link_ids


def unsubscribed_count(db: Database) -> int:
    with db.engine.connect() as conn:
        query = select(func.count()).where(SubscriberRow.status == "unsubscribed")
        return int(conn.scalar(query) or 0)


# -- the server --------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def digest_command() -> list[str]:
    script = Path(sys.executable).parent / "digest"
    return [str(script)] if script.exists() else [sys.executable, "-m", "digest"]


class ServerDidNotStart(Exception):
    def __init__(self, summary: str, log_tail: str):
        super().__init__(f"{summary}\n{log_tail}")
        self.summary = summary


class Server:
    """``digest web`` in a process group of its own, stopped (and waited for) on exit."""

    def __init__(self, workers: int, env: dict[str, str], port: int, log_path: Path):
        self.workers = workers
        self.port = port
        self.log_path = log_path
        self.command = [
            *digest_command(),
            "web",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
        ]
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(
                self.command,
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.port}/healthz"
        while True:
            if self.proc.poll() is not None:
                raise ServerDidNotStart(
                    f"digest web exited with status {self.proc.returncode}", self.tail()
                )
            started = self.log_path.read_text(errors="replace").count(
                "Application startup complete"
            )
            if started >= self.workers:
                try:
                    with urllib.request.urlopen(url, timeout=2) as resp:
                        if resp.status == 200:
                            return
                except (urllib.error.URLError, OSError):
                    pass
            if time.monotonic() > deadline:
                died = self.restarts()
                summary = f"digest web did not answer {url} within {timeout:.0f} s"
                if died:
                    summary += (
                        f"; uvicorn's supervisor replaced {died} worker process(es) that did "
                        "not answer its health check in time (timeout_worker_healthcheck, "
                        "5 s by default) while starting"
                    )
                self.stop()
                raise ServerDidNotStart(summary, self.tail())
            time.sleep(0.1)

    def restarts(self) -> int:
        """Workers uvicorn's supervisor found dead (or unresponsive) and replaced."""
        try:
            return self.log_path.read_text(errors="replace").count("] died")
        except OSError:
            return 0

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server and every process of its group (workers, multiprocessing's
        resource tracker); SIGKILL what is left after 15 s."""
        if self.proc is None:
            return
        group = self.proc.pid
        try:
            if self.proc.poll() is None:
                os.killpg(group, signal.SIGINT)  # uvicorn's graceful shutdown
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=15)
            os.killpg(group, signal.SIGKILL)  # anything of the group still running
        except ProcessLookupError:
            pass
        self.proc.wait()


def fetch(url: str, *, method: str = "GET", data: bytes | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


# -- load generators ----------------------------------------------------------------------------
@dataclass
class Request:
    method: str = "GET"
    path: str = "/"
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    paths: list[str] | None = None  # cycle through these instead of ``path``


def lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid Lua string for ASCII text


WRK_DONE = """
function done(summary, latency, requests)
  local sent = 0
  for _, t in ipairs(threads) do sent = sent + (t:get("sent") or 0) end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,"sent":%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, sent))
end
"""


def wrk_script(req: Request, threads: int, paths_file: Path | None) -> str:
    lines = [
        "threads = {}",
        "local count = 0",
        "function setup(thread)",
        "  count = count + 1",
        '  thread:set("tid", count)',
        "  table.insert(threads, thread)",
        "end",
        f"wrk.method = {lua_string(req.method)}",
    ]
    if req.body:
        lines.append(f"wrk.body = {lua_string(req.body.decode('ascii'))}")
    for name, value in req.headers.items():
        lines.append(f"wrk.headers[{lua_string(name)}] = {lua_string(value)}")
    if paths_file is None:
        lines.append(f"wrk.path = {lua_string(req.path)}")
    else:
        # thread k of T sends paths k, k+T, k+2T...: no two requests for the same reader
        lines += [
            "sent = 0",
            "local paths, i",
            "function init(args)",
            "  paths = {}",
            f"  for line in io.lines({lua_string(str(paths_file))}) do",
            "    paths[#paths + 1] = line",
            "  end",
            "  i = tid - 1",
            "end",
            "function request()",
            "  sent = sent + 1",
            "  local path = paths[(i % #paths) + 1]",
            f"  i = i + {threads}",
            "  return wrk.format(nil, path)",
            "end",
        ]
    return "\n".join(lines) + "\n" + WRK_DONE


def run_wrk(base: str, req: Request, *, connections: int, threads: int, seconds: int,
            timeout: float, workdir: Path) -> Load:  # fmt: skip
    threads = max(1, min(threads, connections))
    paths_file = None
    if req.paths is not None:
        paths_file = workdir / "paths.txt"
        paths_file.write_text("\n".join(req.paths) + "\n")
    script = workdir / "load.lua"
    script.write_text(wrk_script(req, threads, paths_file))
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        f"--timeout={max(1, round(timeout))}s",
        "--latency",
        "-s",
        str(script),
        base + req.path,
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    found = re.search(r"^WRKJSON (.*)$", done.stdout, re.M)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    got = json.loads(found.group(1))
    errors = {k: got[k] for k in ("connect", "read", "write", "timeout", "status")}
    return Load(
        generator="wrk",
        seconds=got["duration_us"] / 1e6,
        requests=got["requests"],
        ok=got["requests"] - got["status"],  # wrk counts 3xx as fine: the site sends none here
        errors=errors,
        p50_ms=got["p50"] / 1000,
        p90_ms=got["p90"] / 1000,
        p99_ms=got["p99"] / 1000,
        max_ms=got["max"] / 1000,
        sent=got["sent"] if req.paths is not None else None,
        cpu_seconds=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
    )


class PythonLoad:
    """Closed-loop load from asyncio: ``connections`` raw keep-alive HTTP/1.1 connections,
    each sending its next request when the previous answer is read in full. When the time
    is up no new request starts, and the ones in flight are waited for."""

    def __init__(self, host: str, port: int, req: Request, timeout: float):
        self.host, self.port, self.req, self.timeout = host, port, req, timeout
        self.latencies: list[float] = []
        self.errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0, "status": 0}
        self.ok = 0
        self.sent = 0
        self._next = 0
        head = f"{req.method} {{path}} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        for name, value in req.headers.items():
            head += f"{name}: {value}\r\n"
        if req.body or req.method == "POST":
            head += f"Content-Length: {len(req.body)}\r\n"
        self._template = head + "\r\n"
        self._static = self._template.format(path=req.path).encode("ascii") + req.body

    def _request(self) -> bytes:
        paths = self.req.paths
        if paths is None:
            return self._static
        path = paths[self._next % len(paths)]
        self._next += 1
        return self._template.format(path=path).encode("ascii") + self.req.body

    @staticmethod
    async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length, chunked, close = 0, False, False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
        if chunked:
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await reader.readexactly(size + 2)
                if size == 0:
                    break
        elif length:
            await reader.readexactly(length)
        return status, close

    async def _connection(self, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        writer: asyncio.StreamWriter | None = None
        reader: asyncio.StreamReader | None = None
        while loop.time() < deadline:
            if writer is None:
                try:
                    reader, writer = await asyncio.open_connection(self.host, self.port)
                except OSError:
                    self.errors["connect"] += 1
                    await asyncio.sleep(0.05)
                    continue
            assert reader is not None
            data = self._request()
            started = time.perf_counter()
            stage = "write"
            try:
                async with asyncio.timeout(self.timeout):
                    writer.write(data)
                    self.sent += 1
                    await writer.drain()
                    stage = "read"
                    status, close = await self._read_response(reader)
            except TimeoutError:
                self.errors["timeout"] += 1
                writer.close()
                writer = None
                continue
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
                self.errors[stage] += 1
                writer.close()
                writer = None
                continue
            self.latencies.append(time.perf_counter() - started)
            if 200 <= status < 300:
                self.ok += 1
            else:
                self.errors["status"] += 1
            if close:
                writer.close()
                writer = None
        if writer is not None:
            writer.close()

    async def _run(self, connections: int, seconds: float) -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + seconds
        await asyncio.gather(*(self._connection(deadline) for _ in range(connections)))
        return loop.time() - started

    def run(self, connections: int, seconds: float) -> Load:
        cpu = time.process_time()
        try:
            import uvloop

            elapsed = uvloop.run(self._run(connections, seconds))
        except ImportError:
            elapsed = asyncio.run(self._run(connections, seconds))
        ordered = sorted(self.latencies)
        return Load(
            generator="python",
            seconds=elapsed,
            requests=len(ordered),
            ok=self.ok,
            errors=dict(self.errors),
            p50_ms=percentile(ordered, 50) * 1000,
            p90_ms=percentile(ordered, 90) * 1000,
            p99_ms=percentile(ordered, 99) * 1000,
            max_ms=(ordered[-1] if ordered else math.nan) * 1000,
            sent=self.sent if self.req.paths is not None else None,
            cpu_seconds=time.process_time() - cpu,
        )


# -- the benchmark -------------------------------------------------------------------------------
@dataclass
class Bench:
    args: argparse.Namespace
    db: ThrowawayDatabase
    database: Database
    link_ids: list[str]
    secret: str
    workdir: Path
    generator: str

    def load(self, port: int, req: Request, seconds: int) -> Load:
        a = self.args
        if self.generator == "wrk":
            return run_wrk(
                f"http://127.0.0.1:{port}",
                req,
                connections=a.connections,
                threads=a.threads,
                seconds=seconds,
                timeout=a.timeout,
                workdir=self.workdir,
            )
        return PythonLoad("127.0.0.1", port, req, a.timeout).run(a.connections, seconds)

    def measured(self, server: Server, req: Request) -> tuple[Load, dict[str, float], int]:
        """A run of ``--duration`` seconds, with the CPU each party used meanwhile and the
        number of PostgreSQL connections opened."""
        assert server.proc is not None
        sessions = postgres_sessions(self.db.admin_url, self.db.name)
        server_before = tree_cpu(server.proc.pid)
        pg_before = postgres_cpu(self.db.admin_url, self.db.name)
        all_before = busy_cpu()
        load = self.load(server.port, req, self.args.duration)
        all_used = busy_cpu() - all_before
        server_used = tree_cpu(server.proc.pid) - server_before
        pg_after = postgres_cpu(self.db.admin_url, self.db.name)
        used = {"server": server_used, "load_generator": load.cpu_seconds}
        if pg_before is not None and pg_after is not None:
            # a backend that disconnected meanwhile is left out (its CPU is lost)
            used["postgres"] = sum(t - pg_before.get(pid, 0.0) for pid, t in pg_after.items())
        used["other_processes"] = max(0.0, all_used - sum(used.values()))
        time.sleep(0.5)  # let the connections that were cut off end and be counted
        opened = postgres_sessions(self.db.admin_url, self.db.name) - sessions
        return load, {k: v / load.seconds for k, v in used.items()}, opened

    def run_workers(self, workers: int) -> dict[str, Any]:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        signer = LinkSigner(self.secret, base)
        paths = [signer.unsubscribe_url(link_id).removeprefix(base) for link_id in self.link_ids]
        reserve = max(1, len(paths) // 10)  # warm-up and the checks use these readers
        warm_paths, check_path, main_paths = paths[-reserve:-1], paths[-1], paths[:-reserve]
        env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
        env.update(
            DIGEST_DATABASE_URL=self.database.url,
            DIGEST_SECRET_KEY=self.secret,
            DIGEST_BASE_URL=base,
            DIGEST_VAR_DIR=str(self.workdir / "var"),
        )
        # earlier runs unsubscribed readers: make every reader active again
        self.db.sql("UPDATE subscribers SET status = 'active', unsubscribed_at = NULL")
        self.db.sql("VACUUM ANALYZE subscribers")
        server = Server(workers, env, port, self.workdir / f"server-{workers}.log")
        log(f"starting digest web --workers {workers} on {base}")
        scenarios: list[Scenario] = []
        try:
            try:
                server.start(self.args.startup_timeout)
            except ServerDidNotStart as exc:
                log(str(exc))
                return {
                    "workers": workers,
                    "scenarios": [],
                    "error": exc.summary,
                    "worker_restarts": server.restarts(),
                }
            # the pages answer as they should before any load
            plain = fetch(base + "/")
            gz = fetch(base + "/", headers={"Accept-Encoding": "gzip"})
            if plain[0] != 200 or gz[0] != 200 or gz[1].get("content-encoding") != "gzip":
                raise RuntimeError(f"home page: {plain[0]}, gzip: {gz[0]} {gz[1]}")
            status, _, _ = fetch(
                base + check_path,
                method="POST",
                data=ONE_CLICK,
                headers={"Content-Type": FORM_TYPE},
            )
            if status != 200:
                raise RuntimeError(f"one-click unsubscribe answered {status}")
            for name, headers, size in (
                ("home", {}, len(plain[2])),
                ("home_gzip", {"Accept-Encoding": "gzip"}, len(gz[2])),
            ):
                req = Request(headers=headers)
                log(f"  {name}: warm-up {self.args.warmup} s, then {self.args.duration} s")
                self.load(port, req, self.args.warmup)
                load, cpu, opened = self.measured(server, req)
                met = load.rps >= TARGET_HOME_RPS and load.error_count == 0
                scenarios.append(
                    Scenario(
                        name,
                        load,
                        cpu,
                        f">= {TARGET_HOME_RPS:,} requests/s, no errors",
                        met,
                        pg_connections_opened=opened,
                        bytes_per_response=size,
                    )
                )
            scenarios.append(self.unsubscribe(server, warm_paths, main_paths))
        except Exception:
            log(server.tail())
            raise
        finally:
            server.stop()
        return {
            "workers": workers,
            "scenarios": [s.to_json() for s in scenarios],
            "error": None,
            "worker_restarts": server.restarts(),
        }

    def unsubscribe(self, server: Server, warm_paths: list[str], main_paths: list[str]) -> Scenario:
        headers = {"Content-Type": FORM_TYPE}
        log(f"  unsubscribe: warm-up {self.args.warmup} s, then {self.args.duration} s")
        self.load(
            server.port, Request("POST", "/u/", headers, ONE_CLICK, warm_paths), self.args.warmup
        )
        time.sleep(0.5)  # requests wrk cut off at the end may still be finishing
        before = unsubscribed_count(self.database)
        req = Request("POST", "/u/", headers, ONE_CLICK, main_paths)
        load, cpu, opened = self.measured(server, req)
        changed = unsubscribed_count(self.database) - before
        sent = load.sent if load.sent is not None else load.requests
        wrapped = sent > len(main_paths)
        if wrapped:  # more requests than readers: the later ones repeat an unsubscribe
            expected_low = expected_high = len(main_paths)
        else:  # a POST answered 2xx changed its reader; one cut off at the end may have
            expected_low, expected_high = load.ok, sent
        db_ok = expected_low <= changed <= expected_high
        met = (
            load.rps >= TARGET_UNSUB_RPS
            and load.p99_ms < TARGET_UNSUB_P99_MS
            and load.error_count == 0
            and db_ok
        )
        return Scenario(
            "unsubscribe",
            load,
            cpu,
            f">= {TARGET_UNSUB_RPS} requests/s, p99 < {TARGET_UNSUB_P99_MS:.0f} ms, no errors",
            met,
            pg_connections_opened=opened,
            database={
                "newly_unsubscribed": changed,
                "answered_2xx": load.ok,
                "sent": sent,
                "readers_in_run": len(main_paths),
                "wrapped": wrapped,
                "consistent": db_ok,
            },
        )


def machine() -> dict[str, Any]:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpus": cpus, "load_average": [round(x, 2) for x in os.getloadavg()]}


def print_report(report: dict[str, Any]) -> None:
    m = report["machine"]
    print(
        f"machine: {m['cpus']} CPUs shared by the server, PostgreSQL and the load generator; "
        f"load average before {', '.join(map(str, m['load_average']))}"
    )
    s = report["setup"]
    print(
        f"setup: PostgreSQL, {s['papers']:,} papers, {s['subscribers']:,} readers; "
        f"load generator: {report['load_generator']} ({s['connections']} connections"
        f"{', ' + str(s['threads']) + ' thread(s)' if report['load_generator'] == 'wrk' else ''}, "
        f"{s['duration']} s per scenario after {s['warmup']} s of warm-up)"
    )
    labels = {
        "home": "home page",
        "home_gzip": "home page, gzip",
        "unsubscribe": "one-click unsubscribe",
    }
    for run in report["runs"]:
        restarts = run["worker_restarts"]
        print(
            f"\nuvicorn --workers {run['workers']}"
            + (f" ({restarts} worker(s) replaced by uvicorn's supervisor)" if restarts else "")
        )
        if run["error"]:
            print(f"  FAILED: {run['error']}")
        for sc in run["scenarios"]:
            load = sc["load"]
            errors = ", ".join(f"{k} {v}" for k, v in load["errors"].items() if v) or "none"
            cpu = ", ".join(f"{k.replace('_', ' ')} {v:.2f}" for k, v in sc["cpu"].items())
            size = (
                f", {sc['bytes_per_response'] / 1024:.1f} KB/response"
                if sc["bytes_per_response"]
                else ""
            )
            print(
                f"  {labels[sc['name']]:<22} {load['rps']:>8,.0f} requests/s  "
                f"p50 {load['p50_ms']:6.1f} ms  p90 {load['p90_ms']:6.1f} ms  "
                f"p99 {load['p99_ms']:6.1f} ms  max {load['max_ms']:7.1f} ms  "
                f"{load['requests']:,} requests{size}"
            )
            print(
                f"  {'':<22} errors: {errors}; CPU (cores): {cpu}; "
                f"PostgreSQL connections opened: {sc['pg_connections_opened']:,}"
            )
            if sc["database"]:
                d = sc["database"]
                note = " (more requests than readers: later POSTs repeated)" if d["wrapped"] else ""
                print(
                    f"  {'':<22} database: {d['newly_unsubscribed']:,} readers newly "
                    f"unsubscribed for {d['answered_2xx']:,} answered POSTs ({d['sent']:,} sent)"
                    f"{note} -> {'consistent' if d['consistent'] else 'INCONSISTENT'}"
                )
            print(f"  {'':<22} target {sc['target']}: {'met' if sc['met'] else 'NOT met'}")
    after = ", ".join(map(str, report["load_average_after"]))
    print(f"\nload average after: {after}")
    print(f"all targets met: {'yes' if report['targets_met'] else 'no'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default=PG_ADMIN, help="PostgreSQL admin URL")
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per scenario")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections")
    parser.add_argument(
        "--workers",
        default="1,2",
        help="uvicorn worker processes; several as 1,2 (one server after the other)",
    )
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--subscribers", type=int, default=60_000)
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per request")
    parser.add_argument(
        "--startup-timeout", type=float, default=90.0, help="seconds for the server to answer"
    )
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    workers = [int(w) for w in str(args.workers).split(",") if w.strip()]
    if args.duration < 1 or args.warmup < 1 or args.connections < 1 or not workers:
        parser.error("--duration, --warmup, --connections and --workers must be positive")
    if args.subscribers < 100:
        parser.error("--subscribers must be at least 100")
    wrk = shutil.which("wrk")
    if args.loadgen == "wrk" and wrk is None:
        parser.error("--loadgen wrk: wrk is not installed")
    generator = "wrk" if args.loadgen != "python" and wrk else "python"
    if generator == "python" and args.loadgen == "auto":
        log("wrk not found: using the Python load generator (asyncio)")

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in background
    report: dict[str, Any] = {"machine": machine(), "load_generator": generator}
    db = ThrowawayDatabase(args.pg)
    with tempfile.TemporaryDirectory(prefix="digest-bench-web-") as tmp:
        database: Database | None = None
        try:
            db.create()
            log(f"database {db.name}: migrating, loading papers and readers")
            database = Database(db.url)
            database.upgrade()
            papers = load_papers(database, args.data)
            link_ids = add_subscribers(database, args.subscribers)
            db.sql("VACUUM ANALYZE")
            report["setup"] = {
                "database": "postgresql",
                "papers": papers,
                "subscribers": len(link_ids),
                "connections": args.connections,
                "threads": args.threads,
                "duration": args.duration,
                "warmup": args.warmup,
            }
            bench = Bench(
                args, db, database, link_ids, secrets.token_urlsafe(32), Path(tmp), generator
            )
            report["runs"] = [bench.run_workers(w) for w in workers]
        except KeyboardInterrupt:
            log("interrupted: cleaning up")
            return 130
        finally:
            if database is not None:
                database.dispose()
            db.drop()
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    report["targets_met"] = all(
        not r["error"] and all(s["met"] for s in r["scenarios"]) for r in report["runs"]
    )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    broken = any(r["error"] for r in report["runs"]) or any(
        s["load"]["error_count"] or (s["database"] and not s["database"]["consistent"])
        for r in report["runs"]
        for s in r["scenarios"]
    )
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())

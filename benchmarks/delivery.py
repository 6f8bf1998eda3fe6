"""Delivery benchmark: one edition end to end, Celery + Redis + PostgreSQL into smtp-sink.

    .venv/bin/python benchmarks/delivery.py [--readers 100000] [--papers 2000] [--workers 2]
        [--mode celery|inprocess|both] [--inprocess-readers 5000] [--profile] [--keep]

One command sets everything up and tears it down: Postfix's ``smtp-sink`` on a free port
of 127.0.0.1 (it accepts and discards; its ``-c`` counters give the exact message count),
a PostgreSQL database ``digest_bench_delivery`` migrated with ``digest db upgrade``, 2,000
papers of ``../shared/data/arxiv-2025-06-12.jsonl.gz`` loaded with ``digest ingest jsonl``
(so first seen today: the candidate pool), N readers with varied interests (1-3 topics:
keyword topics the pool mentions and names of its big arXiv categories; for some,
categories, followed authors, an excluded or a required word; eight time zones, daily and
weekly) bulk-inserted into the project's tables (SQLAlchemy core, about 3 s for 10,000),
and a Celery worker with ``--concurrency`` = ``--workers`` pool processes on Redis db 14
(the queue is digest's fixed ``digest``; a lock key keeps two runs apart). Then:

1. the ceiling: ``smtp-source -s 4 -m 20000 -l 50000`` into the same sink (what the sink
   and this machine take from a C client: 4 parallel sessions, 50 kB messages);
2. the edition, as an operator runs it: ``digest run`` (plan, rank the whole edition,
   enqueue batches, follow the ledger) with the workers sending into the sink.

digests/s is the ledger's ``sent`` rows over the time from the start of ``digest run`` to
the last ``sent_at``. Verified: every ledger row by state (all must be ``sent``) and the
sink's message count equal to the reader count. Peak memory is each worker process's
VmHWM. The CPU split is by process (the planner = plan + rank + enqueue + polling; the
worker pool = render + send + ORM; PostgreSQL backends; smtp-sink), from /proc; with
``--profile`` the planner and the workers run under py-spy (sampling, ``pip install
py-spy`` into .venv: it is in the ``bench`` extra) and their CPU is split by function into
rank / render / send / database / celery+kombu / other.

``--profile --idle`` samples idle time too (a wall-time split: where the workers wait).
``--at REV`` measures a commit (``git archive`` into the temp folder, every process
importing digest from there) instead of the work tree, e.g. while digest/ is being edited.
``--keep`` keeps the database and the temp folder (logs, profiles) for inspection.

``--mode inprocess`` (or ``both``) runs the embedded path too: SQLite, no broker, the same
papers and ``--inprocess-readers`` readers, ``digest run`` sending in its own process into
the same sink. Targets (issue): >= 1,000 digests/s end to end and <= 300 MB per worker.
The machine may be shared: CPU seconds are steadier than wall time.

Needs smtp-sink and smtp-source (Postfix), PostgreSQL on 127.0.0.1:5432 (user postgres)
and Redis on 127.0.0.1:6379 for the Celery mode.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# digest itself is imported where it is used: with --at REV it comes from a snapshot.

DATA = ROOT.parent / "shared" / "data" / "arxiv-2025-06-12.jsonl.gz"
CATEGORIES = ROOT.parent / "shared" / "data" / "arxiv-categories.json"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DB_NAME = "digest_bench_delivery"
REDIS_URL = "redis://127.0.0.1:6379/14"
LOCK_KEY = "digest-bench-delivery:lock"
BIN = Path(sys.executable).parent
DIGEST = str(BIN / "digest")
CELERY = str(BIN / "celery")
PYSPY = BIN / "py-spy"
CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
IDLE: list[str] = []  # ["--idle"] with --profile --idle
SOURCE = ROOT  # where digest is imported from (a snapshot of a commit with --at)
INSTALL_POSTFIX = (
    'echo "postfix postfix/main_mailer_type select No configuration" | sudo '
    "debconf-set-selections; sudo DEBIAN_FRONTEND=noninteractive apt-get install -y postfix"
)

KEYWORD_TOPICS = [
    "large language models",
    "reinforcement learning",
    "diffusion models",
    "graph neural networks",
    "retrieval augmented generation",
    "vision language models",
    "LLM agents",
    "reasoning",
    "federated learning",
    "robot manipulation",
    "speech recognition",
    "medical image segmentation",
    "3D reconstruction",
    "quantum computing",
    "dark matter",
    "black holes",
    "time series forecasting",
    "adversarial robustness",
    "differential privacy",
    "optimization",
    "causal inference",
    "autonomous driving",
    "code generation",
    "image generation",
    "benchmark datasets",
    "transformers",
    "neural networks",
    "machine translation",
    "recommender systems",
    "anomaly detection",
    "video generation",
    "multimodal",
    "object detection",
    "point clouds",
    "knowledge distillation",
    "hallucination",
    "instruction tuning",
    "semantic segmentation",
    "chain of thought",
    "mixture of experts",
    "human motion",
    "text to image",
    "embodied agents",
    "question answering",
    "in-context learning",
    "fine-tuning",
]
EXCLUDE_WORDS = ["survey", "quantum", "medical", "benchmark", "robot", "galaxy", "theorem"]
REQUIRE_WORDS = ["model", "learning", "data", "method"]
FIRST = ["Ada", "Zoë", "Jürgen", "Grace", "Wei", "Fatima", "David", "Amélie", "Olu", "Priya"]
LAST = ["Lovelace", "Ångström", "Müller", "Hopper", "Chen", "Haddad", "Cohen", "Dubois", "Rao"]
ZONES = [
    "UTC",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
]

# Profile grouping: the first frame from the leaf up that matches decides (socket.py and
# selectors are left to their caller: smtplib -> send, redis/kombu -> celery).
GROUPS = [
    ("database", ("sqlalchemy/", "psycopg/", "psycopg_binary", "/digest/db/", "alembic/")),
    ("send", ("smtplib.py", "/digest/deliver/", "ssl.py")),
    ("celery+kombu", ("celery/", "kombu/", "billiard/", "redis/", "vine/", "amqp/")),
    ("render", ("/digest/render/", "jinja2/", "mjml", "/email/", "/digest/links.py", "quopri")),
    ("rank", ("/digest/rank/", "sklearn/", "scipy/", "numpy/", "snowballstemmer/")),
    ("pipeline", ("/digest/pipeline/", "/digest/schedule.py", "/digest/subscriber_spec.py")),
    ("startup (imports)", ("<frozen importlib", "importlib/")),
]


class BenchError(Exception):
    """One line for the user; the run stops (after cleaning up)."""


# -- tools and services -------------------------------------------------------------------
def find_tool(name: str) -> str:
    path = shutil.which(name) or next(
        (str(p) for d in ("/usr/sbin", "/usr/local/sbin") if (p := Path(d, name)).exists()), None
    )
    if path is None:
        raise BenchError(
            f"{name} not found (Postfix's test tools); install them with: {INSTALL_POSTFIX} "
            "(the postfix daemon itself is not needed)"
        )
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Sink:
    """smtp-sink on 127.0.0.1; its ``-c`` counters (``sess=N quit=N mesg=N``, CR-separated,
    written after each session and each ".") give the number of messages accepted."""

    def __init__(self, folder: Path):
        self.binary = find_tool("smtp-sink")
        self.port = free_port()
        self.out = folder / "smtp-sink.out"
        user = ["-u", "nobody"] if os.geteuid() == 0 else []  # required when root
        self.proc = subprocess.Popen(
            [self.binary, "-c", *user, f"127.0.0.1:{self.port}", "1000"],
            stdout=self.out.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f"smtp-sink exited: {self.out.read_text(errors='replace')[-300:]}")
            with suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 1):
                break
            if time.monotonic() > deadline:
                raise BenchError(f"smtp-sink does not answer on 127.0.0.1:{self.port}")
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def count(self) -> int:
        data = self.out.read_bytes()[-400:].decode("ascii", "replace")
        found = re.findall(r"mesg=(\d+)", data)
        return int(found[-1]) if found else 0

    def settled_count(self, expected: int | None = None, timeout: float = 10.0) -> int:
        """The count once it stops moving (or reaches ``expected``)."""
        deadline = time.monotonic() + timeout
        last, stable_since = self.count(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.2)
            now = self.count()
            if now != last:
                last, stable_since = now, time.monotonic()
            elif now == expected or time.monotonic() - stable_since > 1.0:
                break
        return last

    def stop(self) -> None:
        stop_group(self.proc, signal.SIGTERM)


def stop_group(proc: subprocess.Popen[bytes], sig: int, timeout: float = 30) -> None:
    if proc.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# -- /proc ----------------------------------------------------------------------------------
def proc_cpu(pid: int) -> float | None:
    """User + system CPU seconds of one process (not its children), or None if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK


def proc_peak_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def proc_io_read(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            if line.startswith("rchar:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    out = []
    with suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with suppress(OSError):
                out += [int(c) for c in (task / "children").read_text().split()]
    return out


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        for child in children(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


def cmdline(pid: int) -> str:
    with suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""


@dataclass
class Watched:
    """CPU and peak memory of processes, sampled every ``interval`` s (the last sample of a
    process that exits is what counts: up to one interval of its CPU may be missed)."""

    cpu: dict[int, float] = field(default_factory=dict)
    peak: dict[int, float] = field(default_factory=dict)
    role: dict[int, str] = field(default_factory=dict)

    def sample(self, pid: int, role: str) -> None:
        cpu = proc_cpu(pid)
        if cpu is None:
            return
        self.cpu[pid] = cpu
        self.role.setdefault(pid, role)
        self.peak[pid] = max(self.peak.get(pid, 0.0), proc_peak_mb(pid) or 0.0)

    def total(self, role: str) -> float:
        return sum(c for p, c in self.cpu.items() if self.role[p] == role)


class Monitor:
    """Samples the planner, the worker processes, the PostgreSQL backends of the bench
    database and smtp-sink while the edition runs."""

    def __init__(self, interval: float = 0.25):
        self.interval = interval
        self.watched = Watched()
        self.targets: dict[str, object] = {}
        self.pg_pids: set[int] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample_once(self) -> None:
        for role, target in list(self.targets.items()):
            if isinstance(target, int):
                self.watched.sample(target, role)
            elif callable(target):
                for pid in target():
                    self.watched.sample(pid, role)
        for pid in self.pg_pids:
            self.watched.sample(pid, "postgresql")

    def start(self, pg_url: str | None, db_name: str | None) -> None:
        def run() -> None:
            conn = None
            if pg_url:
                import psycopg

                conn = psycopg.connect(pg_url, autocommit=True)
            try:
                while not self._stop.is_set():
                    if conn is not None:
                        rows = conn.execute(
                            "SELECT pid FROM pg_stat_activity WHERE datname = %s "
                            "AND pid <> pg_backend_pid()",
                            (db_name,),
                        ).fetchall()
                        self.pg_pids.update(r[0] for r in rows)
                    self.sample_once()
                    self._stop.wait(self.interval)
                self.sample_once()
            finally:
                if conn is not None:
                    conn.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()


# -- data -----------------------------------------------------------------------------------
def load_papers(path: Path, count: int, folder: Path) -> tuple[Path, list[dict]]:
    """The ``count`` most recent papers of the dump, as a JSONL file for ``digest ingest``."""
    if not path.exists():
        raise BenchError(f"{path}: not found (pass --data)")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        papers = [json.loads(line) for line in fh if line.strip()]
    papers.sort(key=lambda p: (p.get("day") or "", p["id"]), reverse=True)
    chosen = papers[:count]
    out = folder / "papers.jsonl"
    with out.open("w", encoding="utf-8") as fh:
        for paper in chosen:
            fh.write(json.dumps(paper, ensure_ascii=False) + "\n")
    return out, chosen


def make_readers(
    n: int, papers: list[dict], categories_file: Path, seed: int = 11
) -> tuple[list[dict], list[dict]]:
    """Subscriber and interest rows (ids 1..n) shaped like real readers: 1-3 topics (the
    names of the pool's arXiv categories, weighted by how often they occur, or keyword
    topics), for some categories, followed authors, an excluded or a required word."""
    rng = random.Random(seed)
    names = {k: v["name"] for k, v in json.loads(categories_file.read_text())["categories"].items()}
    seen = Counter(c for p in papers for c in p.get("categories") or [] if c in names)
    codes, weights = zip(*seen.most_common(), strict=True)
    # Topics that this pool can answer, so that every reader gets a digest: keyword topics
    # said by at least 10 papers, names of the categories of at least 100 papers.
    texts = [f"{p.get('title', '')} {p.get('abstract', '')}".lower() for p in papers]
    keywords = [t for t in KEYWORD_TOPICS if sum(t.lower() in x for x in texts) >= 10]
    broad = [names[c] for c, k in seen.items() if k >= 100]
    authors = [a for p in papers for a in (p.get("authors") or [])[:3] if isinstance(a, str)]
    now = datetime.now(UTC)
    subscribers, interests = [], []
    for i in range(1, n + 1):
        weekly = rng.random() < 0.1
        subscribers.append(
            {
                "id": i,
                "email": f"reader{i:06d}@bench.example.org",
                "email_key": f"reader{i:06d}@bench.example.org",
                "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}" if rng.random() < 0.8 else None,
                "status": "active",
                "timezone": rng.choice(ZONES),
                "frequency": "weekly" if weekly else "daily",
                "delivery_hour": rng.randint(5, 9),
                "weekday": rng.randint(0, 6) if weekly else 0,
                "link_id": secrets.token_urlsafe(16),
                "created_at": now - timedelta(days=rng.randint(1, 400)),
                "updated_at": now,
                "confirmed_at": now - timedelta(days=1),
                "unsubscribed_at": None,
                "paused_until": None,
                "consent_at": None,
                "consent_source": "import",
                "consent_ip_hash": None,
                "consent_version": None,
                "confirm_day": None,
                "confirm_count": 0,
            }
        )
        wanted: set[tuple[str, str]] = {("topic", rng.choice(keywords))}
        for _ in range(rng.randint(0, 2)):
            wanted.add(("topic", rng.choice(broad if rng.random() < 0.5 else keywords)))
        if rng.random() < 0.4:
            for code in set(rng.choices(codes, weights, k=rng.randint(1, 2))):
                wanted.add(("category", code))
        if rng.random() < 0.2 and authors:
            for author in set(rng.sample(authors, rng.randint(1, 2))):
                wanted.add(("author", author[:1000]))
        said = " ".join(v.lower() for _, v in wanted)
        if rng.random() < 0.15:
            word = rng.choice(EXCLUDE_WORDS)
            if word not in said:
                wanted.add(("exclude", word))
        elif rng.random() < 0.05:
            wanted.add(("require", rng.choice(REQUIRE_WORDS)))
        interests += [{"subscriber_id": i, "kind": k, "value": v} for k, v in sorted(wanted)]
    return subscribers, interests


def insert_readers(url: str, subscribers: list[dict], interests: list[dict]) -> None:
    """Bulk insert (SQLAlchemy core, executemany) into the project's tables."""
    from sqlalchemy import insert, text

    from digest.db import Database
    from digest.db.models import InterestRow, SubscriberRow

    db = Database(url)
    try:
        with db.engine.begin() as conn:
            for rows, table in ((subscribers, SubscriberRow), (interests, InterestRow)):
                for start in range(0, len(rows), 20_000):
                    conn.execute(insert(table.__table__), rows[start : start + 20_000])
            if db.is_postgres:
                conn.execute(
                    text(
                        "SELECT setval(pg_get_serial_sequence('subscribers', 'id'), "
                        "(SELECT max(id) FROM subscribers))"
                    )
                )
    finally:
        db.dispose()


# -- profiles (py-spy raw output: "frame;frame;...;leaf count") -----------------------------
def norm_frame(frame: str) -> str:
    """``name (path:line)`` with a leading "/" on the path: py-spy prints paths under
    sys.path relative to it (``digest/rank/text.py``), others absolute."""
    match = re.match(r"(.*) \((.*):(\d+)\)$", frame)
    if not match:
        return frame
    name, path, _ = match.groups()
    return f"{name} ({path if path.startswith(('/', '<')) else '/' + path})"


def group_of(stack: list[str]) -> str:
    for frame in reversed(stack):
        for group, needles in GROUPS:
            if any(n in frame for n in needles):
                return group
    return "other"


@dataclass
class Profile:
    total: int = 0
    groups: Counter[str] = field(default_factory=Counter)
    leaves: Counter[str] = field(default_factory=Counter)  # the frame on CPU
    ours: Counter[str] = field(default_factory=Counter)  # the innermost digest/ frame
    inclusive: Counter[str] = field(default_factory=Counter)  # digest/ frames, anywhere


def read_profile(path: Path) -> Profile:
    """Samples per group, per leaf function, and per digest/ function (the innermost one
    of each sample: where the project's code spends, itself or through libraries)."""
    prof = Profile()
    if not path.exists():
        return prof
    for line in path.read_text(errors="replace").splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        stack = [norm_frame(f) for f in stack_text.split(";") if f and not f.startswith("process ")]
        prof.total += count
        prof.groups[group_of(stack)] += count
        prof.leaves[short_frame(stack[-1]) if stack else "(no Python frame)"] += count
        mine = [short_frame(f) for f in stack if "/digest/" in f]
        prof.ours[mine[-1] if mine else "(outside digest/)"] += count
        for name in set(mine):
            prof.inclusive[name] += count
    return prof


def short_frame(frame: str) -> str:
    match = re.match(r"(.*) \((.*):(\d+)\)$", frame)
    if not match:
        return frame
    name, path, _ = match.groups()
    for marker in ("site-packages/", "/digest/", "/lib/python3.11/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            path = ("digest/" + path) if marker == "/digest/" else path
            break
    path = path.lstrip("/")
    return f"{name} ({path})"


def print_profile(label: str, path: Path, cpu_seconds: float) -> None:
    prof = read_profile(path)
    total = prof.total
    if not total:
        print(f"  {label}: no samples (py-spy output {path} missing or empty)")
        return
    print(f"  {label}: {total:,} samples, {cpu_seconds:.1f} CPU s")
    for group, count in prof.groups.most_common():
        share = count / total
        print(f"    {group:<18} {share:6.1%}  ~{share * cpu_seconds:7.1f} CPU s")
    for title, counter in (
        ("on CPU (leaf frames)", prof.leaves),
        ("innermost digest/ function of each sample (self + libraries it calls)", prof.ours),
        ("digest/ functions, inclusive (callees counted)", prof.inclusive),
    ):
        print(f"    top: {title}")
        for name, count in counter.most_common(12):
            print(f"      {count / total:6.1%}  {name}")


# -- one edition -------------------------------------------------------------------------
@dataclass
class Edition:
    label: str
    readers: int
    started: datetime
    wall: float
    exit_code: int
    states: Counter[str]
    first_planned: datetime | None
    last_planned: datetime | None
    first_sent: datetime | None
    last_sent: datetime | None
    sink_messages: int
    sink_bytes: int | None
    output_tail: str
    planner_peak_mb: float
    cpu: dict[str, float]
    worker_peaks: list[tuple[str, float]] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return self.states["sent"]

    @property
    def rate(self) -> float:
        if not self.last_sent or not self.sent:
            return 0.0
        return self.sent / max((self.last_sent - self.started).total_seconds(), 1e-9)


def ledger(url: str) -> tuple[Counter[str], list[datetime | None]]:
    from sqlalchemy import func, select

    from digest.db import Database
    from digest.db.models import DeliveryRow

    db = Database(url)
    try:
        with db.session() as session:
            states = Counter(
                dict(
                    session.execute(
                        select(DeliveryRow.status, func.count()).group_by(DeliveryRow.status)
                    ).all()
                )
            )
            times = session.execute(
                select(
                    func.min(DeliveryRow.created_at),
                    func.max(DeliveryRow.created_at),
                    func.min(DeliveryRow.sent_at),
                    func.max(DeliveryRow.sent_at),
                )
            ).one()
    finally:
        db.dispose()
    return states, [_aware(t) for t in times]


def _aware(value: datetime | str | None) -> datetime | None:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def cli(env: dict[str, str], *args: str, log: Path | None = None) -> str:
    done = subprocess.run(
        [DIGEST, *args], env=env, capture_output=True, text=True, start_new_session=True
    )
    if log is not None:
        log.write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise BenchError(
            f"digest {' '.join(args)} failed ({done.returncode}): "
            f"{(done.stderr or done.stdout).strip().splitlines()[-1:]}"
        )
    return done.stdout


def base_env(folder: Path, database_url: str, smtp_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(
        DIGEST_DATABASE_URL=database_url,
        DIGEST_SMTP_URL=smtp_url,
        DIGEST_VAR_DIR=str(folder / "var"),
        DIGEST_SECRET_KEY="bench-delivery-secret-key-0123456789",
        # https links: the same emails as production (one-click unsubscribe over https),
        # so check_links_for_smtp lets `digest run` send over SMTP.
        DIGEST_BASE_URL="https://digest.example.org",
        DIGEST_FROM="Paper Digest <digest@example.org>",
        PYTHONUNBUFFERED="1",
    )
    if SOURCE != ROOT:  # --at REV: every process imports digest from the snapshot
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SOURCE), env.get("PYTHONPATH")]))
    return env


def run_edition(
    label: str,
    env: dict[str, str],
    database_url: str,
    readers: int,
    sink: Sink,
    folder: Path,
    *,
    profile: bool,
    worker_root: int | None,
    pg: tuple[str, str] | None,
) -> Edition:
    """`digest run` as an operator types it, watched from outside."""
    monitor = Monitor()
    if worker_root is not None:
        monitor.targets["workers"] = lambda: celery_processes(worker_root)
    monitor.targets["smtp-sink"] = sink.proc.pid
    sink_before = sink.settled_count()
    io_before = proc_io_read(sink.proc.pid)
    baseline = Monitor()
    baseline.targets = dict(monitor.targets)
    baseline.sample_once()  # CPU already used by long-lived processes before the edition
    command = [DIGEST, "run"]
    if profile:
        out = folder / f"profile-{label}-planner.txt"
        command = [str(PYSPY), "record", "--nonblocking", "-r", "100", "--format", "raw",
                   *IDLE, "-o", str(out), "--", *command]  # fmt: skip
    log = folder / f"digest-run-{label}.log"
    monitor.start(*(pg or (None, None)))
    started = datetime.now(UTC)
    clock = time.perf_counter()
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            command, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )
        planner = proc.pid
        if profile:  # py-spy -> digest run
            deadline = time.monotonic() + 5
            while not (kids := children(proc.pid)) and time.monotonic() < deadline:
                time.sleep(0.01)
            planner = kids[0] if kids else proc.pid
        monitor.targets["planner"] = planner
        try:
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        except BaseException:
            stop_group(proc, signal.SIGTERM)
            raise
    wall = time.perf_counter() - clock
    monitor.stop()
    states, (first_planned, last_planned, first_sent, last_sent) = ledger(database_url)
    total = sum(states.values())
    sink_after = sink.settled_count(expected=sink_before + total)
    io_after = proc_io_read(sink.proc.pid)
    cpu = {}
    for role in ("planner", "workers", "postgresql", "smtp-sink"):
        cpu[role] = monitor.watched.total(role) - baseline.watched.total(role)
    if not profile:
        cpu["planner"] = usage.ru_utime + usage.ru_stime  # exact (wait4)
    peaks = []
    if worker_root is not None:
        for pid in celery_processes(worker_root):
            kind = "pool process" if proc_is_pool_child(pid) else "main (consumer)"
            peaks.append((f"{kind} {pid}", proc_peak_mb(pid) or monitor.watched.peak.get(pid, 0)))
    messages = sink_after - sink_before
    return Edition(
        label=label,
        readers=readers,
        started=started,
        wall=wall,
        exit_code=proc.returncode,
        states=states,
        first_planned=first_planned,
        last_planned=last_planned,
        first_sent=first_sent,
        last_sent=last_sent,
        sink_messages=messages,
        sink_bytes=(io_after - io_before) if io_after and io_before else None,
        output_tail=log.read_text(errors="replace")[-1500:],
        planner_peak_mb=(
            usage.ru_maxrss / 1024 if not profile else monitor.watched.peak.get(planner, 0.0)
        ),
        cpu=cpu,
        worker_peaks=peaks,
    )


def is_celery(pid: int) -> bool:
    words = cmdline(pid).split(" ")
    return "celery" in " ".join(words) and not words[0].endswith("py-spy")


def celery_processes(root: int) -> list[int]:
    """The celery main process and its pool children (under py-spy when profiling)."""
    return [p for p in (root, *descendants(root)) if is_celery(p)]


def proc_is_pool_child(pid: int) -> bool:
    try:
        ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return False
    return is_celery(ppid)


# -- set-ups ------------------------------------------------------------------------------
@contextmanager
def postgres_database(admin_url: str, keep: bool) -> Iterator[str]:
    import psycopg

    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    except psycopg.OperationalError as exc:
        raise BenchError(f"PostgreSQL at {admin_url}: {str(exc).strip().splitlines()[0]}") from None
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + DB_NAME
    finally:
        if keep:
            print(f"kept database {DB_NAME} (--keep)")
        else:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


@contextmanager
def redis_db(url: str) -> Iterator[None]:
    """Redis db 14, ours while the lock is held: emptied before and after. The Celery queue
    is the project's fixed ``digest`` (digest/pipeline/celery_app.py); the db keeps it
    apart from the tests (db 13) and from a concurrent run of this benchmark (the lock)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise BenchError(f"Redis at {url}: {exc}") from None
    token = secrets.token_hex(8)
    if not client.set(LOCK_KEY, token, nx=True, ex=3 * 3600):
        raise BenchError(f"another delivery benchmark holds {LOCK_KEY} in {url}")

    def empty() -> None:
        for key in client.scan_iter(count=1000):
            if key != LOCK_KEY.encode():
                client.delete(key)

    try:
        empty()
        yield
    finally:
        empty()
        if client.get(LOCK_KEY) == token.encode():
            client.delete(LOCK_KEY)


def populate(env: dict[str, str], url: str, args: argparse.Namespace, readers: int,
             folder: Path, tag: str) -> None:  # fmt: skip
    clock = time.perf_counter()
    cli(env, "db", "upgrade", log=folder / f"upgrade-{tag}.log")
    papers_file, papers = load_papers(args.data, args.papers, folder)
    migrated = time.perf_counter()
    cli(env, "ingest", "jsonl", str(papers_file), log=folder / f"ingest-{tag}.log")
    ingested = time.perf_counter()
    subscribers, interests = make_readers(readers, papers, args.categories)
    insert_readers(url, subscribers, interests)
    done = time.perf_counter()
    print(
        f"[{tag}] set-up: migrate {migrated - clock:.1f} s, `digest ingest jsonl` of "
        f"{len(papers):,} papers {ingested - migrated:.1f} s, {readers:,} readers with "
        f"{len(interests):,} interests made and inserted {done - ingested:.1f} s"
    )


def start_workers(env: dict[str, str], n: int, folder: Path, profile: bool) -> subprocess.Popen:
    name = f"bench-delivery-{secrets.token_hex(3)}@%h"
    command = [
        CELERY, "-A", "digest.pipeline", "worker", "--loglevel=INFO", f"--concurrency={n}",
        "-Q", "digest", "-n", name, "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    if profile:
        out = folder / "profile-workers.txt"
        command = [str(PYSPY), "record", "--nonblocking", "--subprocesses", "-r", "100",
                   "--format", "raw", *IDLE, "-o", str(out), "--", *command]  # fmt: skip
    log = folder / "workers.log"
    proc = subprocess.Popen(
        command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while " ready." not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-600:]
            stop_group(proc, signal.SIGKILL)
            raise BenchError(f"the Celery worker did not start: {tail}")
        time.sleep(0.1)
    while len([p for p in celery_processes(proc.pid) if proc_is_pool_child(p)]) < n:
        time.sleep(0.1)
    return proc


def stop_workers(proc: subprocess.Popen, profile: bool) -> None:
    """Warm shutdown (SIGTERM to the celery main process); under py-spy, py-spy then writes
    its profile when its target exits."""
    if proc.poll() is None:
        mains = [p for p in celery_processes(proc.pid) if not proc_is_pool_child(p)]
        for pid in mains if profile else [proc.pid]:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=60)
    # Whatever is left of the process group (started with its own session): a worker left
    # behind would take the next run's tasks from the same queue.
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def ceiling(sink: Sink, messages: int) -> tuple[float, int, float, float]:
    source = find_tool("smtp-source")
    before = sink.settled_count()
    cpu_before = proc_cpu(sink.proc.pid) or 0.0
    clock = time.perf_counter()
    done = subprocess.run(
        [source, "-s", "4", "-m", str(messages), "-l", "50000", f"127.0.0.1:{sink.port}"],
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - clock
    if done.returncode != 0:
        raise BenchError(f"smtp-source failed: {(done.stderr or done.stdout).strip()[-300:]}")
    got = sink.settled_count(expected=before + messages) - before
    return messages / elapsed, got, elapsed, (proc_cpu(sink.proc.pid) or 0.0) - cpu_before


# -- report -------------------------------------------------------------------------------
def seconds(a: datetime | None, b: datetime | None) -> str:
    return f"{(b - a).total_seconds():8.1f} s" if a and b else "       -"


def report(edition: Edition, ceiling_rate: float | None, args: argparse.Namespace,
           folder: Path) -> bool:  # fmt: skip
    e = edition
    print(f"\n== {e.label}: {e.readers:,} readers ==")
    print("`digest run` output (tail):")
    for line in e.output_tail.strip().splitlines()[-8:]:
        print(f"  | {line}")
    print(f"{'digests/s (start of `digest run` -> last sent)':<52} {e.rate:10,.0f}")
    if e.first_sent and e.last_sent and e.sent > 1:
        window = max((e.last_sent - e.first_sent).total_seconds(), 1e-9)
        print(f"{'sending rate (first sent -> last sent)':<52} {e.sent / window:10,.0f}/s")
    if ceiling_rate:
        print(f"{'ceiling (smtp-source into the same sink)':<52} {ceiling_rate:10,.0f}/s")
        print(f"{'ratio digests/s : ceiling':<52} {e.rate / ceiling_rate:10.1%}")
    print(f"{'`digest run` wall time (exit code ' + str(e.exit_code) + ')':<52} {e.wall:8.1f} s")
    print("timeline (from the start of `digest run`, ledger timestamps):")
    print(f"  first row planned        {seconds(e.started, e.first_planned)}")
    print(f"  last row planned         {seconds(e.started, e.last_planned)}")
    print(f"  first sent               {seconds(e.started, e.first_sent)}")
    print(f"  last sent                {seconds(e.started, e.last_sent)}")
    if e.sink_bytes and e.sink_messages:
        print(
            f"  bytes into the sink per message (SMTP incl.): {e.sink_bytes / e.sink_messages:,.0f}"
        )
    print("memory (peak RSS, VmHWM):")
    print(f"  digest run (planner)     {e.planner_peak_mb:8.0f} MB")
    for name, peak in e.worker_peaks:
        print(f"  worker {name:<17} {peak:8.0f} MB")
    if e.label == "celery" and e.first_sent and e.last_sent and e.sent > 1:
        window = max((e.last_sent - e.first_sent).total_seconds(), 1e-9)
        pool = len([n for n, _ in e.worker_peaks if "pool" in n]) or 1
        print(
            f"workers' CPU / (pool processes x sending window): "
            f"{e.cpu['workers'] / (pool * window):.0%} (the rest of their time they wait: "
            f"database round trips and commits, SMTP replies, the broker); "
            f"{e.cpu['workers'] / e.sent * 1000:.1f} CPU ms per message"
        )
    total_cpu = sum(e.cpu.values())
    print(f"CPU during the edition, by process ({total_cpu:.1f} CPU s in all):")
    meaning = {
        "planner": "digest run: plan, rank the edition, store picks, enqueue, follow the ledger",
        "workers": "Celery pool + main: load rows, render, send, record (ORM client side)",
        "postgresql": "the backends serving the bench database (server side)",
        "smtp-sink": "the sink",
    }
    for role, value in e.cpu.items():
        if role == "workers" and args.mode != "celery" and e.label == "inprocess":
            continue
        share = value / total_cpu if total_cpu else 0
        print(f"  {role:<11} {value:8.1f} s {share:6.1%}  {meaning[role]}")
    if args.profile:
        print("CPU split by function (py-spy samples of the Python processes, grouped):")
        print_profile("digest run (planner)", folder / f"profile-{e.label}-planner.txt",
                      e.cpu["planner"])  # fmt: skip
        if e.label == "celery":
            print_profile("workers", folder / "profile-workers.txt", e.cpu["workers"])
    total = sum(e.states.values())
    all_sent = total == e.readers and e.states["sent"] == total
    sink_ok = e.sink_messages == e.readers
    print("verification:")
    print(f"  ledger rows by state: {dict(e.states)} (total {total:,})")
    print(f"  every row sent: {'yes' if all_sent else 'NO'}")
    print(
        f"  sink count {e.sink_messages:,} == readers {e.readers:,}: {'yes' if sink_ok else 'NO'}"
    )
    return all_sent and sink_ok


def commit_latency(url: str, n: int = 200) -> float:
    """Median ms of a one-row UPDATE + COMMIT on the bench database: each message costs
    the workers one such commit (the claim, which carries the previous message's record;
    two before c34ba51: claim, then sent)."""
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    times = []
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TEMP TABLE probe (id int primary key, n int)")
        conn.execute("INSERT INTO probe VALUES (1, 0)")
        conn.commit()
        conn.execute("CREATE TABLE IF NOT EXISTS bench_probe (id int primary key, n int)")
        conn.execute("INSERT INTO bench_probe VALUES (1, 0) ON CONFLICT DO NOTHING")
        conn.commit()
        for _ in range(n):
            started = time.perf_counter()
            conn.execute("UPDATE bench_probe SET n = n + 1 WHERE id = 1")
            conn.commit()
            times.append(time.perf_counter() - started)
        conn.execute("DROP TABLE bench_probe")
        conn.commit()
    times.sort()
    return times[len(times) // 2] * 1000


def run_celery(args: argparse.Namespace, sink: Sink, folder: Path, stack: ExitStack) -> Edition:
    url = stack.enter_context(postgres_database(args.pg, args.keep))
    stack.enter_context(redis_db(args.redis))
    env = base_env(folder, url, sink.url) | {"DIGEST_BROKER_URL": args.redis}
    if args.batch_size:
        env["DIGEST_BATCH_SIZE"] = str(args.batch_size)
    if args.smtp_connections:
        env["DIGEST_SMTP_CONNECTIONS"] = str(args.smtp_connections)
    populate(env, url, args, args.readers, folder, "celery")
    print(
        f"[celery] PostgreSQL: median one-row UPDATE + COMMIT {commit_latency(url):.2f} ms "
        "(a message costs each worker one flushed commit, two before c34ba51)"
    )
    workers = start_workers(env, args.workers, folder, args.profile)
    stack.callback(stop_workers, workers, args.profile)
    root = workers.pid
    print(f"[celery] {args.workers} worker process(es) ready; running `digest run` ...")
    edition = run_edition(
        "celery", env, url, args.readers, sink, folder,
        profile=args.profile, worker_root=root, pg=(args.pg, DB_NAME),
    )  # fmt: skip
    if args.profile:  # the workers' profile is written when they exit
        stop_workers(workers, True)
    return edition


def run_inprocess(args: argparse.Namespace, sink: Sink, folder: Path) -> Edition:
    path = folder / "inprocess.sqlite"
    url = f"sqlite:///{path}"
    env = base_env(folder, url, sink.url)
    populate(env, url, args, args.inprocess_readers, folder, "inprocess")
    print("[inprocess] running `digest run` (SQLite, no broker) ...")
    edition = run_edition(
        "inprocess", env, url, args.inprocess_readers, sink, folder,
        profile=args.profile, worker_root=None, pg=None,
    )  # fmt: skip
    edition.cpu.pop("postgresql", None)
    edition.cpu.pop("workers", None)
    return edition


def main() -> int:
    global DB_NAME
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=100_000)
    parser.add_argument("--papers", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2, help="Celery pool processes")
    parser.add_argument("--mode", choices=("celery", "inprocess", "both"), default="celery")
    parser.add_argument("--inprocess-readers", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, help="DIGEST_BATCH_SIZE (default: digest's)")
    parser.add_argument(
        "--smtp-connections",
        type=int,
        help="DIGEST_SMTP_CONNECTIONS of the workers (default: digest's)",
    )
    parser.add_argument("--ceiling-messages", type=int, default=20_000)
    parser.add_argument("--profile", action="store_true", help="py-spy on planner and workers")
    parser.add_argument(
        "--idle",
        action="store_true",
        help="with --profile: sample idle time too (py-spy --idle), a wall-time split",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database and files")
    parser.add_argument("--pg", default=PG_ADMIN, help="PostgreSQL admin URL")
    parser.add_argument(
        "--database",
        default=DB_NAME,
        help="the database to create (and drop), e.g. to keep apart from another user's runs",
    )
    parser.add_argument("--redis", default=REDIS_URL, help="Redis URL (a db of its own)")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--categories", type=Path, default=CATEGORIES)
    parser.add_argument(
        "--at",
        metavar="REV",
        help="measure a commit (git archive into the temp folder, imported from there) "
        "instead of the work tree, e.g. while digest/ is being edited",
    )
    args = parser.parse_args()
    DB_NAME = args.database

    def interrupted(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
    try:
        for tool in ("smtp-sink", "smtp-source"):
            find_tool(tool)
        if args.profile and not PYSPY.exists():
            raise BenchError(f"--profile needs py-spy: {BIN}/pip install py-spy (or '.[bench]')")
        return bench(args)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; everything started here was stopped", file=sys.stderr)
        return 130


def bench(args: argparse.Namespace) -> int:
    global SOURCE
    if args.idle:
        IDLE.append("--idle")
    folder = Path(tempfile.mkdtemp(prefix="digest-bench-delivery-"))
    rev = args.at or "HEAD"
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", rev],
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    if not commit:
        raise BenchError(f"--at {rev}: not a commit of {ROOT}")
    if args.at:
        SOURCE = folder / "src"
        SOURCE.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "digest",
                                  "templates"], capture_output=True, check=True).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(SOURCE)], input=archive, check=True)
        sys.path.insert(0, str(SOURCE))
        what = f"commit {commit} (snapshot in {SOURCE})"
    else:
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "digest"],
                               capture_output=True, text=True).stdout.strip()  # fmt: skip
        what = f"work tree at {commit}{' + uncommitted changes in digest/' if dirty else ''}"
    print(
        f"digest: {what}; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; files in {folder}"
    )
    ok = True
    editions: list[tuple[Edition, float | None]] = []
    try:
        with ExitStack() as stack:
            sink = Sink(folder)
            stack.callback(sink.stop)
            rate, got, elapsed, sink_cpu = ceiling(sink, args.ceiling_messages)
            print(
                f"ceiling: smtp-source -s 4 -m {args.ceiling_messages} -l 50000 -> {rate:,.0f} "
                f"messages/s ({elapsed:.1f} s; the sink counted {got:,}; sink CPU {sink_cpu:.1f} s)"
            )
            if got != args.ceiling_messages:
                ok = False
                print(f"  the sink counted {got:,}, not {args.ceiling_messages:,}")
            if args.mode in ("celery", "both"):
                with ExitStack() as inner:
                    editions.append((run_celery(args, sink, folder, inner), rate))
            if args.mode in ("inprocess", "both"):
                editions.append((run_inprocess(args, sink, folder), rate))
            for edition, ceiling_rate in editions:
                ok &= report(edition, ceiling_rate, args, folder)
    finally:
        if args.keep:
            print(f"kept {folder} (--keep)")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    for edition, _ in editions:
        if edition.label == "celery":
            peak = max((p for n, p in edition.worker_peaks if "pool" in n), default=0.0)
            met = edition.rate >= 1000 and peak <= 300 and ok
            print(
                f"targets ({edition.readers:,} readers, Celery): >= 1,000 digests/s: "
                f"{edition.rate:,.0f}; <= 300 MB per worker process: {peak:.0f} MB; all sent "
                f"and sink == readers: {'yes' if ok else 'NO'} -> {'met' if met else 'NOT met'}"
            )
        else:
            print(f"in-process SQLite path: {edition.rate:,.0f} digests/s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Ingest benchmark: parse + store the 9,915 papers of the shared arXiv dump, then again.

    .venv/bin/python benchmarks/ingest.py [--repeat N] [--pg ADMIN_URL] [--data PATH]

For SQLite (a file in a temporary folder) and PostgreSQL (a throwaway database created
and dropped here), it measures, from the gzip file to committed rows:

- first load: every paper new (read, hash, parse, clean, merge, write);
- re-run: the same file again, every paper unchanged;

both through ``ingest_lines`` (what ``digest ingest jsonl`` and file sources run: raw lines
whose digest the source already sent are skipped unparsed) and through the record path
that feeds use (parse everything, compare record digests). A baseline in the same process
(read + ``json.loads`` of every line, no cleaning, no database) is printed so figures can
be compared across machines as ratios. Peak memory is the process's peak RSS. The CPU
time of a first load is printed for this process and, when the server is local and its
/proc readable, for the PostgreSQL backends (the machine is shared: wall time varies with
its load, CPU time much less).
Targets on PostgreSQL: first load >= 10,000 papers/s, re-run >= 30,000 papers/s, < 300 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from digest.db import Database  # noqa: E402
from digest.db.papers import upsert_papers  # noqa: E402
from digest.ingest.lines import ingest_lines  # noqa: E402
from digest.ingest.parse_jsonl import parse_jsonl, read_lines  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "arxiv-2025-04-05.jsonl.gz"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def lines_path(db: Database, path: Path, now: datetime) -> tuple[int, int, int]:
    lines = list(read_lines(path))
    with db.session() as session:
        counts = ingest_lines(session, lines, "bench", now)
    return counts.new, counts.updated, counts.unchanged


def records_path(db: Database, path: Path, now: datetime) -> tuple[int, int, int]:
    result = parse_jsonl(read_lines(path), source="bench-records")
    with db.session() as session:
        counts = upsert_papers(session, result.records, now)
    return counts.new, counts.updated, counts.unchanged


def empty(db: Database) -> None:
    with db.engine.begin() as conn:
        if db.is_postgres:
            conn.execute(text("TRUNCATE paper_sightings, papers"))
        else:
            conn.execute(text("DELETE FROM paper_sightings"))
            conn.execute(text("DELETE FROM papers"))


def server_cpu(db: Database) -> float | None:
    """CPU seconds used so far by the PostgreSQL backends serving ``db`` (a local server
    whose /proc is readable), else None."""
    if not db.is_postgres:
        return None
    with db.engine.connect() as conn:
        pids = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).scalars()
        total = 0.0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                return None
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def measure(db: Database, run: Callable[[Database, Path, datetime], tuple[int, int, int]],
            path: Path, repeat: int) -> dict[str, object]:  # fmt: skip
    first, again, counts, cpu, server = [], [], {}, [], []
    for _ in range(repeat):
        empty(db)
        server_started = server_cpu(db)
        started, cpu_started = time.perf_counter(), time.process_time()
        counts["first"] = run(db, path, datetime.now(UTC))
        first.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
        server_done = server_cpu(db)
        if server_started is not None and server_done is not None:
            server.append(server_done - server_started)
        started = time.perf_counter()
        counts["again"] = run(db, path, datetime.now(UTC))
        again.append(time.perf_counter() - started)
    return {"first": first, "again": again, "counts": counts, "cpu": cpu, "server": server}


def baseline(path: Path, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        for line in read_lines(path):
            json.loads(line)
        times.append(time.perf_counter() - started)
    return times


def rate(n: int, seconds: list[float]) -> str:
    best, median = min(seconds), statistics.median(seconds)
    return f"{n / median:>8,.0f}/s median ({median:.3f} s), {n / best:>8,.0f}/s best"


def ratio(seconds: list[float], base: list[float]) -> float:
    return statistics.median(seconds) / statistics.median(base)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg", default=PG_ADMIN, help="PostgreSQL admin URL ('' to skip)")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    n = sum(1 for line in read_lines(args.data) if line.strip())
    base = baseline(args.data, args.repeat)
    print(f"{n} papers in {args.data.name}; repeat {args.repeat}")
    print(f"baseline read + json.loads only: {rate(n, base)}")
    targets = []
    with tempfile.TemporaryDirectory() as tmp:
        backends = [("sqlite", f"sqlite:///{tmp}/bench.db", None)]
        if args.pg:
            import psycopg

            name = f"digest_bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            backends.append(("postgresql", args.pg.rsplit("/", 1)[0] + "/" + name, name))
        try:
            for label, url, _ in backends:
                db = Database(url)
                db.upgrade()
                for path_name, run in (("lines", lines_path), ("records", records_path)):
                    got = measure(db, run, args.data, args.repeat)
                    first, again = got["first"], got["again"]  # type: ignore[assignment]
                    cpu = statistics.median(got["cpu"])  # type: ignore[arg-type]
                    server: list[float] = got["server"]  # type: ignore[assignment]
                    on_server = f", server: {statistics.median(server):.3f} s" if server else ""
                    print(
                        f"{label:<10} {path_name:<7} first load  {rate(n, first)}  "
                        f"{got['counts']['first']}  (CPU of this process: {cpu:.3f} s"
                        f"{on_server})"
                    )  # type: ignore[index]
                    print(
                        f"{label:<10} {path_name:<7} re-run      {rate(n, again)}  "
                        f"{got['counts']['again']}  ({ratio(again, base):.2f}x baseline)"
                    )  # type: ignore[index]
                    if label == "postgresql" and path_name == "lines":
                        targets = [n / statistics.median(first), n / statistics.median(again)]
                db.dispose()
        finally:
            for _, _, name in backends:
                if name:
                    with psycopg.connect(args.pg, autocommit=True) as conn:
                        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS of this process): {peak:.0f} MB")
    if targets:
        ok = targets[0] >= 10_000 and targets[1] >= 30_000 and peak < 300
        print(
            f"targets (PostgreSQL, lines path, median): first >= 10,000/s: {targets[0]:,.0f}; "
            f"re-run >= 30,000/s: {targets[1]:,.0f}; memory < 300 MB: {peak:.0f} -> "
            f"{'met' if ok else 'NOT met'}"
        )


if __name__ == "__main__":
    main()

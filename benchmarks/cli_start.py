"""CLI benchmark: whole `digest` commands, as a shell runs them, beside `python -c pass`.

    .venv/bin/python benchmarks/cli_start.py [--runs N] [--ingest PATH] [--lines N] [--pg URL]

Each command runs as a new process (the venv's `digest` console script) and is timed from
start to exit (wall clock); the figure is the median of ``--runs`` runs (the machine is
shared: the minimum is printed too). The baseline is the same interpreter running
`python -c pass`, so figures compare across machines as ratios.

- `digest --help`;
- `digest subscribers list` of 100 subscribers in a SQLite file (imported once with
  `digest subscribers import`, not timed);
- `python -c "import sqlalchemy.orm"`: the floor of every command that opens the database.

With ``--ingest PATH`` (a .jsonl or .jsonl.gz file of papers; the first ``--lines`` lines
are copied to a temporary file), also `digest ingest jsonl` into an empty SQLite file (the
command creates the schema first: Alembic's migrations, about 0.3 s of CPU), into an
empty SQLite database whose schema `digest db upgrade` made beforehand (not timed), and,
with ``--pg``, a throwaway PostgreSQL database (upgraded the same way): the first load
(every paper new) and an unchanged rerun, each timed as a whole command, in papers per
second (medians of ``--runs`` pairs, each into a new database). CPU time (user +
system of the command) is printed beside the wall time: it varies much less with the load
of a shared machine.
With ``--instructions``, each start-up command's instructions are also counted (valgrind's
callgrind), beside `python -c pass`: a figure the load of a shared machine does not move.
Targets: `--help` and `subscribers list` <= 0.3 s; ingest >= 10,000 papers/s first load,
>= 30,000 papers/s rerun.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "arxiv-2025-06-12.jsonl.gz"
SCRIPT = Path(sys.executable).parent / "digest"
DIGEST = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "digest"]


def run(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system) of one whole command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"error: {' '.join(argv[-3:])} exited {done.returncode}: {done.stderr[-500:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return seconds, cpu


def wall(argv: list[str], env: dict[str, str]) -> float:
    return run(argv, env)[0]


def timed(argv: list[str], env: dict[str, str], runs: int) -> tuple[float, float, float]:
    """Median wall, minimum wall and median CPU seconds of ``runs`` runs."""
    wall(argv, env)  # warm the page cache and the bytecode files
    times = [run(argv, env) for _ in range(runs)]
    walls = [w for w, _ in times]
    return statistics.median(walls), min(walls), statistics.median(c for _, c in times)


def instructions(argv: list[str], env: dict[str, str]) -> int:
    """Instructions the whole command executes, counted by valgrind's callgrind: the same
    count whatever else the machine is doing (wall time on a shared machine is not)."""
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
        env=env,
        capture_output=True,
        text=True,
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        sys.exit(f"error: callgrind of {' '.join(argv[-3:])} failed: {done.stderr[-500:]}")
    return int(found.group(1))


def subscribers_file(folder: Path, count: int) -> Path:
    path = folder / "subscribers.jsonl"
    with path.open("w") as out:
        for i in range(count):
            reader = {
                "email": f"reader{i:03d}@example.org",
                "name": f"Reader {i}",
                "topics": ["diffusion models", "retrieval augmented generation"],
                "categories": ["cs.LG"],
            }
            out.write(json.dumps(reader) + "\n")
    return path


def head_lines(source: Path, target: Path, count: int) -> int:
    opener = gzip.open if source.suffix == ".gz" else open
    written = 0
    with opener(source, "rt", encoding="utf-8") as lines, target.open("w") as out:
        for line in lines:
            if written == count:
                break
            out.write(line)
            written += 1
    return written


def ingest(env: dict[str, str], path: Path, lines: int, label: str, runs: int, fresh) -> None:
    """``runs`` pairs of (first load into an empty database, unchanged rerun): medians.

    ``fresh()`` gives the environment of a new empty database for each pair."""
    firsts, reruns = [], []
    for _ in range(runs):
        run_env = fresh()
        firsts.append(run([*DIGEST, "ingest", "jsonl", str(path)], run_env))
        reruns.append(run([*DIGEST, "ingest", "jsonl", str(path)], run_env))
    for name, times in (("first load", firsts), ("unchanged rerun", reruns)):
        median = statistics.median(w for w, _ in times)
        low = min(w for w, _ in times)
        cpu = statistics.median(c for _, c in times)
        print(
            f"digest ingest jsonl ({label}, {lines:,} lines) {name}: {median:.2f} s wall "
            f"= {lines / median:,.0f} papers/s (best {lines / low:,.0f}); {cpu:.2f} s CPU "
            f"= {lines / cpu:,.0f} papers/s  [medians of {runs} runs]"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--ingest", type=Path, nargs="?", const=DATA, default=None)
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--pg", default="", help="PostgreSQL admin URL for the ingest too")
    parser.add_argument("--only-ingest", action="store_true", help="skip --help and list")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count each start-up command's instructions (valgrind; load-independent)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="digest-cli-bench-") as tmp:
        folder = Path(tmp)
        env = {
            **os.environ,
            "DIGEST_DATABASE_URL": f"sqlite:///{folder / 'digest.db'}",
            "COLUMNS": "100",
        }
        env.pop("DIGEST_CONFIG", None)
        people = subscribers_file(folder, args.subscribers)
        wall([*DIGEST, "subscribers", "import", str(people), "--format", "jsonl"], env)

        base, base_min, base_cpu = timed([sys.executable, "-c", "pass"], env, args.runs)
        print(
            f"python -c pass: {base:.3f} s wall (min {base_min:.3f}), {base_cpu:.3f} s CPU"
            f"  [medians of {args.runs} runs]"
        )
        floor = [sys.executable, "-c", "import sqlalchemy.orm"]
        starts = (
            # what any command that opens the database pays before it does anything
            (floor, "python -c 'import sqlalchemy.orm'"),
            (["--help"], "digest --help"),
            (["subscribers", "list"], f"digest subscribers list ({args.subscribers})"),
        )
        for argv, label in () if args.only_ingest else starts:
            command = argv if argv is floor else [*DIGEST, *argv]
            median, low, cpu = timed(command, env, args.runs)
            print(
                f"{label}: {median:.3f} s wall (min {low:.3f}), {cpu:.3f} s CPU; "
                f"{median / base:.1f}x the baseline, {median - base:.3f} s above it"
            )
        if args.instructions and not args.only_ingest:
            if shutil.which("valgrind") is None:
                sys.exit("error: --instructions needs valgrind (apt-get install valgrind)")
            commands = [([sys.executable, "-c", "pass"], "python -c pass")]
            commands += [
                (argv if argv is floor else [*DIGEST, *argv], label) for argv, label in starts
            ]
            count = {label: instructions(command, env) for command, label in commands}
            base_count = count["python -c pass"]
            for label, n in count.items():
                print(f"{label}: {n / 1e6:,.0f} M instructions, {n / base_count:.1f}x the baseline")

        if args.ingest is not None:
            papers = folder / "papers.jsonl"
            lines = head_lines(args.ingest, papers, args.lines)
            counter = iter(range(10**6))

            def fresh_sqlite() -> dict[str, str]:
                url = f"sqlite:///{folder / f'ingest-{next(counter)}.db'}"
                return {**env, "DIGEST_DATABASE_URL": url}

            ingest(env, papers, lines, "SQLite", args.runs, fresh_sqlite)

            def upgraded_sqlite() -> dict[str, str]:
                sqlite_env = fresh_sqlite()
                wall([*DIGEST, "db", "upgrade"], sqlite_env)
                return sqlite_env

            ingest(env, papers, lines, "SQLite, schema made first", args.runs, upgraded_sqlite)
            if args.pg:
                pg_ingest(env, args.pg, papers, lines, args.runs)


def pg_ingest(env: dict[str, str], admin_url: str, papers: Path, lines: int, runs: int) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    names: list[str] = []

    def fresh_pg() -> dict[str, str]:
        name = f"digest_cli_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        names.append(name)
        pg_env = {**env, "DIGEST_DATABASE_URL": admin_url.rsplit("/", 1)[0] + f"/{name}"}
        wall([*DIGEST, "db", "upgrade"], pg_env)
        return pg_env

    try:
        ingest(env, papers, lines, "PostgreSQL", runs, fresh_pg)
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()

"""deploy/: every systemd unit passes `systemd-analyze verify`, is hardened, and starts a
command the CLI accepts; every crontab line has valid times, runs under `flock -n` and
calls a real `digest` command.

`systemd-analyze verify` needs each ExecStart binary to exist: the units are copied with
/srv/digest pointing at a temporary tree holding executable stand-ins of the binaries they
name, and verified together (timers find their services through SYSTEMD_UNIT_PATH). It
prints problems (an unknown key, a calendar it cannot parse) as warnings and still exits 0,
so any line it prints about our units fails the test too.
"""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import click
import pytest
import typer

from digest.cli import app
from digest.timetable import parse_schedule
from scheduler.__main__ import build_parser
from tests.conftest import missing_service

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SYSTEMD = DEPLOY / "systemd"
CRONTAB = DEPLOY / "cron" / "digest.cron"
PREFIX = "/srv/digest"
EXPECTED_UNITS = {
    "digest-web.service",
    "digest-worker@.service",
    "digest-scheduler.service",
    "digest-run.service",
    "digest-run.timer",
    "digest-ingest.service",
    "digest-ingest.timer",
    "digest-prune-vectors.service",
    "digest-prune-vectors.timer",
    "digest-bounces.service",
}
HARDENING = {
    "User": "digest",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "ReadWritePaths": f"{PREFIX}/var",
}


def units() -> list[Path]:
    return sorted(p for p in SYSTEMD.iterdir() if p.suffix in (".service", ".timer"))


def read_unit(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text())
    return parser


def exec_start(path: Path) -> list[str]:
    return shlex.split(read_unit(path)["Service"]["ExecStart"])


# -- checking a command line against the CLI, without running it ------------------------
def check_digest_command(args: list[str]) -> None:
    """Raise unless `digest ARGS` names a real command whose options and arguments parse.
    (`digest ingest` alone means `digest ingest run`, the group's documented default.)"""
    command = typer.main.get_command(app)
    rest, path = list(args), ["digest"]
    while hasattr(command, "commands"):  # a group: descend by name (loading lazy commands)
        ctx = click.Context(command)
        if rest and rest[0] in command.list_commands(ctx):
            name = rest.pop(0)
        elif path == ["digest", "ingest"]:
            name = "run"
        else:
            raise AssertionError(f"`{' '.join(path)}` has no command {rest[:1]}")
        command = command.get_command(ctx, name)
        path.append(name)
    command.make_context(" ".join(path), list(rest))  # raises on a bad option or value
    if path == ["digest", "scheduler"]:  # its options belong to the scheduler's parser
        build_parser().parse_args(rest)


def test_the_command_check_can_fail() -> None:
    check_digest_command(["run", "--due-only"])
    check_digest_command(["ingest"])
    for bad in (["runn"], ["run", "--due"], ["db", "prune-vectors", "--grace-days", "x"]):
        with pytest.raises(Exception):  # noqa: B017 - click's or typer's error
            check_digest_command(bad)


# -- systemd ----------------------------------------------------------------------------
def test_every_unit_is_there_and_hardened() -> None:
    assert {p.name for p in units()} == EXPECTED_UNITS
    for path in units():
        unit = read_unit(path)
        if path.suffix == ".timer":
            assert unit["Timer"].get("Persistent") == "true", path.name
            assert (SYSTEMD / path.with_suffix(".service").name).exists(), path.name
            continue
        service = unit["Service"]
        for key, value in HARDENING.items():
            assert service.get(key) == value, f"{path.name}: {key}={service.get(key)}"
        assert service.get("EnvironmentFile") == "/etc/digest/digest.env", path.name


def test_every_unit_starts_a_real_command() -> None:
    for path in units():
        if path.suffix != ".service":
            continue
        argv = exec_start(path)
        assert argv[0].startswith(f"{PREFIX}/.venv/bin/"), path.name
        program = Path(argv[0]).name
        if program == "digest":
            check_digest_command(argv[1:])
        else:
            assert program == "celery", path.name
            assert argv[1:4] == ["-A", "digest.pipeline", "worker"]
            assert argv[argv.index("-Q") + 1] == "digest"  # the queue the tasks go to


def verify(unit_dir: Path, tmp_path: Path) -> list[str]:
    """Copy the units with their binaries stood in for, run systemd-analyze verify on all
    of them (a template through an instance), and return every problem it reports."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        missing_service(
            "systemd-analyze not installed (Debian: apt-get install systemd; "
            "scripts/install-system-deps installs it)"
        )
    root = tmp_path / "srv"
    copies = tmp_path / "units"
    copies.mkdir(parents=True)
    names = []
    for path in sorted(unit_dir.iterdir()):
        if path.suffix not in (".service", ".timer"):
            continue
        text = path.read_text().replace(PREFIX, str(root))
        (copies / path.name).write_text(text)
        names.append(path.name.replace("@.", "@1.") if "@." in path.name else path.name)
        if path.suffix == ".service":
            binary = Path(shlex.split(read_unit(copies / path.name)["Service"]["ExecStart"])[0])
            binary.parent.mkdir(parents=True, exist_ok=True)
            binary.write_text("#!/bin/sh\nexit 0\n")
            binary.chmod(0o755)
    result = subprocess.run(
        [analyze, "verify", "--man=no", *names],
        cwd=copies,
        env=dict(os.environ, SYSTEMD_UNIT_PATH=f"{copies}:", SYSTEMD_LOG_COLOR="0"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = (result.stdout + result.stderr).splitlines()
    problems = [line for line in lines if str(copies) in line or "digest-" in line]
    if result.returncode != 0:
        problems.append(f"exit {result.returncode}: {' / '.join(lines)}")
    return problems


def test_systemd_analyze_verifies_every_unit(tmp_path: Path) -> None:
    assert verify(SYSTEMD, tmp_path) == []


def test_the_verification_can_fail(tmp_path: Path) -> None:
    """A calendar systemd cannot parse (its weeks start on Monday) and an unknown key are
    only warnings for systemd-analyze; the check above still catches them."""
    broken = tmp_path / "broken"
    shutil.copytree(SYSTEMD, broken)
    timer = broken / "digest-ingest.timer"
    timer.write_text(timer.read_text().replace("Mon..Thu,Sun", "Sun..Thu"))
    service = broken / "digest-run.service"
    service.write_text(service.read_text().replace("Type=oneshot", "Type=oneshot\nTipe=x"))
    problems = verify(broken, tmp_path / "out")
    assert any("calendar" in p for p in problems), problems
    assert any("Tipe" in p for p in problems), problems


# -- cron -------------------------------------------------------------------------------
JOB = re.compile(r"^#?\s*((?:\S+\s+){5})(cd .*)$")


def cron_jobs() -> list[tuple[str, str]]:
    """(time fields, command) of every job line, the commented-out examples included."""
    jobs = []
    for line in CRONTAB.read_text().splitlines():
        match = JOB.match(line.strip())
        if match:
            jobs.append((match.group(1).strip(), match.group(2)))
        else:
            assert not line.strip() or line.startswith("#") or re.match(r"^[A-Z_]+=", line)
    return jobs


def test_crontab_jobs_have_valid_times_flock_and_real_commands() -> None:
    jobs = cron_jobs()
    assert len(jobs) >= 4
    locks = set()
    for times, command in jobs:
        parse_schedule(times)  # five valid fields, crontab's day-of-week numbering
        steps = command.split(" && ")
        assert steps[0] == "cd /srv/digest", command
        words = shlex.split(steps[-1])
        assert words[:2] == ["flock", "-n"], f"not under flock -n: {command}"
        locks.add(words[2])
        assert words[3] == ".venv/bin/digest", command
        args = words[4 : next(i for i, w in enumerate(words) if w.startswith(">"))]
        check_digest_command(args)
    assert len(locks) == len(jobs)  # one lock per job: ingest never waits for a send
    assert {"run", "ingest", "db"} <= {shlex.split(c.split(" && ")[-1])[4] for _, c in jobs}

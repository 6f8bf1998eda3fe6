"""`digest rank`: rank a pool of papers for profiles given as files. No database.

The stable contract that benchmarks and acceptance checks call:

    digest rank --pool POOL.jsonl[.gz] --profiles PROFILES.json [--history H.jsonl[.gz]]
                [--top K] [--format jsonl|table] [--semantic/--no-semantic]

Output (jsonl): one line per profile, in input order,
``{"profile": ID, "ranked": [{"id": ..., "score": ..., "why": ..., "shown": true|false,
"match": ...}, ...]}``, best first; ``shown`` says whether the digest would mail the pick
(its match is real), ``match`` is the strength it was judged on.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from digest.cli.common import console, err_console
from digest.domain import CATEGORY_MODES, FEEDBACK_KINDS, FeedbackEvent, Paper, Profile
from digest.errors import InputError
from digest.ingest.parse_jsonl import parse_jsonl, read_lines
from digest.rank import RankOptions
from digest.rank import semantic as sem

LIST_KEYS = ("topics", "require", "exclude", "authors", "categories", "liked", "disliked")
KNOWN_KEYS = {"id", *LIST_KEYS, "category_mode", "feedback"}
MAX_REPORTED = 20


class OutputFormat(StrEnum):
    jsonl = "jsonl"
    table = "table"


def register(app: typer.Typer) -> None:
    app.command("rank")(rank_command)


def rank_command(
    pool: Annotated[Path, typer.Option("--pool", help="Candidate papers (.jsonl or .jsonl.gz).")],
    profiles: Annotated[Path, typer.Option("--profiles", help="A JSON list of profiles.")],
    history: Annotated[
        Path | None,
        typer.Option("--history", help="Earlier papers that liked/disliked ids refer to."),
    ] = None,
    top: Annotated[int, typer.Option("--top", help="Picks per profile (1-1000).")] = 10,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="jsonl (one line per profile) or table.")
    ] = OutputFormat.jsonl,
    semantic: Annotated[
        bool | None,
        typer.Option(
            "--semantic/--no-semantic",
            help="Use sentence embeddings (needs the semantic extra). Default: when installed.",
        ),
    ] = None,
) -> None:
    """Rank the papers of a pool for each profile, with the reason for each pick."""
    if not 1 <= top <= 1000:
        raise InputError(f"--top: must be between 1 and 1000, got {top}")
    if semantic and not sem.available():
        raise InputError(f"--semantic: {sem.INSTALL_HINT}")
    people = load_profiles(profiles)
    candidates = load_papers(pool, "--pool")
    earlier = load_papers(history, "--history") if history else []
    options = RankOptions(semantic=semantic if semantic is not None else None)
    if semantic is None and not sem.available():
        options = options.with_(semantic=False)
    from digest.rank import rank  # lazy: numpy/scipy/scikit-learn only for this command

    ranked = rank(people, candidates, history=earlier, top_k=top, options=options)
    if output is OutputFormat.table:
        _print_table(people, ranked, {p.id: p.title for p in candidates})
        return
    out = sys.stdout
    for profile, picks in zip(people, ranked, strict=True):
        row = {
            "profile": profile.id,
            "ranked": [
                {
                    "id": p.paper_id,
                    "score": round(p.score, 6),
                    "why": p.why,
                    "shown": p.shown,
                    "match": round(p.match, 4),
                }
                for p in picks
            ],
        }
        out.write(json.dumps(row, ensure_ascii=False) + "\n")


def load_papers(path: Path, option: str) -> list[Paper]:
    """Papers of a JSONL file; bad lines are reported on stderr and skipped."""
    result = parse_jsonl(read_lines(path), source=f"file:{path.name}")
    for line, problem in result.errors[:MAX_REPORTED]:
        err_console.print(f"warning: {option} {path}:{line}: {problem} (line skipped)")
    if len(result.errors) > MAX_REPORTED:
        err_console.print(f"warning: ... and {len(result.errors) - MAX_REPORTED} more bad lines")
    return result.records


def load_profiles(path: Path) -> list[Profile]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"--profiles: no such file: {path}") from None
    except IsADirectoryError:
        raise InputError(f"--profiles: {path} is a directory, not a file") from None
    except UnicodeDecodeError:
        raise InputError(f"--profiles: {path} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"--profiles: {path} is not valid JSON ({exc})") from None
    if not isinstance(data, list):
        raise InputError(f"--profiles: {path} must hold a JSON list of profiles")
    return [profile_from_json(item, n) for n, item in enumerate(data, start=1)]


def profile_from_json(item: Any, n: int) -> Profile:
    """One profile object -> Profile; a wrong type is an InputError naming the entry."""
    where = f"--profiles: entry {n}"
    if not isinstance(item, dict):
        raise InputError(f"{where}: expected an object, got {type(item).__name__}")
    if not isinstance(item.get("id"), str | int) or isinstance(item.get("id"), bool):
        raise InputError(f"{where}: 'id' must be a string or a number")
    unknown = sorted(set(item) - KNOWN_KEYS)
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(unknown)}")
    lists: dict[str, tuple[str, ...]] = {}
    for key in LIST_KEYS:
        value = item.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError(f"{where}: '{key}' must be a list of strings")
        lists[key] = tuple(value)
    mode = item.get("category_mode", "boost")
    if mode not in CATEGORY_MODES:
        raise InputError(f"{where}: 'category_mode' must be one of {', '.join(CATEGORY_MODES)}")
    return Profile(
        id=str(item["id"]),
        category_mode=mode,
        feedback=_feedback(item.get("feedback", []), where),
        **lists,
    )


def _feedback(value: Any, where: str) -> tuple[FeedbackEvent, ...]:
    if not isinstance(value, list):
        raise InputError(f"{where}: 'feedback' must be a list of {{id, kind, at}} objects")
    events = []
    for event in value:
        if not isinstance(event, dict) or not isinstance(event.get("id"), str):
            raise InputError(f"{where}: each feedback event needs an 'id' (paper id)")
        if event.get("kind") not in FEEDBACK_KINDS:
            raise InputError(f"{where}: feedback 'kind' must be one of {', '.join(FEEDBACK_KINDS)}")
        at = None
        if event.get("at") is not None:
            try:
                at = datetime.fromisoformat(str(event["at"]))
            except ValueError:
                raise InputError(f"{where}: feedback 'at' is not an ISO date") from None
        events.append(FeedbackEvent(event["id"], event["kind"], at))
    return tuple(events)


def _print_table(profiles: list[Profile], ranked: list[list[Any]], titles: dict[str, str]) -> None:
    """For people: each pick with its title, so a ranking can be judged at a glance."""
    table = Table(show_lines=False)
    for column in ("profile", "#", "paper", "title", "score", "shown", "why"):
        table.add_column(column, overflow="fold")
    for profile, picks in zip(profiles, ranked, strict=True):
        if not picks:
            table.add_row(profile.id, "-", "(nothing matches)", "", "", "", "")
        for i, pick in enumerate(picks, start=1):
            title = titles.get(pick.paper_id, "")
            shown = "yes" if pick.shown else "no"
            row = (profile.id, str(i), pick.paper_id, title, f"{pick.score:.3f}", shown, pick.why)
            table.add_row(*row)
    console.print(table)

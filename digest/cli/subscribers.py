"""`digest subscribers ...`: add, list, show, update, remove, import, export."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Annotated

import typer

from digest.cli.common import (
    console,
    err_console,
    load_settings,
    open_database,
    print_columns,
    print_json,
)
from digest.cli.lazy import command_app
from digest.clock import utcnow
from digest.db import sqlite_reader
from digest.deliver.transports import undeliverable_address
from digest.domain import FREQUENCIES, SUBSCRIBER_STATUSES
from digest.errors import InputError, NotFoundError
from digest.settings import Settings
from digest.subscriber_io import (
    FORMATS,
    RowError,
    guess_format,
    parse_file,
    spec_to_dict,
    write_csv,
    write_jsonl,
)
from digest.subscriber_spec import LIST_FIELDS, SubscriberSpec, validate_spec

app = command_app(help="Manage subscribers and their interests.", no_args_is_help=True)

Topic = Annotated[
    list[str] | None,
    typer.Option("--topic", "-t", help="A topic of interest, free text (repeatable)."),
]
Exclude = Annotated[
    list[str] | None,
    typer.Option("--exclude", help="Drop papers containing this keyword (repeatable)."),
]
Require = Annotated[
    list[str] | None,
    typer.Option(
        "--require", help="Keep only papers containing one of these keywords (repeatable)."
    ),
]
Author = Annotated[
    list[str] | None,
    typer.Option(
        "--author", help="Follow an author: their papers always make the digest (repeatable)."
    ),
]
Category = Annotated[
    list[str] | None,
    typer.Option("--category", help="An arXiv category to boost, e.g. cs.LG (repeatable)."),
]
Liked = Annotated[
    list[str] | None, typer.Option("--liked", help="An arXiv id of a paper you liked (repeatable).")
]
Disliked = Annotated[
    list[str] | None,
    typer.Option("--disliked", help="An arXiv id of a paper you disliked (repeatable)."),
]
Name = Annotated[
    str | None,
    typer.Option(
        "--name", help="Display name for the To: header (and the greeting without --greeting-name)."
    ),
]
GreetingName = Annotated[
    str | None,
    typer.Option(
        "--greeting-name",
        help='What the greeting calls them ("Ada"); "" derives it from --name again.',
    ),
]
Frequency = Annotated[
    str | None, typer.Option("--frequency", help=f"One of {', '.join(FREQUENCIES)}.")
]
Hour = Annotated[int | None, typer.Option("--hour", help="Local hour of delivery, 0-23.")]
Weekday = Annotated[
    str | None,
    typer.Option("--weekday", help="Weekly readers' day: monday ... sunday (default monday)."),
]
Tz = Annotated[str | None, typer.Option("--tz", help="IANA time zone, e.g. Europe/Berlin.")]
Status = Annotated[
    str | None, typer.Option("--status", help=f"One of {', '.join(SUBSCRIBER_STATUSES)}.")
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _options(**values: object) -> dict[str, object]:
    """CLI option names -> spec fields, leaving out options that were not given."""
    mapping = {
        "topic": "topics",
        "exclude": "exclude",
        "require": "require",
        "author": "authors",
        "category": "categories",
        "liked": "liked",
        "disliked": "disliked",
        "name": "name",
        "greeting_name": "greeting_name",
        "frequency": "frequency",
        "hour": "delivery_hour",
        "weekday": "weekday",
        "tz": "timezone",
        "status": "status",
    }
    return {mapping[k]: v for k, v in values.items() if v is not None}


def _show(spec: SubscriberSpec, *, as_json: bool) -> None:
    if as_json:
        print_json(spec_to_dict(spec))
        return
    fields = spec_to_dict(spec)
    width = max(len(key) for key in fields)
    for key, value in fields.items():
        shown = (
            ", ".join(value) if isinstance(value, list) else ("" if value is None else str(value))
        )
        print(f"{key.ljust(width)}  {shown or '-'}")


@app.command()
def add(
    email: Annotated[str, typer.Argument(help="The subscriber's email address.")],
    name: Name = None,
    greeting_name: GreetingName = None,
    topic: Topic = None,
    exclude: Exclude = None,
    require: Require = None,
    author: Author = None,
    category: Category = None,
    liked: Liked = None,
    disliked: Disliked = None,
    frequency: Frequency = None,
    hour: Hour = None,
    weekday: Weekday = None,
    tz: Tz = None,
    status: Status = None,
    as_json: Json = False,
) -> None:
    """Add a subscriber (active unless --status says otherwise)."""
    spec = validate_spec(
        {
            "email": email,
            **_options(
                name=name,
                greeting_name=greeting_name,
                topic=topic,
                exclude=exclude,
                require=require,
                author=author,
                category=category,
                liked=liked,
                disliked=disliked,
                frequency=frequency,
                hour=hour,
                weekday=weekday,
                tz=tz,
                status=status,
            ),
        }
    )
    settings = load_settings()
    problem = undeliverable_address(settings, spec.email)
    if problem:
        raise InputError(problem)
    from digest.db import subscribers  # lazy: SQLAlchemy (see _read_specs)

    db = open_database(settings)
    with db.session() as session:
        row = subscribers.add_subscriber(session, spec, utcnow())
        spec = subscribers.spec_from_row(row)
    if as_json:
        _show(spec, as_json=True)
    else:
        console.print(f"added {spec.email}")


@app.command("list")
def list_(
    status: Status = None,
    as_json: Json = False,
) -> None:
    """List subscribers, optionally only those with one status."""
    if status is not None and status not in SUBSCRIBER_STATUSES:
        raise InputError(f"status must be one of {', '.join(SUBSCRIBER_STATUSES)}, got {status!r}")
    specs = _read_specs(load_settings(), status)
    if as_json:
        print_json([spec_to_dict(spec) for spec in specs])
        return
    headers = ("email", "name", "status", "frequency", "hour", "timezone", "interests")
    lines = [
        (
            spec.email,
            spec.name or "",
            spec.status,
            spec.frequency,
            str(spec.delivery_hour),
            spec.timezone,
            str(sum(len(getattr(spec, f)) for f in LIST_FIELDS)),
        )
        for spec in specs
    ]
    print_columns(headers, lines)
    print(f"{len(specs)} subscriber(s)")


@app.command()
def show(
    email: Annotated[str, typer.Argument(help="The subscriber's email address.")],
    as_json: Json = False,
) -> None:
    """Show one subscriber and their interests."""
    _show(_read_spec(load_settings(), email), as_json=as_json)


def _read_specs(settings: Settings, status: str | None) -> list[SubscriberSpec]:
    """The subscribers (with ``status``), read through ``sqlite3`` alone when the database
    is a current SQLite file: importing SQLAlchemy would cost more than the whole listing
    (``digest.db.sqlite_reader``). Otherwise through the ORM, which also upgrades."""
    with sqlite_reader.open_current(settings.database_url) as conn:
        if conn is not None:
            return sqlite_reader.list_subscribers(conn, status)
    from digest.db import subscribers  # lazy: SQLAlchemy, when sqlite3 cannot answer

    with open_database(settings).session() as session:
        rows = subscribers.list_subscribers(session, status)
        return [subscribers.spec_from_row(row) for row in rows]


def _read_spec(settings: Settings, email: str) -> SubscriberSpec:
    """One subscriber, read as :func:`_read_specs` reads them."""
    with sqlite_reader.open_current(settings.database_url) as conn:
        if conn is not None:
            spec = sqlite_reader.find_subscriber(conn, email)
            if spec is None:
                raise NotFoundError(f"no subscriber with address {email!r}")
            return spec
    from digest.db import subscribers  # lazy: SQLAlchemy, when sqlite3 cannot answer

    with open_database(settings).session() as session:
        return subscribers.spec_from_row(subscribers.get_subscriber(session, email))


@app.command()
def update(
    email: Annotated[str, typer.Argument(help="The subscriber's current email address.")],
    new_email: Annotated[str | None, typer.Option("--email", help="Change the address.")] = None,
    name: Name = None,
    greeting_name: GreetingName = None,
    topic: Topic = None,
    exclude: Exclude = None,
    require: Require = None,
    author: Author = None,
    category: Category = None,
    liked: Liked = None,
    disliked: Disliked = None,
    frequency: Frequency = None,
    hour: Hour = None,
    weekday: Weekday = None,
    tz: Tz = None,
    status: Status = None,
    clear: Annotated[
        list[str] | None,
        typer.Option(
            "--clear", help=f"Empty a list: one of {', '.join(LIST_FIELDS)} (repeatable)."
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Change a subscriber. A list option given here replaces that whole list."""
    changes = _options(
        name=name,
        greeting_name=greeting_name,
        topic=topic,
        exclude=exclude,
        require=require,
        author=author,
        category=category,
        liked=liked,
        disliked=disliked,
        frequency=frequency,
        hour=hour,
        weekday=weekday,
        tz=tz,
        status=status,
    )
    for field in clear or []:
        if field not in LIST_FIELDS:
            raise InputError(f"--clear takes one of {', '.join(LIST_FIELDS)}, got {field!r}")
        changes[field] = []
    if new_email is not None:
        changes["email"] = new_email
    if not changes:
        raise InputError("nothing to change: give at least one option (see --help)")
    from digest.db import subscribers  # lazy: SQLAlchemy (see _read_specs)

    db = open_database(load_settings())
    with db.session() as session:
        row = subscribers.get_subscriber(session, email)
        current = spec_to_dict(subscribers.spec_from_row(row))
        spec = validate_spec({**current, **changes})
        subscribers.replace_subscriber(session, row, spec, utcnow())
    if as_json:
        _show(spec, as_json=True)
    else:
        console.print(f"updated {spec.email}")


@app.command()
def remove(
    email: Annotated[str, typer.Argument(help="The subscriber's email address.")],
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Confirm: delete the subscriber and their history.")
    ] = False,
) -> None:
    """Delete a subscriber with their interests and delivery history."""
    from digest.db import subscribers  # lazy: SQLAlchemy (see _read_specs)

    db = open_database(load_settings())
    with db.session() as session:
        row = subscribers.get_subscriber(session, email)
        if not yes:
            if not sys.stdin.isatty():
                raise InputError("refusing to delete without --yes")
            typer.confirm(f"Delete {row.email} and their history?", abort=True)
        subscribers.remove_subscriber(session, row)
    console.print(f"removed {email}")


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="A .csv or .jsonl file ('-' for standard input).")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv or jsonl (default: from the file name).")
    ] = None,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Load the good rows even if some are bad.")
    ] = False,
    update_existing: Annotated[
        bool, typer.Option("--update", help="Overwrite subscribers that already exist.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Import subscribers. All-or-nothing unless --skip-invalid; every bad row is reported."""
    fmt = (fmt or ("csv" if str(file) == "-" else guess_format(file.name))).lower()
    if fmt not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}")
    text = _read_text(file)
    good, errors = parse_file(text, fmt)
    settings = load_settings()
    for line, spec in good:
        problem = undeliverable_address(settings, spec.email)
        if problem:
            errors.append(RowError(line, problem))
    from digest.db import subscribers  # lazy: SQLAlchemy (see _read_specs)

    db = open_database(settings)
    now = utcnow()
    added = updated = 0
    with db.session() as session:
        existing = {}
        for line, spec in good:
            row = subscribers.find_subscriber(session, spec.email)
            if row is not None and not update_existing:
                errors.append(
                    RowError(line, f"{spec.email} already exists (use --update to overwrite)")
                )
            elif row is not None:
                existing[line] = row
        errors.sort(key=lambda e: e.line)
        bad_lines = {e.line for e in errors}
        for error in errors:
            err_console.print(f"{file}:{error}")
        if errors and not skip_invalid:
            session.rollback()
            raise InputError(
                f"{len(errors)} invalid row(s); nothing imported "
                "(fix them, or pass --skip-invalid to load the good rows)"
            )
        for line, spec in good:
            if line in bad_lines:
                continue
            if line in existing:
                subscribers.replace_subscriber(session, existing[line], spec, now)
                updated += 1
            else:
                subscribers.add_subscriber(session, spec, now)
                added += 1
    summary = {"added": added, "updated": updated, "rejected": len(errors)}
    if as_json:
        print_json(summary)
    else:
        console.print(f"imported {added} new, {updated} updated, {len(errors)} rejected")
    if errors:
        raise typer.Exit(1)


def _read_text(file: Path) -> str:
    try:
        data = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
    except FileNotFoundError:
        raise InputError(f"no such file: {file}") from None
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{file} is not UTF-8 text (byte {exc.start})") from None


@app.command()
def export(
    fmt: Annotated[str, typer.Option("--format", help="csv or jsonl.")] = "csv",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file instead of standard output."),
    ] = None,
    status: Status = None,
) -> None:
    """Export subscribers in a format `digest subscribers import` reads back."""
    if fmt not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}")
    specs = _read_specs(load_settings(), status)
    buffer = io.StringIO()
    (write_csv if fmt == "csv" else write_jsonl)(specs, buffer)
    if output is None:
        sys.stdout.write(buffer.getvalue())
    else:
        tmp = output.with_name(f".{output.name}.tmp")
        tmp.write_text(buffer.getvalue(), encoding="utf-8")
        tmp.replace(output)
        err_console.print(f"exported {len(specs)} subscriber(s) to {output}")

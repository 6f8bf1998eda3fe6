"""The admin CLI `digest`: one Typer group, one module per command group, each imported
only when one of its commands runs (``digest.cli.lazy``).

``main`` runs it without Click's standalone mode so that every expected failure (a
:class:`DigestError`) becomes one ``error: ...`` line on stderr and a non-zero exit code,
never a traceback.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from digest.cli.lazy import LazyCommand, LazyGroup, command_app
from digest.cli.output import err_console
from digest.errors import DigestError

# Exit codes (README, "CLI reference"): 0 success, 1 partial failure, and
# DigestError.exit_code: 2 invalid input or configuration, 3 not found; then:
DATABASE_ERROR = 4  # the database failed during the command (lost, locked, a constraint)
INTERNAL_ERROR = 5  # an unexpected exception: a bug
INTERRUPTED = 130

# Each command's module is imported only when that command runs (`digest --help` imports
# none of them); the help shown here is the first line of the command's own help.
COMMANDS = {
    "run": LazyCommand(
        "digest.cli.run",
        "Send the current edition to every active subscriber who has not had it yet.",
    ),
    "preview": LazyCommand(
        "digest.cli.run",
        "Render a subscriber's next digest to files, without sending or recording anything.",
    ),
    "demo": LazyCommand(
        "digest.cli.run",
        "Create demo subscribers, load the bundled sample papers, and run an edition.",
    ),
    "rank": LazyCommand(
        "digest.cli.rank",
        "Rank the papers of a pool for each profile, with the reason for each pick.",
    ),
    "web": LazyCommand(
        "digest.cli.web",
        "Serve the subscription site: subscribe, confirm, unsubscribe, preferences, feedback.",
    ),
    "subscribers": LazyCommand("digest.cli.subscribers", "Manage subscribers and their interests."),
    "ingest": LazyCommand(
        "digest.cli.ingest",
        "Load new papers: `digest ingest [SOURCE ...] [--since DATE]`, or `ingest jsonl PATH`.",
    ),
    "sources": LazyCommand("digest.cli.sources", "Configure the paper sources."),
    "papers": LazyCommand("digest.cli.papers", "Look at the stored papers."),
    "db": LazyCommand("digest.cli.db", "Manage the database schema and its upkeep."),
    "bounces": LazyCommand(
        "digest.cli.bounces",
        "Bounces and spam complaints: read them, listen for them, list them.",
    ),
    "scheduler": LazyCommand(
        "digest.cli.scheduler",
        "Run the jobs on their schedules, one active process and any standbys (see --help).",
    ),
    "stats": LazyCommand(
        "digest.cli.stats",
        "What happened lately: readers, editions, rates, feedback, clicks, sources.",
    ),
    "editions": LazyCommand(
        "digest.cli.editions", "What each edition did: counts per ledger state, failures."
    ),
    "doctor": LazyCommand(
        "digest.cli.doctor", "Check the set-up, one line per check; exit 1 if any check fails."
    ),
}


class DigestCommands(LazyGroup):
    lazy = COMMANDS


app = command_app(
    cls=DigestCommands,
    name="digest",
    help="The day's trending research papers, ranked for each reader, in their inbox.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
_debug = {"on": False}  # set by --debug for this process's run of main()


@app.callback()
def _options(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Show the traceback of an unexpected error (also: DIGEST_DEBUG=1).",
        ),
    ] = False,
) -> None:
    _debug["on"] = debug


cli = typer.main.get_command(app)


def main(argv: list[str] | None = None) -> None:
    try:
        code = cli.main(args=argv, prog_name="digest", standalone_mode=False)
    except DigestError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(INTERRUPTED)
    except typer.TyperException as exc:  # usage errors (Typer's copy of click's exceptions)
        exc.show()  # type: ignore[attr-defined]
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(INTERRUPTED)
    except Exception as exc:
        if _debug["on"] or os.environ.get("DIGEST_DEBUG", "") not in ("", "0"):
            raise
        if _is_database_error(exc):
            line = _first_line(getattr(exc, "orig", None) or exc)
            err_console.print(f"[bold red]error:[/] database: {escape(line)}", markup=True)
            sys.exit(DATABASE_ERROR)
        err_console.print(
            f"[bold red]error:[/] unexpected {type(exc).__name__}: {escape(_first_line(exc))} "
            "(a bug; --debug or DIGEST_DEBUG=1 shows the traceback)",
            markup=True,
        )
        sys.exit(INTERNAL_ERROR)
    finally:
        _debug["on"] = False
    sys.exit(code if isinstance(code, int) else 0)


def escape(text: str) -> str:
    """``text`` with rich's markup characters escaped, for one error line."""
    from rich.markup import escape  # lazy: only on the error path (rich costs ~25 ms)

    return escape(text)


def _first_line(exc: object) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else ""


def _is_database_error(exc: BaseException) -> bool:
    """A SQLAlchemy error, or sqlite3's (``digest.db.sqlite_reader``), without importing
    either for the commands that never use them (if one was not imported, the exception
    cannot be one of its errors)."""
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_exc is not None and isinstance(exc, sqlalchemy_exc.SQLAlchemyError):
        return True
    sqlite3 = sys.modules.get("sqlite3")
    return sqlite3 is not None and isinstance(exc, sqlite3.Error)

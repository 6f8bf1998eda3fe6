"""The admin CLI `digest`: one Typer group, one module per command group, each imported
only when one of its commands runs (``digest.cli.lazy``).

``main`` runs it without Click's standalone mode so that every expected failure (a
:class:`DigestError`) becomes one ``error: ...`` line on stderr and a non-zero exit code,
never a traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from digest.cli.lazy import LazyCommand, LazyGroup
from digest.cli.output import err_console
from digest.errors import DigestError

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
}

cli = LazyGroup(
    name="digest",
    lazy=COMMANDS,
    help="The day's trending research papers, ranked for each reader, in their inbox.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def main(argv: list[str] | None = None) -> None:
    try:
        code = cli.main(args=argv, prog_name="digest", standalone_mode=False)
    except DigestError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors (Typer's copy of click's exceptions)
        exc.show()  # type: ignore[attr-defined]
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except Exception as exc:
        if not _is_database_error(exc):
            raise
        line = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        err_console.print(f"[bold red]database error:[/] {line}", markup=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _is_database_error(exc: BaseException) -> bool:
    """A SQLAlchemy error, without importing SQLAlchemy for the commands that never use it
    (if it was not imported, the exception cannot be one of its errors)."""
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    return sqlalchemy_exc is not None and isinstance(exc, sqlalchemy_exc.SQLAlchemyError)

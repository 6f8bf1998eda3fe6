"""The admin CLI `digest`: one Typer app, one module per command group.

``main`` runs it without Click's standalone mode so that every expected failure (a
:class:`DigestError`) becomes one ``error: ...`` line on stderr and a non-zero exit code,
never a traceback.
"""

from __future__ import annotations

import sys

import click
import typer
from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError

from digest.cli import bounces as bounces_cli
from digest.cli import db as db_cli
from digest.cli import doctor as doctor_cli
from digest.cli import editions as editions_cli
from digest.cli import ingest as ingest_cli
from digest.cli import papers as papers_cli
from digest.cli import rank as rank_cli
from digest.cli import run as run_cli
from digest.cli import scheduler as scheduler_cli
from digest.cli import sources as sources_cli
from digest.cli import stats as stats_cli
from digest.cli import subscribers as subscribers_cli
from digest.cli import web as web_cli
from digest.cli.common import err_console
from digest.errors import DigestError

try:  # recent typer raises its own vendored copy of click's exceptions
    from typer import exceptions as _typer_exceptions
    from typer._click import exceptions as _typer_click
except ImportError:  # pragma: no cover - older typer raises click's own
    _typer_click = _typer_exceptions = click.exceptions  # type: ignore[misc]
ABORTS = (click.exceptions.Abort, getattr(_typer_exceptions, "Abort", click.exceptions.Abort))
CLICK_ERRORS = (click.ClickException, _typer_click.ClickException)

app = typer.Typer(
    name="digest",
    help="The day's trending research papers, ranked for each reader, in their inbox.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(subscribers_cli.app, name="subscribers")
app.add_typer(ingest_cli.app, name="ingest")
app.add_typer(sources_cli.app, name="sources")
app.add_typer(papers_cli.app, name="papers")
app.add_typer(db_cli.app, name="db")
app.add_typer(bounces_cli.app, name="bounces")
app.add_typer(editions_cli.app, name="editions")
run_cli.register(app)
rank_cli.register(app)
web_cli.register(app)
scheduler_cli.register(app)
stats_cli.register(app)
doctor_cli.register(app)


def main(argv: list[str] | None = None) -> None:
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="digest", standalone_mode=False)
    except DigestError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True)
        sys.exit(exc.exit_code)
    except ABORTS:
        err_console.print("aborted")
        sys.exit(130)
    except CLICK_ERRORS as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except SQLAlchemyError as exc:
        line = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        err_console.print(f"[bold red]database error:[/] {line}", markup=True)
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)

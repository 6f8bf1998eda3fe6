"""`digest scheduler`: the same process as `python -m scheduler` (its options pass through)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    app.command(
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        add_help_option=False,
    )(scheduler)


def scheduler(ctx: typer.Context) -> None:
    """Run the jobs on their schedules, one active process and any standbys (see --help)."""
    from scheduler.__main__ import main  # lazy: APScheduler only for this command

    code = main(list(ctx.args), prog="digest scheduler")
    if code:
        raise typer.Exit(code)

"""A command group that imports a subcommand's module only when that subcommand runs.

`digest --help` lists every command from the names and one-line helps given here, so it
imports no command module; `digest subscribers list` imports `digest.cli.subscribers` and
what it needs, not the ranking, rendering or delivery code of the other commands.
(tests/cli/test_startup.py checks each one-line help against the command's own.)
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives: a module exposing either ``app`` (a Typer group) or
    ``register(app)`` (adding top-level commands, one of them named like this entry)."""

    module: str
    help: str


class LazyGroup(TyperGroup):
    """A Typer group whose commands (``lazy``, set by a subclass) are loaded from their
    modules on first use. Used as ``typer.Typer(cls=...)``."""

    lazy: dict[str, LazyCommand] = {}  # noqa: RUF012 - a subclass sets its own

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._listing = False
        self._loaded: dict[str, Any] = {}
        # Placeholders, so that listing and "did you mean" work without imports.
        for name, entry in self.lazy.items():
            self.commands[name] = TyperCommand(name=name, help=entry.help, short_help=entry.help)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.lazy)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        entry = self.lazy.get(cmd_name)
        if entry is None or self._listing:
            return super().get_command(ctx, cmd_name)
        if cmd_name not in self._loaded:
            self._loaded[cmd_name] = load_command(cmd_name, entry)
        return self._loaded[cmd_name]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True  # the command list shows the placeholders' help
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


def command_app(**options: Any) -> typer.Typer:
    """A Typer app whose help is click's plain text: Typer's rich help formatter would
    import rich's Markdown renderer (0.1-0.15 s) on every ``--help`` and usage error."""
    return typer.Typer(rich_markup_mode=None, **options)


def load_command(name: str, entry: LazyCommand) -> Any:
    """Import the module of ``entry`` and build its command."""
    module = importlib.import_module(entry.module)
    holder = command_app(add_completion=False)  # as if added to the root app
    if hasattr(module, "app"):
        holder.add_typer(module.app, name=name)
    else:
        module.register(holder)
    return typer.main.get_group(holder).get_command(None, name)  # type: ignore[arg-type]

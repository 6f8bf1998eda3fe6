"""The consoles and JSON output every command uses (imports nothing of the project)."""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


class LazyConsole:
    """rich's Console for stdout or stderr, made on first use: importing rich costs about
    25 ms that `digest --help`, plain listings and JSON output never need."""

    def __init__(self, *, stderr: bool = False) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    @property
    def rich(self) -> Console:
        """The Console itself, for rich's own APIs (a progress display's ``console=``)."""
        if self._console is None:
            from rich.console import Console  # lazy: see the class docstring

            self._console = Console(stderr=self._stderr, highlight=False, soft_wrap=True)
        return self._console

    def print(self, *objects: Any, **options: Any) -> None:
        self.rich.print(*objects, **options)


console = LazyConsole()
err_console = LazyConsole(stderr=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def is_terminal() -> bool:
    return sys.stdout.isatty()


def print_columns(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Rows as plain aligned columns, nothing cut: for listings that grow with the data.

    Lines suit ``grep`` and ``awk``, and 1,000 of them print at once, where rich measures
    every cell of a table (about 0.1 s for 100 rows of seven columns).
    """
    widths = [
        max([display_width(h), *(display_width(row[i]) for row in rows)])
        for i, h in enumerate(headers)
    ]
    for cells in (headers, *rows):
        line = "  ".join(
            cell + " " * (width - display_width(cell))
            for cell, width in zip(cells, widths, strict=True)
        )
        sys.stdout.write(line.rstrip() + "\n")


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes: East Asian wide and fullwidth characters take two,
    combining marks none (so a column after a name in CJK or with accents stays aligned)."""
    if text.isascii():
        return len(text)
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )

"""Plain columns line up in a terminal whatever script a name is written in."""

from __future__ import annotations

import pytest

from digest.cli.output import display_width, print_columns


@pytest.mark.parametrize(
    ("text", "width"),
    [("ada", 3), ("李雷", 4), ("Ｆｕｌｌ", 8), ("Jose\u0301", 4), ("Zoë", 3), ("", 0)],
)
def test_display_width(text: str, width: int) -> None:
    assert display_width(text) == width


def test_columns_after_wide_and_combining_names_line_up(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [("ada@example.org", "Ada", "active"), ("lei@example.cn", "李雷", "active")]
    rows.append(("jose@example.es", "Jose\u0301 Ñ", "paused"))
    print_columns(("email", "name", "status"), rows)
    lines = capsys.readouterr().out.splitlines()
    starts = set()
    for line, status in zip(lines, ("status", "active", "active", "paused"), strict=True):
        before = line[: line.index(status)]
        starts.add(display_width(before))
    assert starts == {len("jose@example.es") + 2 + len("Jose Ñ") + 2}

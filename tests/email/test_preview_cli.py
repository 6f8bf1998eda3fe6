"""`digest preview EMAIL [--out DIR] [--png]`: the next digest as files, nothing sent."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import missing_service
from helpers import run_cli
from mailcheck import assert_structure, assert_wire_format, parse

from digest.demo import sample_papers_path
from digest.render.browser import find_chromium


@pytest.fixture
def subscriber(capsys, digest_env):  # type: ignore[no-untyped-def]
    assert run_cli(capsys, "ingest", "jsonl", str(sample_papers_path())).code == 0
    added = run_cli(
        capsys,
        "subscribers",
        "add",
        "zoe@example.org",
        "--name",
        "Zoë Ångström",
        "--topic",
        "reasoning in large language models",
    )
    assert added.code == 0, added.err
    return "zoe@example.org"


def test_preview_writes_html_text_and_eml(capsys, subscriber: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "preview"
    result = run_cli(capsys, "preview", subscriber, "--out", str(out))
    assert result.code == 0, result.err
    html = (out / "zoe@example.org.html").read_text()
    text = (out / "zoe@example.org.txt").read_text()
    data = (out / "zoe@example.org.eml").read_bytes()
    assert_wire_format(data)
    msg = parse(data)
    assert_structure(msg)
    assert msg["To"].addresses[0].display_name == "Zoë Ångström"
    assert str(msg["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert "https://digest.test/u/" in text and "https://digest.test/u/" in html
    assert " 1. " in text and "<h3" in html
    assert "subject: “" in result.out and " more" in result.out
    # Nothing was sent or recorded: a second preview shows the same papers.
    again = run_cli(capsys, "preview", subscriber, "--out", str(tmp_path / "again"))
    assert (tmp_path / "again" / "zoe@example.org.txt").read_text() == text
    assert again.code == 0


def test_preview_png(capsys, subscriber: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if find_chromium() is None:
        missing_service("headless Chromium not installed (run scripts/install-system-deps)")
    result = run_cli(capsys, "preview", subscriber, "--out", str(tmp_path), "--png")
    assert result.code == 0, result.err
    for width in (375, 600):
        png = tmp_path / f"zoe@example.org-{width}px.png"
        assert png.read_bytes().startswith(b"\x89PNG")
        assert f"{png.name}  ({width}x" in result.out
    assert "overflows" not in result.out


def test_preview_errors_are_one_line(capsys, subscriber: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = run_cli(capsys, "preview", "nobody@example.org", "--out", str(tmp_path))
    assert missing.code == 3 and missing.err.startswith("error: no subscriber")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    bad = run_cli(capsys, "preview", subscriber, "--out", str(blocker / "sub"))
    assert bad.code == 2 and bad.err.startswith("error: --out")
    assert "Traceback" not in missing.err + bad.err

"""Templates: MJML compiled once and cached, recompiled on change; clear errors."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import mjml
import pytest
from mailcheck import TEMPLATES

from digest.errors import ConfigError
from digest.render import EmailTemplates


@pytest.fixture
def template_dir(tmp_path: Path) -> Path:
    shutil.copytree(TEMPLATES / "email", tmp_path / "email")
    return tmp_path


def test_mjml_compiled_once_and_recompiled_when_a_file_changes(
    template_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = mjml.mjml2html

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(mjml, "mjml2html", counting)
    templates = EmailTemplates(template_dir)
    first = templates.html("digest")
    assert templates.html("digest") is first and len(calls) == 1
    head = template_dir / "email" / "_head.mjml"  # an included file counts too
    head.write_text(head.read_text().replace("#0a52c7", "#0a52c8"))
    os.utime(head, (1, 1))
    again = templates.html("digest")
    assert again is not first and len(calls) == 2
    assert "#0a52c8" in again.render(_minimal_context())


def _minimal_context() -> dict[str, object]:
    return {
        "subject": "s",
        "preheader": "p",
        "links": {"view_online": "v", "preferences": "p", "unsubscribe": "u"},
        "brand": "b",
        "edition": {"label": "l", "heading": "h", "weekly": False},
        "intro": "i",
        "cold_start": False,
        "paper_count": 0,
        "more_count": 0,
        "sections": [],
        "recipient": {"email": "e"},
        "frequency": "daily",
        "contact_line": "",
        "postal_address": "",
    }


def test_broken_templates_are_config_errors(template_dir: Path) -> None:
    (template_dir / "email" / "bad.mjml.j2").write_text("<mjml><mj-body><mj-nope>")
    (template_dir / "email" / "bad.txt.j2").write_text("{% if %}")
    (template_dir / "email" / "escape.mjml.j2").write_text(
        '<mjml><mj-head><mj-include path="../../etc/passwd" /></mj-head></mjml>'
    )
    templates = EmailTemplates(template_dir)
    with pytest.raises(ConfigError, match=r"bad\.mjml\.j2"):
        templates.html("bad")
    with pytest.raises(ConfigError, match=r"bad\.txt\.j2"):
        templates.text("bad")
    with pytest.raises(ConfigError, match="missing template"):
        templates.text("nope")
    with pytest.raises(ConfigError):
        templates.html("escape")
    with pytest.raises(ConfigError, match="no email templates"):
        EmailTemplates(template_dir / "nowhere")


def test_text_content_sits_on_its_own_lines(template_dir: Path) -> None:
    html = EmailTemplates(template_dir).html("digest").render(_minimal_context())
    lines = html.split("\n")
    assert "i</p>" in lines or "<p>i</p>" in lines  # the intro is a line of its own
    assert "b · l" in lines  # the <title> content too

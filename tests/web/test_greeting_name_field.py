"""The preferences page's "What should we call you?": the derived first name as the
placeholder, stored only with the form's CSRF token, validated like the CLI, and used by
the next digest's greeting."""

from __future__ import annotations

import html
import re

import pytest

from tests.web.conftest import BASE, Harness, body_text, links_in

READER = "ada@example.org"


@pytest.fixture
def ada(harness: Harness) -> tuple[Harness, str]:
    """Ada, active, with no digest sent yet, and the path of her preferences page."""
    harness.load_sample_papers()
    row = harness.add(
        READER, name="Augusta Ada King", topics=["reasoning in large language models"]
    )
    return harness, harness.rt.signer.preferences_url(row.link_id).removeprefix(BASE)


def _field(page: str) -> str:
    found = re.search(r'<input id="greeting_name"[^>]*>', page)
    assert found, "no greeting_name field"
    return html.unescape(found.group(0))


def test_the_preferences_form_stores_the_greeting_name(ada: tuple[Harness, str]) -> None:
    h, path = ada
    page = h.client.get(path).text
    assert "What should we call you?" in page
    field = _field(page)
    assert 'placeholder="Augusta"' in field and 'value=""' in field
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf
    form = {
        "name": "Augusta Ada King",
        "greeting_name": "  Ada  ",
        "topics": "reasoning in large language models",
    }

    before = h.snapshot()
    assert h.client.post(path, data=form).status_code == 403  # no token: nothing stored
    assert h.client.post(path, data={**form, "csrf": "forged"}).status_code == 403
    assert h.snapshot() == before
    assert h.reader(READER).greeting_name is None  # type: ignore[union-attr]

    saved = h.client.post(path, data={**form, "csrf": csrf.group(1)}, follow_redirects=False)
    assert saved.status_code == 303
    assert h.reader(READER).greeting_name == "Ada"  # type: ignore[union-attr]
    shown = h.client.get(saved.headers["location"]).text
    assert "Saved." in shown and 'value="Ada"' in _field(shown)

    too_long = {**form, "greeting_name": "x" * 61, "csrf": csrf.group(1)}
    bad = h.client.post(path, data=too_long)
    assert bad.status_code == 400
    assert "Greeting name must be at most 60 characters" in bad.text
    assert 'aria-invalid="true"' in _field(bad.text)
    two_lines = {**form, "greeting_name": "Ada\r\nBcc: x@evil.org", "csrf": csrf.group(1)}
    assert h.client.post(path, data=two_lines).status_code == 400
    assert h.reader(READER).greeting_name == "Ada"  # type: ignore[union-attr]

    h.send_edition()
    digest = h.last_mail(READER)
    assert "Hi Ada," in " ".join(body_text(digest).split())
    assert "Hi Ada," in digest.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Augusta" in str(digest["To"])  # the To: header keeps the full name

    cleared = {**form, "greeting_name": "", "csrf": csrf.group(1)}
    assert h.client.post(path, data=cleared, follow_redirects=False).status_code == 303
    assert h.reader(READER).greeting_name is None  # type: ignore[union-attr]


def test_no_name_no_placeholder(harness: Harness) -> None:
    harness.load_sample_papers()
    harness.add(READER, topics=["reasoning in large language models"])
    harness.send_edition()
    [path] = links_in(harness.last_mail(READER), "/p/")
    page = harness.client.get(path).text
    assert "placeholder" not in _field(page)
    assert "greets no one by name" in page

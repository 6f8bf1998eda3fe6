"""Hostile text from feeds and subscribers is shown as text, never interpreted."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from mailcheck import (
    assert_structure,
    assert_wire_format,
    body,
    parse,
    render_digest,
    sample_papers,
)
from markupsafe import escape

from digest.domain import Paper, Pick, SubscriberInfo
from digest.render.view import greeting_name

HOSTILE = [
    "<script>alert('x')</script>",
    "</mj-text></mj-column></mj-section><mj-raw><b>broken</b></mj-raw>",
    "{{ 7 * 7 }}",
    "{% for x in range(3) %}loop{% endfor %}",
    "{# comment #}",
    "\"double\" and 'single' quotes",
    "Tom & Jerry &amp; &lt;b&gt;",
    "line one\r\nBcc: victim@example.org\r\n\r\n--=_boundary--\r\nline two",
    "<img src=x onerror=alert(1)>",
    "javascript:alert(1)",
]


class _Collector(HTMLParser):
    """The tags and the visible text of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _shown(html: str) -> tuple[list[str], str]:
    parser = _Collector()
    parser.feed(html)
    return parser.tags, " ".join(" ".join(parser.text).split())


def _one_line(value: str) -> str:
    return " ".join(value.split())


@pytest.fixture(scope="module")
def clean_render():  # type: ignore[no-untyped-def]
    papers = sample_papers()
    pid = next(iter(papers))
    email = render_digest(SubscriberInfo(1, "a@example.org", "Ada"), papers, [Pick(pid, 1, "x")])
    tags, _ = _shown(email.html)
    return papers, pid, sorted(set(tags)), tags.count("script")


@pytest.mark.parametrize("evil", HOSTILE)
def test_hostile_values_are_text_in_every_part(evil: str, clean_render) -> None:  # type: ignore[no-untyped-def]
    papers, _, baseline_tags, _ = clean_render
    paper = Paper(
        id="2501.00001",
        title=f"Title {evil}",
        abstract=f"Abstract {evil}. More text follows here.",
        authors=(f"Author {evil}", "Second Author"),
        categories=("cs.CL",),
        links={"abs": 'https://arxiv.org/abs/2501.00001?a=1&b="2"<'},
    )
    papers = {**papers, paper.id: paper}
    picks = [Pick(paper.id, 1.0, f"why {evil}", f"Section {evil}")]
    name = f"Eve {evil}"
    email = render_digest(SubscriberInfo(9, "eve@example.org", name), papers, picks)
    # The greeting uses a first name: one made of the hostile text's first word.
    first_name = f"{evil.split()[0]}Eve"
    greeted = render_digest(SubscriberInfo(9, "eve@example.org", first_name), papers, picks)
    shown_first = _one_line(greeting_name(first_name))
    assert shown_first
    assert f"Hi {shown_first}," in body(parse(greeted.data), "plain")
    assert f"Hi {shown_first}," in _shown(body(parse(greeted.data), "html"))[1]

    assert_wire_format(email.data)
    msg = parse(email.data)
    assert_structure(msg)
    assert msg["Bcc"] is None
    assert msg["To"].addresses[0].addr_spec == "eve@example.org"
    assert msg["To"].addresses[0].display_name.split() == f"Eve {evil}".split()[:]  # no header

    shown = _one_line(evil)
    text, html = body(msg, "plain"), body(msg, "html")
    for label in ("Title", "Why: Why", "Author"):
        assert f"{label} {shown}" in _one_line(text), label
    assert f"SECTION {shown.upper()}" in _one_line(text)
    assert "49" not in text and "looploop" not in text

    tags, visible = _shown(html)
    assert sorted(set(tags)) == baseline_tags  # no element came from the data
    assert "script" not in tags
    for label in ("Title", "Why: Why"):
        assert f"{label} {shown}" in visible, label
    assert f"SECTION {shown.upper()}" in visible.upper()
    assert "49" not in visible and "looploop" not in visible
    assert str(escape('https://arxiv.org/abs/2501.00001?a=1&b="2"<')) in html


def test_no_template_syntax_survives_in_output() -> None:
    papers = sample_papers()
    email = render_digest(SubscriberInfo(1, "a@example.org", "A"), papers)
    for marker in ("{{", "}}", "{%", "%}", "<mj-"):
        assert marker not in email.html and marker not in email.text


def test_only_web_links_reach_an_href() -> None:
    papers = sample_papers()
    paper = Paper(
        id="2501.00002",
        title="Links",
        links={"abs": "javascript:alert(1)", "pdf": "data:text/html,<b>x</b>"},
    )
    papers = {**papers, paper.id: paper}
    email = render_digest(SubscriberInfo(1, "a@example.org", "A"), papers, [Pick(paper.id, 1, "x")])
    for part in (email.html, email.text):
        assert "javascript:" not in part and "data:text" not in part
    assert 'href="https://arxiv.org/abs/2501.00002"' in email.html
    assert "PDF: https://arxiv.org/pdf/2501.00002" in email.text

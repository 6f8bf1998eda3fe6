"""Digest bodies spliced from blocks compiled once per edition: the same text as Jinja,
and templates that break the rules fail with a clear error instead of sending wrong mail."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mailcheck import (
    EDITION,
    SENDER,
    TEMPLATES,
    WHEN,
    make_signer,
    picks_for,
    render_digest,
    sample_papers,
)
from markupsafe import Markup, escape

from digest.domain import Pick, SubscriberInfo
from digest.errors import ConfigError
from digest.render import DigestRenderer, EmailTemplates
from digest.render.mime import QPEncoder
from digest.render.qp import qp_line
from digest.render.splice import Piece, Spliced

PAPERS = sample_papers()
TEXT_OK = """{% block head %}{{ brand }}: {{ intro }}
{% endblock %}
{% for section in sections %}
{% block section scoped %}== {{ section.title | upper }} ==
{% endblock %}
{% for item in section.items %}
{% block item scoped %}{{ item.label }} {{ item.card.title }} <{{ item.feedback_up }}>
   {{ item.why }}
{% endblock %}
{% endfor %}
{% endfor %}
{% block foot %}-- {{ recipient.email }} {{ links.unsubscribe }}
{% endblock %}
"""


def _renderer(tmp_path: Path, text: str | None = None, html: str | None = None) -> DigestRenderer:
    shutil.copytree(TEMPLATES / "email", tmp_path / "email", dirs_exist_ok=True)
    if text is not None:
        (tmp_path / "email" / "digest.txt.j2").write_text(text)
    if html is not None:
        (tmp_path / "email" / "digest.mjml.j2").write_text(html)
    return DigestRenderer(EmailTemplates(tmp_path), SENDER, contact_line="c", postal_address="p")


def _both(renderer: DigestRenderer, seed: int = 1, **kwargs: object) -> tuple[object, object]:
    sub = SubscriberInfo(seed, f"r{seed}@example.org", kwargs.pop("name", "Ada"))  # type: ignore[arg-type]
    picks = kwargs.pop("picks", None) or picks_for(PAPERS, seed=seed)
    fast = render_digest(sub, PAPERS, picks, renderer=renderer, **kwargs)  # type: ignore[arg-type]
    slow = render_digest(sub, PAPERS, picks, renderer=renderer, reference_build=True, **kwargs)  # type: ignore[arg-type]
    return fast, slow


def test_spliced_bodies_are_the_jinja_bodies(tmp_path: Path) -> None:
    renderer = _renderer(tmp_path)
    prepared = renderer.edition(EDITION, PAPERS)
    signer = make_signer()
    for i, (name, cold) in enumerate([("Ada", False), (None, True), ("Zoë <b>&", False)]):
        sub = SubscriberInfo(i + 1, f"r{i}@example.org", name)
        picks = picks_for(PAPERS, count=3 + i * 3, seed=i)
        args = (
            sub,
            picks,
            signer.for_recipient(sub.id, EDITION.key),
            signer.feedback_links(sub.id),
        )
        fast = prepared.render(*args, message_id="<m@example.org>", when=WHEN, cold_start=cold)
        slow = prepared.render(
            *args, message_id="<m@example.org>", when=WHEN, cold_start=cold, reference_build=True
        )
        html, text = fast._html, fast._text
        assert isinstance(html, Spliced) and isinstance(text, Spliced)
        assert fast.html == slow.html and fast.text == slow.text
        assert text.encode(QPEncoder()) == QPEncoder().encode(fast.text)
        assert html.encode(QPEncoder()) == QPEncoder().encode(fast.html)


def test_blocks_may_start_and_end_inside_a_line(tmp_path: Path) -> None:
    """Pieces that leave a line open are joined to the next one before encoding."""
    text = (
        "Hello {% block head %}{{ intro }}, {% endblock %}there.\n"
        "{% for section in sections %}[{% block section scoped %}{{ section.title }}"
        "{% endblock %}]{% for item in section.items %} {% block item scoped %}"
        "{{ item.card.title }} ({{ item.feedback_down }}){% endblock %};{% endfor %}\n"
        "{% endfor %}{% block foot %}bye {{ recipient.email }}{% endblock %}"
    )
    fast, slow = _both(_renderer(tmp_path, text=text))
    body = fast._text  # type: ignore[attr-defined]
    assert isinstance(body, Spliced) and any(not piece.newline for piece, _ in body.units)
    assert fast.text == slow.text  # type: ignore[attr-defined]
    assert body.encode(QPEncoder()) == QPEncoder().encode(fast.text)  # type: ignore[attr-defined]


def test_item_number_used_in_the_block_becomes_part_of_the_key(tmp_path: Path) -> None:
    text = TEXT_OK.replace("{{ item.label }}", '{{ "%03d" | format(item.number) }}')
    renderer = _renderer(tmp_path, text=text)
    for seed in (1, 2, 3):
        fast, slow = _both(renderer, seed=seed)
        assert fast.text == slow.text  # type: ignore[attr-defined]
        assert "001 " in fast.text  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("{{ item.why }}", "{% if item.why %}x{% endif %}"), "item.why differs per reader"),
        (("{{ item.why }}", "{{ item.why | upper }}"), "changed by a filter"),
        (("{{ item.why }}", "{{ item.why | length }}"), "item.why differs per reader"),
        (("{{ item.why }}", "{{ item.why.title }}"), "item.why differs per reader"),
        (("{{ item.why }}", "{{ item.why | truncate(12) }}"), "item.why differs per reader"),
        (("{{ item.why }}", "{{ item.why | replace('a', 'b') }}"), "does not give the same text"),
        (("{{ intro }}", "{{ (intro ~ '!') | upper }}"), "changed by a filter"),
        (("{% block foot %}", "{{ intro }}{% block foot %}"), "only be used inside the blocks"),
        (("{{ item.card.title }}", "{{ section.title }}"), "section cannot be used here"),
        (("{{ item.card.title }}", "{{ paper_count }}"), "paper_count cannot be used here"),
        (("{% for item in section.items %}", "{% for item in section.items[:1] %}"), "once per"),
    ],
)
def test_templates_that_break_the_rules_fail_clearly(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    text = TEXT_OK.replace(*change, 1)
    picks = [Pick(pid, 1.0, "a long reason that differs " * 2, "S") for pid in sorted(PAPERS)[:3]]
    with pytest.raises(ConfigError, match=message):
        _both(_renderer(tmp_path, text=text), picks=picks)


def test_a_template_without_the_blocks_is_a_config_error(tmp_path: Path) -> None:
    text = "{{ intro }}\n{% for section in sections %}{{ section.title }}\n{% endfor %}"
    renderer = _renderer(tmp_path, text=text)
    with pytest.raises(ConfigError, match="needs the blocks head, section, item, foot"):
        renderer.edition(EDITION, PAPERS)


def test_the_skeleton_may_depend_on_the_shape(tmp_path: Path) -> None:
    """Text around the blocks is rendered per shape: loop.last and counts are fine."""
    text = TEXT_OK.replace(
        "{% endblock %}\n{% endfor %}\n{% endfor %}",
        "{% endblock %}\n{% if not loop.last %}  ~\n{% endif %}{% endfor %}\n"
        "({{ paper_count }} papers)\n{% endfor %}",
    )
    renderer = _renderer(tmp_path, text=text)
    for seed, count in ((1, 1), (2, 4), (3, 10)):
        picks = picks_for(PAPERS, count=count, seed=seed)
        fast, slow = _both(renderer, seed=seed, picks=picks)
        assert fast.text == slow.text  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def renderers(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, DigestRenderer]:
    """The test template, and the same with ``|e`` on a value in the text part."""
    escaped = TEXT_OK.replace("{{ item.why }}", "{{ item.why | e }}")
    return {
        flag: _renderer(tmp_path_factory.mktemp("splice"), text=escaped if flag else TEXT_OK)
        for flag in (False, True)
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    why=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80),
    name=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),
    escape_in_text=st.booleans(),
)
def test_values_are_escaped_as_jinja_would(
    renderers: dict[bool, DigestRenderer], why: str, name: str, escape_in_text: bool
) -> None:
    picks = [Pick(pid, 1.0, why, "S") for pid in sorted(PAPERS)[:2]]
    fast, slow = _both(renderers[escape_in_text], picks=picks, name=name)
    assert fast.text == slow.text and fast.html == slow.html  # type: ignore[attr-defined]


@settings(max_examples=400, deadline=None)
@given(
    literals=st.lists(
        st.text(alphabet=st.sampled_from("ab =.&<\t~é"), max_size=60), min_size=3, max_size=3
    ),
    values=st.lists(
        st.text(alphabet=st.sampled_from("xy =./:-_é\"'"), max_size=90), min_size=2, max_size=2
    ),
    two=st.booleans(),
    autoescape=st.booleans(),
)
def test_lines_with_values_encode_as_the_filled_line(
    literals: list[str], values: list[str], two: bool, autoescape: bool
) -> None:
    """The shortcut for plain lines (links) gives exactly the bytes of encoding the line."""
    second = f"\x01Ss1\x01{literals[2]}" if two else ""
    text = f"{literals[0]}\x01Hh0\x01{literals[1]}{second}\nend\n"
    piece = Piece(text, "test", autoescape=autoescape, cache={})
    line = next(segment for segment in piece.segments if not isinstance(segment, bytes))
    prepared = piece.prepare(values)
    filled = piece.fill(line, prepared)  # type: ignore[arg-type]
    assert piece.encode(line, prepared) == qp_line(filled)  # type: ignore[arg-type]
    expected = literals[0] + str(escape(values[0])) + literals[1]
    if two:
        expected += (str(escape(values[1])) if autoescape else values[1]) + literals[2]
    assert filled == expected


def test_values_that_are_not_strings_are_written_as_jinja_would() -> None:
    for autoescape in (True, False):
        piece = Piece(
            '<a href="\x01Hh0\x01">\x01Hh1\x01</a>\n', "t", autoescape=autoescape, cache={}
        )
        values = piece.prepare([42, Markup("<b>")])  # safe already: not escaped again
        line = piece.segments[0]
        assert piece.fill(line, values) == '<a href="42"><b></a>'  # type: ignore[arg-type]
        assert piece.encode(line, values) == qp_line('<a href="42"><b></a>')  # type: ignore[arg-type]
        one = Piece("<i>\x01Hh0\x01</i>\n", "t", autoescape=autoescape, cache={})
        for value, shown in ((7, "7"), (Markup("<b>"), "<b>")):
            prepared = one.prepare([value])
            assert one.fill(one.segments[0], prepared) == f"<i>{shown}</i>"  # type: ignore[arg-type]


def test_plain_lines_around_the_soft_break_limits() -> None:
    """Lengths 60 to 240, ending in ".", " " or a letter, with and without an escape."""
    for literal in ("    More like this: ", '<a href="', ""):
        piece = Piece(f"{literal}\x01Ss0\x01\n", "t", autoescape=False, cache={})
        line = piece.segments[0]
        for n in range(60, 240):
            for end in (".", " ", "x"):
                value = ("h" * n)[len(literal) :] + end if len(literal) < n else end
                expected = qp_line(literal + value)
                assert piece.encode(line, (value,)) == expected, (literal, n, end)  # type: ignore[arg-type]
                assert piece.encode(line, (".",)) == qp_line(literal + ".")  # type: ignore[arg-type]

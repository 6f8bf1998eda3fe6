"""Digest bodies spliced from blocks compiled once per edition: the same text as Jinja,
and templates that break the rules fail with a clear error instead of sending wrong mail."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import replace
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
    qp_decoded,
    render_digest,
    sample_papers,
)
from markupsafe import Markup, escape

from digest.domain import Pick, SubscriberInfo
from digest.errors import ConfigError
from digest.render import DigestRenderer, EditionInfo, EmailTemplates
from digest.render.mime import QPEncoder
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
        assert qp_decoded(text.encode(QPEncoder())) == fast.text
        assert qp_decoded(html.encode(QPEncoder())) == fast.html


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
    whole = QPEncoder().encode(fast.text)  # type: ignore[attr-defined]
    assert qp_decoded(body.encode(QPEncoder())) == qp_decoded(whole)  # the last line ended


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


def _encoded(piece: Piece, values: Sequence[object], qp: QPEncoder | None = None) -> bytes:
    out: list[bytes] = []
    piece.encode_into(values, qp or QPEncoder(), out)
    return b"".join(out)


@settings(max_examples=400, deadline=None)
@given(
    literals=st.lists(
        st.text(alphabet=st.sampled_from("ab =.&<\t~é"), max_size=90), min_size=3, max_size=3
    ),
    values=st.lists(
        st.text(alphabet=st.sampled_from("xy =./:-_é\"'\t\n"), max_size=170),
        min_size=2,
        max_size=2,
    ),
    two=st.booleans(),
    autoescape=st.booleans(),
)
def test_lines_with_values_encode_as_the_filled_line(
    literals: list[str], values: list[str], two: bool, autoescape: bool
) -> None:
    """A line with values, its literal parts encoded once and each value on physical lines
    of its own: well-formed quoted-printable of the filled line, whatever the lengths,
    escapes, spaces and dots around the soft breaks."""
    second = f"\x01Ss1\x01{literals[2]}" if two else ""
    text = f"{literals[0]}\x01Hh0\x01{literals[1]}{second}\nend\n"
    piece = Piece(text, "test", autoescape=autoescape, cache={})
    line = piece.head
    prepared = piece.prepare(values)
    filled = piece.fill(line, prepared)
    expected = literals[0] + str(escape(values[0])) + literals[1]
    if two:
        expected += (str(escape(values[1])) if autoescape else values[1]) + literals[2]
    assert filled == expected
    qp = QPEncoder()
    assert qp_decoded(_encoded(piece, prepared, qp)) == f"{filled}\nend\n"
    assert _encoded(piece, prepared, qp) == _encoded(piece, prepared, qp)  # values cached


def test_values_that_are_not_strings_are_written_as_jinja_would() -> None:
    for autoescape in (True, False):
        piece = Piece(
            '<a href="\x01Hh0\x01">\x01Hh1\x01</a>\n', "t", autoescape=autoescape, cache={}
        )
        values = piece.prepare([42, Markup("<b>")])  # safe already: not escaped again
        assert piece.fill(piece.head, values) == '<a href="42"><b></a>'
        assert qp_decoded(_encoded(piece, values)) == '<a href="42"><b></a>\n'
        one = Piece("<i>\x01Hh0\x01</i>\n", "t", autoescape=autoescape, cache={})
        for value, shown in ((7, "7"), (Markup("<b>"), "<b>")):
            prepared = one.prepare([value])
            assert one.fill(one.head, prepared) == f"<i>{shown}</i>"
            assert qp_decoded(_encoded(one, prepared)) == f"<i>{shown}</i>\n"


@pytest.mark.parametrize(
    "literal", ["    More like this: ", '<a href="', "", "x" * 74, "=" * 30, "é" * 20, "a. "]
)
@pytest.mark.parametrize("after", ["", "</a>", " ", "=", ".", "\t"])
def test_lines_around_the_soft_break_limits(literal: str, after: str) -> None:
    """Values of 0 to 240 characters ending in ".", " ", "=" or a letter, with literal parts
    before and after: lines of exactly 75 and 76 octets, a value starting with "." or
    ending the line with a space, "=" at the end of a line, a lone ".", non-ASCII names."""
    piece = Piece(f"{literal}\x01Ss0\x01{after}\n", "t", autoescape=False, cache={})
    qp = QPEncoder()
    values = [".", " ", "=", "", "Zoë Ångström", "山田 太郎", ". leading dot", "a\tb"]
    for n in range(0, 240):
        for end in (".", " ", "x", "="):
            values.append("h" * n + end)
    for value in values:
        data = _encoded(piece, (value,), qp)
        assert qp_decoded(data) == f"{literal}{value}{after}\n", (literal, value, after)


def test_a_plain_link_is_its_own_bytes() -> None:
    """The usual per-reader value, a link, costs its bytes: no escaping, no soft breaks
    that depend on its length."""
    piece = Piece('    <a href="\x01Hh0\x01">More like this</a>\n', "t", autoescape=True, cache={})
    link = "https://digest.example.org/f/ANAS1oeMtULBVvrxeA/up"
    data = _encoded(piece, piece.prepare([link]))
    assert data == b'    <a href=3D"=\r\n' + link.encode() + b'=\r\n">More like this</a>\r\n'


def _render_text(prepared: object, seed: int = 1) -> str:
    signer = make_signer()
    sub = SubscriberInfo(seed, f"r{seed}@example.org", "Ada")
    picks = picks_for(PAPERS, count=3, seed=seed)
    email = prepared.render(  # type: ignore[attr-defined]
        sub,
        picks,
        signer.for_recipient(sub.id, EDITION.key),
        signer.feedback_links(sub.id),
        message_id="<m@example.org>",
        when=WHEN,
    )
    return str(email.text)


def test_editions_of_a_renderer_share_item_pieces_per_card(tmp_path: Path) -> None:
    """A card is compiled once per process, not per edition; a card that changed between
    editions (more upvotes) is compiled again, and shows the new value."""
    renderer = _renderer(tmp_path)
    first = renderer.edition(EDITION, PAPERS)
    second = renderer.edition(EditionInfo("weekly:2025-W22", EDITION.day), PAPERS)
    _render_text(first)
    _render_text(second)
    for one, two in zip(first._blocks, second._blocks, strict=True):
        assert one.items and set(one.items) == set(two.items)
        assert all(one.items[key] is two.items[key] for key in one.items)
    picked = picks_for(PAPERS, count=3, seed=1)[0].paper_id
    more = {**PAPERS, picked: replace(PAPERS[picked], upvotes=4321)}
    third = renderer.edition(EditionInfo("daily:2025-05-31", EDITION.day), more)
    assert "▲ 4321" in _render_text(third)
    assert "▲ 4321" not in _render_text(first)


def test_an_item_block_that_uses_the_edition_is_the_editions_own(tmp_path: Path) -> None:
    text = TEXT_OK.replace("{{ item.label }}", "{{ item.label }} [{{ edition.key }}]")
    renderer = _renderer(tmp_path, text=text)
    weekly = EditionInfo("weekly:2025-W22", EDITION.day)
    assert f"[{EDITION.key}]" in _render_text(renderer.edition(EDITION, PAPERS))
    shown = _render_text(renderer.edition(weekly, PAPERS))
    assert "[weekly:2025-W22]" in shown and f"[{EDITION.key}]" not in shown

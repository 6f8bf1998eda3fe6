"""The quoted-printable line cache and the pre-encoded static runs give exact bytes."""

from __future__ import annotations

import binascii
import quopri
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st
from mailcheck import make_renderer, make_signer, picks_for, sample_papers

from digest.domain import SubscriberInfo
from digest.render import EditionInfo
from digest.render.mime import QPEncoder

LINES = st.lists(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n")),
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(lines=LINES)
def test_line_by_line_equals_encoding_the_whole_text(lines: list[str]) -> None:
    text = "".join(line + "\n" for line in lines)
    whole = binascii.b2a_qp(text.replace("\n", "\r\n").encode(), False, True, False)
    encoder = QPEncoder()
    assert encoder.encode(text) == whole
    assert encoder.encode(text) == whole  # from the cache
    assert quopri.decodestring(whole).decode().replace("\r\n", "\n") == text
    for line in whole.split(b"\r\n"):
        assert len(line) <= 76


def test_reset_keeps_static_lines() -> None:
    encoder = QPEncoder(max_lines=3)
    encoder.add_static({"\x00static\x00": b"STATIC\r\n"})
    for i in range(10):
        assert (
            encoder.encode(f"line {i}\n\x00static\x00\n")
            == f"line {i}\r\n".encode() + b"STATIC\r\n"
        )
    assert len(encoder._cache) <= 5


def test_static_runs_encode_to_the_same_bytes_as_the_whole_html() -> None:
    renderer = make_renderer()
    papers = sample_papers()
    signer = make_signer()
    edition = EditionInfo("weekly:2025-05-26", date(2025, 5, 26))
    prepared = renderer.edition(edition, papers)
    for i, cold in enumerate([False, True, False]):
        sub = SubscriberInfo(i + 1, f"r{i}@example.org", ["Ada", None, "Zoë 山田"][i])
        view = prepared.view(
            sub,
            picks_for(papers, seed=i),
            signer.for_recipient(sub.id, edition.key),
            signer.feedback_links(sub.id),
            cold_start=cold,
        )
        view["subject"] = prepared.subject(view["paper_count"], cold)
        view["_fragments"] = prepared.fragments
        html = renderer.templates.html("digest").render_parts(view)
        assert "\x00" in html._raw  # static runs are markers until needed
        plain = str(html)
        assert "\x00" not in plain
        assert html.encode(renderer.writer.qp) == QPEncoder().encode(plain)


@settings(max_examples=300, deadline=None)
@given(
    line=st.text(alphabet=st.sampled_from("ab .=\t~!/:-_?&"), max_size=80)
    | st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80)
)
def test_plain_ascii_lines_match_b2a_qp(line: str) -> None:
    expected = binascii.b2a_qp((line + "\r\n").encode(), False, True, False)
    assert QPEncoder().encode(line + "\n") == expected
    assert QPEncoder().encode(line + "\n", cache=False) == expected


def test_line_length_boundary() -> None:
    for n in range(70, 82):
        for line in ("a" * n, "a" * (n - 1) + " ", "." + "b" * (n - 1)):
            expected = binascii.b2a_qp((line + "\r\n").encode(), False, True, False)
            assert QPEncoder().encode(line + "\n", cache=False) == expected

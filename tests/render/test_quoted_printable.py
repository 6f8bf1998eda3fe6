"""Quoted-printable: the line cache and the shortcuts give b2a_qp's bytes (but for the
lines of 77 octets it writes, which get one more soft break); spliced bodies decode to the
same text."""

from __future__ import annotations

import binascii
import quopri
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st
from mailcheck import WHEN, make_renderer, make_signer, picks_for, qp_decoded, sample_papers

from digest.domain import SubscriberInfo
from digest.render import EditionInfo
from digest.render.mime import QPEncoder
from digest.render.splice import Spliced


def b2a_qp_76(text: str) -> bytes:
    """What digest writes: b2a_qp's bytes when every physical line is 76 octets at most;
    else (b2a_qp writes 77 for 75 characters ending in a space) the same text, decoded,
    in lines of 76 octets at most, checked here and returned as digest's encoder gives it."""
    whole = binascii.b2a_qp(text.replace("\n", "\r\n").encode(), False, True, False)
    if all(len(line) <= 76 for line in whole.split(b"\r\n")):
        return whole
    mine = QPEncoder().encode(text, cache=False)
    assert all(len(line) <= 76 for line in mine.split(b"\r\n")), mine
    assert quopri.decodestring(mine) == quopri.decodestring(whole)
    assert mine.replace(b"=\r\n", b"") == whole.replace(b"=\r\n", b"")  # only breaks moved
    return mine


LINES = st.lists(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n")),
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(lines=LINES)
def test_line_by_line_equals_encoding_the_whole_text(lines: list[str]) -> None:
    text = "".join(line + "\n" for line in lines)
    whole = b2a_qp_76(text)
    encoder = QPEncoder()
    assert encoder.encode(text) == whole
    assert encoder.encode(text) == whole  # from the cache
    assert quopri.decodestring(whole).decode().replace("\r\n", "\n") == text
    for line in whole.split(b"\r\n"):
        assert len(line) <= 76


def test_cache_is_bounded() -> None:
    encoder = QPEncoder(max_lines=3)
    for i in range(10):
        assert encoder.encode(f"line {i}\nsame\n") == f"line {i}\r\nsame\r\n".encode()
        assert encoder.line(f"x{i}") == f"x{i}\r\n".encode()
    assert len(encoder._cache) <= 5


def test_spliced_bodies_encode_to_the_whole_body() -> None:
    """Blocks compiled once, filled per reader: well-formed quoted-printable of the whole
    text (each reader's value on physical lines of its own, so not b2a_qp's bytes)."""
    renderer = make_renderer()
    papers = sample_papers()
    signer = make_signer()
    edition = EditionInfo("weekly:2025-05-26", date(2025, 5, 26))
    prepared = renderer.edition(edition, papers)
    for i, cold in enumerate([False, True, False, False]):
        sub = SubscriberInfo(i + 1, f"r{i}@example.org", ["Ada", None, "Zoë 山田", "Ada"][i])
        links = signer.for_recipient(sub.id, edition.key)
        email = prepared.render(
            sub,
            picks_for(papers, seed=i % 3),
            links,
            signer.feedback_links(sub.id),
            message_id=f"<{i}@example.org>",
            when=WHEN,
            cold_start=cold,
        )
        for part in (email._html, email._text):
            assert isinstance(part, Spliced)
            assert qp_decoded(part.encode(prepared.qp)) == str(part)
            assert part.encode(QPEncoder()) == part.encode(prepared.qp)


@settings(max_examples=500, deadline=None)
@given(
    line=st.text(alphabet=st.sampled_from("ab .=\t~!/:-_?&"), max_size=400)
    | st.text(alphabet=st.sampled_from("a=."), max_size=250)
    | st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=400)
)
def test_plain_ascii_lines_match_b2a_qp(line: str) -> None:
    expected = b2a_qp_76(line + "\n")
    assert QPEncoder().encode(line + "\n") == expected
    assert QPEncoder().encode(line + "\n", cache=False) == expected


def test_line_length_boundary() -> None:
    """Soft breaks: at 75 characters, before an escape that would pass column 75."""
    for n in range(70, 235):
        for line in (
            "a" * n,
            "a" * (n - 1) + " ",
            "." + "b" * (n - 1),
            "b" * (n - 1) + ".",
            "c" * (n % 75) + "=" * (n // 75 + 1),
            ("=a" * n)[:n],
            ("a=b" * n)[:n] + ".",
        ):
            expected = b2a_qp_76(line + "\n")
            assert QPEncoder().encode(line + "\n", cache=False) == expected


@settings(max_examples=200, deadline=None)
@given(lines=LINES.filter(bool))
def test_a_line_holding_line_breaks_encodes_as_its_lines(lines: list[str]) -> None:
    """A reader's value may hold line breaks (wrapped text): the line it fills is encoded
    as the lines it makes, exactly as the whole body would be."""
    from digest.render.qp import qp_line

    joined = "\n".join(lines)
    whole = b2a_qp_76(joined + "\n")
    assert qp_line(joined) == whole
    assert QPEncoder().line(joined) == whole


def test_no_line_passes_76_octets_where_b2a_qp_writes_77() -> None:
    """A line of 75 characters ending in a space: b2a_qp's "=20" ends at column 77."""
    for line in ("a" * 74 + " ", "a" * 74 + "\t", "é" + "a" * 73 + " ", "a=" * 37 + " "):
        b2a = binascii.b2a_qp((line + "\r\n").encode(), False, True, False)
        mine = QPEncoder().encode(line + "\n", cache=False)
        assert max(len(part) for part in mine.split(b"\r\n")) <= 76, mine
        assert quopri.decodestring(mine).decode() == line + "\r\n"
        assert mine == b2a or max(len(part) for part in b2a.split(b"\r\n")) > 76
    assert QPEncoder().encode("a" * 74 + " \n") == b"a" * 74 + b"=\r\n=20\r\n"

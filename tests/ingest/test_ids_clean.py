"""Canonical ids and text cleaning: pure functions, no I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from digest.ingest.clean import clean_text, parse_day, parse_moment
from digest.ingest.ids import arxiv_id, canonical_id, normalize_doi, title_key


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2501.01234", ("2501.01234", None)),
        ("2501.01234v2", ("2501.01234", 2)),
        ("arXiv:2501.01234v3", ("2501.01234", 3)),
        ("  ARXIV:2501.01234  ", ("2501.01234", None)),
        ("oai:arXiv.org:2501.01234v1", ("2501.01234", 1)),
        ("http://arxiv.org/abs/2501.01234v12", ("2501.01234", 12)),
        ("https://arxiv.org/pdf/2501.01234v2.pdf", ("2501.01234", 2)),
        ("https://arxiv.org/pdf/2501.01234", ("2501.01234", None)),
        ("10.48550/arXiv.2501.01234", ("2501.01234", None)),
        ("0704.0001", ("0704.0001", None)),
        ("hep-th/9901001", ("hep-th/9901001", None)),
        ("hep-th/9901001v2", ("hep-th/9901001", 2)),
        ("HEP-TH/9901001", ("hep-th/9901001", None)),
        ("http://arxiv.org/abs/cond-mat/0102536v1", ("cond-mat/0102536", 1)),
        ("oai:arXiv.org:math/0309136v1", ("math/0309136", 1)),
        ("math.GT/0309136", ("math/0309136", None)),
    ],
)
def test_arxiv_ids_in_odd_forms(raw: str, expected: tuple[str, int | None]) -> None:
    assert arxiv_id(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "hello", "2513.01234", "12345.6789", "2501.123", "x2501.01234", "2501.01234567"]
)
def test_not_arxiv_ids(raw: str) -> None:
    assert arxiv_id(raw) is None


def test_canonical_id_prefers_arxiv_then_doi_then_title() -> None:
    assert canonical_id("arXiv:2501.01234v2", doi="10.1/x") == "2501.01234"
    assert canonical_id("", doi="https://doi.org/10.1000/ABC.1.") == "doi:10.1000/abc.1"
    assert canonical_id("doi:10.1000/abc.1") == "doi:10.1000/abc.1"
    assert canonical_id("", doi="10.48550/arXiv.2501.01234") == "2501.01234"
    key = canonical_id("some-id", title="Attention Is  All You Need!")
    assert key == title_key("attention is all you need") and key.startswith("title:")
    assert canonical_id("", title="  ") is None


def test_title_key_ignores_case_accents_and_punctuation() -> None:
    assert title_key("Fréchet Distance: A Study") == title_key("frechet distance -- a study")
    assert title_key("One") != title_key("Two")


def test_normalize_doi() -> None:
    assert normalize_doi("doi:10.1000/XYZ") == "10.1000/xyz"
    assert normalize_doi("nothing") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Two\n\tlines  ", "Two lines"),
        ("A &amp; B &lt;3", "A & B <3"),
        ("&amp;lt;b&amp;gt;x&amp;lt;/b&amp;gt;", "x"),
        ("<p>Para <i>one</i></p><br/>two", "Para one two"),
        ("p<0.05 and q>1", "p<0.05 and q>1"),
        ('Fr\\\'echet and G\\"odel and {\\"o}', "Fréchet and Gödel and ö"),
        ("\\emph{very} \\textbf{\\textit{bold}} {\\em old}", "very bold old"),
        ("keep $\\alpha_{1} + \\beta$ math", "keep $\\alpha_{1} + \\beta$ math"),
        ("50\\% of \\& -- yes", "50% of & – yes"),
        ("ctrl\x00\x07chars\u200b", "ctrl chars"),
        # the fast paths: a removed wrapper leaves two spaces, entities give whitespace,
        # LaTeX only in math, non-ASCII text with quotes, ASCII text with spacing to fix
        ("x \\emph{} y", "x y"),
        ("a&#10;b&nbsp;c", "a b c"),
        ("a -- $\\alpha--b$ -- \\emph{c} ``q''", "a – $\\alpha--b$ – c “q”"),
        ("café ``x'' -- y", "café “x” – y"),
        (" plain -- ascii  text ", "plain – ascii text"),
        ("", ""),
    ],
)
def test_clean_text(raw: str, expected: str) -> None:
    assert clean_text(raw, 1000) == expected


def test_clean_text_caps_length() -> None:
    assert clean_text("word " * 100, 20) == "word word word word…"
    assert len(clean_text("x" * 10_000_000, 50)) == 50


def test_dates() -> None:
    assert parse_day("2025-04-07") == date(2025, 4, 7)
    assert parse_day("2025-03-10T13:00:00.000Z") == date(2025, 3, 10)
    assert parse_day("Mon, 07 Apr 2025 23:00:00 -0400") == date(2025, 4, 7)  # as written
    assert parse_moment("Mon, 07 Apr 2025 00:00:00 -0400") == datetime(2025, 4, 7, 4, tzinfo=UTC)
    for bad in ("2025-13-01", "yesterday", "0001-01-01", "Mon, 99 Foo 2025", ""):
        assert parse_day(bad) is None


def test_ascii_printable_is_isprintable_for_ascii_text() -> None:
    from digest.ingest.clean import _ascii_printable

    for code in range(128):
        text = f"a \\emph{{b}} {chr(code)} &amp; c"
        assert _ascii_printable(text) == text.isprintable(), code
    assert clean_text("Tab\there \\emph{x} &amp;\x7f y", 100) == "Tab here x & y"

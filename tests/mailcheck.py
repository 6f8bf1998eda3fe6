"""Helpers for the email tests: build digests from plain data, parse them back, compare."""

from __future__ import annotations

import binascii
import email.policy
import random
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path

from digest.demo import sample_papers_path
from digest.domain import Paper, Pick, SubscriberInfo
from digest.ingest.parse_jsonl import parse_jsonl, read_lines
from digest.links import LinkSigner
from digest.render import DigestRenderer, EditionInfo, EmailTemplates, RenderedEmail, Sender

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
BASE_URL = "https://digest.example.org"
SECRET = "test-secret-key-0123456789"
WHEN = datetime(2025, 5, 30, 7, 0, tzinfo=UTC)
EDITION = EditionInfo("daily:2025-05-30", date(2025, 5, 30))
SENDER = Sender(
    from_name="Paper Digest",
    from_address="digest@example.org",
    list_id="digest.example.org",
    list_name="Paper Digest",
    unsubscribe_mailto="unsubscribe@example.org",
    feedback_id_sender="digest-example",
)


def sample_papers() -> dict[str, Paper]:
    records = parse_jsonl(read_lines(sample_papers_path()), source="sample").records
    return {p.id: p for p in records}


def make_renderer(sender: Sender = SENDER, **kwargs: object) -> DigestRenderer:
    kwargs.setdefault("contact_line", "Paper Digest · digest@example.org")
    kwargs.setdefault("postal_address", "1 Example Street, 12345 Example City")
    return DigestRenderer(EmailTemplates(TEMPLATES), sender, **kwargs)  # type: ignore[arg-type]


def make_signer() -> LinkSigner:
    return LinkSigner(SECRET, BASE_URL)


def picks_for(papers: dict[str, Paper], count: int = 10, seed: int = 1) -> list[Pick]:
    ids = random.Random(seed).sample(sorted(papers), min(count, len(papers)))
    sections = ("reasoning in language models", "speech and audio")
    return [
        Pick(pid, 1.0 - i / 100, f"matches your topic '{sections[i % 2]}' (title)", sections[i % 2])
        for i, pid in enumerate(ids)
    ]


def render_digest(
    subscriber: SubscriberInfo,
    papers: dict[str, Paper],
    picks: list[Pick] | None = None,
    *,
    renderer: DigestRenderer | None = None,
    reference_build: bool = False,
    cold_start: bool = False,
    message_id: str | None = None,
    edition: EditionInfo = EDITION,
) -> RenderedEmail:
    renderer = renderer or make_renderer()
    signer = make_signer()
    prepared = renderer.edition(edition, papers)
    return prepared.render(
        subscriber,
        picks if picks is not None else picks_for(papers),
        signer.for_recipient(subscriber.id, edition.key),
        signer.feedback_links(subscriber.id),
        message_id=message_id or f"<digest.{subscriber.id}.daily.2025-05-30@example.org>",
        when=WHEN,
        cold_start=cold_start,
        reference_build=reference_build,
    )


def parse(data: bytes) -> EmailMessage:
    return message_from_bytes(data, policy=email.policy.default)  # type: ignore[return-value]


def body(msg: EmailMessage, subtype: str) -> str:
    """The decoded text of the text/``subtype`` part, with ``\n`` line endings."""
    part = msg.get_body((subtype,))
    assert part is not None, f"no text/{subtype} part"
    return part.get_content().replace("\r\n", "\n")


def assert_wire_format(data: bytes) -> None:
    """CRLF everywhere, no bare CR or LF, every line within 998 octets."""
    assert data.endswith(b"\r\n")
    lines = data.split(b"\r\n")
    for line in lines:
        assert b"\n" not in line and b"\r" not in line, f"bare line ending in {line[:80]!r}"
        assert len(line) <= 998, f"line of {len(line)} octets"


_QP_LINE = re.compile(rb"(?:[\x21-\x3c\x3e-\x7e \t]|=[0-9A-F]{2})*=?")


def qp_decoded(data: bytes) -> str:
    """The text of a quoted-printable body (``\n`` line endings), after checking that it
    is well formed: CRLF lines of 76 octets at most, "=" only in an escape or as the soft
    break that ends a line, no space or tab at the end of a line (before a soft break's
    "=" they may be). (A line may start with "." or be one, after a soft break as
    ``b2a_qp`` writes it too: SMTP's dot-stuffing is the transport's.)"""
    assert data == b"" or data.endswith(b"\r\n"), data[-80:]
    for line in data.split(b"\r\n")[:-1]:
        assert len(line) <= 76, f"line of {len(line)} octets: {line!r}"
        assert _QP_LINE.fullmatch(line), f"not quoted-printable: {line!r}"
        assert not line.endswith((b" ", b"\t")), f"white space at the end: {line!r}"
    return binascii.a2b_qp(data).decode("utf-8").replace("\r\n", "\n")


def assert_structure(msg: EmailMessage) -> None:
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    for part in parts:
        assert part.get_content_charset() == "utf-8"


def comparable(msg: EmailMessage) -> dict[str, object]:
    """Everything a reader or a mail client sees, minus the random MIME boundary.

    Runs of whitespace in header values count as one space: the ``email`` package folds
    ``List-Unsubscribe`` so that it unfolds with two spaces after the comma.
    """
    headers = []
    for name, value in msg.items():
        if name.lower() == "content-type":
            value = msg.get_content_type()
        headers.append((name.lower(), " ".join(str(value).split())))
    parts = [
        (p.get_content_type(), p.get_content_charset(), p.get_content()) for p in msg.iter_parts()
    ]
    return {"headers": headers, "parts": parts}


def with_paper(papers: dict[str, Paper], paper: Paper) -> dict[str, Paper]:
    return {**papers, paper.id: paper}


def nasty(paper: Paper, **changes: object) -> Paper:
    return replace(paper, **changes)  # type: ignore[arg-type]


def assert_text_lines(text: str, limit: int = 78) -> None:
    """Every line of a text part fits ``limit`` columns, but a link (or an address), which
    stays whole on a line of its own."""
    from digest.render.layout import columns

    for line in text.splitlines():
        if columns(line) <= limit:
            continue
        word = line.strip()
        assert " " not in word and (word.startswith("https://") or "@" in word), (
            f"a line of {columns(line)} columns: {line!r}"
        )

"""`digest run` end to end: real database (SQLite and PostgreSQL), real aiosmtpd server."""

from __future__ import annotations

import re
from email.message import EmailMessage

import pytest

from digest.demo import sample_papers_path
from digest.rank import semantic
from tests.conftest import SmtpSink, free_port
from tests.helpers import run_cli

SUBSCRIBERS = [
    [
        "speech@example.org",
        "--name",
        "Speech Reader",
        "--topic",
        "speech recognition",
        "--topic",
        "audio separation",
    ],
    [
        "seg@example.org",
        "--name",
        "Zoë Ünicode",
        "--topic",
        "medical image segmentation",
        "--require",
        "segmentation",
    ],
    [
        "video@example.org",
        "--topic",
        "video generation",
        "--exclude",
        "motion",
        "--tz",
        "Asia/Tokyo",
    ],
]
WORD = re.compile(r"\w+")


@pytest.fixture
def env(digest_env, db_url, smtp_server, monkeypatch, capsys):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DIGEST_DATABASE_URL", db_url)
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_server.url)
    assert run_cli(capsys, "db", "upgrade").code == 0
    result = run_cli(capsys, "ingest", "jsonl", str(sample_papers_path()), "--json")
    assert result.code == 0, result.err
    assert result.json()["new"] > 30
    # the ingest hook embeds every new paper when the semantic extra is installed
    assert result.json()["embedded"] == (result.json()["new"] if semantic.available() else 0)
    for args in SUBSCRIBERS:
        assert run_cli(capsys, "subscribers", "add", *args).code == 0
    return digest_env


def papers_in(msg: EmailMessage) -> list[tuple[str, str]]:
    """(paper id, text block) of each numbered paper in the text part."""
    text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    index, cards = text.split("IN THIS ISSUE\n", 1)[1].split("\n\n\n", 1)  # titles first
    blocks = re.split(r"\n\s*(?=\d+\. )", "\n" + cards)
    found = []
    for block in blocks[1:]:
        link = re.search(r"Abstract: https://arxiv\.org/abs/(\S+)", block)
        assert link, block
        found.append((link.group(1), block))
    assert len(re.findall(r"^\s*\d+\. ", index, re.M)) == len(found)  # one entry per card
    return found


def test_run_sends_personalized_digests(env, smtp_server: SmtpSink, capsys) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(capsys, "run", "--json")
    assert result.code == 0, result.err
    assert result.json()["summary"]["sent"] == 3
    received = smtp_server.by_recipient()
    assert sorted(received) == ["seg@example.org", "speech@example.org", "video@example.org"]

    for rcpt, msg in received.items():
        assert msg.get_content_type() == "multipart/alternative"
        parts = [p.get_content_type() for p in msg.iter_parts()]
        assert parts == ["text/plain", "text/html"]
        for header in (
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "List-Id",
            "List-Unsubscribe",
            "List-Unsubscribe-Post",
        ):
            assert msg[header], f"{header} missing for {rcpt}"
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert msg["Message-ID"].endswith("@digest.test>")
        unsubscribe = re.fullmatch(r"<(https://digest\.test/u/[^>]+)>", msg["List-Unsubscribe"])
        assert unsubscribe, msg["List-Unsubscribe"]
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        assert unsubscribe.group(1) in text
        assert unsubscribe.group(1) in html
        assert "https://digest.test/p/" in text and "https://digest.test/p/" in html

    # each reader gets only papers matching their interests
    speech = papers_in(received["speech@example.org"])
    assert speech
    topic_words = {"speech", "recognition", "audio", "separation"}
    for title, block in speech:
        # each pick says why, naming only words of the reader's own topics
        why = re.search(r"Why: (.*?)\n\s*Abstract:", block, re.S)
        assert why, block
        named = re.findall(r"'([^']+)'", why.group(1))
        if why.group(1).startswith("Close in meaning"):  # the semantic extra: no words shared
            assert not named, (title, why)
            continue
        assert named and all(set(WORD.findall(n)) <= topic_words for n in named), (title, why)
    seg = papers_in(received["seg@example.org"])
    assert seg
    assert all("segmentation" in block.lower() for _, block in seg)
    video = papers_in(received["video@example.org"])
    assert video
    for title, block in video:
        # the topic's word, or (the semantic extra, whose calibrated show_topic_cosine shows
        # every match by meaning) a reason that says the match is by meaning, not by words
        why = re.search(r"Why: (.*?)\n\s*Abstract:", block, re.S)
        assert "video" in block.lower() or (why and why.group(1).startswith("Close in meaning")), (
            title,
            block,
        )
        assert "motion" not in block.lower(), f"excluded keyword in {title}"
    titles = [{t for t, _ in p} for p in (speech, seg, video)]
    assert not (titles[0] & titles[1]) and not (titles[1] & titles[2])

    # display names with accents are encoded, and decode back
    assert received["seg@example.org"]["To"].addresses[0].display_name == "Zoë Ünicode"


def test_second_run_sends_nothing_and_newcomers_get_only_theirs(env, smtp_server, capsys) -> None:  # type: ignore[no-untyped-def]
    assert run_cli(capsys, "run").code == 0
    first = len(smtp_server.envelopes)
    assert first == 3
    again = run_cli(capsys, "run", "--json")
    assert again.code == 0
    assert again.json()["summary"]["sent now"] == 0
    assert again.json()["summary"]["sent"] == 3
    assert len(smtp_server.envelopes) == first

    assert run_cli(capsys, "subscribers", "add", "new@example.org", "--topic", "speech").code == 0
    third = run_cli(capsys, "run", "--json")
    assert third.json()["summary"]["sent now"] == 1
    assert third.json()["summary"]["sent"] == 4
    assert [e[1] for e in smtp_server.envelopes[first:]] == [["new@example.org"]]


def test_papers_are_never_sent_twice_to_a_reader(env, smtp_server, capsys) -> None:  # type: ignore[no-untyped-def]
    """The next edition (a day later) skips readers when only already-sent papers match,
    and sends only the papers that arrived in between."""
    from datetime import UTC, datetime, timedelta

    from digest.db.papers import upsert_papers
    from digest.domain import Paper
    from digest.pipeline.edition import run_edition
    from digest.pipeline.runtime import Runtime
    from digest.settings import Settings

    assert run_cli(capsys, "run").code == 0
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    rt = Runtime.from_settings(Settings.from_env(), clock=lambda: tomorrow)
    report = run_edition(rt)
    assert (report.result.counts["sent"], report.result.counts["skipped"]) == (0, 3)
    assert len(smtp_server.envelopes) == 3

    with rt.db.session() as session:
        upsert_papers(
            session,
            [
                Paper(
                    "2601.00001",
                    "Robust speech recognition for meetings",
                    "We study speech recognition in meetings.",
                )
            ],
            tomorrow,
        )
    day_after = tomorrow + timedelta(days=1)
    rt = Runtime.from_settings(Settings.from_env(), clock=lambda: day_after)
    report = run_edition(rt)
    assert report.result.counts["sent"] == 1
    msg = smtp_server.by_recipient()["speech@example.org"]  # the latest message wins
    assert [pid for pid, _ in papers_in(msg)] == ["2601.00001"]


def test_unreachable_smtp_server_fails_cleanly(
    digest_env, sqlite_url, smtp_server, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DIGEST_DATABASE_URL", sqlite_url)
    port = free_port()
    monkeypatch.setenv("DIGEST_SMTP_URL", f"smtp://127.0.0.1:{port}?timeout=2")
    assert run_cli(capsys, "subscribers", "add", "a@example.org", "--topic", "speech").code == 0
    assert run_cli(capsys, "ingest", "jsonl", str(sample_papers_path())).code == 0
    result = run_cli(capsys, "run", "--json")
    # a relay that does not answer is a configuration error, found before anything is planned
    assert (result.code, result.out, result.err) == (
        2,
        "",
        f"error: DIGEST_SMTP_URL: cannot connect to smtp://127.0.0.1:{port}: Connection refused\n",
    )
    # nothing was recorded as sent: a later run with a working server delivers, once
    monkeypatch.setenv("DIGEST_SMTP_URL", smtp_server.url)
    again = run_cli(capsys, "run", "--json")
    assert again.code == 0, again.err
    assert again.json()["summary"]["sent now"] == 1
    assert [rcpt for _, rcpt, _ in smtp_server.envelopes] == [["a@example.org"]]


def test_smtp_server_dying_mid_edition_leaves_retries(
    digest_env, sqlite_url, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    """A server that accepts the connection, then refuses mail: rows go to retry, not lost."""
    from aiosmtpd.controller import Controller

    class Refusing:
        async def handle_DATA(self, server, session, envelope):
            return "451 4.3.0 Temporary failure, try later"

    port = free_port()
    controller = Controller(Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        monkeypatch.setenv("DIGEST_DATABASE_URL", sqlite_url)
        monkeypatch.setenv("DIGEST_SMTP_URL", f"smtp://127.0.0.1:{port}")
        assert run_cli(capsys, "ingest", "jsonl", str(sample_papers_path())).code == 0
        assert run_cli(capsys, "subscribers", "add", "a@example.org", "--topic", "speech").code == 0
        result = run_cli(capsys, "run", "--json")
    finally:
        controller.stop()
    assert result.code == 1
    data = result.json()
    assert data["summary"]["retry"] == 1 and data["next_retry_at"]
    assert "451" in data["outcomes"][0]["detail"]


def test_database_url_that_does_not_connect(digest_env, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DIGEST_DATABASE_URL", f"postgresql://nobody@127.0.0.1:{free_port()}/x")
    result = run_cli(capsys, "subscribers", "list")
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert "DIGEST_DATABASE_URL" in result.err and "cannot connect" in result.err

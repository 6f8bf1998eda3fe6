"""Faults between the claim and the record: each ends as a recorded outcome on the ledger,
never a row stranded in ``sending``; a failed relay session leaves the rows open.

Real SQLite and PostgreSQL, real aiosmtpd servers (with AUTH, SMTPUTF8, 421 replies), the
pipeline's own service functions.
"""

from __future__ import annotations

import re
import shutil
import smtplib
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy import select

from digest.db import Database, editions, subscribers, tracking
from digest.db.models import DeliveryRow, EditionRow, PaperRow
from digest.db.papers import upsert_papers
from digest.deliver import transports
from digest.deliver.transports import (
    MemoryTransport,
    OutgoingMessage,
    SmtpTransport,
    Transport,
    relay_offers_smtputf8,
)
from digest.demo import sample_papers_path
from digest.ingest.parse_jsonl import parse_jsonl, read_lines
from digest.pipeline import service
from digest.pipeline.edition import run_edition, run_until_settled
from digest.pipeline.runtime import Runtime, utcnow
from digest.pipeline.service import deliver_batch, plan_edition
from digest.render import EditionInfo
from digest.settings import Settings, default_templates_dir, parse_smtp_url
from digest.subscriber_spec import validate_spec
from tests.conftest import SmtpSink, _Handler, free_port
from tests.helpers import run_cli

READERS = [f"reader{n}@example.org" for n in range(6)]


class Relay:
    """An aiosmtpd relay: ``refuse`` maps an address to the reply its RCPT gets."""

    def __init__(self, **options: object):
        self.sink = SmtpSink("127.0.0.1", free_port())
        self.refuse: dict[str, str] = {}
        relay = self

        class Handler(_Handler):
            async def handle_RCPT(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]
                reply = relay.refuse.get(address)
                if reply:
                    return reply
                envelope.rcpt_tos.append(address)
                return "250 OK"

        self.controller = Controller(
            Handler(self.sink), hostname="127.0.0.1", port=self.sink.port, **options
        )

    def __enter__(self) -> Relay:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def received(self) -> list[str]:
        with self.sink.lock:
            return [rcpts[0] for _, rcpts, _ in self.sink.envelopes]


def runtime(db_url: str, tmp_path: Path, smtp_url: str, **env: str) -> Runtime:
    values = {
        "DIGEST_DATABASE_URL": db_url,
        "DIGEST_VAR_DIR": str(tmp_path / "var"),
        "DIGEST_SECRET_KEY": "fault-test-secret-0123",
        "DIGEST_BASE_URL": "https://digest.test",
        "DIGEST_FROM": "digest <digest@digest.test>",
        "DIGEST_SMTP_URL": smtp_url,
        **env,
    }
    settings = Settings.from_env({k: v for k, v in values.items() if v})
    return Runtime.from_settings(settings, db=Database(db_url))


@pytest.fixture
def readers(db: Database) -> Iterator[Database]:
    parsed = parse_jsonl(read_lines(sample_papers_path()), source="sample")
    now = utcnow()
    with db.session() as session:
        upsert_papers(session, parsed.records, now)
        for email in READERS:
            spec = validate_spec({"email": email, "topics": ["language models"]})
            subscribers.add_subscriber(session, spec, now)
    yield db


def statuses(db: Database) -> dict[str, int]:
    with db.session() as session:
        rows = session.scalars(select(DeliveryRow.status)).all()
    found: dict[str, int] = {}
    for status in rows:
        found[status] = found.get(status, 0) + 1
    return found


def test_an_exception_after_the_claim_is_recorded_and_the_batch_goes_on(
    readers: Database, db_url: str, tmp_path: Path
) -> None:
    """A bug while sending to one reader (here the in-memory transport raises a plain
    RuntimeError for them): that row is ``failed`` with the error, every other reader gets
    their digest, nothing stays ``sending``."""
    memory = MemoryTransport(fail_for={"reader3@example.org": RuntimeError("boom")})  # type: ignore[dict-item]
    rt = replace(runtime(db_url, tmp_path, ""), transport_factory=lambda: memory)
    result = deliver_batch(rt, plan_edition(rt).delivery_ids)
    assert sorted(m.recipient for m in memory.sent) == sorted(
        set(READERS) - {"reader3@example.org"}
    )
    [failed] = [o for o in result.outcomes if o["status"] == "failed"]
    assert failed["email"] == "reader3@example.org" and "RuntimeError: boom" in str(
        failed["detail"]
    )
    assert statuses(readers) == {"sent": 5, "failed": 1}


def test_the_next_message_is_rendered_while_the_relay_answers(
    readers: Database, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over SMTP each message after the first is rendered while a transaction with the
    relay is open for the one before it (RenderAhead), so the worker's CPU overlaps the
    round trips; on PostgreSQL before that message's body is written, while the database
    commits its claim (sent without waiting), elsewhere while the relay takes the body. A
    rendering error of the message rendered ahead is recorded on its own row when its turn
    comes, and the others go out as before."""
    # (reader, the phase of the transaction open when it was rendered)
    rendering: list[tuple[str, str | None]] = []
    phase: str | None = None  # "envelope" once MAIL is written, "body" once the message is
    real_render = service.render_delivery

    def render(rt, delivery, recipient, *args, **kwargs):  # type: ignore[no-untyped-def]
        rendering.append((recipient.info.email, phase))
        if recipient.info.email == "reader3@example.org":
            raise RuntimeError("a bug in rendering")
        return real_render(rt, delivery, recipient, *args, **kwargs)

    real_send = smtplib.SMTP.send

    def send(self, s):  # type: ignore[no-untyped-def]
        nonlocal phase
        if (s if isinstance(s, str) else s.decode("latin-1")).startswith("MAIL FROM"):
            phase = "envelope"
        return real_send(self, s)

    real_data = transports.dot_stuffed

    def handing_over(data: bytes) -> bytes:  # the body is written right after this
        nonlocal phase
        phase = "body"
        return real_data(data)

    real_getreply = smtplib.SMTP.getreply

    def getreply(self):  # type: ignore[no-untyped-def]
        nonlocal phase
        reply = real_getreply(self)
        if phase == "body":  # the relay's answer to the message: the transaction is over
            phase = None
        return reply

    monkeypatch.setattr(service, "render_delivery", render)
    monkeypatch.setattr(smtplib.SMTP, "send", send)
    monkeypatch.setattr(transports, "dot_stuffed", handing_over)
    monkeypatch.setattr(smtplib.SMTP, "getreply", getreply)
    with Relay() as relay:
        rt = runtime(db_url, tmp_path, relay.sink.url)
        result = deliver_batch(rt, plan_edition(rt).delivery_ids)
        received = relay.received()
    assert sorted(received) == sorted(set(READERS) - {"reader3@example.org"})
    assert len(rendering) == len(READERS)  # each once, ahead or at its turn
    order = [reader for reader, _ in rendering]
    after_failure = order[order.index("reader3@example.org") + 1]
    # the first message, and the one after a message that never reached the relay, are
    # rendered at their turn; all others while a transaction for the one before was open
    ahead = "envelope" if db_url.startswith("postgresql") else "body"
    assert [when for _, when in rendering] == [
        None if reader in (order[0], after_failure) else ahead for reader in order
    ]
    [failed] = [o for o in result.outcomes if o["status"] == "failed"]
    assert failed["email"] == "reader3@example.org"
    assert "RuntimeError: a bug in rendering" in str(failed["detail"])
    assert statuses(readers) == {"sent": 5, "failed": 1}


def test_a_template_error_stops_the_run_before_anything_is_claimed(
    readers: Database,
    db_url: str,
    tmp_path: Path,
    digest_env,
    monkeypatch,
    capsys,  # type: ignore[no-untyped-def]
) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(default_templates_dir(), templates)
    text = templates / "email" / "digest.txt.j2"
    text.write_text(text.read_text().replace("{{ intro }}", "{{ intro.nope() }}"))
    monkeypatch.setenv("DIGEST_TEMPLATES_DIR", str(templates))
    monkeypatch.setenv("DIGEST_DATABASE_URL", db_url)
    result = run_cli(capsys, "run")
    assert result.code == 2 and "DIGEST_TEMPLATES_DIR" in result.err
    assert "Traceback" not in result.err
    assert statuses(readers) == {}  # not even planned


def test_an_address_that_needs_smtputf8(readers: Database, db_url: str, tmp_path: Path) -> None:
    with readers.session() as session:
        spec = validate_spec({"email": "jörg@example.org", "topics": ["language models"]})
        subscribers.add_subscriber(session, spec, utcnow())
    with Relay(enable_SMTPUTF8=False) as plain:  # a clear, permanent, recorded failure
        rt = runtime(db_url, tmp_path, plain.sink.url)
        result = deliver_batch(rt, plan_edition(rt).delivery_ids)
        assert "jörg@example.org" not in plain.received() and len(plain.received()) == 6
    [outcome] = [o for o in result.outcomes if o["email"] == "jörg@example.org"]
    assert outcome["status"] == "failed" and "SMTPUTF8" in str(outcome["detail"])
    assert "sending" not in statuses(readers)


def test_smtputf8_is_used_when_the_relay_offers_it(
    readers: Database, db_url: str, tmp_path: Path
) -> None:
    with readers.session() as session:
        spec = validate_spec({"email": "jörg@example.org", "topics": ["language models"]})
        subscribers.add_subscriber(session, spec, utcnow())
    with Relay(enable_SMTPUTF8=True) as relay:
        rt = runtime(db_url, tmp_path, relay.sink.url)
        deliver_batch(rt, plan_edition(rt).delivery_ids)
        assert "jörg@example.org" in relay.received()
    assert statuses(readers) == {"sent": 7}


@pytest.mark.parametrize("utf8", [False, True])
def test_subscribers_add_and_import_refuse_what_the_relay_cannot_carry(
    capsys, digest_env, monkeypatch, tmp_path: Path, utf8: bool
) -> None:  # type: ignore[no-untyped-def]
    """A non-ASCII local part is refused up front when the relay lacks SMTPUTF8 (one line,
    exit 2, nothing stored), and accepted when it offers it."""
    relay_offers_smtputf8.cache_clear()
    with Relay(enable_SMTPUTF8=utf8) as relay:
        monkeypatch.setenv("DIGEST_SMTP_URL", relay.sink.url)
        added = run_cli(capsys, "subscribers", "add", "jörg@example.org")
        rows = tmp_path / "new.jsonl"
        rows.write_text('{"email": "ok@example.org"}\n{"email": "zoë@example.org"}\n')
        imported = run_cli(capsys, "subscribers", "import", str(rows))
    listed = run_cli(capsys, "subscribers", "list", "--json").out
    if utf8:
        assert added.code == 0 and imported.code == 0
        assert "jörg@example.org" in listed and "zoë@example.org" in listed
    else:
        assert added.code == 2 and "needs SMTPUTF8" in added.err
        assert "Traceback" not in added.err and len(added.err.strip().splitlines()) == 1
        assert imported.code == 2 and "new.jsonl:line 2: zoë@example.org" in imported.err
        assert "@example.org" not in listed  # all-or-nothing: not even ok@
    relay_offers_smtputf8.cache_clear()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_refused_login_fails_the_batch_not_the_readers(
    readers: Database, db_url: str, tmp_path: Path
) -> None:
    def check(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        login, password = (
            v.decode() if isinstance(v, bytes) else v for v in (auth_data.login, auth_data.password)
        )
        return AuthResult(success=(login, password) == ("digest", "right"), handled=False)

    with Relay(authenticator=check, auth_required=True, auth_require_tls=False) as relay:
        wrong = runtime(db_url, tmp_path, f"smtp://digest:wrong@127.0.0.1:{relay.sink.port}")
        plan = plan_edition(wrong)
        result = deliver_batch(wrong, plan.delivery_ids)
        assert result.errors and "refused the login" in result.errors[0]
        assert not result.outcomes and not relay.received()
        assert statuses(readers) == {"pending": 6}  # nothing claimed, nothing failed

        fixed = replace(
            wrong,
            transport_factory=lambda: SmtpTransport(
                parse_smtp_url(f"smtp://digest:right@127.0.0.1:{relay.sink.port}")
            ),
        )
        again = deliver_batch(fixed, plan_edition(fixed).delivery_ids)
        assert not again.errors and sorted(relay.received()) == sorted(READERS)
    assert statuses(readers) == {"sent": 6}


def test_a_421_mid_batch_stops_it_and_the_rest_goes_out_later(
    readers: Database, db_url: str, tmp_path: Path
) -> None:
    with Relay() as relay:
        relay.refuse["reader2@example.org"] = "421 4.3.2 service shutting down"
        rt = runtime(db_url, tmp_path, relay.sink.url)
        plan = plan_edition(rt)
        result = deliver_batch(rt, plan.delivery_ids)
        assert result.errors and "421" in result.errors[0]
        assert relay.received() == ["reader0@example.org", "reader1@example.org"]
        assert statuses(readers) == {"sent": 2, "pending": 4}
        with readers.session() as session:
            released = session.scalars(
                select(DeliveryRow).where(DeliveryRow.attempts > 0, DeliveryRow.status != "sent")
            ).all()
            assert not released  # the claimed row was given back, its attempt not counted
            noted = tracking.session_errors(
                session, [d for d in plan.row_ids], since=rt.clock() - timedelta(minutes=1)
            )
            assert noted and "421" in noted[0]

        relay.refuse.clear()
        again = deliver_batch(rt, plan_edition(rt).delivery_ids)
        assert not again.errors
    assert sorted(relay.received()) == sorted(READERS)  # each once
    assert statuses(readers) == {"sent": 6}


def test_the_report_counts_every_row_and_wait_sees_retries_through(
    readers: Database, db_url: str, tmp_path: Path
) -> None:
    """A temporary failure leaves a row waiting: the report says so (exit 1, next retry
    time), where it once said "already done"; --wait sends it when its time comes."""
    with Relay() as relay:
        relay.refuse["reader4@example.org"] = "451 4.2.1 try later"
        rt = runtime(db_url, tmp_path, relay.sink.url, DIGEST_RETRY_BACKOFF_SECONDS="60")
        report = run_edition(rt)
        assert report.summary() == {
            "sent now": 5,
            "sent": 5,
            "skipped": 0,
            "failed": 0,
            "retry": 1,
            "pending": 0,
            "sending": 0,
            "unknown": 0,
        }
        assert not report.ok and report.next_retry_at is not None
        again = run_edition(rt)  # before the retry time: nothing to do, still not done
        assert again.summary()["sent now"] == 0 and again.summary()["retry"] == 1
        assert not again.ok

        clock = [rt.clock()]
        waits: list[float] = []

        def sleep(seconds: float) -> None:  # the frozen clock moves instead of sleeping
            waits.append(seconds)
            relay.refuse.clear()
            clock[0] += timedelta(seconds=seconds)

        settled = run_until_settled(replace(rt, clock=lambda: clock[0]), sleep=sleep)
        assert len(waits) == 1 and 55 <= waits[0] <= 60
        assert settled.ok and settled.summary()["sent"] == 6
        assert sorted(relay.received()) == sorted(READERS)


def test_a_hard_bounce_suppresses_the_reader_and_a_policy_refusal_does_not(
    readers: Database, db_url: str, tmp_path: Path
) -> None:
    with Relay() as relay:
        relay.refuse["reader1@example.org"] = "550 5.1.1 no such user"
        relay.refuse["reader2@example.org"] = "550 5.7.1 rejected as spam"
        rt = runtime(db_url, tmp_path, relay.sink.url)
        report = run_edition(rt)
    outcomes = {o["email"]: o for o in report.result.outcomes}
    assert outcomes["reader1@example.org"]["status"] == "failed"
    assert "suppressed" in str(outcomes["reader1@example.org"]["detail"])
    assert "suppressed" not in str(outcomes["reader2@example.org"]["detail"])
    with readers.session() as session:
        assert subscribers.get_subscriber(session, "reader1@example.org").status == "bounced"
        assert subscribers.get_subscriber(session, "reader2@example.org").status == "active"
    tomorrow = replace(rt, clock=lambda: rt.clock() + timedelta(days=1))
    planned = plan_edition(tomorrow)
    with readers.session() as session:
        emails = {
            subscribers.subscribers_by_ids(session, [d.subscriber_id])[d.subscriber_id].email
            for d in editions.load_deliveries(session, planned.row_ids)
        }
    assert "reader1@example.org" not in emails and "reader2@example.org" in emails


def test_a_temporary_failure_to_the_last_attempt_is_a_soft_bounce(
    readers: Database, db_url: str, tmp_path: Path
) -> None:
    """Soft bounces count toward Mailman's threshold: here one is enough (0.5)."""
    with Relay() as relay:
        relay.refuse["reader3@example.org"] = "452 4.2.2 mailbox full"
        rt = runtime(
            db_url,
            tmp_path,
            relay.sink.url,
            DIGEST_MAX_ATTEMPTS="1",
            DIGEST_BOUNCE_SCORE_THRESHOLD="0.5",
        )
        report = run_edition(rt)
    outcomes = {o["email"]: o for o in report.result.outcomes}
    assert outcomes["reader3@example.org"]["status"] == "failed"
    with readers.session() as session:
        reader = subscribers.get_subscriber(session, "reader3@example.org")
        assert (reader.status, reader.bounce_score) == ("bounced", 0.5)
        assert subscribers.get_subscriber(session, "reader4@example.org").bounce_score == 0


def test_policy_refusals_of_many_readers_pause_the_edition_and_suppress_nobody(
    readers: Database, db_url: str, tmp_path: Path
) -> None:
    with Relay() as relay:
        for email in READERS:
            relay.refuse[email] = "550 5.7.26 unauthenticated mail is prohibited (DMARC)"
        rt = runtime(db_url, tmp_path, relay.sink.url, DIGEST_POLICY_PAUSE_AFTER="2")
        report = run_edition(rt)
        assert not report.ok and len(report.result.errors) >= 1
        assert "is paused: 2 readers" in report.result.errors[0]
        assert "digest run --resume" in report.result.errors[0]
        assert statuses(readers) == {"failed": 2, "pending": 4}
        again = run_edition(rt)  # still paused: nothing claimed
        assert statuses(readers) == {"failed": 2, "pending": 4}
        assert again.result.errors and "is paused" in again.result.errors[0]
        with readers.session() as session:
            assert {s.status for s in subscribers.list_subscribers(session)} == {"active"}
            assert editions.resume_editions(session)  # the operator fixed DMARC
        relay.refuse.clear()
        resumed = run_edition(rt)
    assert resumed.summary()["sent now"] == 4 and statuses(readers) == {"failed": 2, "sent": 4}


def test_a_worker_reads_each_paper_once_per_prepared_edition(
    readers: Database, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of one edition in one process read from the database only the papers that
    earlier batches did not (the prepared edition holds them); the emails are the same as
    a process that reads every paper gets."""
    memory = MemoryTransport()
    rt = replace(runtime(db_url, tmp_path, ""), transport_factory=lambda: memory)
    ids = plan_edition(rt).delivery_ids
    read: list[set[str]] = []
    papers_by_ids = service.papers_by_ids

    def counting(session, wanted):  # type: ignore[no-untyped-def]
        read.append(set(wanted))
        return papers_by_ids(session, wanted)

    monkeypatch.setattr(service, "papers_by_ids", counting)
    half = len(ids) // 2
    assert deliver_batch(rt, ids[:half]).counts["sent"] == half
    assert deliver_batch(rt, ids[half:]).counts["sent"] == len(ids) - half
    papers = [paper for wanted in read for paper in wanted]  # (and the rankers' history)
    assert papers and len(papers) == len(set(papers))  # none read twice
    fresh = MemoryTransport()
    again = replace(runtime(db_url, tmp_path, ""), transport_factory=lambda: fresh)
    with readers.session() as session:  # the same rows, open again: sent by a new process
        for row in session.scalars(select(DeliveryRow)):
            row.status = "pending"
    assert deliver_batch(again, ids).counts["sent"] == len(ids)

    def same(sent: list[OutgoingMessage]) -> dict[str, bytes]:  # but the boundary and Date
        drop = re.compile(rb"=_[0-9a-f]{24}|^Date: .*$", re.M)
        return {m.recipient: drop.sub(b"", m.data) for m in sent}

    assert same(memory.sent) == same(fresh.sent)


def test_batches_of_several_editions_keep_each_prepared_edition_and_its_papers(
    readers: Database, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch usually holds several editions (readers whose local date differs, weekly
    readers): each stays prepared across batches (compiled once per process, where only
    two were kept and a batch of three compiled them all again), and a paper held by any
    of them is not read again."""
    rt = runtime(db_url, tmp_path, "")
    made: list[str] = []
    edition = rt.renderer.edition

    def counting(info, papers):  # type: ignore[no-untyped-def]
        made.append(info.key)
        return edition(info, papers)

    monkeypatch.setattr(rt.renderer, "edition", counting)
    days = [date(2026, 3, 1), date(2026, 3, 2), date(2026, 2, 23)]
    infos = [EditionInfo(key, day) for key, day in zip(KEYS, days, strict=True)]
    with readers.session() as session:
        paper_id = session.scalars(select(PaperRow.id)).first()
        assert paper_id is not None
        held = service.papers_by_ids(session, [paper_id])
    for _ in range(5):
        rt.prepare(infos, held, 100)
    assert sorted(made) == sorted(KEYS)  # each compiled once
    batch = [EditionRow(key=key, period_start=day) for key, day in zip(KEYS, days, strict=True)]
    assert service._known_papers(rt, batch[1:], {paper_id, "nope"}) == held
    rt.prepare([EditionInfo("daily:2026-03-03", date(2026, 3, 3))], {}, 100)
    assert len(rt.prepared) == 4 and "daily:2026-03-03" in rt.prepared


KEYS = ["daily:2026-03-01", "daily:2026-03-02", "weekly:2026-W09"]


@pytest.mark.parametrize("connections", [1, 2, 3])
def test_a_batch_goes_out_over_several_connections_each_row_once(
    readers: Database, db_url: str, tmp_path: Path, connections: int
) -> None:
    """``DIGEST_SMTP_CONNECTIONS``: on PostgreSQL a batch of enough rows is split between
    that many connections to the relay (every n-th row to each, each with its own send
    loop and claims), so that one's waits overlap another's work (SQLite: one). Every
    reader gets one digest, every row is ``sent``, the outcomes come in the batch's
    order; a 421 on one
    connection stops the batch (the other lanes before their next message) and what was
    not sent goes out later, each once."""
    more = [f"many{n}@example.org" for n in range(60)]
    with readers.session() as session:
        now = utcnow()
        for email in more:
            spec = validate_spec({"email": email, "topics": ["language models"]})
            subscribers.add_subscriber(session, spec, now)
    everyone = READERS + more
    sessions: list[object] = []
    with Relay() as relay:
        rt = runtime(db_url, tmp_path, relay.sink.url, DIGEST_SMTP_CONNECTIONS=str(connections))
        factory = rt.transport_factory

        def counted() -> Transport:
            transport = factory()
            sessions.append(transport)
            return transport

        rt = replace(rt, transport_factory=counted)
        relay.refuse["many40@example.org"] = "421 4.3.2 service shutting down"
        plan = plan_edition(rt)
        result = deliver_batch(rt, plan.delivery_ids)
        assert len(sessions) == (connections if readers.is_postgres else 1)  # SQLite: one
        assert result.errors and "421" in result.errors[0]
        first = relay.received()
        assert len(first) == len(set(first)) and "many40@example.org" not in first
        assert [o["delivery"] for o in result.outcomes] == sorted(
            int(str(o["delivery"])) for o in result.outcomes
        )
        relay.refuse.clear()
        again = deliver_batch(rt, plan_edition(rt).delivery_ids)
        assert not again.errors
    assert sorted(relay.received()) == sorted(everyone)  # each once
    assert statuses(readers) == {"sent": len(everyone)}

"""The edition pipeline as plain functions, shared by the CLI, Celery tasks and the scheduler.

    plan_edition   who is due now -> one ledger row per (subscriber, edition), idempotently
    store_edition_picks  rank every open row of the edition once, store the picks
    deliver_batch  per row: render -> envelope -> claim -> DATA -> mark sent

A batch touches only the rows it claimed, so running a batch twice (a task delivered twice,
two runs at once) cannot send an email twice. Each message is recorded right after the
server accepts it.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from digest import rank as ranking  # the ranker itself (SciPy) loads on first use
from digest.db import accounts, bounces, ledger, tracking
from digest.db.editions import (
    BatchRow,
    PlannedRow,
    Schedule,
    batch_rows,
    claimable,
    due_fields,
    editions_by_ids,
    ensure_deliveries,
    get_or_create_edition,
    last_sent_at,
    pause_edition,
    plan_schedules,
    planned_rows,
    schedules,
    sent_paper_ids,
    store_picks,
    unranked_rows,
)
from digest.db.feedback import feedback_for
from digest.db.models import DeliveryRow, EditionRow, SubscriberRow
from digest.db.papers import papers_by_ids, papers_seen_since
from digest.db.subscribers import (
    Reader,
    Recipient,
    get_subscriber,
    reader_from_row,
    readers_by_ids,
    recipient_from_row,
    recipients_by_ids,
    subscribers_by_ids,
)
from digest.db.vectors import embeddings_for
from digest.deliver.replies import enhanced_status, is_hard_bounce
from digest.deliver.transports import Claimed, Meanwhile, SmtpTransport, Transport, claim_answer
from digest.domain import Paper, Pick, Profile
from digest.embeddings import text_vectors
from digest.errors import EditionPaused, InputError, SessionError, TransportError
from digest.pipeline.runtime import Runtime
from digest.rank import semantic
from digest.rank.vectors import KnownTexts, decode_all
from digest.render import EditionInfo, PreparedEdition, RenderedEmail
from digest.schedule import due_edition, edition_for

if TYPE_CHECKING:
    from digest.rank.pool import Pool  # SciPy: loaded with the ranker, on first use

log = logging.getLogger(__name__)

SLOW_DOWN_CODES = frozenset({421, 454})  # the relay asks us to come back more slowly
WEEK_DAYS = 7  # a weekly reader's candidates cover at least their week
THROTTLE_MAX_WAIT = 60.0  # seconds a batch waits for a send slot before it stops


@dataclass
class Plan:
    """What an edition run has to do: the ledger rows to deliver now, and every row of the
    readers it planned (whose states make the run's report)."""

    delivery_ids: list[int]  # pending, or retry whose time has come
    settled: Counter[str] = field(default_factory=Counter)  # rows already sent/skipped/...
    expired_leases: int = 0
    row_ids: list[int] = field(default_factory=list)  # every planned row, open or not
    # (row id, subscriber id) of the due rows without picks: what the edition must rank
    unranked: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class BatchResult:
    counts: Counter[str] = field(default_factory=Counter)
    outcomes: list[dict[str, object]] = field(default_factory=list)
    # Why a batch stopped before its end (the relay session failed): its rows stay open.
    errors: list[str] = field(default_factory=list)

    def merge(self, other: BatchResult) -> None:
        self.counts.update(other.counts)
        self.outcomes.extend(other.outcomes)
        self.errors.extend(e for e in other.errors if e not in self.errors)

    def to_json(self) -> dict[str, object]:
        return {"counts": dict(self.counts), "outcomes": self.outcomes, "errors": self.errors}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BatchResult:
        """What :meth:`to_json` gave, back from Celery's JSON."""
        return cls(Counter(data["counts"]), list(data["outcomes"]), list(data.get("errors") or []))


def plan_edition(
    rt: Runtime,
    *,
    respect_hour: bool = False,
    emails: Sequence[str] | None = None,
    on_due: Callable[[], None] | None = None,
) -> Plan:
    """Insert a pending ledger row for every active subscriber who is due. ``on_due`` is
    called once somebody is due, before the rows are written (``digest run`` starts
    building the candidate pool then, while the database inserts them)."""
    now = rt.clock()
    with rt.db.session() as session:
        expired = ledger.expire_leases(session, now)
        accounts.resume_paused(session, now)
        if emails is None and rt.db.is_postgres:
            rows = _plan_by_schedule(session, now, respect_hour, on_due)
        else:
            rows = _plan_by_reader(session, now, respect_hour, emails, on_due)
    due = [r for r in rows if claimable(r, now)]
    settled = Counter(r.status for r in rows if r.status not in ("pending", "retry"))
    unranked = [(r.id, r.subscriber_id) for r in due if not r.ranked]
    return Plan([r.id for r in due], settled, expired, [r.id for r in rows], unranked)


def _plan_by_schedule(
    session: Session, now: datetime, respect_hour: bool, on_due: Callable[[], None] | None
) -> list[PlannedRow]:
    """PostgreSQL: who is due is decided once per distinct schedule (frequency, hour, time
    zone, weekday), and the database inserts the rows of their readers."""
    editions = _DueEditions(session, now, respect_hour)
    due: list[tuple[Schedule, int]] = []
    for schedule in schedules(session):
        edition_id = editions.due(
            schedule.frequency, schedule.delivery_hour, schedule.timezone, schedule.weekday
        )
        if edition_id is not None:
            due.append((schedule, edition_id))
    if due and on_due is not None:
        on_due()
    return plan_schedules(session, due, now)


def _plan_by_reader(
    session: Session,
    now: datetime,
    respect_hour: bool,
    emails: Sequence[str] | None,
    on_due: Callable[[], None] | None,
) -> list[PlannedRow]:
    """Reader by reader (SQLite, or only the readers ``emails`` names)."""
    subscribers = due_fields(session)
    if emails is not None:
        wanted = {e.casefold() for e in emails}
        subscribers = [s for s in subscribers if s.email_key in wanted]
    editions = _DueEditions(session, now, respect_hour)
    pairs: list[tuple[int, int]] = []
    for sub in subscribers:
        edition_id = editions.due(sub.frequency, sub.delivery_hour, sub.timezone, sub.weekday)
        if edition_id is not None:
            pairs.append((sub.id, edition_id))
    if pairs and on_due is not None:
        on_due()
    ensure_deliveries(session, pairs, now)
    return planned_rows(session, pairs)


class _DueEditions:
    """The edition due now for a schedule (None when it is not time yet), each made once
    in a plan (``get_or_create_edition``)."""

    def __init__(self, session: Session, now: datetime, respect_hour: bool):
        self.session, self.now, self.respect_hour = session, now, respect_hour
        self.ids: dict[str, int] = {}

    def due(self, frequency: str, delivery_hour: int, timezone: str, weekday: int) -> int | None:
        slot = due_edition(
            frequency, delivery_hour, timezone, self.now, respect_hour=self.respect_hour,
            weekday=weekday,
        )  # fmt: skip
        if slot is None:
            return None
        if slot.key not in self.ids:
            self.ids[slot.key] = get_or_create_edition(self.session, slot, self.now).id
        return self.ids[slot.key]


def batches(ids: Sequence[int], size: int) -> list[list[int]]:
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]


def deliver_batch(rt: Runtime, delivery_ids: Sequence[int]) -> BatchResult:
    """Render and send one batch of ledger rows (ranking those that have no picks yet).

    Each row is claimed on its own, once the relay has accepted its envelope and right
    before DATA, so a worker that dies mid-batch leaves at most the one row whose message
    was being handed over in doubt (``sending``, later ``unknown``) on each of its SMTP
    connections (``DIGEST_SMTP_CONNECTIONS``, see :func:`_lanes`); every other row stays
    open for the task's redelivery.
    """
    result = BatchResult()
    now = rt.clock()
    with rt.db.session() as session:
        deliveries = [
            d for d in batch_rows(session, delivery_ids) if d.status in ("pending", "retry")
        ]
        recipients = recipients_by_ids(session, [d.subscriber_id for d in deliveries])
        editions = editions_by_ids(session, [d.edition_id for d in deliveries])
        unranked = [d for d in deliveries if d.picks is None]
        _choose_picks(rt, session, unranked, now)
    if unranked:  # re-read: a concurrent batch may have stored picks first
        with rt.db.session() as session:
            deliveries = batch_rows(session, [d.id for d in deliveries])
    wanted = {p["id"] for d in deliveries for p in d.picks or []}
    papers = _known_papers(rt, editions.values(), wanted)
    if len(papers) < len(wanted):
        with rt.db.session() as session:
            papers |= papers_by_ids(session, wanted - papers.keys())

    transport = rt.transport_factory()
    infos = [EditionInfo(e.key, e.period_start) for e in editions.values()]
    prepared = rt.prepare(infos, papers, len(deliveries))  # shared by the process's batches
    lanes = _lanes(rt, transport, deliveries)
    transports = [transport, *(rt.transport_factory() for _ in lanes[1:])]
    try:
        for edition in editions.values():
            if edition.paused_reason:
                raise EditionPaused(paused_message(edition.key, edition.paused_reason))
        if deliveries:
            for each in transports:
                each.open()  # a relay that refuses us fails here, before any claim
        rendering = Renderer(rt, recipients, editions, papers, prepared, shared=len(lanes) > 1)
        stop = threading.Event()  # one lane failed: the others stop at their next message

        def lane(number: int) -> BatchResult:
            lane_result = BatchResult()
            try:
                _send_lane(rt, transports[number], lanes[number], rendering, now, lane_result, stop)
            finally:
                results[number] = lane_result
            return lane_result

        results: list[BatchResult | None] = [None] * len(lanes)
        failures = _run_lanes(lane, len(lanes), stop)
        for lane_result in results:
            if lane_result is not None:
                result.merge(lane_result)
        if len(lanes) > 1:  # in the batch's order, as one lane gives them
            order = {d.id: i for i, d in enumerate(deliveries)}
            result.outcomes.sort(key=lambda o: order[int(str(o["delivery"]))])
        if failures:
            raise failures[0]
    except SessionError as exc:
        log.info("batch stopped, its unsent rows stay open: %s", exc)
        if exc.code in SLOW_DOWN_CODES:  # every worker sending to this relay slows down
            rt.throttle.slow_down(str(exc))
        result.errors.append(str(exc))
        with rt.db.session() as session:  # for a run that waits on the ledger (workers)
            tracking.note_session_error(session, [d.id for d in deliveries], str(exc), rt.clock())
    finally:
        for each in transports:
            each.close()
    return result


LANE_MIN = 10  # rows a batch needs per SMTP connection for a second one to be worth opening


def _lanes(rt: Runtime, transport: Transport, deliveries: list[BatchRow]) -> list[list[BatchRow]]:
    """The batch's rows split between ``DIGEST_SMTP_CONNECTIONS`` connections to the relay
    (every n-th row to each), each with a send loop of its own, in a thread of its own:
    one connection's waits (the claim's commit, the relay's answers) overlap another's
    work. A transport that does not wait on a relay, a batch too small to be worth
    another connection, or SQLite (the embedded mode: its writers take turns, and its
    claims are not sent without waiting) gets one lane."""
    count = min(rt.settings.smtp_connections, len(deliveries) // LANE_MIN)
    if count <= 1 or not isinstance(transport, SmtpTransport) or not rt.db.is_postgres:
        return [deliveries]
    return [deliveries[i::count] for i in range(count)]


def _run_lanes(
    lane: Callable[[int], BatchResult], count: int, stop: threading.Event
) -> list[BaseException]:
    """Lane 0 in this thread, the others in threads of their own; every lane has ended
    when this returns. What the lanes raised, a session's end (SessionError) last (a lane
    that fails makes the others stop before their next message: their rows stay open, as
    a stopped batch's)."""
    failures: list[BaseException] = []

    def run(number: int) -> None:
        try:
            lane(number)
        except BaseException as exc:  # raised in the caller's thread, after every lane ended
            stop.set()
            failures.append(exc)

    threads = [
        threading.Thread(target=run, args=(number,), name=f"send-lane-{number}", daemon=True)
        for number in range(1, count)
    ]
    for thread in threads:
        thread.start()
    try:
        run(0)
    finally:
        for thread in threads:
            thread.join()
    return sorted(failures, key=lambda exc: isinstance(exc, SessionError))


def _send_lane(
    rt: Runtime,
    transport: Transport,
    deliveries: list[BatchRow],
    ahead: Renderer,
    now: datetime,
    result: BatchResult,
    stop: threading.Event,
) -> None:
    """One send loop: the rows in order over one relay connection. Claims on a durable
    connection, each with the "sent" record of the message before it (ledger.SentRecords):
    one statement and one flushed commit per message; the papers sent on a connection that
    does not wait for the disk. A worker killed at any moment leaves at most one row of
    each lane in doubt (the one whose message is being handed over, or the one sent last
    whose record waits)."""
    sent_papers = ledger.SentPapers()
    with rt.db.ledger_connection() as conn, rt.db.ledger_connection(durable=False) as records:
        sent = ledger.SentRecords(records)
        renders = ahead.lane()
        try:
            for position, delivery in enumerate(deliveries):
                if stop.is_set():
                    break
                following = deliveries[position + 1 : position + 2]
                outcome = _deliver_one(
                    rt,
                    transport,
                    conn,
                    sent,
                    delivery,
                    ahead.recipients[delivery.subscriber_id],
                    ahead.editions[delivery.edition_id],
                    ahead.papers,
                    ahead.prepared,
                    ahead=renders,
                    following=following[0] if following else None,
                )
                if outcome["status"] == "sent":
                    paper_ids = [p["id"] for p in delivery.picks or []]
                    sent_papers.add(records, delivery.subscriber_id, delivery.id, paper_ids, now)
                result.counts[str(outcome["status"])] += 1
                result.outcomes.append(outcome)
        finally:
            sent.flush()
            sent_papers.flush(records)


def _known_papers(
    rt: Runtime, editions: Iterable[EditionRow], wanted: set[str]
) -> dict[str, Paper]:
    """The wanted papers that this process's prepared editions of the batch already hold
    (from earlier batches), so that a worker reads each paper once per prepared edition
    rather than once per batch: about five paper rows a message. A batch usually holds
    several editions (readers whose local date differs, weekly readers); a paper held by
    any of them is the one read then, and the batch adds it to the others
    (``Runtime.prepare``). What the email shows of a paper is fixed at its first reader
    anyway (its card is cached there)."""
    found: dict[str, Paper] = {}
    for key in {edition.key for edition in editions}:
        prepared = rt.prepared.get(key)
        if prepared is None:
            continue
        held = prepared.papers
        found.update((i, held[i]) for i in wanted if i in held and i not in found)
    return found


def _choose_picks(rt: Runtime, session: Session, deliveries: list[BatchRow], now: datetime) -> None:
    """Rank for every row of the batch at once and store the picks on the rows (rows
    planned by an older version: the planner stores picks before fan-out)."""
    if not deliveries:
        return
    subscribers = subscribers_by_ids(session, [d.subscriber_id for d in deliveries])
    ranked = compute_picks(rt, session, [subscribers[d.subscriber_id] for d in deliveries], now)
    store_picks(session, [(d.id, picks) for d, picks in zip(deliveries, ranked, strict=True)])


@dataclass
class RankingInputs:
    """What ranking needs for a set of readers, read once from the database."""

    subscribers: list[Reader]
    profiles: list[Profile]
    candidates: list[Paper]
    history: list[Paper]
    excluded: dict[str, Collection[str]]  # profile id -> paper ids never to pick


def reader_days(candidate_days: int, frequency: str) -> int:
    """How far back a reader's candidates go when their last digest is older (or none):
    ``DIGEST_CANDIDATE_DAYS``, and at least a week for a weekly reader."""
    return max(candidate_days, WEEK_DAYS) if frequency == "weekly" else candidate_days


def candidate_papers(rt: Runtime, session: Session, now: datetime) -> list[tuple[Paper, datetime]]:
    """The candidate pool, the same for everyone (papers first seen in the last
    ``candidate_days``, at least a week so that it holds a weekly reader's week; so scores
    do not depend on how readers are grouped), with the time each was first seen, oldest
    first. Each reader's own window is cut from it (:func:`ranking_inputs`)."""
    days = reader_days(rt.settings.candidate_days, "weekly")
    pool = papers_seen_since(session, now - timedelta(days=days))
    pool.sort(key=lambda item: item[1])
    return pool


def ranking_inputs(
    rt: Runtime,
    session: Session,
    subscribers: Sequence[SubscriberRow | Reader],
    now: datetime,
    pool: list[tuple[Paper, datetime]] | None = None,
) -> RankingInputs:
    """Each reader's profile (with their feedback) and what they may not get: papers sent
    to them, papers that arrived before their last digest, and those older than their
    window (:func:`reader_days`: a daily reader's first digest does not reach back a
    week). ``pool``: the candidates when the caller has them already (see
    :func:`candidate_papers`)."""
    if pool is None:
        pool = candidate_papers(rt, session, now)
    readers = [s if isinstance(s, Reader) else reader_from_row(s) for s in subscribers]
    seen_times = [seen for _, seen in pool]
    ids = [s.id for s in readers]
    sent = sent_paper_ids(session, ids)
    last = last_sent_at(session, ids)
    feedback = feedback_for(session, ids)
    older_than: dict[int, tuple[str, ...]] = {}  # papers before the k-th arrival: shared
    profiles: list[Profile] = []
    excluded: dict[str, Collection[str]] = {}
    for sub in readers:
        profile = replace(sub.profile, feedback=tuple(feedback.get(sub.id, ())))
        profiles.append(profile)
        since = now - timedelta(days=reader_days(rt.settings.candidate_days, sub.frequency))
        if (previous := last.get(sub.id)) is not None:
            since = max(since, previous)
        k = bisect.bisect_left(seen_times, since)
        if k not in older_than:
            older_than[k] = tuple(p.id for p, _ in pool[:k])
        excluded[profile.id] = Exclusions(older_than[k], sent.get(sub.id, set()))
    history_ids = {
        pid for p in profiles for pid in (*p.liked, *p.disliked, *(e.paper_id for e in p.feedback))
    }
    history = list(papers_by_ids(session, history_ids).values())
    candidates = [p for p, _ in pool]
    return RankingInputs(readers, profiles, candidates, history, excluded)


class Exclusions(Collection[str]):
    """Papers a reader may not get: those that arrived before their last digest (a tuple
    shared by every reader whose last digest came at the same point) and those sent to
    them. A view, so 100,000 readers do not each copy the pool's ids into a set."""

    __slots__ = ("older", "sent")

    def __init__(self, older: tuple[str, ...], sent: set[str]):
        self.older, self.sent = older, sent

    def __iter__(self) -> Iterator[str]:
        yield from self.older
        yield from self.sent

    def __len__(self) -> int:
        return len(self.older) + len(self.sent)

    def __contains__(self, paper_id: object) -> bool:
        return paper_id in self.sent or paper_id in self.older


def compute_picks(
    rt: Runtime, session: Session, subscribers: Sequence[SubscriberRow], now: datetime
) -> list[list[Pick]]:
    """Each subscriber's next picks: papers new since their last digest, never sent to them,
    whose match is strong enough to be shown (possibly none: then no email)."""
    inputs = ranking_inputs(rt, session, subscribers, now)
    return ranking.rank(
        inputs.profiles,
        inputs.candidates,
        history=inputs.history,
        already_sent=inputs.excluded,
        top_k=rt.settings.top_k,
        options=rt.rank_options,
        embedder=stored_topics_embedder(rt, session, inputs.profiles, now),
        vectors=stored_vectors(rt, session, [*inputs.candidates, *inputs.history]),
        shown_only=True,
    )


def store_edition_picks(rt: Runtime, delivery_ids: Sequence[int], *, chunk: int = 5000) -> int:
    """Rank every open row of an edition that has no picks and store them; the count."""
    return sum(len(ids) for ids in rank_edition(rt, delivery_ids, chunk=chunk))


@dataclass
class EditionPool:
    """An edition's candidate pool: the papers with the time each was first seen (see
    :func:`candidate_papers`) and their index, built once for every reader (None when no
    paper is new: nobody gets a digest)."""

    seen: list[tuple[Paper, datetime]]
    pool: Pool | None


def edition_pool(
    rt: Runtime, now: datetime, *, wanted: Callable[[], bool] = lambda: True
) -> EditionPool | None:
    """Read the candidates and build their index, the work every reader shares: about 2 s
    for 2,000 papers, most of it before the first reader can be ranked (``digest run``
    does it in a thread while it plans: :class:`~digest.pipeline.pool_ahead.PoolAhead`).
    ``wanted`` is asked before the index is built: None when it says no."""
    with rt.db.session() as session:
        seen = candidate_papers(rt, session, now)
        papers = [paper for paper, _ in seen]
        vectors = stored_vectors(rt, session, papers) if papers else None
    if not papers:
        return EditionPool(seen, None)
    if not wanted():
        return None
    pool = ranking.build_pool(papers, [], rt.rank_options, embedder=None, vectors=vectors)
    opts = rt.rank_options
    pool.warm(opts.duplicate_threshold if opts.diversity else None)
    return EditionPool(seen, pool)


def chunk_sizes(total: int, *, first: int, most: int) -> list[tuple[int, int]]:
    """(start, end) of the chunks an edition's rows are ranked in: a small first chunk, so
    the first batches go out at once, then each twice the one before, up to ``most``, so
    ranking stays ahead of the workers while they send the chunk before."""
    spans: list[tuple[int, int]] = []
    start, size = 0, max(1, min(first, most))
    while start < total:
        end = min(start + size, total)
        spans.append((start, end))
        start, size = end, min(size * 2, most)
    return spans


def rank_edition(
    rt: Runtime,
    delivery_ids: Sequence[int],
    *,
    chunk: int = 5000,
    rows: Sequence[tuple[int, int]] | None = None,
    pool: Callable[[], EditionPool | None] | None = None,
) -> Iterator[list[int]]:
    """Rank the open rows of an edition that have no picks yet and store the picks before
    fan-out, yielding the ids of each chunk of rows as soon as its picks are committed,
    so its batches can be sent while the next chunk is ranked.

    The pool (the candidates' index, their duplicates) is built once for the whole edition
    rather than once per batch; batches then only render and send. The readers are read
    chunk by chunk (their profiles, feedback, what they were sent, the papers they liked),
    so the first batches go out after one small chunk, not after reading 100,000 readers,
    and the planner holds one chunk of readers at a time.

    ``rows``: the (row id, subscriber id) pairs to rank when the caller knows them (the
    plan does), else read from ``delivery_ids``. ``pool``: gives the edition's pool when
    the caller built it ahead (else it is built here).
    """
    now = rt.clock()
    if rows is None:
        with rt.db.session() as session:
            rows = unranked_rows(session, delivery_ids)  # (row id, subscriber id)
    if not rows:
        return
    built = pool() if pool is not None else edition_pool(rt, now)
    if built is None:  # the pool built ahead was told it was not wanted
        built = edition_pool(rt, now)
    assert built is not None
    seen, index = built.seen, built.pool
    if index is None:  # nothing new for anybody: every row gets empty picks (skipped)
        with rt.db.session() as session:
            store_picks(session, [(row_id, []) for row_id, _ in rows])
        yield [row_id for row_id, _ in rows]
        return
    # A first chunk of two batches, so that sending starts while the rest is ranked.
    first = min(chunk, max(rt.settings.batch_size * 2, 400))
    for start, end in chunk_sizes(len(rows), first=first, most=chunk):
        part = rows[start:end]
        with rt.db.session() as session:
            by_id = readers_by_ids(session, [sub for _, sub in part])
            readers = [by_id[sub] for _, sub in part]
            inputs = ranking_inputs(rt, session, readers, now, pool=seen)
            index.add_readers(
                inputs.history,
                vectors=stored_vectors(rt, session, inputs.history),
                embedder=stored_topics_embedder(rt, session, inputs.profiles, now),
            )
            picks = ranking.rank_pool(
                index,
                inputs.profiles,
                already_sent=inputs.excluded,
                top_k=rt.settings.top_k,
                options=rt.rank_options,
                shown_only=True,  # never ten places filled whatever the match quality
            )
            store_picks(
                session, [(row_id, chosen) for (row_id, _), chosen in zip(part, picks, strict=True)]
            )
        yield [row_id for row_id, _ in part]


def stored_vectors(
    rt: Runtime, session: Session, papers: Sequence[Paper]
) -> dict[str, np.ndarray] | None:
    """Embeddings stored at ingest, when the semantic backend is on (else None)."""
    if not semantic.in_use(rt.rank_options.semantic):
        return None
    blobs = embeddings_for(session, [p.id for p in papers], semantic.MODEL_NAME)
    return decode_all(blobs)


def stored_topics_embedder(
    rt: Runtime, session: Session, profiles: Sequence[Profile], now: datetime
) -> KnownTexts | None:
    """The model, answering from stored vectors for the readers' topics (semantic backend
    on; else None). Topics no earlier edition embedded are embedded now and stored."""
    if not semantic.in_use(rt.rank_options.semantic):
        return None
    model = semantic.default_embedder()
    known = text_vectors(session, ranking.topic_texts(profiles), model, now)
    return KnownTexts(model, known)


def preview(rt: Runtime, email: str) -> RenderedEmail | None:
    """The subscriber's next digest, rendered (None when no paper is new to them).

    Nothing is stored or sent.
    """
    now = rt.clock()
    with rt.db.session() as session:
        subscriber = get_subscriber(session, email)
        picks = compute_picks(rt, session, [subscriber], now)[0]
        if not picks:
            session.rollback()
            return None
        papers = papers_by_ids(session, [p.paper_id for p in picks])
        slot = edition_for(subscriber.frequency, now, subscriber.timezone)
        rendered = render_for(
            rt,
            recipient_from_row(subscriber),
            EditionInfo(slot.key, slot.period_start),
            picks,
            papers,
            message_id=f"<preview.{subscriber.id}.{int(now.timestamp())}@{rt.settings.from_domain}>",
        )
        session.rollback()
    return rendered


class Renderer:
    """What the lanes of a batch render from (its rows' readers, editions, papers, the
    process's prepared editions), and one lock, held while a message is rendered when
    there are several lanes: the prepared editions' caches are filled as messages are
    rendered, one message at a time."""

    def __init__(
        self,
        rt: Runtime,
        recipients: Mapping[int, Recipient],
        editions: Mapping[int, EditionRow],
        papers: dict[str, Paper],
        prepared: dict[str, PreparedEdition] | None,
        *,
        shared: bool = False,
    ):
        self.rt, self.recipients, self.editions = rt, recipients, editions
        self.papers, self.prepared = papers, prepared
        self.lock: threading.Lock | contextlib.nullcontext[None] = (
            threading.Lock() if shared else contextlib.nullcontext()
        )

    def lane(self) -> RenderAhead:
        return RenderAhead(self)

    def render(self, delivery: BatchRow) -> RenderedEmail:
        with self.lock:
            return render_delivery(
                self.rt,
                delivery,
                self.recipients[delivery.subscriber_id],
                self.editions[delivery.edition_id],
                self.papers,
                self.prepared,
            )


class RenderAhead:
    """The next message of a lane, rendered while the relay takes the current one and
    answers (the transport's ``meanwhile``), so a worker's CPU and the relay's round trip
    overlap. A rendering error is kept and raised when that message's turn comes, as if it
    had been rendered then; a message not rendered ahead is rendered at its turn."""

    def __init__(self, renderer: Renderer):
        self.renderer = renderer
        self.done: tuple[int, RenderedEmail | Exception] | None = None

    def render(self, delivery: BatchRow) -> RenderedEmail:
        done, self.done = self.done, None
        if done is not None and done[0] == delivery.id:
            if isinstance(done[1], Exception):
                raise done[1]
            return done[1]
        return self.renderer.render(delivery)

    def meanwhile(self, delivery: BatchRow | None) -> Meanwhile | None:
        """What to do while the relay answers: render ``delivery`` (the next row), if any."""
        if delivery is None or not delivery.picks:
            return None

        def render_next() -> None:
            try:
                self.done = (delivery.id, self.renderer.render(delivery))
            except Exception as exc:  # raised at its turn, where failures are recorded
                self.done = (delivery.id, exc)

        return render_next


def _deliver_one(
    rt: Runtime,
    transport: Transport,
    conn: Connection,
    sent: ledger.SentRecords,
    delivery: BatchRow,
    recipient: Recipient,
    edition: EditionRow,
    papers: dict[str, Paper],
    prepared: dict[str, PreparedEdition] | None = None,
    *,
    ahead: RenderAhead | None = None,
    following: BatchRow | None = None,
) -> dict[str, object]:
    """Send one row's digest. The claim happens inside the SMTP transaction, after the
    envelope is accepted and right before DATA; whatever goes wrong after it becomes an
    outcome on the row. ``conn`` is in autocommit: each ledger step is durable at once;
    ``sent`` takes the "sent" record, written with the next claim (or at the batch's end)."""
    address = recipient.info.email
    outcome: dict[str, object] = {
        "delivery": delivery.id,
        "email": address,
        "edition": edition.key,
        "papers": len(delivery.picks or []),
    }
    claimed = False
    unread: Callable[[], bool] | None = None  # a claim sent, its answer not read yet

    def claim() -> Claimed:
        """Sent without waiting where it can be (the transport reads the answer before it
        hands anything of the message over; see ``SentRecords.claim_later``)."""
        nonlocal claimed, unread
        lease = timedelta(seconds=rt.settings.lease_seconds)
        answer = sent.claim_later(conn, delivery.id, rt.clock(), lease)
        if isinstance(answer, bool):
            claimed = answer
            return claimed

        def committed() -> bool:
            nonlocal claimed, unread
            unread = None
            claimed = answer()
            return claimed

        unread = committed
        return committed

    def fail(error: TransportError | str, *, permanent: bool) -> dict[str, object]:
        if unread is not None:  # the transport stopped before reading the claim's answer
            unread()
        if not claimed and not claim_answer(claim()):  # refused before DATA: claim it to
            return _not_claimed(rt, conn, outcome)  # record why
            return _not_claimed(rt, conn, outcome)
        return _record_failure(rt, delivery, outcome, error, permanent=permanent)

    if not delivery.picks:
        if ledger.skip_open(conn, delivery.id, reason="no new papers match", now=rt.clock()):
            return outcome | {"status": "skipped", "detail": "no new papers match"}
        return outcome | {"status": "not claimed", "detail": "another worker has it"}
    try:
        if ahead is not None:
            email = ahead.render(delivery)
        else:
            email = render_delivery(rt, delivery, recipient, edition, papers, prepared)
        name = f"{edition.key.replace(':', '-')}_{address}"
        rt.throttle.acquire(max_wait=THROTTLE_MAX_WAIT)  # before the claim: RateLimited stops
        message = rt.outgoing(email, address, name, delivery.id)
        meanwhile = ahead.meanwhile(following) if ahead is not None else None
        reply = transport.send(message, before_data=claim, meanwhile=meanwhile)
    except SessionError as exc:
        if unread is not None:  # the transport stopped before reading the claim's answer
            unread()
        if claimed:  # DATA was refused for the whole session: nothing was handed over
            ledger.release(conn, delivery.id, reason=str(exc), now=rt.clock())
        raise
    except TransportError as exc:
        return fail(exc, permanent=exc.permanent)
    except InputError as exc:  # this reader's data cannot make a valid message: no retry
        return fail(f"cannot build the message: {exc}", permanent=True)
    except Exception as exc:  # a bug: recorded on the row (Mailman's shunt), the batch goes on
        reason = f"cannot build or send the message: {type(exc).__name__}: {exc}"
        log.error("delivery %s failed: %s", delivery.id, reason)
        log.debug("delivery %s failed", delivery.id, exc_info=True)
        return fail(reason, permanent=True)
    if reply is None:
        return _not_claimed(rt, conn, outcome)
    sent.add(delivery.id, message_id=email.message_id, reply=reply, now=rt.clock())
    return outcome | {"status": "sent", "message_id": email.message_id}


def _not_claimed(rt: Runtime, conn: Connection, outcome: dict[str, object]) -> dict[str, object]:
    """The claim found the row taken, not due, or its reader gone (then it is skipped)."""
    left = ledger.skip_if_reader_left(conn, int(str(outcome["delivery"])), rt.clock())
    if left is not None:
        return outcome | {"status": "skipped", "detail": f"reader is {left}"}
    return outcome | {"status": "not claimed", "detail": "another worker has it"}


def _record_failure(
    rt: Runtime,
    delivery: BatchRow,
    outcome: dict[str, object],
    error: TransportError | str,
    *,
    permanent: bool,
) -> dict[str, object]:
    """A claimed row that did not go out: ``failed`` for good, or ``retry`` with backoff,
    and what it says about the reader, in the same transaction: a hard bounce suppresses
    them at once, a temporary failure that used up its attempts counts as a soft bounce
    (suppressed at the score threshold), a policy refusal (5.7.x) suppresses nobody but
    pauses the edition once ``DIGEST_POLICY_PAUSE_AFTER`` readers got one."""
    reason, now = str(error), rt.clock()
    code = error.code if isinstance(error, TransportError) else None
    status_code = enhanced_status(reason)
    paused = None

    def event(kind: str) -> bounces.BounceEvent:
        return bounces.BounceEvent(
            kind,
            now,
            subscriber_id=delivery.subscriber_id,
            delivery_id=delivery.id,
            status=status_code,
            detail=reason,
            source="smtp",
        )

    with rt.db.session() as session:
        hard = permanent and isinstance(error, TransportError) and is_hard_bounce(code, reason)
        if hard:
            bounces.record_hard_bounce(session, event("hard"))
            reason += " (the address is suppressed: no further digests)"
        status = ledger.mark_failed(
            session,
            delivery.id,
            attempts=delivery.attempts + 1,  # the claim counted this attempt
            error=reason,
            permanent=permanent,
            now=now,
            max_attempts=rt.settings.max_attempts,
            backoff=timedelta(seconds=rt.settings.retry_backoff_seconds),
        )
        if status == "failed" and not permanent:
            bounces.record_soft_bounce(session, event("soft"), rt.settings)
        elif permanent and status_code is not None and status_code.startswith("5.7."):
            bounces.record_event(session, event("policy"))
            session.flush()
            refused = bounces.policy_refusals(session, delivery.edition_id)
            if refused >= rt.settings.policy_pause_after:
                paused = f"{refused} readers' providers refused it by policy (last: {reason})"
                key = pause_edition(session, delivery.edition_id, paused[:1000])
    if paused is not None:
        raise EditionPaused(paused_message(key, paused))
    return outcome | {"status": status, "detail": reason}


def paused_message(edition_key: str, reason: str) -> str:
    return (
        f"edition {edition_key} is paused: {reason}; check the relay's reason (SPF, DKIM, "
        "DMARC, content), then `digest run --resume`"
    )


def message_id_for(rt: Runtime, delivery_id: int, edition_key: str) -> str:
    """Derived from the delivery id: a retry of the same row carries the same Message-ID."""
    return f"<digest.{delivery_id}.{edition_key.replace(':', '.')}@{rt.settings.from_domain}>"


def render_delivery(
    rt: Runtime,
    delivery: DeliveryRow | BatchRow,
    recipient: Recipient,
    edition: EditionRow,
    papers: dict[str, Paper],
    prepared: dict[str, PreparedEdition] | None = None,
    *,
    whole: bool = False,
) -> RenderedEmail:
    """``whole``: every paper with its excerpt (the web page); an email stops at what
    keeps it under 90 KB."""
    picks = [Pick.from_json(p) for p in (delivery.picks or [])]
    return render_for(
        rt,
        recipient,
        EditionInfo(edition.key, edition.period_start),
        picks,
        papers,
        message_id=message_id_for(rt, delivery.id, edition.key),
        prepared=prepared,
        whole=whole,
        delivery_id=delivery.id,
    )


def render_for(
    rt: Runtime,
    recipient: Recipient,
    edition: EditionInfo,
    picks: Sequence[Pick],
    papers: dict[str, Paper],
    *,
    message_id: str,
    prepared: dict[str, PreparedEdition] | None = None,
    whole: bool = False,
    delivery_id: int | None = None,
) -> RenderedEmail:
    """Render one reader's digest; ``prepared`` shares per-edition work across a batch.

    ``delivery_id``: the ledger row whose ``picks`` these are, for short feedback links
    (a paper's position in ``picks`` is its position in that row; without a row, as in
    ``digest preview``, the links take the long form)."""
    info = recipient.info
    cache = {} if prepared is None else prepared
    if edition.key not in cache:
        cache[edition.key] = rt.renderer.edition(edition, dict(papers))
    return cache[edition.key].render(
        info,
        picks,
        rt.signer.for_recipient(info.link_id, edition.key),
        rt.signer.feedback_links(
            info.link_id, delivery_id=delivery_id, papers=[p.paper_id for p in picks]
        ),
        message_id=message_id,
        when=rt.clock(),
        cold_start=recipient.cold_start,
        whole=whole,
    )

"""The edition pipeline as plain functions, shared by the CLI, Celery tasks and the scheduler.

    plan_edition   who is due now -> one ledger row per (subscriber, edition), idempotently
    deliver_batch  claim rows -> rank -> store picks -> render -> send -> mark sent

A batch touches only the rows it claimed, so running a batch twice (a task delivered twice,
two runs at once) cannot send an email twice. Each message is recorded right after the
server accepts it.
"""

from __future__ import annotations

import bisect
import logging
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from digest import rank as ranking  # the ranker itself (scikit-learn) loads on first use
from digest.db import accounts, repo
from digest.db.models import DeliveryRow, EditionRow, SubscriberRow
from digest.deliver.replies import is_hard_bounce
from digest.domain import Paper, Pick, Profile
from digest.errors import InputError, SessionError, TransportError
from digest.pipeline.runtime import Runtime
from digest.render import EditionInfo, PreparedEdition, RenderedEmail
from digest.schedule import due_edition, edition_for

log = logging.getLogger(__name__)


@dataclass
class Plan:
    """What an edition run has to do: the ledger rows to deliver now, and every row of the
    readers it planned (whose states make the run's report)."""

    delivery_ids: list[int]  # pending, or retry whose time has come
    settled: Counter[str] = field(default_factory=Counter)  # rows already sent/skipped/...
    expired_leases: int = 0
    row_ids: list[int] = field(default_factory=list)  # every planned row, open or not


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
    def from_json(cls, data: dict[str, object]) -> BatchResult:
        return cls(
            Counter(data["counts"]),  # type: ignore[arg-type]
            list(data["outcomes"]),  # type: ignore[call-overload]
            list(data.get("errors") or []),  # type: ignore[call-overload]
        )


def plan_edition(
    rt: Runtime, *, respect_hour: bool = False, emails: Sequence[str] | None = None
) -> Plan:
    """Insert a pending ledger row for every active subscriber who is due."""
    now = rt.clock()
    with rt.db.session() as session:
        expired = repo.expire_leases(session, now)
        accounts.resume_paused(session, now)
        subscribers = repo.list_subscribers(session, status="active")
        if emails is not None:
            wanted = {e.casefold() for e in emails}
            subscribers = [s for s in subscribers if s.email_key in wanted]
        pairs: list[tuple[int, int]] = []
        editions: dict[str, EditionRow] = {}
        for sub in subscribers:
            slot = due_edition(
                sub.frequency,
                sub.delivery_hour,
                sub.timezone,
                now,
                respect_hour=respect_hour,
                weekday=sub.weekday,
            )
            if slot is None:
                continue
            if slot.key not in editions:
                editions[slot.key] = repo.get_or_create_edition(session, slot, now)
            pairs.append((sub.id, editions[slot.key].id))
        repo.ensure_deliveries(session, pairs, now)
        rows = repo.deliveries_for(session, pairs)
    due = [r.id for r in rows if repo.claimable(r, now)]
    settled = Counter(r.status for r in rows if r.status not in ("pending", "retry"))
    return Plan(due, settled, expired, [r.id for r in rows])


def batches(ids: Sequence[int], size: int) -> list[list[int]]:
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]


def deliver_batch(rt: Runtime, delivery_ids: Sequence[int]) -> BatchResult:
    """Rank, render and send one batch of ledger rows.

    Picks are chosen for the whole batch at once and stored on the rows first. Then each
    row is claimed on its own, right before its message is sent, so a worker that dies
    mid-batch leaves exactly one row in ``sending`` (its fate unknown) and the rest
    claimable by the task's redelivery.
    """
    result = BatchResult()
    now = rt.clock()
    with rt.db.session() as session:
        deliveries = [
            d
            for d in repo.load_deliveries(session, delivery_ids)
            if d.status in ("pending", "retry")
        ]
        subscribers = repo.subscribers_by_ids(session, [d.subscriber_id for d in deliveries])
        editions = repo.editions_by_ids(session, [d.edition_id for d in deliveries])
        _choose_picks(rt, session, [d for d in deliveries if d.picks is None], subscribers, now)
    with rt.db.session() as session:  # re-read: a concurrent batch may have stored picks first
        deliveries = repo.load_deliveries(session, [d.id for d in deliveries])
        papers = repo.papers_by_ids(session, {p["id"] for d in deliveries for p in d.picks or []})

    transport = rt.transport_factory()
    prepared: dict[str, PreparedEdition] = {}  # rendering work shared by the whole batch
    try:
        if deliveries:
            transport.open()  # a relay that refuses us fails here, before any claim
        for delivery in deliveries:
            outcome = _deliver_one(
                rt,
                transport,
                delivery,
                subscribers[delivery.subscriber_id],
                editions[delivery.edition_id],
                papers,
                prepared,
            )
            result.counts[outcome["status"]] += 1
            result.outcomes.append(outcome)
    except SessionError as exc:
        log.info("batch stopped, its unsent rows stay open: %s", exc)
        result.errors.append(str(exc))
        with rt.db.session() as session:  # for a run that waits on the ledger (workers)
            repo.note_session_error(session, [d.id for d in deliveries], str(exc), rt.clock())
    finally:
        transport.close()
    return result


def _choose_picks(
    rt: Runtime,
    session: Session,
    deliveries: list[DeliveryRow],
    subscribers: dict[int, SubscriberRow],
    now: datetime,
) -> None:
    """Rank for every row of the batch at once and store the picks on the rows."""
    if not deliveries:
        return
    ranked = compute_picks(rt, session, [subscribers[d.subscriber_id] for d in deliveries], now)
    for delivery, picks in zip(deliveries, ranked, strict=True):
        repo.store_picks(session, delivery.id, picks)


@dataclass
class RankingInputs:
    """What ranking needs for a set of readers, read once from the database."""

    subscribers: list[SubscriberRow]
    profiles: list[Profile]
    candidates: list[Paper]
    history: list[Paper]
    excluded: dict[str, Collection[str]]  # profile id -> paper ids never to pick


def ranking_inputs(
    rt: Runtime, session: Session, subscribers: Sequence[SubscriberRow], now: datetime
) -> RankingInputs:
    """Each reader's profile (with their feedback) and what they may not get: papers sent
    to them, and papers that arrived before their last digest. The candidate pool is the
    same for everyone (papers first seen in the last ``candidate_days``), so scores do not
    depend on how readers are grouped."""
    pool = repo.papers_seen_since(session, now - timedelta(days=rt.settings.candidate_days))
    pool.sort(key=lambda item: item[1])
    seen_times = [seen for _, seen in pool]
    ids = [s.id for s in subscribers]
    sent = repo.sent_paper_ids(session, ids)
    last = repo.last_sent_at(session, ids)
    feedback = repo.feedback_for(session, ids)
    older_than: dict[int, tuple[str, ...]] = {}  # papers before the k-th arrival: shared
    profiles: list[Profile] = []
    excluded: dict[str, Collection[str]] = {}
    for sub in subscribers:
        profile = replace(repo.profile_from_row(sub), feedback=tuple(feedback.get(sub.id, ())))
        profiles.append(profile)
        since = last.get(sub.id)
        k = 0 if since is None else bisect.bisect_left(seen_times, since)
        if k not in older_than:
            older_than[k] = tuple(p.id for p, _ in pool[:k])
        excluded[profile.id] = Exclusions(older_than[k], sent.get(sub.id, set()))
    history_ids = {
        pid for p in profiles for pid in (*p.liked, *p.disliked, *(e.paper_id for e in p.feedback))
    }
    history = list(repo.papers_by_ids(session, history_ids).values())
    candidates = [p for p, _ in pool]
    return RankingInputs(list(subscribers), profiles, candidates, history, excluded)


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
    """Each subscriber's next picks: papers new since their last digest, never sent to them."""
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
    )


def store_edition_picks(rt: Runtime, delivery_ids: Sequence[int], *, chunk: int = 5000) -> int:
    """Rank every open row of an edition at once and store the picks before fan-out.

    The pool (the candidates' index, their duplicates, the readers' liked papers) is built
    once for the whole edition rather than once per batch; batches then only render and
    send. The picks are committed ``chunk`` readers at a time. Returns the rows ranked.
    """
    now = rt.clock()
    with rt.db.session() as session:
        rows = [
            d
            for d in repo.load_deliveries(session, delivery_ids)
            if d.picks is None and d.status in ("pending", "retry")
        ]
        if not rows:
            return 0
        by_id = repo.subscribers_by_ids(session, [d.subscriber_id for d in rows])
        inputs = ranking_inputs(rt, session, [by_id[d.subscriber_id] for d in rows], now)
        papers = list({p.id: p for p in inputs.candidates}.values())
        if not papers:
            for row in rows:
                repo.store_picks(session, row.id, [])
            return len(rows)
        pool = ranking.build_pool(
            papers,
            inputs.history,
            rt.rank_options,
            embedder=stored_topics_embedder(rt, session, inputs.profiles, now),
            vectors=stored_vectors(rt, session, [*papers, *inputs.history]),
        )
    for start in range(0, len(rows), chunk):
        part = slice(start, start + chunk)
        picks = ranking.rank_pool(
            pool,
            inputs.profiles[part],
            already_sent=inputs.excluded,
            top_k=rt.settings.top_k,
            options=rt.rank_options,
        )
        with rt.db.session() as session:
            for row, chosen in zip(rows[part], picks, strict=True):
                repo.store_picks(session, row.id, chosen)
    return len(rows)


def stored_vectors(rt: Runtime, session, papers: Sequence[Paper]):  # type: ignore[no-untyped-def]
    """Embeddings stored at ingest, when the semantic backend is on (else None)."""
    from digest.rank import semantic, vectors

    if not semantic.in_use(rt.rank_options.semantic):
        return None
    blobs = repo.embeddings_for(session, [p.id for p in papers], semantic.MODEL_NAME)
    return vectors.decode_all(blobs)


def stored_topics_embedder(rt: Runtime, session, profiles, now: datetime):  # type: ignore[no-untyped-def]
    """The model, answering from stored vectors for the readers' topics (semantic backend
    on; else None). Topics no earlier edition embedded are embedded now and stored."""
    from digest.rank import semantic, topic_texts, vectors

    if not semantic.in_use(rt.rank_options.semantic):
        return None
    model = semantic.default_embedder()
    known = vectors.text_vectors(session, topic_texts(profiles), model, now)
    return vectors.KnownTexts(model, known)


def preview(rt: Runtime, email: str) -> RenderedEmail | None:
    """The subscriber's next digest, rendered (None when no paper is new to them).

    Nothing is stored or sent.
    """
    now = rt.clock()
    with rt.db.session() as session:
        subscriber = repo.get_subscriber(session, email)
        picks = compute_picks(rt, session, [subscriber], now)[0]
        if not picks:
            session.rollback()
            return None
        papers = repo.papers_by_ids(session, [p.paper_id for p in picks])
        slot = edition_for(subscriber.frequency, now, subscriber.timezone)
        rendered = render_for(
            rt,
            subscriber,
            EditionInfo(slot.key, slot.period_start),
            picks,
            papers,
            message_id=f"<preview.{subscriber.id}.{int(now.timestamp())}@{rt.settings.from_domain}>",
        )
        session.rollback()
    return rendered


def _deliver_one(
    rt: Runtime,
    transport,
    delivery: DeliveryRow,  # type: ignore[no-untyped-def]
    subscriber: SubscriberRow,
    edition: EditionRow,
    papers: dict[str, Paper],
    prepared: dict[str, PreparedEdition] | None = None,
) -> dict[str, object]:
    outcome: dict[str, object] = {
        "delivery": delivery.id,
        "email": subscriber.email,
        "edition": edition.key,
        "papers": len(delivery.picks or []),
    }
    with rt.db.session() as session:
        if not repo.claim_delivery(
            session, delivery.id, rt.clock(), timedelta(seconds=rt.settings.lease_seconds)
        ):
            left = repo.skip_if_reader_left(session, delivery.id, rt.clock())
            if left is not None:
                return outcome | {"status": "skipped", "detail": f"reader is {left}"}
            return outcome | {"status": "not claimed", "detail": "another worker has it"}
        if not delivery.picks:
            repo.mark_skipped(
                session,
                session.get_one(DeliveryRow, delivery.id),
                reason="no new papers match this subscriber",
                now=rt.clock(),
            )
            return outcome | {"status": "skipped", "detail": "no new papers match"}
    try:
        email = render_delivery(rt, delivery, subscriber, edition, papers, prepared)
        name = f"{edition.key.replace(':', '-')}_{subscriber.email}"
        reply = transport.send(rt.outgoing(email, subscriber.email, name))
    except SessionError as exc:
        with rt.db.session() as session:
            row = session.get_one(DeliveryRow, delivery.id)
            repo.release_claim(session, row, reason=str(exc), now=rt.clock())
        raise
    except TransportError as exc:
        bounced = exc.permanent and is_hard_bounce(exc.code, str(exc))
        return _record_failure(
            rt, delivery, outcome, str(exc), permanent=exc.permanent, suppress=bounced
        )
    except InputError as exc:  # this reader's data cannot make a valid message: no retry
        reason = f"cannot build the message: {exc}"
        return _record_failure(rt, delivery, outcome, reason, permanent=True)
    except Exception as exc:  # a bug: recorded on the row (Mailman's shunt), the batch goes on
        reason = f"cannot build or send the message: {type(exc).__name__}: {exc}"
        log.error("delivery %s failed: %s", delivery.id, reason)
        log.debug("delivery %s failed", delivery.id, exc_info=True)
        return _record_failure(rt, delivery, outcome, reason, permanent=True)
    with rt.db.session() as session:
        row = session.get_one(DeliveryRow, delivery.id)
        repo.mark_sent(session, row, message_id=email.message_id, reply=reply, now=rt.clock())
    return outcome | {"status": "sent", "message_id": email.message_id}


def _record_failure(
    rt: Runtime,
    delivery: DeliveryRow,
    outcome: dict[str, object],
    reason: str,
    *,
    permanent: bool,
    suppress: bool = False,
) -> dict[str, object]:
    """A claimed row that did not go out: ``failed`` for good, or ``retry`` with backoff.
    ``suppress``: the address bounced hard, so its reader becomes ``bounced`` (not mailed
    again) in the same transaction."""
    with rt.db.session() as session:
        row = session.get_one(DeliveryRow, delivery.id)
        if suppress:
            repo.mark_bounced(session, delivery.subscriber_id, now=rt.clock())
            reason += " (the address is suppressed: no further digests)"
        repo.mark_failed(
            session,
            row,
            error=reason,
            permanent=permanent,
            now=rt.clock(),
            max_attempts=rt.settings.max_attempts,
            backoff=timedelta(seconds=rt.settings.retry_backoff_seconds),
        )
        status = row.status
    return outcome | {"status": status, "detail": reason}


def message_id_for(rt: Runtime, delivery_id: int, edition_key: str) -> str:
    """Derived from the delivery id: a retry of the same row carries the same Message-ID."""
    return f"<digest.{delivery_id}.{edition_key.replace(':', '.')}@{rt.settings.from_domain}>"


def render_delivery(
    rt: Runtime,
    delivery: DeliveryRow,
    subscriber: SubscriberRow,
    edition: EditionRow,
    papers: dict[str, Paper],
    prepared: dict[str, PreparedEdition] | None = None,
) -> RenderedEmail:
    picks = [Pick.from_json(p) for p in (delivery.picks or [])]
    return render_for(
        rt,
        subscriber,
        EditionInfo(edition.key, edition.period_start),
        picks,
        papers,
        message_id=message_id_for(rt, delivery.id, edition.key),
        prepared=prepared,
    )


def render_for(
    rt: Runtime,
    subscriber: SubscriberRow,
    edition: EditionInfo,
    picks: Sequence[Pick],
    papers: dict[str, Paper],
    *,
    message_id: str,
    prepared: dict[str, PreparedEdition] | None = None,
) -> RenderedEmail:
    """Render one reader's digest; ``prepared`` shares per-edition work across a batch."""
    info = repo.info_from_row(subscriber)
    cache = {} if prepared is None else prepared
    if edition.key not in cache:
        cache[edition.key] = rt.renderer.edition(edition, papers)
    return cache[edition.key].render(
        info,
        picks,
        rt.signer.for_recipient(info.link_id, edition.key),
        rt.signer.feedback_links(info.link_id),
        message_id=message_id,
        when=rt.clock(),
        cold_start=repo.profile_from_row(subscriber).is_empty,
    )

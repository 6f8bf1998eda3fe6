"""Papers: merging what the sources say into one row per paper, and reading them back.

``upsert_papers`` stores records through :func:`digest.ingest.upsert.upsert_records` (what
is unchanged, new or updated, decided without the database) and this module's
:class:`SessionPaperStore`: the reads of stored digests and rows, and the bulk writes
(:mod:`digest.db.bulk`). The rest are the named reads of papers: candidates, ids, the
home page's days, the CLI's listing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    String,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session

from digest.db import sightings
from digest.db.bulk import write_papers_pg, write_papers_sqlite
from digest.db.models import PaperRow, PaperSightingRow
from digest.db.sqlite_reader import JSON_LIST, json_list
from digest.db.statements import among, id_chunks, table
from digest.domain import Paper
from digest.ingest.merge import Row
from digest.ingest.upsert import (
    LOADED_COLUMNS,
    WRITTEN_COLUMNS,
    UpsertCounts,
    upsert_records,
)


def upsert_papers(
    session: Session,
    papers: Iterable[Paper],
    now: datetime,
    *,
    hashes: Iterable[str] | None = None,
) -> UpsertCounts:
    """:func:`digest.ingest.upsert.upsert_records` in ``session``'s transaction."""
    return upsert_records(SessionPaperStore(session), papers, now, hashes=hashes)


class SessionPaperStore:
    """The :class:`digest.ingest.upsert.PaperStore` of a SQLAlchemy session (SQLite or
    PostgreSQL)."""

    def __init__(self, session: Session):
        self.session = session

    def bulk_transaction(self) -> None:
        _bulk_transaction(self.session)

    def known_hashes(self, source: str, digests: Sequence[str]) -> set[str]:
        return known_hashes(self.session, source, digests)

    def stored_hashes(self, source: str, paper_ids: Sequence[str]) -> dict[str, str]:
        return sightings.stored_hashes(self.session, source, paper_ids)

    def sighting_hashes(self, ids: list[str]) -> dict[tuple[str, str], str]:
        return _sighting_hashes(self.session, ids)

    def paper_rows(self, ids: list[str]) -> dict[str, Row]:
        return _paper_rows(self.session, ids)

    def write(
        self,
        inserts: list[dict[str, Any]],
        updates: list[dict[str, Any]],
        sightings: list[dict[str, Any]],
        *,
        fresh_sightings: bool,
    ) -> set[str]:
        conn = self.session.connection()
        if conn.dialect.name == "postgresql":
            return write_papers_pg(
                conn, WRITTEN_COLUMNS, inserts, updates, sightings, fresh_sightings=fresh_sightings
            )
        return write_papers_sqlite(
            conn,
            table(PaperRow),
            WRITTEN_COLUMNS,
            inserts,
            updates,
            table(PaperSightingRow),
            sightings,
        )


def _bulk_transaction(session: Session) -> None:
    """An ingest can always be run again, so its commit need not wait for the disk.

    With ``synchronous_commit = off`` a crash may lose the last commits of this
    transaction's kind; the next run finds their lines unknown and stores them again.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit = off"))


def _by_array(conn: Connection, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """Rows of an ``= ANY(%b)`` query on PostgreSQL, planned for the actual array.

    psycopg prepares a statement run five times; PostgreSQL then may switch to a generic
    plan, which for ``col = ANY($1)`` is a sequential scan comparing every row with every
    array element: measured 50x slower than the index scan on a 2,000-id chunk. Custom
    plans are forced only around these lookups: for the whole transaction they also
    re-plan the foreign-key check of every copied sighting (server CPU of a first load
    0.45 -> 0.30 s without that). The array goes in binary (``%b``): psycopg dumps 10,000
    strings in 2.5 ms, as text in 19 ms.
    """
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        rows = cursor.execute(sql, params).fetchall()
        cursor.execute("SET LOCAL plan_cache_mode = DEFAULT")
    finally:
        cursor.close()
    return list(rows)


def known_hashes(session: Session, source: str, digests: Sequence[str]) -> set[str]:
    """Which of ``digests`` are what ``source`` said last about some paper (to skip them)."""
    seen_t = table(PaperSightingRow)
    conn = session.connection()
    if conn.dialect.name == "postgresql":  # one array parameter instead of thousands
        sql = f"SELECT content_hash FROM {seen_t.name} WHERE source = %s AND content_hash = ANY(%b)"
        return {row[0] for row in _by_array(conn, sql, source, list(digests))}
    sql = f"SELECT content_hash FROM {seen_t.name} WHERE source = ? AND content_hash IN {JSON_LIST}"
    return set(conn.exec_driver_sql(sql, (source, json_list(digests))).scalars().all())


def _sighting_hashes(session: Session, ids: list[str]) -> dict[tuple[str, str], str]:
    seen_t = table(PaperSightingRow)
    conn = session.connection()
    if conn.dialect.name == "postgresql":  # one array parameter instead of thousands
        sql = f"SELECT paper_id, source, content_hash FROM {seen_t.name} WHERE paper_id = ANY(%b)"
        return {(pid, src): digest for pid, src, digest in _by_array(conn, sql, ids)}
    sql = f"SELECT paper_id, source, content_hash FROM {seen_t.name} WHERE paper_id IN {JSON_LIST}"
    rows = conn.exec_driver_sql(sql, (json_list(ids),)).fetchall()
    return {(pid, src): digest for pid, src, digest in rows}


def _paper_rows(session: Session, ids: list[str]) -> dict[str, Row]:
    papers_t = table(PaperRow)
    columns = [papers_t.c[name] for name in LOADED_COLUMNS]
    conn = session.connection()
    if conn.dialect.name == "postgresql":  # the driver gives what the ORM types would
        sql = f"SELECT {', '.join(LOADED_COLUMNS)} FROM {papers_t.name} WHERE id = ANY(%b)"
        return {
            row[0]: dict(zip(LOADED_COLUMNS, row, strict=True)) for row in _by_array(conn, sql, ids)
        }
    wanted = select(literal_column("value", String)).select_from(func.json_each(bindparam("ids")))
    query = select(*columns).where(papers_t.c.id.in_(wanted))
    return {row.id: dict(row._mapping) for row in conn.execute(query, {"ids": json_list(ids)})}


def paper_from_row(row: PaperRow) -> Paper:
    return Paper(
        id=row.id,
        title=row.title,
        abstract=row.abstract,
        authors=tuple(row.authors),
        categories=tuple(row.categories),
        links=dict(row.links),
        published=row.published_on,
        announced=row.announced_on,
        comment=row.comment,
        upvotes=row.upvotes,
        github_stars=row.github_stars,
        num_comments=row.num_comments,
        doi=row.doi,
        journal_ref=row.journal_ref,
        primary_category=row.primary_category,
        version=row.version,
        featured_on=row.featured_on,
        ai_summary=row.ai_summary,
        keywords=tuple(row.keywords or ()),
        affiliations=tuple(row.affiliations or ()),
    )


def papers_seen_since(session: Session, since: datetime) -> list[tuple[Paper, datetime]]:
    """Candidate papers with the time we first saw them: first seen at or after ``since``."""
    rows = session.scalars(
        select(PaperRow).where(PaperRow.first_seen_at >= since).order_by(PaperRow.id)
    )
    return [(paper_from_row(r), r.first_seen_at) for r in rows]


def papers_by_ids(session: Session, ids: Iterable[str]) -> dict[str, Paper]:
    wanted = list(dict.fromkeys(ids))
    found: dict[str, Paper] = {}
    for chunk in id_chunks(session, wanted):
        for row in session.scalars(select(PaperRow).where(among(session, PaperRow.id, chunk))):
            found[row.id] = paper_from_row(row)
    return found


def _listing_day() -> ColumnElement[date | None]:
    """The day a paper is listed under on the home page: featured, else announced, else
    published (Hugging Face's day wins over arXiv's, as on the page we are modelled on)."""
    return func.coalesce(PaperRow.featured_on, PaperRow.announced_on, PaperRow.published_on)


def listing_days(session: Session, limit: int = 60) -> list[date]:
    """The most recent days that have papers, newest first."""
    day = _listing_day()
    query = select(day).where(day.is_not(None)).distinct().order_by(day.desc()).limit(limit)
    return [d for d in session.scalars(query) if d is not None]


def papers_listed_on(session: Session, day: date, limit: int = 200) -> list[Paper]:
    """One day's papers, most upvoted first (then most starred, then newest id)."""
    query = (
        select(PaperRow)
        .where(_listing_day() == day)
        .order_by(
            PaperRow.upvotes.desc().nulls_last(),
            PaperRow.github_stars.desc().nulls_last(),
            PaperRow.id.desc(),
        )
        .limit(limit)
    )
    return [paper_from_row(r) for r in session.scalars(query)]


def count_papers(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(PaperRow)) or 0


def get_paper_row(session: Session, paper_id: str) -> PaperRow | None:
    return session.get(PaperRow, paper_id)


def paper_sightings(session: Session, paper_id: str) -> list[PaperSightingRow]:
    query = select(PaperSightingRow).where(PaperSightingRow.paper_id == paper_id)
    return list(session.scalars(query.order_by(PaperSightingRow.first_seen_at)))


def list_papers(
    session: Session, *, since: date | None = None, query: str | None = None, limit: int = 50
) -> list[PaperRow]:
    """Newest first: announced (else published) on or after ``since``; ``query`` matches
    title or abstract, case-insensitively."""
    day = func.coalesce(PaperRow.announced_on, PaperRow.featured_on, PaperRow.published_on)
    stmt = select(PaperRow)
    if since is not None:
        stmt = stmt.where(day >= since)
    for word in (query or "").split():
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            or_(
                PaperRow.title.ilike(pattern, escape="\\"),
                PaperRow.abstract.ilike(pattern, escape="\\"),
            )
        )
    stmt = stmt.order_by(day.desc().nulls_last(), PaperRow.first_seen_at.desc(), PaperRow.id)
    return list(session.scalars(stmt.limit(limit)))

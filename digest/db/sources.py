"""Paper sources as stored: their configuration and the outcome of their last runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from digest.db.models import SourceRow


def list_source_rows(session: Session) -> list[SourceRow]:
    return list(session.scalars(select(SourceRow).order_by(SourceRow.name)))


def get_source_row(session: Session, name: str) -> SourceRow | None:
    return session.get(SourceRow, name)


def save_source_config(
    session: Session,
    *,
    name: str,
    kind: str,
    options: dict[str, Any],
    origin: str,
    now: datetime,
    enabled: bool = True,
) -> SourceRow:
    """Create or update a source's configuration; its ingestion state is kept."""
    row = session.get(SourceRow, name)
    if row is None:
        row = SourceRow(
            name=name, kind=kind, options=options, origin=origin, enabled=enabled,
            validators={}, last_counts={}, created_at=now, updated_at=now,
        )  # fmt: skip
        session.add(row)
    elif (row.kind, row.options, row.origin, row.enabled) != (kind, options, origin, enabled):
        if row.kind != kind:  # another kind of source: its old cursor means nothing
            row.cursor, row.validators = None, {}
        row.kind, row.options, row.origin, row.updated_at = kind, options, origin, now
        row.enabled = enabled
    session.flush()
    return row


def remove_source_row(session: Session, row: SourceRow) -> None:
    session.delete(row)
    session.flush()


def record_source_run(
    session: Session,
    name: str,
    *,
    now: datetime,
    status: str,
    counts: dict[str, int],
    error: str | None = None,
    cursor: str | None = None,
    validators: dict[str, Any] | None = None,
) -> None:
    """Store the outcome of one run; cursor and validators only move when given. A failed
    run also sets ``last_failure(_at)``, any other ``last_success_at``: both are kept."""
    values: dict[str, object] = {
        "last_run_at": now,
        "last_status": status,
        "last_error": error,
        "last_counts": counts,
        "updated_at": now,
    }
    if status == "failed":
        values["last_failure_at"] = now
        values["last_failure"] = error
    else:
        values["last_success_at"] = now
    if cursor is not None:
        values["cursor"] = cursor
    if validators is not None:
        values["validators"] = validators
    session.execute(
        update(SourceRow)
        .where(SourceRow.name == name)
        .values(**values)
        .execution_options(synchronize_session=False)
    )

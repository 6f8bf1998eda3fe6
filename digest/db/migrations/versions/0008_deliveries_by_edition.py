"""deliveries by edition: an index on (edition_id, status)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 02:30:00

Planning reads an edition's rows (``editions.planned_rows``) and ``digest run`` counts an
edition's open rows while it follows it (``tracking.open_in_editions``); the unique
(subscriber_id, edition_id) index cannot serve either, so both scanned the whole ledger,
which grows by a row per reader per edition.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_deliveries_edition_status", "deliveries", ["edition_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_edition_status", table_name="deliveries")

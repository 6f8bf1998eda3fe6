"""source health: when each source last succeeded and last failed, and why

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 10:00:00

``sources.last_status``/``last_error`` describe the last run only: a success erased the
previous failure, and a failure hid when the source last worked. ``last_success_at``,
``last_failure_at`` and ``last_failure`` keep both, for `digest stats` and the freshness
check of `digest doctor`. Filled from the last run for existing rows.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_failure", sa.Text(), nullable=True))
    op.execute(
        "UPDATE sources SET last_success_at = last_run_at "
        "WHERE last_run_at IS NOT NULL AND last_status <> 'failed'"
    )
    op.execute(
        "UPDATE sources SET last_failure_at = last_run_at, last_failure = last_error "
        "WHERE last_status = 'failed'"
    )


def downgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("last_failure")
        batch_op.drop_column("last_failure_at")
        batch_op.drop_column("last_success_at")

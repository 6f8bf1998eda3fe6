"""ledger indexes: fewer entries written per transition, a plan that cannot scan the ledger

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 12:10:00

Every ledger transition writes a new row version and an entry in each index of
``deliveries`` (a message: two versions, the claim and its record). Of its five indexes:

* ``ix_deliveries_subscriber_id`` repeated the leading column of the unique
  ``(subscriber_id, edition_id)`` index, which serves the same lookups: dropped.
* ``ix_deliveries_status_next`` ``(status, next_attempt_at)`` served only the lookup of
  expired leases (the other reads go by edition or by id); it is replaced by a partial
  index of the rows that hold a lease (only those in ``sending`` do), which a message's
  claim enters once. Once the table had statistics saying ``sending`` was rare, the
  status index could serve a transition's ``status = 'sending'`` instead of the primary
  key, and then read every ``sending`` entry, dead ones included: one claim read 3,500
  pages at 10,000 rows. The new index names no status, so no plan can do that.

``sent_papers.delivery_id`` loses its foreign key (two referential checks a paper sent
became one); nothing reads it through the key, and retention (``ledger.prune_settled``)
clears it itself where ``ON DELETE SET NULL`` did.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEASED = sa.text("lease_until IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_deliveries_subscriber_id", table_name="deliveries")
    op.drop_index("ix_deliveries_status_next", table_name="deliveries")
    op.create_index(
        "ix_deliveries_lease_until",
        "deliveries",
        ["lease_until"],
        postgresql_where=LEASED,
        sqlite_where=LEASED,
    )
    with op.batch_alter_table("sent_papers", schema=None) as batch_op:
        batch_op.drop_constraint("fk_sent_papers_delivery_id_deliveries", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("sent_papers", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_sent_papers_delivery_id_deliveries",
            "deliveries",
            ["delivery_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.drop_index("ix_deliveries_lease_until", table_name="deliveries")
    op.create_index("ix_deliveries_status_next", "deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_deliveries_subscriber_id", "deliveries", ["subscriber_id"])

"""sent_papers without a foreign key to subscribers

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 19:30:00

A digest sent writes ten ``sent_papers`` rows, and each ran a referential check of its
subscriber: 3.3 us of PostgreSQL's CPU a paper, half of what storing it costs, about 3 s of
the database's CPU for an edition of 100,000 readers, on the send loop's path. The key's
only other work was ``ON DELETE CASCADE``: removing a subscriber now deletes their sent
papers itself (``subscribers.remove_subscriber``).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sent_papers", schema=None) as batch_op:
        batch_op.drop_constraint("fk_sent_papers_subscriber_id_subscribers", type_="foreignkey")


def downgrade() -> None:
    op.execute("DELETE FROM sent_papers WHERE subscriber_id NOT IN (SELECT id FROM subscribers)")
    with op.batch_alter_table("sent_papers", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_sent_papers_subscriber_id_subscribers",
            "subscribers",
            ["subscriber_id"],
            ["id"],
            ondelete="CASCADE",
        )

"""ingestion: paper metadata columns, per-source sightings, sources with their state

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("papers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("doi", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("journal_ref", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("primary_category", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("featured_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("ai_summary", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("keywords", sa.JSON(), server_default="[]", nullable=False))
        batch_op.add_column(
            sa.Column("affiliations", sa.JSON(), server_default="[]", nullable=False)
        )

    op.create_table(
        "paper_sightings",
        sa.Column("paper_id", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name=op.f("fk_paper_sightings_paper_id_papers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("paper_id", "source", name=op.f("pk_paper_sightings")),
    )
    op.create_index("ix_paper_sightings_source_hash", "paper_sightings", ["source", "content_hash"])
    op.create_table(
        "sources",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("origin", sa.String(length=10), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("validators", sa.JSON(), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.String(length=20), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_counts", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sources")),
    )


def downgrade() -> None:
    op.drop_table("sources")
    op.drop_index("ix_paper_sightings_source_hash", table_name="paper_sightings")
    op.drop_table("paper_sightings")
    with op.batch_alter_table("papers", schema=None) as batch_op:
        for column in (
            "affiliations",
            "keywords",
            "ai_summary",
            "featured_on",
            "version",
            "primary_category",
            "journal_ref",
            "doi",
        ):
            batch_op.drop_column(column)

"""ranking: stored embeddings of topic texts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 13:20:00

``text_embeddings`` keeps the sentence embedding of each reader topic text, keyed by the
model and a SHA-256 of the text, so a ranking run embeds only topics it has never seen.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "text_embeddings",
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("text_key", sa.String(length=64), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("model", "text_key", name=op.f("pk_text_embeddings")),
    )


def downgrade() -> None:
    op.drop_table("text_embeddings")

"""greeting name: what the digest's greeting calls the reader

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 02:45:00

``subscribers.greeting_name`` is set by the reader (the preferences page) or an admin
(CLI, import); NULL keeps the greeting derived from the first word of ``name``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("greeting_name", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("greeting_name")

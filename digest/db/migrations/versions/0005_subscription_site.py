"""subscription site: opaque link ids, consent, pauses, weekly day, confirmation caps

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 20:40:00

Signed links now carry ``subscribers.link_id`` (random, replaced to revoke every link)
instead of the row id. Consent (when, source, hashed IP, form wording), ``paused_until``,
the weekly reader's ``weekday`` and a per-day count of confirmation emails are recorded.
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("weekday", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("link_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("consent_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("consent_source", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("consent_ip_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("consent_version", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("confirm_day", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("confirm_count", sa.Integer(), server_default="0", nullable=False)
        )

    conn = op.get_bind()
    subscribers = sa.table("subscribers", sa.column("id", sa.Integer), sa.column("link_id"))
    for (subscriber_id,) in conn.execute(sa.select(subscribers.c.id)).all():
        conn.execute(
            subscribers.update()
            .where(subscribers.c.id == subscriber_id)
            .values(link_id=secrets.token_urlsafe(16))
        )

    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.alter_column("link_id", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_subscribers_link_id"), ["link_id"])


def downgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_subscribers_link_id"), type_="unique")
        for column in (
            "confirm_count",
            "confirm_day",
            "consent_version",
            "consent_ip_hash",
            "consent_source",
            "consent_at",
            "paused_until",
            "link_id",
            "weekday",
        ):
            batch_op.drop_column(column)

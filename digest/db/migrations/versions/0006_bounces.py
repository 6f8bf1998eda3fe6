"""asynchronous bounces: bounce score per subscriber, bounce events, paused editions

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 10:00:00

``subscribers.bounce_score`` and ``last_bounce_at`` carry Mailman's scoring of soft
bounces; ``bounce_events`` records every bounce and complaint read from the bounce
mailbox (and soft bounces of the sending path) for the operator. ``editions.paused_reason``
stops an edition whose mail many providers refused by policy (5.7.x) until an operator
resumes it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("bounce_score", sa.Float(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("last_bounce_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paused_reason", sa.Text(), nullable=True))

    op.create_table(
        "bounce_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("report_key", sa.String(length=255), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_bounce_events_delivery_id_deliveries"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_bounce_events_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bounce_events")),
    )
    with op.batch_alter_table("bounce_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bounce_events_delivery_id"), ["delivery_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_bounce_events_received_at"), ["received_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_bounce_events_report_key"), ["report_key"], unique=False
        )
        batch_op.create_index(
            "ix_bounce_events_subscriber_received",
            ["subscriber_id", "received_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("bounce_events", schema=None) as batch_op:
        batch_op.drop_index("ix_bounce_events_subscriber_received")
        batch_op.drop_index(batch_op.f("ix_bounce_events_report_key"))
        batch_op.drop_index(batch_op.f("ix_bounce_events_received_at"))
        batch_op.drop_index(batch_op.f("ix_bounce_events_delivery_id"))
    op.drop_table("bounce_events")
    with op.batch_alter_table("editions", schema=None) as batch_op:
        batch_op.drop_column("paused_reason")
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("last_bounce_at")
        batch_op.drop_column("bounce_score")

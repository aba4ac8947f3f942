"""Staged rollouts and installation insights.

Candidate-only channel releases, rollout percentages in history, license ids of any length,
installation indexes, anonymous polls per channel and hour.

Revision ID: 0002_rollouts_installations
Revises: 0001_core_tables
Create Date: 2026-11-29 07:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

# Frozen copies of the model column types (migrations must not follow later model edits).
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
revision: str = "0002_rollouts_installations"
down_revision: str | None = "0001_core_tables"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("channel_releases") as batch:
        batch.add_column(
            sa.Column("candidate_only", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("channel_events") as batch:
        batch.add_column(sa.Column("percent", sa.Integer(), nullable=True))
    with op.batch_alter_table("installations") as batch:
        batch.alter_column(
            "license_id",
            existing_type=sa.String(length=36),
            # Exact, as ids are compared (MySQL/MariaDB default to case-insensitive).
            type_=sa.String(length=255).with_variant(
                mysql.VARCHAR(255, collation="utf8mb4_bin"), "mysql", "mariadb"
            ),
            existing_nullable=False,
        )
    op.create_index(
        op.f("ix_installations_subject_last_seen"),
        "installations",
        ["subject", "last_seen"],
        unique=False,
    )
    op.create_index(
        op.f("ix_installations_last_release_id_last_seen"),
        "installations",
        ["last_release_id", "last_seen"],
        unique=False,
    )
    op.create_table(
        "anonymous_polls",
        sa.Column("channel", sa.String(length=63), nullable=False),
        sa.Column("hour", TIMESTAMP, nullable=False),
        sa.Column("poll_count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "hour", name=op.f("pk_anonymous_polls")),
    )
    op.create_index(op.f("ix_anonymous_polls_hour"), "anonymous_polls", ["hour"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_anonymous_polls_hour"), table_name="anonymous_polls")
    op.drop_table("anonymous_polls")
    op.drop_index(op.f("ix_installations_last_release_id_last_seen"), table_name="installations")
    op.drop_index(op.f("ix_installations_subject_last_seen"), table_name="installations")
    with op.batch_alter_table("installations") as batch:
        batch.alter_column(
            "license_id",
            existing_type=sa.String(length=255),
            type_=sa.String(length=36),
            existing_nullable=False,
        )
    with op.batch_alter_table("channel_events") as batch:
        batch.drop_column("percent")
    with op.batch_alter_table("channel_releases") as batch:
        batch.drop_column("candidate_only")

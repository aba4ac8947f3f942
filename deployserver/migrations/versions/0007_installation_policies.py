"""Installation policies: license pins, maintenance windows, required and urgent releases.

Also when an installation was first served its current release (the dwell of a required
release counts from it).

Revision ID: 0007_installation_policies
Revises: 0006_vocabulary_checks
Create Date: 2026-12-01 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

# Frozen copies of the model column types (migrations must not follow later model edits).
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
revision: str = "0007_installation_policies"
down_revision: str | None = "0006_vocabulary_checks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "license_pins",
        sa.Column("license_id", sa.String(length=36), nullable=False),
        sa.Column("release_id", sa.String(length=36), nullable=False),
        sa.Column("until", TIMESTAMP, nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["license_id"],
            ["licenses.id"],
            name=op.f("fk_license_pins_license_id_licenses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["release_id"], ["releases.id"], name=op.f("fk_license_pins_release_id_releases")
        ),
        sa.PrimaryKeyConstraint("license_id", name=op.f("pk_license_pins")),
    )
    op.create_table(
        "maintenance_windows",
        sa.Column("license_id", sa.String(length=36), nullable=False),
        sa.Column("days", sa.JSON(), nullable=False),
        sa.Column("start", sa.String(length=5), nullable=False),
        sa.Column("end", sa.String(length=5), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["license_id"],
            ["licenses.id"],
            name=op.f("fk_maintenance_windows_license_id_licenses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("license_id", name=op.f("pk_maintenance_windows")),
    )
    with op.batch_alter_table("channel_releases") as batch:
        batch.add_column(
            sa.Column("required", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(
            sa.Column("urgent", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("installations") as batch:
        batch.add_column(sa.Column("release_since", TIMESTAMP, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("installations") as batch:
        batch.drop_column("release_since")
    with op.batch_alter_table("channel_releases") as batch:
        batch.drop_column("urgent")
        batch.drop_column("required")
    op.drop_table("maintenance_windows")
    op.drop_table("license_pins")

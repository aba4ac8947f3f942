"""Create the core tables: channels, releases, head history, licenses, keys, tokens, audit.

Revision ID: 0001_core_tables
Revises:
Create Date: 2026-11-29 06:39:43.564986
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

# Frozen copies of the model column types (migrations must not follow later model edits).
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
# Compared as an exact string: MySQL and MariaDB default to case-insensitive collations.
EXACT_STRING_255 = sa.String(length=255).with_variant(
    mysql.VARCHAR(255, collation="utf8mb4_bin"), "mysql", "mariadb"
)
revision: str = "0001_core_tables"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("last_used_at", TIMESTAMP, nullable=True),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("before", sa.String(length=64), nullable=True),
        sa.Column("after", sa.String(length=64), nullable=True),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index(
        op.f("ix_audit_events_target_id"), "audit_events", ["target", "id"], unique=False
    )
    op.create_table(
        "installations",
        sa.Column("license_id", sa.String(length=36), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=63), nullable=False),
        sa.Column("first_seen", TIMESTAMP, nullable=False),
        sa.Column("last_seen", TIMESTAMP, nullable=False),
        sa.Column("poll_count", sa.BigInteger(), nullable=False),
        sa.Column("last_release_id", sa.String(length=36), nullable=True),
        sa.Column("last_address", sa.String(length=64), nullable=True),
        sa.Column("last_user_agent", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("license_id", name=op.f("pk_installations")),
    )
    op.create_index(
        op.f("ix_installations_channel_last_seen"),
        "installations",
        ["channel", "last_seen"],
        unique=False,
    )
    op.create_index(
        op.f("ix_installations_last_seen"), "installations", ["last_seen"], unique=False
    )
    op.create_table(
        "licenses",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=63), nullable=False),
        sa.Column("claims", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("issued_at", TIMESTAMP, nullable=False),
        sa.Column("not_before", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=True),
        sa.Column("issued_by", sa.String(length=255), nullable=False),
        sa.Column("status_changed_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licenses")),
    )
    op.create_index(op.f("ix_licenses_status"), "licenses", ["status"], unique=False)
    op.create_index(op.f("ix_licenses_subject"), "licenses", ["subject"], unique=False)
    op.create_index(
        op.f("ix_licenses_status_changed_at"), "licenses", ["status_changed_at"], unique=False
    )
    op.create_index(op.f("ix_licenses_issued_at_id"), "licenses", ["issued_at", "id"], unique=False)
    op.create_table(
        "releases",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("version", EXACT_STRING_255, nullable=False),
        sa.Column("chart", sa.JSON(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column(
            "spec", sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb"), nullable=False
        ),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_releases")),
        sa.UniqueConstraint("version", name=op.f("uq_releases_version")),
    )
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("alg", sa.String(length=8), nullable=False),
        sa.Column(
            "public_key",
            sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb"),
            nullable=False,
        ),
        sa.Column(
            "private_key_encrypted",
            sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("retired_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_keys")),
    )
    op.create_table(
        "channels",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("strict_values", sa.Boolean(), nullable=False),
        sa.Column("head_release_id", sa.String(length=36), nullable=True),
        sa.Column("candidate_release_id", sa.String(length=36), nullable=True),
        sa.Column("rollout_percent", sa.Integer(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["candidate_release_id"],
            ["releases.id"],
            name=op.f("fk_channels_candidate_release_id_releases"),
        ),
        sa.ForeignKeyConstraint(
            ["head_release_id"], ["releases.id"], name=op.f("fk_channels_head_release_id_releases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channels")),
        sa.UniqueConstraint("name", name=op.f("uq_channels_name")),
    )
    op.create_table(
        "channel_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.String(length=36), nullable=False),
        sa.Column("previous_release_id", sa.String(length=36), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_channel_events_channel_id_channels")
        ),
        sa.ForeignKeyConstraint(
            ["previous_release_id"],
            ["releases.id"],
            name=op.f("fk_channel_events_previous_release_id_releases"),
        ),
        sa.ForeignKeyConstraint(
            ["release_id"], ["releases.id"], name=op.f("fk_channel_events_release_id_releases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_events")),
    )
    op.create_index(
        op.f("ix_channel_events_channel_id_id"),
        "channel_events",
        ["channel_id", "id"],
        unique=False,
    )
    op.create_table(
        "channel_releases",
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.String(length=36), nullable=False),
        sa.Column(
            "body", sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb"), nullable=False
        ),
        sa.Column("etag", sa.String(length=80), nullable=False),
        sa.Column("arrived_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_channel_releases_channel_id_channels")
        ),
        sa.ForeignKeyConstraint(
            ["release_id"], ["releases.id"], name=op.f("fk_channel_releases_release_id_releases")
        ),
        sa.PrimaryKeyConstraint("channel_id", "release_id", name=op.f("pk_channel_releases")),
    )
    op.create_index(
        op.f("ix_channel_releases_channel_id_arrived_at_release_id"),
        "channel_releases",
        ["channel_id", "arrived_at", "release_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_channel_releases_release_id"), "channel_releases", ["release_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_channel_releases_release_id"), table_name="channel_releases")
    op.drop_index(
        op.f("ix_channel_releases_channel_id_arrived_at_release_id"),
        table_name="channel_releases",
    )
    op.drop_table("channel_releases")
    op.drop_index(op.f("ix_channel_events_channel_id_id"), table_name="channel_events")
    op.drop_table("channel_events")
    op.drop_table("channels")
    op.drop_table("signing_keys")
    op.drop_table("releases")
    op.drop_index(op.f("ix_licenses_issued_at_id"), table_name="licenses")
    op.drop_index(op.f("ix_licenses_status_changed_at"), table_name="licenses")
    op.drop_index(op.f("ix_licenses_subject"), table_name="licenses")
    op.drop_index(op.f("ix_licenses_status"), table_name="licenses")
    op.drop_table("licenses")
    op.drop_index(op.f("ix_installations_last_seen"), table_name="installations")
    op.drop_index(op.f("ix_installations_channel_last_seen"), table_name="installations")
    op.drop_table("installations")
    op.drop_index(op.f("ix_audit_events_target_id"), table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_table("api_tokens")

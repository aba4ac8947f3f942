"""Vocabulary CHECK constraints, and the installations index their listing walks.

License and key statuses, token roles and history actions are refused by the database
unless they are one of the server's words. The installations listing walks
``(last_seen, license_id)`` newest first: that index replaces the one on ``last_seen`` alone.

Revision ID: 0006_vocabulary_checks
Revises: 0005_token_expiry
Create Date: 2026-12-01 22:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006_vocabulary_checks"
down_revision: str | None = "0005_token_expiry"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the vocabularies (migrations must not follow later model edits).
CHECKS = (
    ("licenses", "status", ("active", "suspended", "revoked")),
    ("signing_keys", "status", ("active", "verify-only", "retired")),
    ("api_tokens", "role", ("viewer", "publisher", "admin")),
    (
        "channel_events",
        "action",
        (
            "publish",
            "promote",
            "rollback",
            "rollout-start",
            "rollout-advance",
            "rollout-complete",
            "rollout-abort",
        ),
    ),
)


def _condition(column: str, words: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(word) for word in words)})"


def upgrade() -> None:
    for table, column, words in CHECKS:
        # Batch mode rebuilds the table on SQLite, which cannot add a constraint otherwise.
        with op.batch_alter_table(table) as batch:
            batch.create_check_constraint(op.f(f"ck_{table}_{column}"), _condition(column, words))
    op.create_index(
        op.f("ix_installations_last_seen_license_id"),
        "installations",
        ["last_seen", "license_id"],
        unique=False,
    )
    op.drop_index(op.f("ix_installations_last_seen"), table_name="installations")


def downgrade() -> None:
    op.create_index(
        op.f("ix_installations_last_seen"), "installations", ["last_seen"], unique=False
    )
    op.drop_index(op.f("ix_installations_last_seen_license_id"), table_name="installations")
    for table, column, _words in reversed(CHECKS):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"ck_{table}_{column}"), type_="check")

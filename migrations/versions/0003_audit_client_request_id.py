"""Audit events keep the caller's X-Request-ID apart from the server's request id.

Revision ID: 0003_audit_client_request_id
Revises: 0002_rollouts_installations
Create Date: 2026-12-01 21:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_audit_client_request_id"
down_revision: str | None = "0002_rollouts_installations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("client_request_id", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("client_request_id")

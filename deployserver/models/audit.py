"""The audit log: one row per write, in the transaction of the write."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from deployserver.db import Base, UTCDateTime, utcnow
from deployserver.models.types import Digest, Name


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    actor: Mapped[str] = mapped_column(Name)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(Name)
    # sha256 of the target's canonical state before and after; null where it did not exist.
    before: Mapped[str | None] = mapped_column(Digest, nullable=True)
    after: Mapped[str | None] = mapped_column(Digest, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # What the caller sent as X-Request-ID: its own correlation id, never the server's.
    client_request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)

    __table_args__ = (Index(None, "target", "id"),)

"""What each licensed installation last polled, written in batches off the polling path."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from deployserver.db import Base, UTCDateTime, utcnow
from deployserver.models.types import Name, Uuid


class Installation(Base):
    __tablename__ = "installations"

    license_id: Mapped[str] = mapped_column(Uuid, primary_key=True)
    subject: Mapped[str] = mapped_column(Name, default="")
    channel: Mapped[str] = mapped_column(String(63))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    poll_count: Mapped[int] = mapped_column(BigInteger, default=0)
    last_release_id: Mapped[str | None] = mapped_column(Uuid, nullable=True)
    last_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_user_agent: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index(None, "channel", "last_seen"), Index(None, "last_seen"))

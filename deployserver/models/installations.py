"""What each licensed installation last polled, and anonymous polls per channel and hour.

Both are written in batches off the polling path (``deployserver/feed/recorder.py``) and
pruned by age.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from deployserver.db import Base, UTCDateTime, utcnow
from deployserver.models.types import ExactString255, Name, Uuid


class Installation(Base):
    __tablename__ = "installations"

    # A license's jti: a UUID when issued here, up to 255 characters when signed elsewhere.
    # Exact: licenses signed elsewhere may have ids differing only in case.
    license_id: Mapped[str] = mapped_column(ExactString255, primary_key=True)
    subject: Mapped[str] = mapped_column(Name, default="")
    channel: Mapped[str] = mapped_column(String(63))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    poll_count: Mapped[int] = mapped_column(BigInteger, default=0)
    last_release_id: Mapped[str | None] = mapped_column(Uuid, nullable=True)
    # The first poll served ``last_release_id`` (a required release's dwell counts from it).
    release_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_user_agent: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        Index(None, "channel", "last_seen"),
        # The listing walks (last_seen, license_id) newest first, keyset-paged; pruning by
        # age uses its leading column.
        Index(None, "last_seen", "license_id"),
        Index(None, "subject", "last_seen"),
        Index(None, "last_release_id", "last_seen"),
    )


class AnonymousPolls(Base):
    """Polls without a license, counted per channel and hour (they have no identity)."""

    __tablename__ = "anonymous_polls"

    channel: Mapped[str] = mapped_column(String(63), primary_key=True)
    # The start of the UTC hour the polls fell in.
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    poll_count: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (Index(None, "hour"),)

"""Installation policies kept per license: a pinned release and a maintenance window.

Required releases are a flag on ``channel_releases`` (they belong to a release on one
channel), and so is ``urgent`` (a release that arrived as urgent crosses closed windows).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from deployserver.db import Base, UTCDateTime, utcnow
from deployserver.models.types import Json, Name, Uuid


class LicensePin(Base):
    __tablename__ = "license_pins"

    license_id: Mapped[str] = mapped_column(
        Uuid, ForeignKey("licenses.id", ondelete="CASCADE"), primary_key=True
    )
    release_id: Mapped[str] = mapped_column(Uuid, ForeignKey("releases.id"))
    # The pin ends by itself at this moment (none: until removed).
    until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(Name)


class MaintenanceWindow(Base):
    __tablename__ = "maintenance_windows"

    license_id: Mapped[str] = mapped_column(
        Uuid, ForeignKey("licenses.id", ondelete="CASCADE"), primary_key=True
    )
    # Week days ("mon" .. "sun"), in week order.
    days: Mapped[list[str]] = mapped_column(Json)
    start: Mapped[str] = mapped_column(String(5))
    end: Mapped[str] = mapped_column(String(5))
    timezone: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(Name)

"""Issued licenses and the keys that sign them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from deployserver.db import Base, UTCDateTime, utcnow
from deployserver.models.types import Json, LongBlob, LongText, Name, Uuid
from deployserver.models.vocabularies import KeyStatus, LicenseStatus, one_of


class License(Base):
    __tablename__ = "licenses"

    id: Mapped[str] = mapped_column(Uuid, primary_key=True)  # the JWT's ``jti``
    subject: Mapped[str] = mapped_column(Name)
    channel: Mapped[str] = mapped_column(String(63))
    claims: Mapped[dict[str, Any]] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(16), default=LicenseStatus.ACTIVE)
    kid: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    issued_by: Mapped[str] = mapped_column(Name)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    # Verification reads the ids that are not active, then only the statuses changed since
    # its last read; the license listing walks (issued_at, id) newest first.
    __table_args__ = (
        Index(None, "status"),
        Index(None, "subject"),
        Index(None, "status_changed_at"),
        Index(None, "issued_at", "id"),
        one_of("status", LicenseStatus),
    )


class SigningKey(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(8))
    public_key: Mapped[str] = mapped_column(LongText)  # PEM
    # Private key PEM sealed with the server secret (authenticated encryption).
    private_key_encrypted: Mapped[bytes] = mapped_column(LongBlob)
    status: Mapped[str] = mapped_column(String(16), default=KeyStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (one_of("status", KeyStatus),)

"""Bearer tokens of release engineers. Only a token's sha256 is stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from deployserver.db import Base, UTCDateTime, utcnow
from deployserver.models.types import Digest, Json, Name, Uuid
from deployserver.models.vocabularies import Role, one_of


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(Name)
    token_hash: Mapped[str] = mapped_column(Digest, unique=True)
    role: Mapped[str] = mapped_column(String(16))
    # Channel names a publisher may write to; null means every channel.
    channels: Mapped[list[str] | None] = mapped_column(Json, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # After this moment the token is refused as a revoked one is; null: it never expires.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (one_of("role", Role),)

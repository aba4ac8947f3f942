"""Console sessions: server-side, keyed by a keyed hash of the session id in the cookie."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from deployserver.db import Base, UTCDateTime, utcnow
from deployserver.models.types import Digest, Uuid


class ConsoleSession(Base):
    __tablename__ = "console_sessions"

    # HMAC-SHA256 of the cookie's session id: a leaked table opens no session.
    id_hash: Mapped[str] = mapped_column(Digest, primary_key=True)
    # Deleting a token ends its sessions; a revoked one is refused at every request.
    token_id: Mapped[str] = mapped_column(
        Uuid, ForeignKey("api_tokens.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

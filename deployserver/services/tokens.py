"""Bearer tokens for release engineers: create, list, revoke, and resolve a presented token."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from deployserver.db import find_or_404, read_transaction, utcnow, view_of, write_transaction
from deployserver.errors import Invalid
from deployserver.models import ApiToken, Channel, Role, words
from deployserver.pagination import Page, SortKey, cursor_str, keyset, page_of
from deployserver.services import audit
from deployserver.services.channels import validate_channel_name
from deployserver.specs.canonical import digest_of
from deployserver.specs.text import is_uuid, validate_text

ROLES = words(Role)
ROLE_RANK: dict[str, int] = {role.value: rank for rank, role in enumerate(Role)}
TOKEN_PREFIX = "dst_"
# last_used_at is a hint, not an audit trail: refresh it at most this often per token.
LAST_USED_RESOLUTION = timedelta(minutes=5)
ACTOR_PREFIX = "token:"
# The audit log names a token's writes "token:NAME" in 255-character columns.
MAX_TOKEN_NAME = 255 - len(ACTOR_PREFIX)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of the release-engineering API."""

    token_id: str
    name: str
    role: str
    channels: tuple[str, ...] | None  # None: every channel
    # The command line on the server host acts without a token, as the local user.
    local: bool = False

    @property
    def actor_name(self) -> str:
        return self.name if self.local else f"{ACTOR_PREFIX}{self.name}"

    @property
    def may_create_channels(self) -> bool:
        return self.role == "admin"

    def has_role(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    def may_write(self, channel: str) -> bool:
        if self.role == Role.ADMIN:
            return True
        return self.role == Role.PUBLISHER and (self.channels is None or channel in self.channels)


@dataclass(frozen=True)
class TokenView:
    """An API token as callers see it: never the secret or its hash."""

    id: str
    name: str
    role: str
    channels: list[str] | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime | None


def token_state(token: ApiToken) -> dict[str, object]:
    """What the audit log digests for a token (never the secret or its hash)."""
    return {
        "id": token.id,
        "name": token.name,
        "role": token.role,
        "channels": token.channels,
        "revoked": token.revoked_at is not None,
        "expiresAt": token.expires_at.isoformat() if token.expires_at else None,
    }


def create_token(
    session: Session,
    actor: audit.Actor,
    name: str,
    role: str,
    channels: list[str] | None = None,
    expires_at: datetime | None = None,
) -> tuple[TokenView, str]:
    """Create a token; returns it and the secret, which is never stored or shown again.

    ``expires_at`` (aware) ends the token by itself; None: it lasts until revoked.
    """
    name = name.strip()
    if not name or len(name) > MAX_TOKEN_NAME:
        raise Invalid.field("name", f"must be 1 to {MAX_TOKEN_NAME} characters")
    validate_text(name, "name")
    if role not in ROLE_RANK:
        raise Invalid.field("role", f"must be one of {', '.join(ROLES)}")
    if channels and role != Role.PUBLISHER:
        raise Invalid.field("channels", "only a publisher token is limited to channels")
    for channel in channels or ():
        validate_channel_name(channel, "channels")
    if expires_at is not None and expires_at <= utcnow():
        raise Invalid.field("expiresAt", "must be in the future")
    with write_transaction(session):
        if channels:
            known = set(session.scalars(select(Channel.name).where(Channel.name.in_(channels))))
            missing = sorted(set(channels) - known)
            if missing:
                raise Invalid.field("channels", f"unknown channel {missing[0]!r}")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = ApiToken(
            id=str(uuid.uuid4()),
            name=name,
            token_hash=hash_token(secret),
            role=role,
            channels=sorted(set(channels)) if channels else None,
            expires_at=expires_at,
        )
        session.add(token)
        session.flush()
        audit.record(
            session, actor, "token.create", f"token:{token.id}", None, digest_of(token_state(token))
        )
        return view_of(TokenView, token), secret


def list_tokens(session: Session, limit: int = 500, cursor: str | None = None) -> Page[TokenView]:
    query = keyset(
        select(ApiToken), cursor, limit, SortKey("id", ApiToken.id, cursor_str), descending=False
    )
    with read_transaction(session):
        rows = [view_of(TokenView, row) for row in session.scalars(query)]
    return page_of(rows, limit, lambda token: {"id": token.id})


def revoke_token(session: Session, actor: audit.Actor, token_id: str) -> TokenView:
    with write_transaction(session):
        token = find_or_404(
            session, ApiToken, token_id, guard=is_uuid, noun="token", code="TOKEN_NOT_FOUND"
        )
        if token.revoked_at is None:
            before = digest_of(token_state(token))
            token.revoked_at = utcnow()
            audit.record(
                session,
                actor,
                "token.revoke",
                f"token:{token.id}",
                before,
                digest_of(token_state(token)),
            )
        return view_of(TokenView, token)


def token_usable(token: ApiToken, now: datetime) -> bool:
    """Neither revoked nor past its expiry."""
    return token.revoked_at is None and (token.expires_at is None or token.expires_at > now)


def principal_of(token: ApiToken) -> Principal:
    """Who a usable token stands for (REST and console sessions alike)."""
    return Principal(
        token_id=token.id,
        name=token.name,
        role=token.role,
        channels=tuple(token.channels) if token.channels is not None else None,
    )


def resolve_token(session: Session, secret: str) -> Principal | None:
    """The principal a presented token stands for; None when unknown or revoked."""
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    now = utcnow()
    if token is None or not token_usable(token, now):
        session.rollback()
        return None
    principal = principal_of(token)
    stale = token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION
    session.rollback()
    if stale:
        with write_transaction(session):
            session.execute(
                update(ApiToken).where(ApiToken.id == principal.token_id).values(last_used_at=now)
            )
    return principal

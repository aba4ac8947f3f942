"""The audit trail: every write records who did what to which target, in its transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from deployserver.db import read_transaction, view_of
from deployserver.models import AuditEvent
from deployserver.pagination import Page, SortKey, cursor_int, keyset, page_of
from deployserver.specs.text import validate_text


@dataclass(frozen=True)
class AuditEntry:
    """One recorded write: who, what, which target, the digests before and after, when."""

    id: int
    actor: str
    action: str
    target: str
    before: str | None
    after: str | None
    at: datetime
    request_id: str | None
    client_request_id: str | None


@dataclass(frozen=True)
class Actor:
    """Who performs a service call: a token's name or the CLI user, and the request ids.

    ``request_id`` is the server's own; ``client_request_id`` what a REST caller sent.
    """

    name: str
    request_id: str | None = None
    client_request_id: str | None = None


def record(
    session: Session,
    actor: Actor,
    action: str,
    target: str,
    before: str | None,
    after: str | None,
) -> None:
    """Add an audit event to the caller's transaction (the caller commits both together)."""
    event = AuditEvent(
        actor=actor.name,
        action=action,
        target=target,
        before=before,
        after=after,
        request_id=actor.request_id,
        client_request_id=actor.client_request_id,
    )
    session.add(event)


def list_events(
    session: Session,
    limit: int,
    cursor: str | None,
    target: str | None = None,
    *,
    actor: str | None = None,
    action: str | None = None,
) -> Page[AuditEntry]:
    """Audit events, newest first, optionally of one target, actor or action (exact)."""
    query = keyset(select(AuditEvent), cursor, limit, SortKey("id", AuditEvent.id, cursor_int))
    if target is not None:
        query = query.where(AuditEvent.target == validate_text(target, "target"))
    if actor is not None:
        query = query.where(AuditEvent.actor == validate_text(actor, "actor"))
    if action is not None:
        query = query.where(AuditEvent.action == validate_text(action, "action"))
    with read_transaction(session):
        rows = [view_of(AuditEntry, row) for row in session.scalars(query)]
    return page_of(rows, limit, lambda event: {"id": event.id})

"""Installation insights: the batched poll upserts, the lists and adoption views, retention.

Polls are noted in memory per worker (``deployserver/feed/recorder.py``) and reach this
module as batches. Each batch is written with the dialect's own upsert (``ON CONFLICT`` on
PostgreSQL and SQLite, ``ON DUPLICATE KEY UPDATE`` on MySQL), so workers writing the same
license at the same time add their counts up instead of conflicting; rows are written in key
order so two batches lock them in the same order and never deadlock.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Engine, Integer, and_, case, delete, func, select
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from deployserver.db import read_transaction, utcnow, write_transaction
from deployserver.errors import Invalid
from deployserver.models import AnonymousPolls, ChannelRelease, Installation, Release
from deployserver.pagination import Page, SortKey, cursor_str, cursor_time, keyset, page_of
from deployserver.services import audit
from deployserver.services.channels import HeadRef, RolloutRef, channel_view, find_channel
from deployserver.services.policy_facts import PinRef, pin_of, with_pin
from deployserver.specs.values import RECONCILE_FREQUENCY, semver_key

# The operator reconciles, and so polls, this often unless the values set reconcileFrequency.
OPERATOR_DEFAULT_FREQUENCY = "1h"
DEFAULT_WINDOW_HOURS = 24
MAX_WINDOW_HOURS = 24 * 366
MAX_USER_AGENT = 512
MAX_ADDRESS = 64
BATCH_ROWS = 1000


@dataclass(frozen=True)
class InstallationView:
    license_id: str
    subject: str
    channel: str
    first_seen: datetime
    last_seen: datetime
    poll_count: int
    last_release_id: str | None
    last_release_version: str | None
    last_address: str | None
    last_user_agent: str | None
    # Installation policies: the release its license is pinned to, if any.
    pin: PinRef | None = None


@dataclass(frozen=True)
class ReleaseAdoption:
    release_id: str
    version: str
    active: int
    stale: int
    head: bool
    candidate: bool


@dataclass(frozen=True)
class Adoption:
    """Who runs what on one channel, as fresh as its operators' polling interval."""

    channel: str
    window_hours: int
    active_since: datetime
    reconcile_frequency: str
    reconcile_frequency_source: str
    head: HeadRef | None
    rollout: RolloutRef | None
    releases: list[ReleaseAdoption]
    active: int
    stale: int
    anonymous_polls: int


def write_polls(
    engine: Engine, installations: Sequence[dict[str, Any]], anonymous: Sequence[dict[str, Any]]
) -> None:
    """Upsert a batch: per license its counts and latest poll; anonymous polls per hour.

    Each row of ``installations`` has every ``Installation`` column, ``poll_count`` being
    the polls in this batch; each of ``anonymous`` has ``channel``, ``hour``, ``poll_count``.
    """
    dialect = engine.dialect.name
    rows = sorted(installations, key=lambda row: row["license_id"])
    counts = sorted(anonymous, key=lambda row: (row["channel"], row["hour"]))
    for start in range(0, len(rows), BATCH_ROWS):
        with engine.begin() as connection:
            connection.execute(_installation_upsert(dialect), rows[start : start + BATCH_ROWS])
    for start in range(0, len(counts), BATCH_ROWS):
        with engine.begin() as connection:
            connection.execute(_anonymous_upsert(dialect), counts[start : start + BATCH_ROWS])


def _insert(dialect: str, model: Any) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "mysql":
        return mysql.insert(model)
    return sqlite.insert(model)


def _installation_upsert(dialect: str) -> Any:
    table = Installation
    statement = _insert(dialect, table)
    new = statement.inserted if dialect == "mysql" else statement.excluded
    # Batches of two workers may arrive out of order: the latest poll wins the "last" fields.
    newer = new.last_seen >= table.last_seen
    updates: list[tuple[str, Any]] = [
        ("poll_count", table.poll_count + new.poll_count),
        (
            "first_seen",
            case((new.first_seen < table.first_seen, new.first_seen), else_=table.first_seen),
        ),
        ("subject", case((newer, new.subject), else_=table.subject)),
        ("channel", case((newer, new.channel), else_=table.channel)),
        # Before last_release_id (MySQL's order): kept while the release served stays the
        # same, so a required release's dwell counts from the first poll that served it.
        (
            "release_since",
            case(
                (table.release_since.is_(None), new.release_since),
                (
                    and_(newer, new.last_release_id != table.last_release_id),
                    new.release_since,
                ),
                else_=table.release_since,
            ),
        ),
        ("last_release_id", case((newer, new.last_release_id), else_=table.last_release_id)),
        ("last_address", case((newer, new.last_address), else_=table.last_address)),
        ("last_user_agent", case((newer, new.last_user_agent), else_=table.last_user_agent)),
        # Last: MySQL applies assignments in order, and the ones above compare against the
        # stored last_seen.
        ("last_seen", case((newer, new.last_seen), else_=table.last_seen)),
    ]
    if dialect == "mysql":
        return statement.on_duplicate_key_update(updates)
    return statement.on_conflict_do_update(index_elements=["license_id"], set_=dict(updates))


def _anonymous_upsert(dialect: str) -> Any:
    statement = _insert(dialect, AnonymousPolls)
    new = statement.inserted if dialect == "mysql" else statement.excluded
    total = AnonymousPolls.poll_count + new.poll_count
    if dialect == "mysql":
        return statement.on_duplicate_key_update(poll_count=total)
    return statement.on_conflict_do_update(
        index_elements=["channel", "hour"], set_={"poll_count": total}
    )


def prune_installations(
    session: Session, actor: audit.Actor, days: int, now: datetime | None = None
) -> tuple[int, int]:
    """Delete installations not seen for ``days`` days and older anonymous counts.

    Returns how many installations and anonymous hourly counts were deleted; audited when
    anything was. Safe to run from several workers at once (each deletes what is left).
    """
    if days < 1:
        raise Invalid.field("days", "must be at least 1")
    cutoff = (now or utcnow()) - timedelta(days=days)
    with write_transaction(session):
        installations = _deleted(
            session.execute(delete(Installation).where(Installation.last_seen < cutoff))
        )
        anonymous = _deleted(
            session.execute(delete(AnonymousPolls).where(AnonymousPolls.hour < cutoff))
        )
        if installations or anonymous:
            audit.record(
                session,
                actor,
                "installations.prune",
                f"installations:not-seen-for:{days}d",
                None,
                None,
            )
    return installations, anonymous


def _deleted(result: Any) -> int:
    # A DELETE's result is a CursorResult; its rowcount is what the database deleted.
    return int(cast(CursorResult[Any], result).rowcount or 0)


def list_installations(
    session: Session,
    limit: int,
    cursor: str | None,
    channel: str | None = None,
    release: str | None = None,
    subject: str | None = None,
    seen_since: datetime | None = None,
) -> Page[InstallationView]:
    """Installations, most recently seen first."""
    query = keyset(
        with_pin(
            select(Installation, Release.version).outerjoin(
                Release, Release.id == Installation.last_release_id
            ),
            Installation.license_id,
        ),
        cursor,
        limit,
        SortKey("lastSeen", Installation.last_seen, cursor_time),
        SortKey("id", Installation.license_id, cursor_str),
    )
    if channel is not None:
        query = query.where(Installation.channel == channel)
    if release is not None:
        query = query.where(Installation.last_release_id == release)
    if subject is not None:
        query = query.where(Installation.subject == subject)
    if seen_since is not None:
        query = query.where(Installation.last_seen >= seen_since)
    with read_transaction(session):
        views = [_installation_view(found) for found in session.execute(query)]
    return page_of(
        views, limit, lambda view: {"lastSeen": view.last_seen.isoformat(), "id": view.license_id}
    )


def _installation_view(found: Any) -> InstallationView:
    """A row of the installation listing: the installation, its release's version, its pin."""
    row: Installation = found.Installation
    return InstallationView(
        license_id=row.license_id,
        subject=row.subject,
        channel=row.channel,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        poll_count=row.poll_count,
        last_release_id=row.last_release_id,
        last_release_version=found.version,
        last_address=row.last_address,
        last_user_agent=row.last_user_agent,
        pin=pin_of(found),
    )


def channel_adoption(
    session: Session, channel_name: str, window_hours: int = DEFAULT_WINDOW_HOURS
) -> Adoption:
    """Per release, the installations last served it that polled within the window (active)
    and those that did not (stale), with the channel's anonymous polls in the window."""
    if not 1 <= window_hours <= MAX_WINDOW_HOURS:
        raise Invalid.field("windowHours", f"must be from 1 to {MAX_WINDOW_HOURS}")
    since = utcnow() - timedelta(hours=window_hours)
    with read_transaction(session):
        channel = find_channel(session, channel_name)
        view = channel_view(session, channel)
        active = func.sum(case((Installation.last_seen >= since, 1), else_=0), type_=Integer)
        stale = func.sum(case((Installation.last_seen < since, 1), else_=0), type_=Integer)
        counts = {
            release_id: (int(a or 0), int(s or 0))
            for release_id, a, s in session.execute(
                select(Installation.last_release_id, active, stale)
                .where(Installation.channel == channel_name)
                .group_by(Installation.last_release_id)
            )
            if release_id is not None
        }
        head_id = view.head.id if view.head else None
        candidate_id = view.rollout.release_id if view.rollout else None
        ids = set(counts) | {i for i in (head_id, candidate_id) if i is not None}
        versions = dict(
            session.execute(select(Release.id, Release.version).where(Release.id.in_(ids))).all()
        )
        anonymous = session.scalar(
            select(func.coalesce(func.sum(AnonymousPolls.poll_count), 0)).where(
                AnonymousPolls.channel == channel_name,
                AnonymousPolls.hour >= since.replace(minute=0, second=0, microsecond=0),
            )
        )
        frequency, source = _reconcile_frequency(session, channel.id, head_id)
    releases = sorted(
        (
            ReleaseAdoption(
                release_id=release_id,
                version=versions.get(release_id, ""),
                active=counts.get(release_id, (0, 0))[0],
                stale=counts.get(release_id, (0, 0))[1],
                head=release_id == head_id,
                candidate=release_id == candidate_id,
            )
            for release_id in ids
        ),
        key=lambda item: semver_key(item.version) if item.version else (),
        reverse=True,
    )
    return Adoption(
        channel=channel_name,
        window_hours=window_hours,
        active_since=since,
        reconcile_frequency=frequency,
        reconcile_frequency_source=source,
        head=view.head,
        rollout=view.rollout,
        releases=releases,
        active=sum(item.active for item in releases),
        stale=sum(item.stale for item in releases),
        anonymous_polls=int(anonymous or 0),
    )


def _reconcile_frequency(session: Session, channel_id: int, head_id: str | None) -> tuple[str, str]:
    """The polling interval the head's served values set, else the operator's default."""
    if head_id is not None:
        body = session.scalar(
            select(ChannelRelease.body).where(
                ChannelRelease.channel_id == channel_id, ChannelRelease.release_id == head_id
            )
        )
        if body is not None:
            frequency = json.loads(body)["values"].get(RECONCILE_FREQUENCY)
            if isinstance(frequency, str):
                return frequency, "channel"
    return OPERATOR_DEFAULT_FREQUENCY, "operator-default"

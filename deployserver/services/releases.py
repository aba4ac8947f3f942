"""Releases: publish, promote, rollback, and the queries over releases and their history.

Releases are immutable once published. Head changes and rollout staging go through
``services/heads.py`` (one channel event and one audit event per change, in the caller's
transaction).

A publish or promote with a rollout percentage stages the release as the channel's
candidate instead (``services/rollouts.py`` advances, completes or aborts it). While a
candidate is staged the head does not move by any other way: finish the rollout first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from deployserver.db import find_or_404, read_transaction, utcnow, write_transaction
from deployserver.errors import Conflict, NotFound
from deployserver.models import (
    HEAD_ACTIONS,
    Channel,
    ChannelEvent,
    ChannelRelease,
    HistoryAction,
    Release,
)
from deployserver.pagination import (
    Page,
    SortKey,
    cursor_int,
    cursor_str,
    cursor_time,
    keyset,
    page_of,
)
from deployserver.services import audit, heads
from deployserver.services.channels import (
    ChannelView,
    channel_view,
    find_channel,
    lock_channel,
)
from deployserver.specs.canonical import digest_of
from deployserver.specs.diff import Change, ValuesWarning, spec_changes
from deployserver.specs.release import is_release_id, release_spec, validate_rollout_percent
from deployserver.specs.values import is_semver


@dataclass(frozen=True)
class ReleaseView:
    """A release as the API shows it, with the channels it has been head of."""

    id: str
    version: str
    chart: dict[str, Any]
    values: dict[str, Any]
    metadata: dict[str, str]
    digest: str
    notes: str
    created_at: datetime
    created_by: str
    channels: list[str]


@dataclass(frozen=True)
class Published:
    """The outcome of a publish or promote: ``changed`` is False when nothing was written.

    ``warnings`` are the values changes against the head it replaced that break
    installations overriding those keys (empty when nothing changed).
    """

    release: ReleaseView
    changed: bool
    warnings: tuple[ValuesWarning, ...] = ()


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    action: str
    release_id: str
    previous_release_id: str | None
    actor: str
    at: datetime
    percent: int | None = None
    version: str | None = None
    previous_version: str | None = None


def release_state(release: Release) -> dict[str, Any]:
    """What the audit log digests for a release (its content and identity)."""
    return {
        "id": release.id,
        "version": release.version,
        "digest": release.digest,
        "notes": release.notes,
    }


def _channels_of(session: Session, release_ids: list[str]) -> dict[str, list[str]]:
    names: dict[str, list[str]] = {release_id: [] for release_id in release_ids}
    if release_ids:
        rows = session.execute(
            select(ChannelRelease.release_id, Channel.name)
            .join(Channel, Channel.id == ChannelRelease.channel_id)
            .where(
                ChannelRelease.release_id.in_(release_ids),
                ChannelRelease.was_head,
            )
            .order_by(Channel.name)
        )
        for release_id, name in rows:
            names[release_id].append(name)
    return names


def release_view(release: Release, channels: list[str]) -> ReleaseView:
    return ReleaseView(
        id=release.id,
        version=release.version,
        chart=release.chart,
        values=release.values,
        metadata=release.meta,
        digest=release.digest,
        notes=release.notes,
        created_at=release.created_at,
        created_by=release.created_by,
        channels=channels,
    )


def _view(session: Session, release: Release) -> ReleaseView:
    return release_view(release, _channels_of(session, [release.id])[release.id])


def publish_release(
    session: Session,
    actor: audit.Actor,
    channel_name: str,
    version: Any,
    chart: Any,
    values: Any = None,
    values_yaml: str | None = None,
    metadata: Any = None,
    notes: Any = "",
    rollout_percent: int | None = None,
    urgent: bool = False,
) -> Published:
    """Create a release and make it the channel's head (with ``rollout_percent``: its
    rollout candidate, served to that share of licenses).

    The same version with the same digest again changes nothing and returns the stored
    release (``changed`` False); with another digest it is 409 ``VERSION_EXISTS``.
    """
    spec = release_spec(version, chart, values, values_yaml, metadata, notes)
    if rollout_percent is not None:
        validate_rollout_percent(rollout_percent)
    with write_transaction(session):
        channel = lock_channel(session, channel_name)
        existing = _release_by_version(session, spec.version)
        if existing is not None:
            if existing.digest == spec.digest:
                return Published(_view(session, existing), changed=False)
            raise Conflict(
                f"version {spec.version} exists with other content; publish a new version",
                "VERSION_EXISTS",
            )
        heads.refuse_during_rollout(channel)
        release = Release(
            id=str(uuid.uuid4()),
            version=spec.version,
            chart=spec.chart,
            values=spec.values,
            meta=spec.metadata,
            notes=spec.notes,
            spec=spec.spec,
            digest=spec.digest,
            created_at=utcnow(),
            created_by=actor.name,
        )
        # Refused before anything is written when the release clashes with the base values
        # or, on a strict channel, changes values unsafely.
        warnings = heads.check_values_safety(session, channel, release)
        session.add(release)
        try:
            session.flush()
        except IntegrityError:
            # A concurrent publish of the same version on another channel won the race.
            raise Conflict(f"version {spec.version} already exists", "VERSION_EXISTS") from None
        audit.record(
            session,
            actor,
            "release.create",
            f"release:{release.id}",
            None,
            digest_of(release_state(release)),
        )
        if rollout_percent is None:
            heads.move_head(session, actor, channel, release, HistoryAction.PUBLISH)
        else:
            heads.stage_candidate(session, actor, channel, release, rollout_percent)
        heads.mark_urgent(session, channel, release, urgent)
        return Published(_view(session, release), changed=True, warnings=warnings)


def _find_release(session: Session, release_id: str) -> Release:
    return find_or_404(
        session, Release, release_id, guard=is_release_id, noun="release", code="RELEASE_NOT_FOUND"
    )


def promote_release(
    session: Session,
    actor: audit.Actor,
    channel_name: str,
    release_id: str,
    rollout_percent: int | None = None,
    urgent: bool = False,
) -> Published:
    """Make an existing release (same id, same content) the channel's head too (with
    ``rollout_percent``: its rollout candidate).

    Already the head, or already the candidate at that percentage: nothing changes.
    """
    if rollout_percent is not None:
        validate_rollout_percent(rollout_percent)
    with write_transaction(session):
        channel = lock_channel(session, channel_name)
        release = _find_release(session, release_id)
        if channel.head_release_id == release.id or (
            channel.candidate_release_id == release.id
            and channel.rollout_percent == rollout_percent
        ):
            return Published(_view(session, release), changed=False)
        heads.refuse_during_rollout(channel)
        warnings = heads.check_values_safety(session, channel, release)
        if rollout_percent is None:
            heads.move_head(session, actor, channel, release, HistoryAction.PROMOTE)
        else:
            heads.stage_candidate(session, actor, channel, release, rollout_percent)
        heads.mark_urgent(session, channel, release, urgent)
        return Published(_view(session, release), changed=True, warnings=warnings)


def rollback_channel(
    session: Session, actor: audit.Actor, channel_name: str, release_id: str | None = None
) -> ChannelView:
    """Move the head back, as ``helm rollback`` does.

    Without ``release_id`` the head returns to the one before the current head (so a second
    rollback undoes the first); with one, to that release, which must have been head here.
    """
    with write_transaction(session):
        channel = lock_channel(session, channel_name)
        if release_id is None:
            latest = session.scalar(
                select(ChannelEvent)
                .where(
                    ChannelEvent.channel_id == channel.id,
                    ChannelEvent.action.in_(HEAD_ACTIONS),
                )
                .order_by(ChannelEvent.id.desc())
                .limit(1)
            )
            if latest is None or latest.previous_release_id is None:
                raise Conflict(
                    f"channel {channel_name!r} has no earlier head to roll back to",
                    "NOTHING_TO_ROLL_BACK",
                )
            target_id = latest.previous_release_id
        else:
            served = heads.channel_release(session, channel, release_id)
            if served is None or not served.was_head:
                raise heads.not_in_history("releaseId", release_id, channel_name)
            target_id = release_id
        if target_id != channel.head_release_id:
            heads.refuse_during_rollout(channel)
            release = session.get(Release, target_id)
            assert release is not None  # channel events and channel releases reference it
            heads.move_head(session, actor, channel, release, HistoryAction.ROLLBACK)
        return channel_view(session, channel)


def get_release(session: Session, release_id: str) -> ReleaseView:
    with read_transaction(session):
        return _view(session, _find_release(session, release_id))


def _release_by_version(session: Session, version: str) -> Release | None:
    """The release with exactly this version (unique across the server), if any."""
    if not is_semver(version):
        return None  # no release can have it: no query
    return session.scalar(select(Release).where(Release.version == version))


def get_release_by_version(session: Session, version: str) -> ReleaseView:
    """The release with exactly this version (versions are unique across the server)."""
    with read_transaction(session):
        release = _release_by_version(session, version)
        if release is None:
            raise NotFound(f"no release with version {version!r}", "RELEASE_NOT_FOUND")
        return _view(session, release)


def find_release_ref(session: Session, ref: str) -> ReleaseView:
    """A release by id or, for people typing at a terminal, by its exact version."""
    with read_transaction(session):
        release = session.get(Release, ref) if is_release_id(ref) else None
        if release is None:
            release = _release_by_version(session, ref)
        if release is None:
            raise NotFound(f"no release with id or version {ref!r}", "RELEASE_NOT_FOUND")
        return _view(session, release)


def diff_releases(session: Session, release_id: str, other_id: str) -> list[Change]:
    """What changes, over chart and the release's own values, from one release to another."""
    with read_transaction(session):
        old = _find_release(session, release_id)
        new = _find_release(session, other_id)
        return spec_changes(
            {"chart": old.chart, "values": old.values}, {"chart": new.chart, "values": new.values}
        )


def list_channel_releases(
    session: Session, channel_name: str, limit: int, cursor: str | None
) -> Page[ReleaseView]:
    """Every release that has been head of the channel, newest arrival first."""
    with read_transaction(session):
        channel = find_channel(session, channel_name)
        # Both keys from channel_releases, so its (channel_id, arrived_at, release_id) index
        # gives the order and the keyset range without a sort.
        query = keyset(
            select(Release, ChannelRelease.arrived_at)
            .join(ChannelRelease, ChannelRelease.release_id == Release.id)
            .where(ChannelRelease.channel_id == channel.id, ChannelRelease.was_head),
            cursor,
            limit,
            SortKey("arrivedAt", ChannelRelease.arrived_at, cursor_time),
            SortKey("id", ChannelRelease.release_id, cursor_str),
        )
        rows = session.execute(query).all()
        channels = _channels_of(session, [release.id for release, _ in rows])
        items = [
            (release_view(release, channels[release.id]), arrived) for release, arrived in rows
        ]
    page = page_of(items, limit, lambda item: {"arrivedAt": item[1].isoformat(), "id": item[0].id})
    return Page([view for view, _ in page.items], page.next_cursor)


def channel_history(
    session: Session, channel_name: str, limit: int, cursor: str | None
) -> Page[HistoryEntry]:
    """Every head change and rollout step of the channel, newest first."""
    with read_transaction(session):
        channel = find_channel(session, channel_name)
        # Versions come with the page (primary-key lookups beside the index walk).
        previous = aliased(Release)
        query = keyset(
            select(ChannelEvent, Release.version, previous.version)
            .join(Release, Release.id == ChannelEvent.release_id)
            .outerjoin(previous, previous.id == ChannelEvent.previous_release_id)
            .where(ChannelEvent.channel_id == channel.id),
            cursor,
            limit,
            SortKey("id", ChannelEvent.id, cursor_int),
        )
        entries = [
            HistoryEntry(
                id=event.id,
                action=event.action,
                release_id=event.release_id,
                previous_release_id=event.previous_release_id,
                actor=event.actor,
                at=event.at,
                percent=event.percent,
                version=version,
                previous_version=previous_version,
            )
            for event, version, previous_version in session.execute(query)
        ]
    return page_of(entries, limit, lambda entry: {"id": entry.id})

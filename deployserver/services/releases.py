"""Releases and channel heads: publish, promote, rollback, and the history they leave.

Releases are immutable once published. Every head change locks the channel row, appends one
channel event whose previous release is the head it replaced (so history is one chain),
moves ``channels.head_release_id`` and records the audit event, all in one transaction.

A publish or promote with a rollout percentage stages the release as the channel's
candidate instead (``services/rollouts.py`` advances, completes or aborts it). While a
candidate is staged the head does not move by any other way: finish the rollout first.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import false, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from deployserver.db import read_transaction, utcnow, write_transaction
from deployserver.errors import Conflict, Invalid, NotFound
from deployserver.models import Channel, ChannelEvent, ChannelRelease, Release
from deployserver.pagination import (
    Page,
    before,
    cursor_int,
    cursor_str,
    cursor_time,
    decode_cursor,
    page_of,
)
from deployserver.services import audit
from deployserver.services.channels import (
    ChannelView,
    channel_state,
    channel_view,
    find_channel,
    head_served_values,
    lock_channel,
    unsafe_values_change,
)
from deployserver.specs.canonical import NotCanonicalizable, canonical_json, digest_of, etag_for
from deployserver.specs.charts import validate_chart
from deployserver.specs.diff import Change, ValuesWarning, spec_changes, values_warnings
from deployserver.specs.merge import MergeConflict
from deployserver.specs.paths import under
from deployserver.specs.served import served_body
from deployserver.specs.text import validate_text
from deployserver.specs.values import (
    is_semver,
    parse_values_yaml,
    validate_metadata,
    validate_values,
    validate_version,
)

# Bytes of UTF-8: MariaDB's TEXT column holds 65,535 of them, whatever the characters.
MAX_NOTES_BYTES = 65_535
# Release ids are the server's own uuid4 strings. Anything else names no release, and is not
# sent to the database (a NUL in it is an error there on PostgreSQL, not an empty result).
RELEASE_ID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# History actions that move the head; the others (rollout-start, rollout-advance,
# rollout-abort) record rollout steps and leave it where it is.
HEAD_ACTIONS = ("publish", "promote", "rollback", "rollout-complete")


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


@dataclass(frozen=True)
class ReleaseSpec:
    """A validated release body and its canonical JSON and digest, computed once."""

    version: str
    chart: dict[str, Any]
    values: dict[str, Any]
    metadata: dict[str, str]
    notes: str
    spec: str
    digest: str


def release_spec(
    version: Any,
    chart: Any,
    values: Any = None,
    values_yaml: str | None = None,
    metadata: Any = None,
    notes: Any = "",
) -> ReleaseSpec:
    """Validate what a publish was given; every refusal is a 422 naming the field."""
    validate_version(version)
    validate_chart(chart)
    if values is not None and values_yaml is not None:
        raise Invalid.field("valuesYaml", "give either values or valuesYaml, not both")
    if values_yaml is not None:
        values = parse_values_yaml(values_yaml)
    values = validate_values({} if values is None else values)
    metadata = validate_metadata(metadata)
    if not isinstance(notes, str):
        raise Invalid.field("notes", "must be a string")
    validate_text(notes, "notes")
    if len(notes.encode("utf-8")) > MAX_NOTES_BYTES:
        raise Invalid.field("notes", f"must be at most {MAX_NOTES_BYTES} bytes of UTF-8")
    own = {"chart": chart, "metadata": metadata, "values": values}
    try:
        spec = canonical_json(own)
    except NotCanonicalizable as exc:
        raise Invalid.field(exc.path or "values", exc.message) from None
    return ReleaseSpec(
        version=version,
        chart=chart,
        values=values,
        metadata=metadata,
        notes=notes,
        spec=spec,
        digest=digest_of(own),
    )


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
                ChannelRelease.candidate_only == false(),
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


def _served_on(release: Release, channel: Channel) -> str:
    try:
        return served_body(release, channel)
    except MergeConflict as exc:
        path = under("values", exc.path)
        raise Invalid(
            f"{path}: clashes with the base values of channel {channel.name!r}: {exc.message}",
            "MERGE_CONFLICT",
            errors={path: [exc.message]},
        ) from None


def _served_values(release: Release, channel: Channel) -> dict[str, Any]:
    """``release``'s values as the operator gets them on ``channel`` (over its base values)."""
    served = json.loads(_served_on(release, channel))["values"]
    assert isinstance(served, dict)
    return served


def _check_values_safety(
    session: Session, channel: Channel, release: Release
) -> tuple[ValuesWarning, ...]:
    """Warnings for making ``release`` the head of ``channel``; a strict channel refuses them.

    Raised before anything is written, so a refusal leaves the database as it was.
    """
    served = _served_values(release, channel)  # refuses a clash with the base values first
    head = head_served_values(session, channel)
    if head is None:
        return ()
    warnings = tuple(values_warnings(head, served))
    if warnings and channel.strict_values:
        raise unsafe_values_change(channel, f"release {release.version}", warnings)
    return warnings


def move_head(
    session: Session,
    actor: audit.Actor,
    channel: Channel,
    release: Release,
    action: str,
    percent: int | None = None,
) -> None:
    """Make ``release`` the head of the locked ``channel``, recording the event and audit.

    When ``release`` is the channel's rollout candidate, the rollout ends with it.
    """
    before = digest_of(channel_state(channel))
    now = utcnow()
    served = _serve_on(session, channel, release, now, candidate_only=False)
    if served.candidate_only:
        # Its first time as head: from now on it is in the channel's head history.
        served.candidate_only = False
        served.arrived_at = now
    if channel.candidate_release_id == release.id:
        channel.candidate_release_id = None
        channel.rollout_percent = None
    session.add(
        ChannelEvent(
            channel_id=channel.id,
            release_id=release.id,
            previous_release_id=channel.head_release_id,
            action=action,
            actor=actor.name,
            at=now,
            percent=percent,
        )
    )
    channel.head_release_id = release.id
    channel.updated_at = now
    audit.record(
        session,
        actor,
        f"channel.{action}",
        f"channel:{channel.name}",
        before,
        digest_of(channel_state(channel)),
    )


def _serve_on(
    session: Session, channel: Channel, release: Release, now: datetime, candidate_only: bool
) -> ChannelRelease:
    """The stored served body of ``release`` on ``channel``, built on its first arrival."""
    served = session.get(ChannelRelease, (channel.id, release.id))
    if served is None:
        body = _served_on(release, channel)
        served = ChannelRelease(
            channel_id=channel.id,
            release_id=release.id,
            body=body,
            etag=etag_for(body),
            arrived_at=now,
            candidate_only=candidate_only,
        )
        session.add(served)
    return served


def validate_rollout_percent(percent: Any, field: str = "rollout.percent") -> int:
    """A staged rollout's percentage: an integer from 1 to 99 (100% is a completed rollout)."""
    if isinstance(percent, bool) or not isinstance(percent, int) or not 1 <= percent <= 99:
        raise Invalid.field(field, "must be an integer from 1 to 99")
    return percent


def refuse_during_rollout(channel: Channel) -> None:
    """409 ``ROLLOUT_IN_PROGRESS``: a staged candidate holds the head where it is."""
    if channel.candidate_release_id is not None:
        raise Conflict(
            f"channel {channel.name!r} has a rollout in progress; complete or abort it first",
            "ROLLOUT_IN_PROGRESS",
        )


def _stage_candidate(
    session: Session, actor: audit.Actor, channel: Channel, release: Release, percent: int
) -> None:
    """Make ``release`` the rollout candidate of the locked ``channel`` at ``percent``."""
    if channel.head_release_id is None:
        raise Conflict(
            f"channel {channel.name!r} has no head to stage a rollout against; publish "
            "without a rollout first",
            "ROLLOUT_NEEDS_HEAD",
        )
    refuse_during_rollout(channel)
    before = digest_of(channel_state(channel))
    now = utcnow()
    _serve_on(session, channel, release, now, candidate_only=True)
    channel.candidate_release_id = release.id
    channel.rollout_percent = percent
    channel.updated_at = now
    record_rollout_event(session, actor, channel, release.id, "rollout-start", before, now)


def record_rollout_event(
    session: Session,
    actor: audit.Actor,
    channel: Channel,
    release_id: str,
    action: str,
    before: str,
    now: datetime,
    percent: int | None = None,
) -> None:
    """History and audit of a rollout step that leaves the head where it is."""
    session.add(
        ChannelEvent(
            channel_id=channel.id,
            release_id=release_id,
            previous_release_id=channel.head_release_id,
            action=action,
            actor=actor.name,
            at=now,
            percent=channel.rollout_percent if percent is None else percent,
        )
    )
    audit.record(
        session,
        actor,
        f"channel.{action}",
        f"channel:{channel.name}",
        before,
        digest_of(channel_state(channel)),
    )


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
        refuse_during_rollout(channel)
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
        warnings = _check_values_safety(session, channel, release)
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
            move_head(session, actor, channel, release, "publish")
        else:
            _stage_candidate(session, actor, channel, release, rollout_percent)
        return Published(_view(session, release), changed=True, warnings=warnings)


def is_release_id(text: Any) -> bool:
    """True when ``text`` has the shape of a release id (whether or not such a release exists)."""
    return isinstance(text, str) and RELEASE_ID_RE.fullmatch(text) is not None


def _find_release(session: Session, release_id: str) -> Release:
    release = session.get(Release, release_id) if is_release_id(release_id) else None
    if release is None:
        raise NotFound(f"no release {release_id!r}", "RELEASE_NOT_FOUND")
    return release


def promote_release(
    session: Session,
    actor: audit.Actor,
    channel_name: str,
    release_id: str,
    rollout_percent: int | None = None,
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
        refuse_during_rollout(channel)
        warnings = _check_values_safety(session, channel, release)
        if rollout_percent is None:
            move_head(session, actor, channel, release, "promote")
        else:
            _stage_candidate(session, actor, channel, release, rollout_percent)
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
            served = (
                session.get(ChannelRelease, (channel.id, release_id))
                if is_release_id(release_id)
                else None
            )
            if served is None or served.candidate_only:
                raise Invalid.field(
                    "releaseId",
                    f"release {release_id!r} has never been head of channel {channel_name!r}",
                    "NOT_IN_CHANNEL_HISTORY",
                )
            target_id = release_id
        if target_id != channel.head_release_id:
            refuse_during_rollout(channel)
            release = session.get(Release, target_id)
            assert release is not None  # channel events and channel releases reference it
            move_head(session, actor, channel, release, "rollback")
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
    position = decode_cursor(cursor, "arrivedAt", "id")
    with read_transaction(session):
        channel = find_channel(session, channel_name)
        query = (
            select(Release, ChannelRelease.arrived_at)
            .join(ChannelRelease, ChannelRelease.release_id == Release.id)
            .where(
                ChannelRelease.channel_id == channel.id, ChannelRelease.candidate_only == false()
            )
            # Both keys from channel_releases, so its (channel_id, arrived_at, release_id)
            # index gives the order and the keyset range without a sort.
            .order_by(ChannelRelease.arrived_at.desc(), ChannelRelease.release_id.desc())
            .limit(limit + 1)
        )
        if position is not None:
            query = query.where(
                before(
                    ChannelRelease.arrived_at,
                    ChannelRelease.release_id,
                    cursor_time(position, "arrivedAt"),
                    cursor_str(position, "id"),
                )
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
    position = decode_cursor(cursor, "id")
    with read_transaction(session):
        channel = find_channel(session, channel_name)
        query = (
            select(ChannelEvent)
            .where(ChannelEvent.channel_id == channel.id)
            .order_by(ChannelEvent.id.desc())
            .limit(limit + 1)
        )
        if position is not None:
            query = query.where(ChannelEvent.id < cursor_int(position, "id"))
        events = list(session.scalars(query))
        named = {event.release_id for event in events} | {
            event.previous_release_id for event in events if event.previous_release_id
        }
        versions = dict(
            session.execute(select(Release.id, Release.version).where(Release.id.in_(named))).all()
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
                version=versions.get(event.release_id),
                previous_version=versions.get(event.previous_release_id or ""),
            )
            for event in events
        ]
    return page_of(entries, limit, lambda entry: {"id": entry.id})

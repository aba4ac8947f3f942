"""Channels: create, read, change base values, delete; the row lock that serialises heads.

A channel's base values sit under every release served on it, so changing them rebuilds the
stored served body of every release the channel has carried, in the same transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from deployserver.db import find_or_404, read_transaction, utcnow, write_transaction
from deployserver.errors import Conflict, Invalid
from deployserver.models import Channel, ChannelEvent, ChannelRelease, Release
from deployserver.pagination import Page, SortKey, cursor_str, keyset, page_of
from deployserver.services import audit
from deployserver.specs.canonical import digest_of, etag_for
from deployserver.specs.diff import ValuesWarning, values_warnings
from deployserver.specs.ids import CHANNEL_NAME_RE
from deployserver.specs.merge import MergeConflict, merge_conflict
from deployserver.specs.paths import under
from deployserver.specs.served import served_body
from deployserver.specs.text import validate_text
from deployserver.specs.values import validate_values

MAX_DESCRIPTION = 4096


@dataclass(frozen=True)
class HeadRef:
    id: str
    version: str


@dataclass(frozen=True)
class RolloutRef:
    """A staged rollout: the candidate release and the share of licenses it is served to."""

    release_id: str
    version: str
    percent: int


@dataclass(frozen=True)
class ChannelView:
    """A channel as the API shows it."""

    name: str
    description: str
    values: dict[str, Any]
    head: HeadRef | None
    created_at: datetime
    updated_at: datetime
    # Publish and promote refuse values changes that would warn (values-safety rules).
    strict_values: bool = False
    rollout: RolloutRef | None = None


@dataclass(frozen=True)
class ChannelUpdate:
    """The outcome of a PATCH: the channel, and what its new base values change for
    installations overriding keys of the head's served values (empty when nothing)."""

    channel: ChannelView
    warnings: tuple[ValuesWarning, ...] = ()


def head_served_values(session: Session, channel: Channel) -> dict[str, Any] | None:
    """The channel's head values as served now (stored bodies follow the base values)."""
    if channel.head_release_id is None:
        return None
    served = session.get(ChannelRelease, (channel.id, channel.head_release_id))
    assert served is not None  # a head has always arrived on its channel
    values = json.loads(served.body)["values"]
    assert isinstance(values, dict)
    return values


def unsafe_values_change(
    channel: Channel, cause: str, warnings: tuple[ValuesWarning, ...]
) -> Invalid:
    """The refusal of a strict channel: ``cause`` would break installations' overrides."""
    errors = {under("values", w.path): [_warning_text(w)] for w in warnings}
    listed = "; ".join(f"{path}: {' '.join(msgs)}" for path, msgs in errors.items())
    return Invalid(
        f"channel {channel.name!r} has strictValues and {cause} would break installations "
        f"overriding these keys: {listed}",
        "UNSAFE_VALUES_CHANGE",
        errors=errors,
    )


def _warning_text(warning: ValuesWarning) -> str:
    if warning.to is None:
        return f"{warning.code}: the {warning.from_} is removed"
    return f"{warning.code}: {warning.from_} becomes {warning.to}"


def channel_state(channel: Channel) -> dict[str, Any]:
    """What the audit log digests for a channel.

    The rollout keys appear only while a rollout is staged, so a channel that never had one
    digests as it did before rollouts existed (audit before/after digests still chain).
    """
    state: dict[str, Any] = {
        "name": channel.name,
        "description": channel.description,
        "values": channel.values,
        "headReleaseId": channel.head_release_id,
        "strictValues": channel.strict_values,
    }
    if channel.candidate_release_id is not None:
        state["candidateReleaseId"] = channel.candidate_release_id
        state["rolloutPercent"] = channel.rollout_percent
    return state


def _rollout_ref(channel: Channel, version: str | None) -> RolloutRef | None:
    if channel.candidate_release_id is None:
        return None
    return RolloutRef(channel.candidate_release_id, version or "", channel.rollout_percent or 0)


def channel_view(session: Session, channel: Channel) -> ChannelView:
    head = None
    if channel.head_release_id is not None:
        version = session.scalar(
            select(Release.version).where(Release.id == channel.head_release_id)
        )
        head = HeadRef(channel.head_release_id, version or "")
    candidate_version = None
    if channel.candidate_release_id is not None:
        candidate_version = session.scalar(
            select(Release.version).where(Release.id == channel.candidate_release_id)
        )
    return ChannelView(
        name=channel.name,
        description=channel.description,
        values=channel.values,
        head=head,
        created_at=channel.created_at,
        updated_at=channel.updated_at,
        strict_values=channel.strict_values,
        rollout=_rollout_ref(channel, candidate_version),
    )


def validate_channel_name(name: Any, field: str = "name") -> str:
    if not isinstance(name, str) or not CHANNEL_NAME_RE.fullmatch(name):
        raise Invalid.field(
            field,
            "must be 1 to 63 lower-case letters, digits and '-', "
            "starting and ending with a letter or digit",
        )
    return name


def validate_description(description: Any) -> str:
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise Invalid.field(
            "description", f"must be a string of at most {MAX_DESCRIPTION} characters"
        )
    return validate_text(description, "description")


def _may_name(name: str) -> bool:
    """Whether ``name`` could name a channel. Other text (from a URL) is not sent to the
    database: a NUL in it is an error there on PostgreSQL, not an empty result."""
    return CHANNEL_NAME_RE.fullmatch(name) is not None


def find_channel(session: Session, name: str, *, for_update: bool = False) -> Channel:
    return find_or_404(
        session,
        Channel,
        name,
        guard=_may_name,
        noun="channel",
        code="CHANNEL_NOT_FOUND",
        by=Channel.name,
        for_update=for_update,
    )


def lock_channel(session: Session, name: str) -> Channel:
    """The channel row, locked until the transaction ends: head changes queue here.

    ``FOR UPDATE`` on PostgreSQL and MariaDB; SQLite has no row locks, but every writer
    already holds the database lock (BEGIN IMMEDIATE in ``write_transaction``).
    """
    return find_channel(session, name, for_update=True)


def create_channel(
    session: Session,
    actor: audit.Actor,
    name: str,
    description: str = "",
    values: dict[str, Any] | None = None,
    strict_values: bool = False,
) -> ChannelView:
    """Create an empty channel with optional base values."""
    validate_channel_name(name)
    validate_description(description)
    values = validate_values({} if values is None else values)
    with write_transaction(session):
        if session.scalar(select(Channel.id).where(Channel.name == name)) is not None:
            raise Conflict(f"channel {name!r} already exists", "CHANNEL_EXISTS")
        now = utcnow()
        channel = Channel(
            name=name,
            description=description,
            values=values,
            strict_values=bool(strict_values),
            created_at=now,
            updated_at=now,
        )
        session.add(channel)
        try:
            session.flush()
        except IntegrityError:
            # Lost a race with a concurrent create of the same name.
            raise Conflict(f"channel {name!r} already exists", "CHANNEL_EXISTS") from None
        audit.record(
            session,
            actor,
            "channel.create",
            f"channel:{name}",
            None,
            digest_of(channel_state(channel)),
        )
        return channel_view(session, channel)


def get_channel(session: Session, name: str) -> ChannelView:
    with read_transaction(session):
        return channel_view(session, find_channel(session, name))


def list_channels(session: Session, limit: int, cursor: str | None) -> Page[ChannelView]:
    """Channels by name."""
    candidate = aliased(Release)
    query = keyset(
        select(Channel, Release.version, candidate.version)
        .outerjoin(Release, Release.id == Channel.head_release_id)
        .outerjoin(candidate, candidate.id == Channel.candidate_release_id),
        cursor,
        limit,
        SortKey("name", Channel.name, cursor_str),
        descending=False,
    )
    with read_transaction(session):
        views = [
            ChannelView(
                name=channel.name,
                description=channel.description,
                values=channel.values,
                head=HeadRef(channel.head_release_id, version)
                if channel.head_release_id is not None
                else None,
                created_at=channel.created_at,
                updated_at=channel.updated_at,
                strict_values=channel.strict_values,
                rollout=_rollout_ref(channel, candidate_version),
            )
            for channel, version, candidate_version in session.execute(query)
        ]
    return page_of(views, limit, lambda view: {"name": view.name})


def update_channel(
    session: Session,
    actor: audit.Actor,
    name: str,
    description: str | None = None,
    values: dict[str, Any] | None = None,
    strict_values: bool | None = None,
) -> ChannelUpdate:
    """Change the description, strictValues and/or the base values (rebuilding served bodies).

    New base values change what the head serves: like a publish, the change answers with
    warnings, and a strict channel refuses it.
    """
    if description is not None:
        validate_description(description)
    if values is not None:
        validate_values(values)
    with write_transaction(session):
        channel = lock_channel(session, name)
        before = digest_of(channel_state(channel))
        if description is not None:
            channel.description = description
        if strict_values is not None:
            channel.strict_values = strict_values
        warnings: tuple[ValuesWarning, ...] = ()
        if values is not None and digest_of(values) != digest_of(channel.values):
            head_before = head_served_values(session, channel)
            channel.values = values
            _rebuild_served_bodies(session, channel)
            head_after = head_served_values(session, channel)
            if head_before is not None and head_after is not None:
                warnings = tuple(values_warnings(head_before, head_after))
            if warnings and channel.strict_values:
                raise unsafe_values_change(channel, "these base values", warnings)
        after = digest_of(channel_state(channel))
        if after != before:
            channel.updated_at = utcnow()
            audit.record(session, actor, "channel.update", f"channel:{name}", before, after)
        return ChannelUpdate(channel_view(session, channel), warnings)


def _rebuild_served_bodies(session: Session, channel: Channel) -> None:
    """Re-serve every release the channel has carried over its new base values.

    Every one of them may be served again (pinned or rolled back to), so one clash with any
    of them refuses the change.
    """
    rows = session.execute(
        select(ChannelRelease, Release)
        .join(Release, Release.id == ChannelRelease.release_id)
        .where(ChannelRelease.channel_id == channel.id)
        .order_by(ChannelRelease.arrived_at)
    ).all()
    for served, release in rows:
        try:
            body = served_body(release, channel)
        except MergeConflict as exc:
            raise merge_conflict(
                exc.path,
                f"release {release.version}: {exc.message}",
                f"clashes with release {release.version}: {exc.message}",
            ) from None
        served.body = body
        served.etag = etag_for(body)


def delete_channel(session: Session, actor: audit.Actor, name: str) -> None:
    """Delete a channel that never had a head; one with history is kept (409)."""
    with write_transaction(session):
        channel = lock_channel(session, name)
        events = session.scalar(
            select(func.count())
            .select_from(ChannelEvent)
            .where(ChannelEvent.channel_id == channel.id)
        )
        if events:
            raise Conflict(
                f"channel {name!r} has release history and cannot be deleted", "CHANNEL_NOT_EMPTY"
            )
        before = digest_of(channel_state(channel))
        session.delete(channel)
        audit.record(session, actor, "channel.delete", f"channel:{name}", before, None)

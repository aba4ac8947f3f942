"""Head moves: a channel's head and rollout candidate, and the history events they leave.

Every head change locks the channel row (the caller does, with ``lock_channel``), appends one
channel event whose previous release is the head it replaced (so history is one chain),
moves ``channels.head_release_id`` and records the audit event, all in the caller's
transaction. A rollout step leaves the head where it is but writes its event the same way.
Shared by the releases and rollouts services.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from deployserver.db import utcnow
from deployserver.errors import Conflict, Invalid
from deployserver.models import Channel, ChannelEvent, ChannelRelease, HistoryAction, Release
from deployserver.services import audit
from deployserver.services.channels import (
    channel_state,
    head_served_values,
    unsafe_values_change,
)
from deployserver.specs.canonical import digest_of, etag_for
from deployserver.specs.diff import ValuesWarning, values_warnings
from deployserver.specs.merge import MergeConflict, merge_conflict
from deployserver.specs.release import is_release_id
from deployserver.specs.served import served_body


def channel_release(session: Session, channel: Channel, release_id: str) -> ChannelRelease | None:
    """What ``release_id`` serves on ``channel``, if it ever arrived there (head or candidate).

    Whether it counts as head history is :attr:`ChannelRelease.was_head`.
    """
    if not is_release_id(release_id):
        return None
    return session.get(ChannelRelease, (channel.id, release_id))


def not_in_history(field: str, release: str, channel: str) -> Invalid:
    """The refusal of a release that was never head of ``channel`` (unknown ids included:
    whether a release exists elsewhere is not revealed)."""
    return Invalid.field(
        field,
        f"release {release!r} has never been head of channel {channel!r}",
        "NOT_IN_CHANNEL_HISTORY",
    )


def served_on(release: Release, channel: Channel) -> str:
    try:
        return served_body(release, channel)
    except MergeConflict as exc:
        raise merge_conflict(
            exc.path,
            exc.message,
            f"clashes with the base values of channel {channel.name!r}: {exc.message}",
        ) from None


def _served_values(release: Release, channel: Channel) -> dict[str, Any]:
    """``release``'s values as the operator gets them on ``channel`` (over its base values)."""
    served = json.loads(served_on(release, channel))["values"]
    assert isinstance(served, dict)
    return served


def check_values_safety(
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
    previous = channel.head_release_id
    channel.head_release_id = release.id
    channel.updated_at = now
    _record_event(session, actor, channel, release.id, action, previous, percent, before, now)


def _serve_on(
    session: Session, channel: Channel, release: Release, now: datetime, candidate_only: bool
) -> ChannelRelease:
    """The stored served body of ``release`` on ``channel``, built on its first arrival."""
    served = session.get(ChannelRelease, (channel.id, release.id))
    if served is None:
        body = served_on(release, channel)
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


def mark_urgent(session: Session, channel: Channel, release: Release, urgent: bool) -> None:
    """An urgent arrival reaches licenses outside their maintenance windows (policies)."""
    if urgent:
        served = session.get(ChannelRelease, (channel.id, release.id))
        assert served is not None
        served.urgent = True


def refuse_during_rollout(channel: Channel) -> None:
    """409 ``ROLLOUT_IN_PROGRESS``: a staged candidate holds the head where it is."""
    if channel.candidate_release_id is not None:
        raise Conflict(
            f"channel {channel.name!r} has a rollout in progress; complete or abort it first",
            "ROLLOUT_IN_PROGRESS",
        )


def stage_candidate(
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
    record_rollout_event(
        session, actor, channel, release.id, HistoryAction.ROLLOUT_START, before, now
    )


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
    _record_event(
        session,
        actor,
        channel,
        release_id,
        action,
        channel.head_release_id,
        channel.rollout_percent if percent is None else percent,
        before,
        now,
    )


def _record_event(
    session: Session,
    actor: audit.Actor,
    channel: Channel,
    release_id: str,
    action: str,
    previous_release_id: str | None,
    percent: int | None,
    before: str,
    now: datetime,
) -> None:
    """The one write of a history event and its audit event (after: the channel as it is now)."""
    session.add(
        ChannelEvent(
            channel_id=channel.id,
            release_id=release_id,
            previous_release_id=previous_release_id,
            action=action,
            actor=actor.name,
            at=now,
            percent=percent,
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

"""Staged rollouts: advance, complete or abort a channel's candidate.

A publish or promote with a percentage stages the candidate (``services/heads.py``).
From then on the percentage may only grow, so no license of the cohort ever falls back to
the head while the rollout advances (``deployserver/feed/cohorts.py``). Completing makes the
candidate the head (a head change in history); aborting withdraws it, and cohort members get
the head again on their next poll. Each step locks the channel row and writes its history
event and audit event in one transaction.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from deployserver.db import utcnow, write_transaction
from deployserver.errors import Conflict, Invalid
from deployserver.models import Channel, HistoryAction, Release
from deployserver.services import audit
from deployserver.services.channels import ChannelView, channel_state, channel_view, lock_channel
from deployserver.services.heads import move_head, record_rollout_event
from deployserver.specs.canonical import digest_of
from deployserver.specs.release import validate_rollout_percent


def _candidate_of(channel: Channel) -> str:
    if channel.candidate_release_id is None:
        raise Conflict(f"channel {channel.name!r} has no rollout in progress", "NO_ROLLOUT")
    return channel.candidate_release_id


def advance_rollout(
    session: Session, actor: audit.Actor, channel_name: str, percent: int
) -> ChannelView:
    """Serve the candidate to ``percent``% of licenses; the percentage may only grow (422)."""
    validate_rollout_percent(percent, "percent")
    with write_transaction(session):
        channel = lock_channel(session, channel_name)
        candidate = _candidate_of(channel)
        current = channel.rollout_percent or 0
        if percent < current:
            raise Invalid.field(
                "percent",
                f"may only grow: the rollout is at {current}%; abort it to withdraw the candidate",
                "ROLLOUT_PERCENT_DECREASE",
            )
        if percent > current:
            before = digest_of(channel_state(channel))
            now = utcnow()
            channel.rollout_percent = percent
            channel.updated_at = now
            record_rollout_event(
                session, actor, channel, candidate, HistoryAction.ROLLOUT_ADVANCE, before, now
            )
        return channel_view(session, channel)


def complete_rollout(session: Session, actor: audit.Actor, channel_name: str) -> ChannelView:
    """Make the candidate the head, for every license."""
    with write_transaction(session):
        channel = lock_channel(session, channel_name)
        release = session.get(Release, _candidate_of(channel))
        assert release is not None  # the foreign key holds it
        move_head(session, actor, channel, release, HistoryAction.ROLLOUT_COMPLETE, percent=100)
        return channel_view(session, channel)


def abort_rollout(session: Session, actor: audit.Actor, channel_name: str) -> ChannelView:
    """Withdraw the candidate: every license gets the head again on its next poll."""
    with write_transaction(session):
        channel = lock_channel(session, channel_name)
        candidate = _candidate_of(channel)
        before = digest_of(channel_state(channel))
        now = utcnow()
        percent = channel.rollout_percent
        channel.candidate_release_id = None
        channel.rollout_percent = None
        channel.updated_at = now
        record_rollout_event(
            session, actor, channel, candidate, HistoryAction.ROLLOUT_ABORT, before, now, percent
        )
        return channel_view(session, channel)

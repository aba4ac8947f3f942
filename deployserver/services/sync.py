"""``channels sync``: make the server match a folder of channel files, in one transaction.

The sync decides only *which* service call each line of the files needs; the calls are the
ones the REST API makes (create/update channel, publish, promote, rollback), so every rule
(digests, merge conflicts, history) is enforced in one place. They all join one write
transaction: a refusal anywhere rolls back everything, and a dry run is the same work rolled
back at the end, so it reports exactly what the real run would do or refuse.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from deployserver.channelfiles import ChannelFile, Entry, HeadMove, plan_order, refusal
from deployserver.db import write_transaction
from deployserver.errors import DeployServerError, Forbidden, Invalid, NotFound
from deployserver.services import audit, channels, releases
from deployserver.specs.canonical import digest_of
from deployserver.specs.values import semver_key

# The audit event naming the sync itself; the service calls it made share its request id.
SYNC_ACTION = "channels.sync"
SYNC_TARGET = "channels"


@dataclass(frozen=True)
class Action:
    """One change the sync made (or, in a dry run, would make), with its plan line."""

    action: str  # create-channel, update-channel, publish, promote, rollback
    channel: str
    line: str
    version: str | None = None
    previous: str | None = None


@dataclass(frozen=True)
class SyncResult:
    actions: list[Action]
    dry_run: bool
    request_id: str

    @property
    def changed(self) -> bool:
        return bool(self.actions)


def sync_channels(
    session: Session,
    actor: audit.Actor,
    files: Sequence[ChannelFile],
    *,
    dry_run: bool = False,
    may_create: bool = True,
) -> SyncResult:
    """Apply ``files`` (already validated) in one transaction; never deletes anything.

    ``may_create`` False: a file naming a channel that does not exist is refused (403), for
    callers who may publish but not create channels.

    Channels are created or updated first (file-name order), then every entry and head move
    in dependency order. Steps already done are skipped, so a second run changes nothing.
    """
    order = plan_order(list(files))
    run = audit.Actor(actor.name, actor.request_id or f"sync-{uuid.uuid4().hex}")
    actions: list[Action] = []
    with write_transaction(session, commit=not dry_run):
        for channel_file in files:
            actions.extend(_settle_channel(session, run, channel_file, may_create))
        for step in order:
            try:
                done = (
                    _move_head(session, run, step)
                    if isinstance(step, HeadMove)
                    else _apply_entry(session, run, step)
                )
            except DeployServerError as exc:
                raise refusal(step.where, exc) from None
            actions.extend(done)
        if actions:
            audit.record(
                session,
                run,
                SYNC_ACTION,
                SYNC_TARGET,
                None,
                digest_of([action.line for action in actions]),
            )
    return SyncResult(actions, dry_run, run.request_id or "")


def _settle_channel(
    session: Session, actor: audit.Actor, channel_file: ChannelFile, may_create: bool
) -> list[Action]:
    """Create the channel, or bring its description and base values to the file's."""
    name = channel_file.name
    try:
        current = channels.get_channel(session, name)
    except NotFound:
        current = None
    where = f"{channel_file.file}:{channel_file.values_line}"
    try:
        if current is None:
            if not may_create:
                raise Forbidden(f"creating channel {name!r} needs the admin role")
            channels.create_channel(
                session, actor, name, channel_file.description, channel_file.values
            )
            return [Action("create-channel", name, f"create channel {name}")]
        changed: list[str] = []
        description = None
        values = None
        if current.description != channel_file.description:
            description = channel_file.description
            changed.append("description")
        if digest_of(current.values) != digest_of(channel_file.values):
            values = channel_file.values
            changed.append("values")
        if not changed:
            return []
        channels.update_channel(session, actor, name, description, values)
    except DeployServerError as exc:
        raise refusal(where, exc) from None
    return [Action("update-channel", name, f"update channel {name} ({', '.join(changed)})")]


def _apply_entry(session: Session, actor: audit.Actor, entry: Entry) -> list[Action]:
    """A publish or promote, skipped when already done, exactly as the REST call would be."""
    if entry.spec is not None:
        spec = entry.spec
        published = releases.publish_release(
            session,
            actor,
            entry.channel,
            spec.version,
            spec.chart,
            values=spec.values,
            metadata=spec.metadata,
            notes=spec.notes,
        )
        if published.changed:
            return [Action("publish", entry.channel, _line("publish", entry), entry.version)]
        release = published.release
    else:
        try:
            release = releases.get_release_by_version(session, entry.version)
        except NotFound:
            raise Invalid(
                f"no release {entry.version} is published by a channel file or on the server",
                "RELEASE_NOT_FOUND",
            ) from None
    # The same content published earlier (through another channel, or over REST) but never
    # carried here: the file lists it on this channel, so it arrives by promotion.
    if entry.channel in release.channels:
        return []
    releases.promote_release(session, actor, entry.channel, release.id)
    return [Action("promote", entry.channel, _line("promote", entry), entry.version)]


def _line(action: str, entry: Entry) -> str:
    return f"{action} {entry.channel} {entry.version}"


def _move_head(session: Session, actor: audit.Actor, move: HeadMove) -> list[Action]:
    """Move the head to the file's ``head``: back is a rollback, forward a promote.

    Back and forward follow the file's order when it lists the current head, else SemVer
    precedence. Every listed release has been head here by now, so a rollback can reach it.
    """
    current = channels.get_channel(session, move.channel).head
    target = releases.get_release_by_version(session, move.version)
    if current is not None and current.id == target.id:
        return []
    if current is None:
        backwards = False
    elif current.version in move.listed:
        backwards = move.listed.index(move.version) < move.listed.index(current.version)
    else:
        backwards = semver_key(move.version) < semver_key(current.version)
    if backwards:
        releases.rollback_channel(session, actor, move.channel, target.id)
    else:
        releases.promote_release(session, actor, move.channel, target.id)
    how = "rollback" if backwards else "promote"
    was = current.version if current is not None else "(none)"
    return [
        Action(
            how,
            move.channel,
            f"move head {move.channel} {was} -> {move.version} ({how})",
            move.version,
            current.version if current is not None else None,
        )
    ]

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

from sqlalchemy import select
from sqlalchemy.orm import Session

from deployserver.channelfiles import ChannelFile, Entry, HeadMove, plan_order, refusal
from deployserver.db import write_transaction
from deployserver.errors import DeployServerError, Forbidden, Invalid, NotFound
from deployserver.models import HEAD_ACTIONS, AuditEvent
from deployserver.services import audit, channels, policies, releases
from deployserver.specs.canonical import digest_of
from deployserver.specs.values import semver_key

# The audit event naming the sync itself; the service calls it made share its request id.
SYNC_ACTION = "channels.sync"
SYNC_TARGET = "channels"
NOTES = ("drift", "skip")
HEAD_CHANGES = tuple(f"channel.{action}" for action in HEAD_ACTIONS)


@dataclass(frozen=True)
class Action:
    """One change the sync made (or, in a dry run, would make), with its plan line."""

    # create-channel, update-channel, publish, promote, rollback, require, unrequire; drift
    # and skip are notes
    # on the plan (a head made outside the files; a step a seed leaves out), not changes.
    action: str
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
    def changes(self) -> list[Action]:
        return [action for action in self.actions if action.action not in NOTES]

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def sync_channels(
    session: Session,
    actor: audit.Actor,
    files: Sequence[ChannelFile],
    *,
    dry_run: bool = False,
    may_create: bool = True,
    seed: bool = False,
) -> SyncResult:
    """Apply ``files`` (already validated) in one transaction; never deletes anything.

    ``may_create`` False: a file naming a channel that does not exist is refused (403), for
    callers who may publish but not create channels.

    Channels are created or updated first (file-name order), then every entry and head move
    in dependency order. Steps already done are skipped, so a second run changes nothing.
    Before a head moves away from a release made head outside the files (a REST rollback,
    say), the plan says so with a ``drift`` line.

    ``seed`` is what a server start does (API.md section 6): create what is missing and
    give a head only to channels that have none; a channel with a head keeps its head,
    description and base values, and its file's entries are left out.
    """
    order = plan_order(list(files))
    run = audit.Actor(actor.name, actor.request_id or f"sync-{uuid.uuid4().hex}")
    actions: list[Action] = []
    with write_transaction(session, commit=not dry_run):
        settled = _headed_channels(session, files) if seed else set()
        withheld = {
            step.version
            for step in order
            if isinstance(step, Entry) and step.spec is not None and step.channel in settled
        }
        for channel_file in files:
            if channel_file.name not in settled:
                actions.extend(_settle_channel(session, run, channel_file, may_create, seed=seed))
        watch = _DriftWatch(session)
        for step in order:
            if step.channel in settled:
                continue
            if seed and _waits_on_withheld(session, step, withheld):
                actions.append(_skipped(step))
                continue
            try:
                drift = watch.before_move(step)
                done = (
                    _move_head(session, run, step)
                    if isinstance(step, HeadMove)
                    else _apply_entry(session, run, step)
                )
            except DeployServerError as exc:
                raise refusal(step.where, exc) from None
            if done:
                actions.extend(drift)
                watch.moved(step.channel)
            actions.extend(done)
        changes = [action.line for action in actions if action.action not in NOTES]
        if changes:
            audit.record(session, run, SYNC_ACTION, SYNC_TARGET, None, digest_of(changes))
    return SyncResult(actions, dry_run, run.request_id or "")


def _headed_channels(session: Session, files: Sequence[ChannelFile]) -> set[str]:
    """The channels of ``files`` that exist and have a head (a seed leaves them alone)."""
    headed = set()
    for channel_file in files:
        try:
            if channels.get_channel(session, channel_file.name).head is not None:
                headed.add(channel_file.name)
        except NotFound:
            pass
    return headed


def _waits_on_withheld(session: Session, step: Entry | HeadMove, withheld: set[str]) -> bool:
    """Whether ``step`` needs a release whose publish a seed left out (and no one made)."""
    if step.version not in withheld or (isinstance(step, Entry) and step.spec is not None):
        return False
    try:
        release = releases.get_release_by_version(session, step.version)
    except NotFound:
        return True
    return isinstance(step, HeadMove) and step.channel not in release.channels


def _skipped(step: Entry | HeadMove) -> Action:
    what = "move head" if isinstance(step, HeadMove) else step.kind
    return Action(
        "skip",
        step.channel,
        f"skip {what} {step.channel} {step.version} (its publish is in a file whose "
        "channel already has a head)",
        step.version,
    )


class _DriftWatch:
    """Notes the first head move of each channel away from a head made outside the files."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._seen: set[str] = set()

    def before_move(self, step: Entry | HeadMove) -> list[Action]:
        if step.channel in self._seen:
            return []
        try:
            head = channels.get_channel(self._session, step.channel).head
        except NotFound:
            return []
        if head is None:
            return []
        made = self._session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.target == f"channel:{step.channel}",
                AuditEvent.action.in_(HEAD_CHANGES),
            )
            .order_by(AuditEvent.id.desc())
            .limit(1)
        ).first()
        if made is None or _by_a_sync(self._session, made.request_id):
            return []
        how = made.action.removeprefix("channel.")
        line = (
            f"drift {step.channel} {head.version}: made head outside the files "
            f"({how} by {made.actor}); this sync moves the head away from it"
        )
        return [Action("drift", step.channel, line, head.version)]

    def moved(self, channel: str) -> None:
        self._seen.add(channel)


def _by_a_sync(session: Session, request_id: str | None) -> bool:
    if request_id is None:
        return False
    found = session.scalars(
        select(AuditEvent.id)
        .where(AuditEvent.action == SYNC_ACTION, AuditEvent.request_id == request_id)
        .limit(1)
    ).first()
    return found is not None


def _settle_channel(
    session: Session,
    actor: audit.Actor,
    channel_file: ChannelFile,
    may_create: bool,
    *,
    seed: bool = False,
) -> list[Action]:
    """Create the channel, or bring its description and base values to the file's (a seed
    never rewrites an existing channel)."""
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
        if seed:
            return []
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
            publish = Action("publish", entry.channel, _line("publish", entry), entry.version)
            return [publish, *_apply_required(session, actor, entry, published.release.id)]
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
        return _apply_required(session, actor, entry, release.id)
    releases.promote_release(session, actor, entry.channel, release.id)
    promoted = Action("promote", entry.channel, _line("promote", entry), entry.version)
    return [promoted, *_apply_required(session, actor, entry, release.id)]


def _apply_required(
    session: Session, actor: audit.Actor, entry: Entry, release_id: str
) -> list[Action]:
    """Mark the entry's release required on its channel as the file says (or unmark it)."""
    if policies.is_required(session, entry.channel, release_id) == entry.required:
        return []
    policies.set_required(session, actor, entry.channel, release_id, entry.required)
    action = "require" if entry.required else "unrequire"
    return [Action(action, entry.channel, _line(action, entry), entry.version)]


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

"""What a head change would do, computed before the release engineer confirms it.

Reads only: the confirmation page shows the values warnings (KIND_CHANGED, KEY_REMOVED) of
the move, then what changes in the served spec, both as the operator would see them (over
the channel's base values) and masked as every read path masks them. The write itself goes
through the same service as REST, which decides again (a strict channel still refuses).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from deployserver.db import read_transaction
from deployserver.models import Release
from deployserver.services.channels import HeadRef, find_channel, head_served_values
from deployserver.specs.diff import Change, ValuesWarning, spec_changes, values_warnings
from deployserver.specs.masking import MASK, is_secret_key, mask_secrets
from deployserver.specs.merge import MergeConflict
from deployserver.specs.release import is_release_id
from deployserver.specs.served import served_spec


@dataclass(frozen=True)
class MovePreview:
    """From ``current`` to ``target`` on a channel: warnings first, then the changes."""

    channel: str
    current: HeadRef | None
    target: HeadRef | None
    warnings: list[ValuesWarning] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    conflict: str | None = None


def _last_key(path: str) -> str:
    tail = path.rsplit(".", 1)[-1]
    return tail.split("[", 1)[0].strip('"')


def mask_changes(changes: list[Change]) -> list[Change]:
    """Changes with secret-looking values hidden, as the masking of specs hides them."""
    masked = []
    for change in changes:
        if is_secret_key(_last_key(change.path)):
            hidden = [
                None if v is None or isinstance(v, dict) else MASK
                for v in (change.from_, change.to)
            ]
            masked.append(Change(change.path, change.op, *hidden))
        else:
            masked.append(
                Change(change.path, change.op, mask_secrets(change.from_), mask_secrets(change.to))
            )
    return masked


def _release(session: Session, release_id: str | None) -> Release | None:
    if release_id is None or not is_release_id(release_id):
        return None
    return session.get(Release, release_id)


def _ref(release: Release | None) -> HeadRef | None:
    return HeadRef(release.id, release.version) if release is not None else None


def preview_move(
    session: Session, channel_name: str, from_id: str | None, to_id: str | None
) -> MovePreview:
    """What installations served ``from_id`` on the channel see when served ``to_id``."""
    with read_transaction(session):
        channel = find_channel(session, channel_name)
        current, target = _release(session, from_id), _release(session, to_id)
        refs = (_ref(current), _ref(target))
        if target is None:
            return MovePreview(channel_name, *refs)
        try:
            new = served_spec(target, channel)
        except MergeConflict as exc:
            return MovePreview(channel_name, *refs, conflict=str(exc))
        old: dict[str, Any] = {}
        if current is not None:
            old = served_spec(current, channel)
            # The head's stored body follows the base values: compare with what is served.
            if current.id == channel.head_release_id:
                old["values"] = head_served_values(session, channel) or {}
        warnings = values_warnings(old.get("values") or {}, new["values"]) if current else []
        changes = mask_changes(spec_changes(old, new))
        return MovePreview(channel_name, *refs, list(warnings), changes)

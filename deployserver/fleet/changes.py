"""What a committed write changed, as messages, and the cache entries each one drops.

(Committed audit actions are also counted here: ``deployserver_writes_total{action}``.)

Every write records audit events in its transaction (``services/audit.py``), so the changes
are read from those: ``channel.*`` on ``channel:<name>`` (publish, promote, rollback, rollout
steps, base values, deletion, pins) concerns that channel's served answers; ``license.revoke``
/ ``suspend`` / ``reinstate`` a license's status; ``key.*`` the trusted keys. They are
collected at flush, handed on only after the commit (a rolled-back write changed nothing),
applied at once to the writing process's own caches and published to the other workers.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from deployserver import metrics
from deployserver.errors import Unavailable
from deployserver.extensions import AppState
from deployserver.feed.answers import spec_feed
from deployserver.licensing.verifier import license_verifier
from deployserver.models import AuditEvent

log = logging.getLogger(__name__)

CHANNEL = "channel"
LICENSE = "license"
KEY = "key"
POLICY = "policy"
EVERYTHING = "everything"
KINDS = (CHANNEL, LICENSE, KEY, POLICY, EVERYTHING)
# A license's installation policies (services/policies.py): its pin or window changed.
POLICY_VERBS = {"pin", "unpin", "window", "unwindow"}
LICENSE_STATUSES = {"revoke": "revoked", "suspend": "suspended", "reinstate": "active"}
MESSAGE_FORMAT = 1
_PENDING = "deployserver.fleet.pending"
_ACTIONS = "deployserver.fleet.actions"
# Messages come from our own replicas, but a bounded size keeps a stray publisher harmless.
MAX_MESSAGE_BYTES = 4096


@dataclass(frozen=True, slots=True)
class Change:
    """One change: ``kind`` and the name of what changed (channel, license id or key id);
    ``status`` is a license's or key's new status when known."""

    kind: str
    name: str = ""
    status: str = ""

    def to_message(self) -> str:
        body = {"v": MESSAGE_FORMAT, "kind": self.kind, "name": self.name, "status": self.status}
        return json.dumps(body, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_message(cls, data: bytes | str) -> Change | None:
        """The change a message carries; None (logged) for anything that is not one."""
        try:
            if len(data) > MAX_MESSAGE_BYTES:
                raise ValueError("too large")
            body = json.loads(data)
            change = cls(str(body["kind"]), str(body.get("name", "")), str(body.get("status", "")))
            if body.get("v") != MESSAGE_FORMAT or change.kind not in KINDS:
                raise ValueError("unknown kind or format")
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("invalidation message ignored (%s)", exc)
            return None
        return change


def change_of(action: str, target: str) -> Change | None:
    """The change an audit event records, or None when no cache depends on it."""
    area, _, verb = action.partition(".")
    prefix, _, name = target.partition(":")
    if area == CHANNEL and prefix == CHANNEL:
        return Change(CHANNEL, name)
    if area == LICENSE and prefix == LICENSE and verb in LICENSE_STATUSES:
        return Change(LICENSE, name, LICENSE_STATUSES[verb])
    if area == LICENSE and prefix == LICENSE and verb in POLICY_VERBS:
        return Change(POLICY, name)
    if area == "release" and prefix == CHANNEL:
        # A release's flags on one channel (required): ``channel:<name>/release:<id>``.
        return Change(CHANNEL, name.partition("/")[0])
    if area == KEY and prefix == KEY:
        return Change(KEY, name, "retired" if verb == "retire" else "")
    return None


def apply(app_state: AppState, change: Change, *, written_here: bool = False) -> None:
    """Drop what ``change`` makes stale in this worker's caches (those it has created).

    In the process that made a license or key change (``written_here``), the trust snapshot
    is read now if it was not yet, so the change reaches the host's last-known-good store at
    once: every worker of the host (and the server, when the CLI made it) honours it even if
    the database goes down right after.
    """
    extras = app_state.extras
    if written_here and change.kind in (LICENSE, KEY):
        # Unavailable: nothing is known to verify with; the time bound applies.
        with contextlib.suppress(Unavailable):
            license_verifier(app_state).trust()
    if change.kind in (CHANNEL, EVERYTHING) and "spec_feed" in extras:
        feed = spec_feed(app_state)
        if change.kind == CHANNEL:
            feed.drop_channel(change.name)
        else:
            feed.forget()
    if change.kind == POLICY and "spec_feed" in extras:
        spec_feed(app_state).policies.forget_licenses()
    if change.kind in (LICENSE, KEY, EVERYTHING) and "license_verifier" in extras:
        verifier = license_verifier(app_state)
        if change.kind == LICENSE:
            verifier.license_changed(change.name, change.status)
        elif change.kind == KEY:
            verifier.keys_changed(change.name, change.status)
        else:
            verifier.forget()


def track_changes(sessions: sessionmaker[Session], deliver: Callable[[list[Change]], None]) -> None:
    """Collect the changes of each transaction of ``sessions``; ``deliver`` them after commit."""

    @event.listens_for(sessions, "after_flush")
    def _collect(session: Session, _context: Any) -> None:
        for obj in session.new:
            if isinstance(obj, AuditEvent):
                session.info.setdefault(_ACTIONS, []).append(obj.action)
                change = change_of(obj.action, obj.target)
                if change is not None:
                    pending: list[Change] = session.info.setdefault(_PENDING, [])
                    if change not in pending:
                        pending.append(change)

    @event.listens_for(sessions, "after_commit")
    def _committed(session: Session) -> None:
        actions = session.info.pop(_ACTIONS, None)
        if actions:
            metrics.writes(actions)
        pending = session.info.pop(_PENDING, None)
        if pending:
            deliver(pending)

    @event.listens_for(sessions, "after_rollback")
    def _rolled_back(session: Session) -> None:
        session.info.pop(_PENDING, None)
        session.info.pop(_ACTIONS, None)

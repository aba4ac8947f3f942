"""Installation policies: pins and maintenance windows per license, required releases per
channel, and the decision they lead to for one license (explained).

The rules of the decision are in ``specs/policy.py``; this module keeps the policies, reads
the facts they need (shared with the poll's feed, so both decide alike) and audits every
change in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from deployserver.db import find_or_404, read_transaction, utcnow, write_transaction
from deployserver.errors import Invalid, NotFound
from deployserver.feed.cohorts import in_cohort
from deployserver.models import (
    Channel,
    ChannelRelease,
    License,
    LicensePin,
    MaintenanceWindow,
    Release,
)
from deployserver.services import audit
from deployserver.services.channels import find_channel
from deployserver.services.heads import channel_release, not_in_history
from deployserver.services.policy_facts import (
    read_channel_policy,
    read_last_served,
    read_release_keys,
    with_releases,
)
from deployserver.specs.canonical import digest_of
from deployserver.specs.policy import (
    Decision,
    LastServed,
    LicensePolicy,
    Pin,
    Reason,
    decide,
    latest_served,
)
from deployserver.specs.release import is_release_id
from deployserver.specs.text import is_uuid
from deployserver.specs.windows import Window, parse_window

MAX_REASON = 1000


@dataclass(frozen=True)
class PinView:
    license_id: str
    release_id: str
    version: str
    until: datetime | None
    reason: str
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class PoliciesView:
    """A license's policies as the API shows them."""

    license_id: str
    channel: str
    pin: PinView | None
    window: Window | None


@dataclass(frozen=True)
class DecisionView:
    license_id: str
    channel: str
    release_id: str
    version: str
    reason: Reason
    detail: str
    last_served_release_id: str | None
    last_served_since: datetime | None
    window_open: bool | None
    pin: PinView | None


def _license(session: Session, license_id: str) -> License:
    return find_or_404(
        session, License, license_id, guard=is_uuid, noun="license", code="LICENSE_NOT_FOUND"
    )


def license_channel(session: Session, license_id: str) -> str:
    """The channel of a license (for the caller's scope check)."""
    with read_transaction(session):
        return _license(session, license_id).channel


def _pin_view(session: Session, pin: LicensePin) -> PinView:
    version = session.scalar(select(Release.version).where(Release.id == pin.release_id))
    return PinView(
        pin.license_id,
        pin.release_id,
        version or "",
        pin.until,
        pin.reason,
        pin.created_at,
        pin.created_by,
    )


def _window_of(row: MaintenanceWindow | None) -> Window | None:
    if row is None:
        return None
    return Window(tuple(row.days), row.start, row.end, row.timezone)


def _state(pin: LicensePin | None, window: MaintenanceWindow | None) -> dict[str, Any]:
    """What the audit log digests for a license's policies."""
    shown_window = _window_of(window)
    return {
        "pin": None
        if pin is None
        else {
            "releaseId": pin.release_id,
            "until": pin.until.isoformat() if pin.until else None,
            "reason": pin.reason,
        },
        "window": None if shown_window is None else shown_window.as_dict(),
    }


def get_policies(session: Session, license_id: str) -> PoliciesView:
    with read_transaction(session):
        license = _license(session, license_id)
        pin = session.get(LicensePin, license.id)
        window = session.get(MaintenanceWindow, license.id)
        return PoliciesView(
            license.id,
            license.channel,
            _pin_view(session, pin) if pin is not None else None,
            _window_of(window),
        )


def _release_on_channel(session: Session, channel: Channel, ref: str, field: str) -> Release:
    """A release that is or was head of ``channel``, by id or exact version; else 422."""
    release = session.get(Release, ref) if is_release_id(ref) else None
    if release is None:
        release = session.scalar(select(Release).where(Release.version == ref))
    served = channel_release(session, channel, release.id) if release is not None else None
    if release is None or served is None or not served.was_head:
        raise not_in_history(field, ref, channel.name)
    return release


_Policies = tuple[LicensePin | None, MaintenanceWindow | None]


def _change_policies(
    session: Session,
    actor: audit.Actor,
    license_id: str,
    action: str,
    change: Callable[[License, LicensePin | None, MaintenanceWindow | None], _Policies],
) -> _Policies:
    """One audited change of a license's pin and window, in one transaction: ``change``
    gets the license and its current rows and returns the rows it leaves."""
    with write_transaction(session):
        license = _license(session, license_id)
        pin = session.get(LicensePin, license.id)
        window = session.get(MaintenanceWindow, license.id)
        before = digest_of(_state(pin, window))
        pin, window = change(license, pin, window)
        session.flush()
        after = digest_of(_state(pin, window))
        audit.record(session, actor, f"license.{action}", f"license:{license.id}", before, after)
        return pin, window


def set_pin(
    session: Session,
    actor: audit.Actor,
    license_id: str,
    *,
    release_id: str | None = None,
    version: str | None = None,
    until: datetime | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> PinView:
    """Pin a license to a release that is or was head of its channel."""
    if (release_id is None) == (version is None):
        raise Invalid.field("releaseId", "give exactly one of releaseId and version")
    if until is not None and until <= (now or utcnow()):
        raise Invalid.field("until", "must be in the future")
    if len(reason) > MAX_REASON:
        raise Invalid.field("reason", f"at most {MAX_REASON} characters")
    field = "releaseId" if release_id is not None else "version"

    def pin_it(license: License, pin: LicensePin | None, window: Any) -> _Policies:
        channel = find_channel(session, license.channel)
        release = _release_on_channel(session, channel, release_id or version or "", field)
        if pin is None:
            pin = LicensePin(license_id=license.id)
            session.add(pin)
        pin.release_id = release.id
        pin.until = until
        pin.reason = reason
        pin.created_at = utcnow()
        pin.created_by = actor.name
        return pin, window

    with write_transaction(session):
        pin, _ = _change_policies(session, actor, license_id, "pin", pin_it)
        assert pin is not None
        return _pin_view(session, pin)


def clear_pin(session: Session, actor: audit.Actor, license_id: str) -> None:
    """Remove a license's pin (nothing to remove: 404 PIN_NOT_FOUND)."""

    def unpin(license: License, pin: LicensePin | None, window: Any) -> _Policies:
        if pin is None:
            raise NotFound(f"license {license.id} has no pin", "PIN_NOT_FOUND")
        session.delete(pin)
        return None, window

    _change_policies(session, actor, license_id, "unpin", unpin)


def set_window(
    session: Session,
    actor: audit.Actor,
    license_id: str,
    *,
    days: Any,
    start: Any,
    end: Any,
    timezone: Any,
) -> Window:
    """Give a license a maintenance window (replacing any it had)."""
    window = parse_window(days, start, end, timezone)

    def keep_window(license: License, pin: LicensePin | None, row: Any) -> _Policies:
        if row is None:
            row = MaintenanceWindow(license_id=license.id)
            session.add(row)
        row.days = list(window.days)
        row.start = window.start
        row.end = window.end
        row.timezone = window.timezone
        row.created_at = utcnow()
        row.created_by = actor.name
        return pin, row

    _change_policies(session, actor, license_id, "window", keep_window)
    return window


def clear_window(session: Session, actor: audit.Actor, license_id: str) -> None:
    """Remove a license's maintenance window (none: 404 WINDOW_NOT_FOUND)."""

    def unwindow(license: License, pin: LicensePin | None, row: Any) -> _Policies:
        if row is None:
            raise NotFound(f"license {license.id} has no maintenance window", "WINDOW_NOT_FOUND")
        session.delete(row)
        return pin, None

    _change_policies(session, actor, license_id, "unwindow", unwindow)


@dataclass(frozen=True)
class RequiredView:
    channel: str
    release_id: str
    version: str
    required: bool


def is_required(session: Session, channel_name: str, release_id: str) -> bool:
    """Whether the release is marked required on the channel (False when not carried there)."""
    with read_transaction(session):
        channel = find_channel(session, channel_name)
        served = session.get(ChannelRelease, (channel.id, release_id))
        return served is not None and served.required


def set_required(
    session: Session, actor: audit.Actor, channel_name: str, release_ref: str, required: bool
) -> RequiredView:
    """Mark (or unmark) a release of a channel's history as required there."""
    with write_transaction(session):
        channel = find_channel(session, channel_name)
        release = _release_on_channel(session, channel, release_ref, "releaseId")
        served = session.get(ChannelRelease, (channel.id, release.id))
        assert served is not None
        if served.required != required:
            before = digest_of({"required": served.required})
            served.required = required
            audit.record(
                session,
                actor,
                "release.require" if required else "release.unrequire",
                f"channel:{channel.name}/release:{release.id}",
                before,
                digest_of({"required": required}),
            )
        return RequiredView(channel.name, release.id, release.version, required)


def explain_decision(
    session: Session,
    license_id: str,
    dwell: timedelta,
    now: datetime | None = None,
    pending: Callable[[str, str], LastServed | None] | None = None,
) -> DecisionView:
    """Which release the license's next poll gets and why, from the stored facts and, with
    ``pending``, what the calling worker served and has not written yet."""
    moment = now or utcnow()
    with read_transaction(session):
        license = _license(session, license_id)
        channel = find_channel(session, license.channel)
        if channel.head_release_id is None:
            raise NotFound(f"channel {channel.name!r} has no release yet", "CHANNEL_EMPTY")
        normal, normal_reason = channel.head_release_id, Reason.HEAD
        candidate = channel.candidate_release_id
        if candidate is not None and in_cohort(license.id, candidate, channel.rollout_percent or 0):
            normal, normal_reason = candidate, Reason.COHORT
        connection = session.connection()
        pin = session.get(LicensePin, license.id)
        known = [read_last_served(connection, license.id, channel.name)]
        if pending is not None:
            known.append(pending(license.id, channel.name))
        last = latest_served([item for item in known if item is not None])
        asked = [normal] + [row.release_id for row in (pin, last) if row is not None]
        channel_policy = with_releases(
            read_channel_policy(connection, channel.name),
            read_release_keys(connection, channel.name, asked),
            normal,
        )
        window = _window_of(session.get(MaintenanceWindow, license.id))
        policy = LicensePolicy(
            Pin(pin.release_id, pin.until, pin.reason) if pin is not None else None, window
        )
        decision: Decision = decide(
            moment,
            normal,
            normal_reason,
            channel_policy,
            policy,
            last,
            dwell,
        )
        version = session.scalar(select(Release.version).where(Release.id == decision.release_id))
        return DecisionView(
            license.id,
            channel.name,
            decision.release_id,
            version or "",
            decision.reason,
            decision.detail,
            last.release_id if last is not None else None,
            last.since if last is not None else None,
            window.is_open(moment) if window is not None else None,
            _pin_view(session, pin) if pin is not None else None,
        )

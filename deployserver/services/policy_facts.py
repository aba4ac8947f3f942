"""The facts installation policies decide from, read with one connection each: shared by the
poll's per-worker caches (``feed/policies.py``) and the decision endpoint, so both decide alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, or_, select
from sqlalchemy.orm import aliased

from deployserver.models import (
    Channel,
    ChannelRelease,
    Installation,
    LicensePin,
    MaintenanceWindow,
    Release,
)
from deployserver.specs.policy import ChannelPolicy, LastServed, LicensePolicy, Pin
from deployserver.specs.release import is_release_id
from deployserver.specs.values import semver_key
from deployserver.specs.windows import Window


def read_channel_policy(connection: Connection, channel_name: str) -> ChannelPolicy:
    """A channel's required and urgent releases (in its head history) with their order."""
    rows = connection.execute(
        select(Release.id, Release.version, ChannelRelease.required, ChannelRelease.urgent)
        .join(ChannelRelease, ChannelRelease.release_id == Release.id)
        .join(Channel, Channel.id == ChannelRelease.channel_id)
        .where(
            Channel.name == channel_name,
            ChannelRelease.was_head,
            or_(ChannelRelease.required, ChannelRelease.urgent),
        )
    ).all()
    return ChannelPolicy(
        order={row.id: semver_key(row.version) for row in rows},
        required=frozenset(row.id for row in rows if row.required),
        urgent=frozenset(row.id for row in rows if row.urgent),
    )


def read_release_keys(
    connection: Connection, channel_name: str, release_ids: Iterable[str]
) -> dict[str, tuple[tuple[Any, ...], bool]]:
    """For releases the channel serves: their SemVer order and whether they are in its head
    history (a staged candidate is not). Releases the channel never served are absent."""
    wanted = [release for release in set(release_ids) if is_release_id(release)]
    if not wanted:
        return {}
    rows = connection.execute(
        select(Release.id, Release.version, ChannelRelease.candidate_only)
        .join(ChannelRelease, ChannelRelease.release_id == Release.id)
        .join(Channel, Channel.id == ChannelRelease.channel_id)
        .where(Channel.name == channel_name, Release.id.in_(wanted))
    ).all()
    return {row.id: (semver_key(row.version), not row.candidate_only) for row in rows}


def with_releases(
    base: ChannelPolicy, keys: dict[str, tuple[tuple[Any, ...], bool]], normal: str
) -> ChannelPolicy:
    """``base`` knowing the order of more releases: those in the head history, and the
    normal answer (a rollout candidate is served to its cohort, so it is a target)."""
    order = dict(base.order)
    for release, (key, in_history) in keys.items():
        if in_history or release == normal:
            order[release] = key
    return ChannelPolicy(order, base.required, base.urgent)


def read_license_policies(connection: Connection) -> dict[str, LicensePolicy]:
    """Every license that has a pin or a window (two indexed scans, one dict)."""
    pins = {
        row.license_id: Pin(row.release_id, row.until, row.reason)
        for row in connection.execute(
            select(
                LicensePin.license_id, LicensePin.release_id, LicensePin.until, LicensePin.reason
            )
        )
    }
    windows = {
        row.license_id: Window(tuple(row.days), row.start, row.end, row.timezone)
        for row in connection.execute(
            select(
                MaintenanceWindow.license_id,
                MaintenanceWindow.days,
                MaintenanceWindow.start,
                MaintenanceWindow.end,
                MaintenanceWindow.timezone,
            )
        )
    }
    return {
        license_id: LicensePolicy(pins.get(license_id), windows.get(license_id))
        for license_id in pins.keys() | windows.keys()
    }


def read_last_served(connection: Connection, license_id: str, channel: str) -> LastServed | None:
    """The release an installation was last served on ``channel`` (written by the recorder)."""
    row = connection.execute(
        select(
            Installation.last_release_id,
            Installation.release_since,
            Installation.first_seen,
            Installation.last_seen,
        ).where(Installation.license_id == license_id, Installation.channel == channel)
    ).first()
    if row is None or row.last_release_id is None:
        return None
    return LastServed(row.last_release_id, row.release_since or row.first_seen, row.last_seen)


@dataclass(frozen=True)
class PinRef:
    """A license's pin as the license and installation views show it."""

    release_id: str
    version: str
    until: datetime | None
    reason: str


_PINNED = aliased(Release, name="pinned_release")


def with_pin(statement: Select, license_id: Any) -> Select:
    """``statement`` with the pin of the license ``license_id`` names (outer-joined: the
    listing stays one query); read it back with :func:`pin_of`."""
    return (
        statement.add_columns(
            LicensePin.release_id.label("pin_release_id"),
            _PINNED.version.label("pin_version"),
            LicensePin.until.label("pin_until"),
            LicensePin.reason.label("pin_reason"),
        )
        .outerjoin(LicensePin, LicensePin.license_id == license_id)
        .outerjoin(_PINNED, _PINNED.id == LicensePin.release_id)
    )


def pin_of(row: Any) -> PinRef | None:
    """The pin a row of a :func:`with_pin` statement carries."""
    if row.pin_release_id is None:
        return None
    return PinRef(row.pin_release_id, row.pin_version, row.pin_until, row.pin_reason)


def read_pins(connection: Connection, license_ids: Iterable[str]) -> dict[str, PinRef]:
    """The pins of these licenses (one query; licenses without a pin are absent)."""
    wanted = sorted(set(license_ids))
    if not wanted:
        return {}
    rows = connection.execute(
        select(
            LicensePin.license_id,
            LicensePin.release_id,
            Release.version,
            LicensePin.until,
            LicensePin.reason,
        )
        .join(Release, Release.id == LicensePin.release_id)
        .where(LicensePin.license_id.in_(wanted))
    )
    return {
        row.license_id: PinRef(row.release_id, row.version, row.until, row.reason) for row in rows
    }

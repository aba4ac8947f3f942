"""Which release a license is served under its installation policies, and why.

Pure: the feed (per worker, cached) and the decision endpoint gather the facts and call
:func:`decide`; both therefore give the same answer for the same facts. Precedence, first
that applies wins: a pin that holds, a required release the installation has not been
served long enough, a closed maintenance window (keep the release last served), then the
normal answer (the rollout cohort's candidate or the head), which the caller works out.
Every answer names a release whose stored bytes the channel already serves: policies choose
which release, never what it says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from deployserver.specs.windows import Window


class Reason(StrEnum):
    PIN = "pin"
    REQUIRED = "required"
    WINDOW = "window"
    COHORT = "cohort"
    HEAD = "head"


@dataclass(frozen=True, slots=True)
class Pin:
    release_id: str
    until: datetime | None = None
    reason: str = ""

    def holds(self, now: datetime) -> bool:
        return self.until is None or now < self.until


@dataclass(frozen=True, slots=True)
class LicensePolicy:
    """What a license's own policies say (either part may be absent)."""

    pin: Pin | None = None
    window: Window | None = None


@dataclass(frozen=True, slots=True)
class LastServed:
    """The release an installation was last served on a channel, since when, and when it
    was last polled (where known)."""

    release_id: str
    since: datetime
    seen: datetime | None = None


def latest_served(known: list[LastServed]) -> LastServed | None:
    """Merge what several sources know (the installation row, a worker's own answers): the
    most recent poll tells what the installation runs now; the earliest known start of that
    release counts (another worker may have served it first)."""
    if not known:
        return None
    latest = max(known, key=lambda item: item.seen or _EPOCH)
    since = min(item.since for item in known if item.release_id == latest.release_id)
    return LastServed(latest.release_id, since, latest.seen)


_EPOCH = datetime.fromtimestamp(0, UTC)


@dataclass(frozen=True, slots=True)
class ChannelPolicy:
    """A channel's facts the policies need: the SemVer sort key of each release that is or
    was head (a release not listed here is not servable by a policy), which of them are
    required, and which arrived as urgent."""

    order: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    required: frozenset[str] = frozenset()
    urgent: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Decision:
    release_id: str
    reason: Reason
    detail: str


def decide(
    now: datetime,
    normal: str,
    normal_reason: Reason,
    channel: ChannelPolicy,
    policy: LicensePolicy | None,
    last: LastServed | None,
    dwell: timedelta,
) -> Decision:
    """The release to serve and the rule that chose it (see the module docstring)."""
    if policy is not None and policy.pin is not None:
        pin = policy.pin
        if pin.holds(now) and pin.release_id in channel.order:
            until = f" until {pin.until.isoformat()}" if pin.until is not None else ""
            return Decision(pin.release_id, Reason.PIN, f"pinned{until}")
    if last is not None and last.release_id in channel.order and normal in channel.order:
        required = _required_step(now, normal, channel, last, dwell)
        if required is not None:
            return required
    window = policy.window if policy is not None else None
    if (
        window is not None
        and last is not None
        and last.release_id != normal
        and last.release_id in channel.order
        and normal not in channel.urgent
        and not window.is_open(now)
    ):
        return Decision(last.release_id, Reason.WINDOW, "outside the maintenance window")
    detail = "in the rollout cohort" if normal_reason is Reason.COHORT else "the channel's head"
    return Decision(normal, normal_reason, detail)


def _required_step(
    now: datetime, target: str, channel: ChannelPolicy, last: LastServed, dwell: timedelta
) -> Decision | None:
    order = channel.order
    if (
        last.release_id in channel.required
        and order[last.release_id] < order[target]
        and now - last.since < dwell
    ):
        return Decision(last.release_id, Reason.REQUIRED, "required release, dwelling")
    steps = sorted(
        (order[release], release)
        for release in channel.required
        if order[last.release_id] < order[release] < order[target]
    )
    if steps:
        return Decision(steps[0][1], Reason.REQUIRED, "required release not yet served")
    return None

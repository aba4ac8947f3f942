"""Installation policies on the poll: per-worker caches of the facts ``specs/policy.py``
decides from, so a poll that hits them runs no query.

Three caches, each bounded by ``license_cache_seconds`` like heads (and dropped at once by a
write in this process): every license's pin and window (one snapshot, two scans), each
channel's releases with their required and urgent flags (one query per channel), and what
each installation was last served (what this worker served it, else its installation row:
one primary-key lookup per license per period, and only for licenses that a policy can
concern). A license without a pin or window on a channel without required releases costs
two dict lookups.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from deployserver.services.policies import DecisionView, explain_decision
from deployserver.services.policy_facts import (
    read_channel_policy,
    read_last_served,
    read_license_policies,
    read_release_keys,
    with_releases,
)
from deployserver.specs.policy import (
    ChannelPolicy,
    Decision,
    LastServed,
    LicensePolicy,
    Reason,
    decide,
    latest_served,
)

# Beyond this many installations remembered, a cache starts over (reloaded on demand).
MAX_REMEMBERED = 200_000


class PolicyFeed:
    def __init__(
        self,
        engine: Engine,
        ttl_seconds: float,
        dwell_seconds: float,
        pending: Callable[[str, str], tuple[str, float, float] | None],
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._engine = engine
        self._ttl = ttl_seconds
        self._dwell = timedelta(seconds=dwell_seconds)
        # What this worker's installation recorder holds, not yet written.
        self._pending = pending
        self._clock = clock or (lambda: datetime.now(UTC))
        self._licenses: tuple[float, dict[str, LicensePolicy]] = (0.0, {})
        self._channels: dict[str, tuple[float, ChannelPolicy]] = {}
        # (channel, release) -> (SemVer order, in the head history); None: never served there.
        self._keys: dict[tuple[str, str], tuple[float, tuple[tuple[Any, ...], bool] | None]] = {}
        self._stored: dict[tuple[str, str], tuple[float, LastServed | None]] = {}
        # What this worker served each installation: (release, since, when last served).
        self._served: dict[tuple[str, str], tuple[LastServed, datetime]] = {}
        self._lock = threading.Lock()

    def choose(
        self, channel: str, license_id: str, normal: str, cohort: bool, has_required: bool
    ) -> Decision | None:
        """The decision for this poll when a policy may apply; None: serve ``normal``.

        ``has_required``: the channel has required releases (read with its head). The
        release decided is remembered as served (the caller serves it). With the database
        unreachable, what was last read decides; with nothing read, the normal answer is
        served (the outage path of the feed).
        """
        try:
            policy = self._license_policies().get(license_id)
            if policy is None and not has_required:
                return None
            return self._decide(channel, license_id, normal, cohort, policy)
        except DBAPIError:
            return None

    def _decide(
        self,
        channel: str,
        license_id: str,
        normal: str,
        cohort: bool,
        policy: LicensePolicy | None,
    ) -> Decision:
        now = self._clock()
        key = (license_id, channel)
        last = self._last_served(key)
        asked = [normal]
        if last is not None:
            asked.append(last.release_id)
        if policy is not None and policy.pin is not None:
            asked.append(policy.pin.release_id)
        channel_policy = with_releases(
            self._channel_policy(channel), self._release_keys(channel, asked), normal
        )
        decision = decide(
            now,
            normal,
            Reason.COHORT if cohort else Reason.HEAD,
            channel_policy,
            policy,
            last,
            self._dwell,
        )
        since = last.since if last is not None and last.release_id == decision.release_id else now
        with self._lock:
            if len(self._served) >= MAX_REMEMBERED:
                self._served.clear()
            self._served[key] = (LastServed(decision.release_id, since), now)
        return decision

    def _release_keys(
        self, channel: str, releases: list[str]
    ) -> dict[str, tuple[tuple[Any, ...], bool]]:
        found: dict[str, tuple[tuple[Any, ...], bool]] = {}
        missing = []
        clock = time.monotonic()
        for release in releases:
            entry = self._keys.get((channel, release))
            if entry is None or entry[0] <= clock:
                missing.append(release)
            elif entry[1] is not None:
                found[release] = entry[1]
        if missing:
            with self._engine.connect() as connection:
                loaded = read_release_keys(connection, channel, missing)
            if len(self._keys) >= MAX_REMEMBERED:
                self._keys.clear()
            for release in missing:
                value = loaded.get(release)
                # Once in a channel's head history, a release's order there never changes;
                # anything else (absent, a staged candidate) may, so it is read again later.
                expires = math.inf if value is not None and value[1] else clock + self._ttl
                self._keys[(channel, release)] = (expires, value)
                if value is not None:
                    found[release] = value
        return found

    def pending(self, license_id: str, channel: str) -> LastServed | None:
        """What this worker served the installation and has not written yet."""
        known = []
        own = self._served.get((license_id, channel))
        if own is not None:
            known.append(LastServed(own[0].release_id, own[0].since, own[1]))
        pending = self._pending(license_id, channel)
        if pending is not None:
            release, first, seen = pending
            known.append(LastServed(release, _moment(first), _moment(seen)))
        return latest_served(known)

    def explain(self, session: Session, license_id: str) -> DecisionView:
        """The decision for ``license_id``'s next poll, explained, from the stored facts and
        what this worker served and has not written yet (the decision endpoint, console)."""
        return explain_decision(session, license_id, self._dwell, pending=self.pending)

    def forget_licenses(self) -> None:
        """Read every license's pin and window again on the next poll that needs them."""
        self._licenses = (0.0, {})

    def drop_channel(self, channel: str) -> None:
        """Read ``channel``'s required and urgent releases again (they changed)."""
        self._channels.pop(channel, None)
        for key in [key for key in list(self._keys) if key[0] == channel]:
            self._keys.pop(key, None)

    def forget(self) -> None:
        """Drop the cached policies and stored facts (a write in this process)."""
        self._licenses = (0.0, {})
        self._channels.clear()
        self._stored.clear()

    def _license_policies(self) -> dict[str, LicensePolicy]:
        expires, policies = self._licenses
        if expires > time.monotonic():
            return policies
        try:
            with self._engine.connect() as connection:
                policies = read_license_policies(connection)
        except DBAPIError:
            if expires == 0.0:
                raise
            return policies
        self._licenses = (time.monotonic() + self._ttl, policies)
        return policies

    def _channel_policy(self, channel: str) -> ChannelPolicy:
        entry = self._channels.get(channel)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        try:
            with self._engine.connect() as connection:
                policy = read_channel_policy(connection, channel)
        except DBAPIError:
            if entry is None:
                raise
            return entry[1]
        self._channels[channel] = (time.monotonic() + self._ttl, policy)
        return policy

    def _last_served(self, key: tuple[str, str]) -> LastServed | None:
        entry = self._stored.get(key)
        if entry is None or entry[0] <= time.monotonic():
            try:
                with self._engine.connect() as connection:
                    stored = read_last_served(connection, *key)
            except DBAPIError:
                if entry is None and key not in self._served:
                    raise
                stored = entry[1] if entry is not None else None
            if len(self._stored) >= MAX_REMEMBERED:
                self._stored.clear()
            self._stored[key] = (time.monotonic() + self._ttl, stored)
        else:
            stored = entry[1]
        mine = self.pending(*key)
        known = [item for item in (stored, mine) if item is not None]
        return latest_served(known)


def _moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)

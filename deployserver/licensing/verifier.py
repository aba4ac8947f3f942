"""The license verifier: the one judge used by the polling endpoint, validation and the CLI.

``license_verifier(app_state).verify(token)`` returns a :class:`Verdict` from the judge
(``licensing/judge.py``). Verdicts are cached per process by the token's sha256, so a repeat
poll costs a hash, a dict lookup and a clock comparison. Trust material (public keys, revoked
and suspended license ids) is refreshed from the database at most every
``license_cache_seconds``; no cached verdict outlives the snapshot's refresh time, so
revocation, suspension and key retirement reach every worker within that bound. Each changed
snapshot is saved to the last-known-good store, which carries verification through a
database outage.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from deployserver import metrics
from deployserver.errors import Unavailable
from deployserver.extensions import AppState
from deployserver.feed.lkg import LastKnownGood
from deployserver.licensing.judge import (
    MALFORMED,
    MAX_TOKEN_LENGTH,
    UNKNOWN_KEY,
    Judgement,
    Verdict,
    judge,
)
from deployserver.licensing.trust import (
    LKG_NAME,
    NON_ACTIVE,
    TrustReader,
    TrustSnapshot,
    build_snapshot,
    snapshot_from_json,
)

log = logging.getLogger(__name__)

# A token naming a key not in the snapshot re-reads the keys at most this often.
FORCED_REFRESH_SECONDS = 1.0
# After a failed refresh (database down) the next one is tried this soon, so a change made
# just before the outage is read as soon as the database is back.
OUTAGE_RETRY_SECONDS = 1.0
EXTRAS_KEY = "license_verifier"


class LicenseVerifier:
    """Per-app verifier: trust snapshot, verdict cache and the outage fallback."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        store: LastKnownGood,
        *,
        issuer: str,
        audience: str,
        leeway_seconds: float,
        cache_seconds: float,
        cache_entries: int,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reader = TrustReader(sessions)
        self._store = store
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds
        self._bound = cache_seconds
        self._max_entries = cache_entries
        self._clock = clock
        self._monotonic = monotonic
        # sha256(token) -> (verdict, monotonic deadline); insertion order is eviction order.
        self._cache: dict[bytes, tuple[Verdict, float]] = {}
        self._snapshot: TrustSnapshot | None = None
        self._saved_fingerprint: str | None = None
        self._refresh_due = -math.inf
        self._forced_refresh_after = -math.inf
        self._refresh_lock = threading.Lock()
        self._cache_lock = threading.Lock()

    @property
    def cache_size(self) -> int:
        """Verdicts currently cached (for metrics and tests)."""
        return len(self._cache)

    def verify(self, token: str) -> Verdict:
        """Judge a license; raises :class:`~deployserver.errors.Unavailable` only when
        neither the database nor any stored snapshot can say which keys to trust."""
        if len(token) > MAX_TOKEN_LENGTH:
            return _TOO_LONG
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        entry = self._cache.get(digest)
        now = self._monotonic()
        if entry is not None and entry[1] > now:
            metrics.cache_lookup("license", True)
            return entry[0]
        metrics.cache_lookup("license", False)
        return self._verify_uncached(token, digest)

    def _verify_uncached(self, token: str, digest: bytes) -> Verdict:
        trust = self.trust()
        # The deadline of the snapshot this judgement uses, read with it: a refresh by another
        # thread in between must not lend a stale verdict its later deadline.
        refresh_due = self._refresh_due
        wall = self._clock()
        judgement = self._judge(token, trust, wall)
        if judgement.verdict.code == UNKNOWN_KEY:
            # Perhaps a key generated moments ago (by another worker): look once more, at
            # most once per FORCED_REFRESH_SECONDS, so a flood of made-up kids stays cheap.
            fresher = self._refresh_for_unknown_key()
            if fresher is not None:
                trust, refresh_due = fresher
                judgement = self._judge(token, trust, wall)
        mono = self._monotonic()
        if judgement.cacheable and self._snapshot is trust:
            # Never past the next snapshot refresh, so no verdict outlives the bound.
            deadline = refresh_due
            if judgement.until is not None:
                deadline = min(deadline, mono + (judgement.until - wall))
            if deadline > mono:
                self._remember(digest, judgement.verdict, deadline)
        return judgement.verdict

    def _judge(self, token: str, trust: TrustSnapshot, wall: float) -> Judgement:
        return judge(
            token,
            trust,
            issuer=self._issuer,
            audience=self._audience,
            leeway=self._leeway,
            now=wall,
        )

    def _refresh_for_unknown_key(self) -> tuple[TrustSnapshot, float] | None:
        with self._refresh_lock:
            now = self._monotonic()
            if now < self._forced_refresh_after:
                return None
            self._forced_refresh_after = now + FORCED_REFRESH_SECONDS
            snapshot = self._refresh()
            return snapshot, self._refresh_due

    def _remember(self, digest: bytes, verdict: Verdict, deadline: float) -> None:
        with self._cache_lock:
            cache = self._cache
            while len(cache) >= self._max_entries:
                del cache[next(iter(cache))]
            cache[digest] = (verdict, deadline)

    def trust(self) -> TrustSnapshot:
        """The current trust snapshot, refreshed from the database when due."""
        snapshot = self._snapshot
        if snapshot is not None and self._monotonic() < self._refresh_due:
            return snapshot
        with self._refresh_lock:
            if self._monotonic() < self._refresh_due:
                if self._snapshot is not None:
                    return self._snapshot
                raise _nothing_known()
            return self._refresh()

    def _refresh(self) -> TrustSnapshot:
        started = self._monotonic()
        try:
            keys, statuses, changed = self._reader.read(started)
        except DBAPIError as exc:
            metrics.database_error()
            # Retried soon, but once per OUTAGE_RETRY_SECONDS, not per request: a dead
            # database must not stall polls.
            self._refresh_due = started + min(self._bound, OUTAGE_RETRY_SECONDS)
            # What was read before the outage may have missed changes made during it.
            self._reader.forget()
            # The stored snapshot is the newest any worker of this host read (a revocation
            # seen by another worker must hold here too); this worker's memory is the fallback.
            stored = snapshot_from_json(self._store.read_json(LKG_NAME))
            if stored is not None and (
                self._snapshot is None or stored.fingerprint != self._snapshot.fingerprint
            ):
                self._snapshot = stored
            if self._snapshot is None:
                log.warning(
                    "license trust: database unavailable (%s) and no stored snapshot",
                    type(exc.orig or exc).__name__,
                )
                raise _nothing_known() from None
            log.warning(
                "license trust: database unavailable (%s); judging licenses by the %s snapshot",
                type(exc.orig or exc).__name__,
                self._snapshot.source,
            )
            return self._snapshot
        previous = self._snapshot
        if changed or previous is None or not _same_keys(previous, keys):
            snapshot = build_snapshot(keys, statuses, "database", previous)
        else:
            # Nothing changed: no copy of the ids, no new fingerprint, no store write.
            snapshot = previous
        if self._saved_fingerprint is None:
            saved = self._store.read_json(LKG_NAME)
            self._saved_fingerprint = saved.get("fingerprint") if isinstance(saved, dict) else ""
        if snapshot.fingerprint != self._saved_fingerprint:
            self._store.write_json(LKG_NAME, snapshot.to_json())
            self._saved_fingerprint = snapshot.fingerprint
        if snapshot is not previous:
            # Cached verdicts were judged by the previous snapshot: drop them all. (When
            # nothing changed they stay, each until the deadline it was given.)
            self._cache = {}
        self._snapshot = snapshot
        self._refresh_due = started + self._bound
        return snapshot

    def license_changed(self, license_id: str, status: str) -> None:
        """A license's status changed (an invalidation message): hold it at once, without
        the database (it may be down), drop that license's verdicts and keep the snapshot in
        the host's store so every worker's outage fallback has it too."""
        with self._refresh_lock:
            snapshot = self._snapshot
            fresh = None
            if snapshot is not None:
                statuses = dict(snapshot.license_statuses)
                if status in NON_ACTIVE:
                    statuses[license_id] = status
                else:
                    statuses.pop(license_id, None)
                fresh = self._snapshot = _rebuilt(snapshot, statuses=statuses)
            with self._cache_lock:
                stale = [
                    digest
                    for digest, (verdict, _) in self._cache.items()
                    if verdict.license is not None and verdict.license.id == license_id
                ]
                for digest in stale:
                    self._cache.pop(digest, None)
        # Stored after the change is in force: the store syncs to disk, which may be slow.
        if fresh is not None:
            self._save(fresh)

    def keys_changed(self, kid: str, status: str) -> None:
        """A signing key changed (an invalidation message). A retired key stops verifying at
        once; any other change is read from the database on the next verification."""
        fresh = None
        with self._refresh_lock:
            snapshot = self._snapshot
            if snapshot is not None and status == "retired":
                fresh = self._snapshot = _rebuilt(snapshot, without_kid=kid)
                # Which verdicts that key signed is not kept: drop them all.
                self._cache = {}
            self._refresh_due = -math.inf
        if fresh is not None:
            self._save(fresh)

    def _save(self, snapshot: TrustSnapshot) -> None:
        if snapshot.fingerprint != self._saved_fingerprint:
            self._store.write_json(LKG_NAME, snapshot.to_json())
            self._saved_fingerprint = snapshot.fingerprint

    def forget(self) -> None:
        """Drop every verdict and read the trust material again on the next verification."""
        with self._refresh_lock:
            if self._snapshot is not None:
                # A new object: a judgement made with the old one in flight is not cached.
                self._snapshot = replace(self._snapshot)
            self._cache = {}
            self._refresh_due = -math.inf


def _rebuilt(
    snapshot: TrustSnapshot,
    *,
    statuses: Mapping[str, str] | None = None,
    without_kid: str | None = None,
) -> TrustSnapshot:
    """``snapshot`` with other license statuses or without one key (parsed keys reused)."""
    rows = [
        (k.kid, k.alg, k.status, k.public_pem)
        for k in snapshot.keys.values()
        if k.kid != without_kid
    ]
    return build_snapshot(
        rows,
        snapshot.license_statuses if statuses is None else statuses,
        snapshot.source,
        snapshot,
    )


def _same_keys(snapshot: TrustSnapshot, keys: list[tuple[str, str, str, str]]) -> bool:
    held = [(k.kid, k.alg, k.status, k.public_pem) for k in snapshot.keys.values()]
    return snapshot.source == "database" and held == keys


_TOO_LONG = Verdict(False, MALFORMED, f"a license is at most {MAX_TOKEN_LENGTH} characters")


def _nothing_known() -> Unavailable:
    return Unavailable(
        "licenses cannot be verified: the database is unavailable and no trust snapshot is stored"
    )


def license_verifier(app_state: AppState) -> LicenseVerifier:
    """The app's verifier, created on first use (one per app, hence one per worker)."""
    verifier = app_state.extras.get(EXTRAS_KEY)
    if verifier is None:
        config = app_state.config
        verifier = app_state.extras.setdefault(
            EXTRAS_KEY,
            LicenseVerifier(
                app_state.sessions,
                LastKnownGood(config.instance_path),
                issuer=config.issuer,
                audience=config.audience,
                leeway_seconds=config.license_leeway_seconds,
                cache_seconds=config.license_cache_seconds,
                cache_entries=config.license_cache_entries,
            ),
        )
    return verifier

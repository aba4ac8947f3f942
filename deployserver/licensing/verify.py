"""License verification: the one judge used by the polling endpoint, validation and the CLI.

``license_verifier(app_state).verify(token)`` returns a :class:`Verdict`. Work is ordered
cheapest first: size, shape and header checks, then the key named by ``kid`` (whose recorded
algorithm must equal the header's), then one signature check through PyJWT, then the claims.

Verdicts are cached per process by the token's sha256, so a repeat poll costs a hash, a dict
lookup and a clock comparison. Trust material (public keys, revoked and suspended license
ids) is refreshed from the database at most every ``license_cache_seconds``; no cached
verdict outlives the snapshot's refresh time, so revocation, suspension and key retirement
reach every worker within that bound. A refresh reads the keys and only the licenses whose
status changed lately (all non-active ids are read on the first refresh and every
``FULL_RELOAD_SECONDS``), so its cost does not grow with the number of licenses. Each changed
snapshot is saved to the last-known-good store, which carries verification through a
database outage.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from jwt import PyJWS
from jwt.exceptions import (
    DecodeError,
    InvalidAlgorithmError,
    InvalidSignatureError,
    InvalidTokenError,
)
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from deployserver import metrics
from deployserver.errors import Unavailable
from deployserver.extensions import AppState
from deployserver.licensing import keys as key_material
from deployserver.lkg import LastKnownGood
from deployserver.models import License, SigningKey
from deployserver.specs.canonical import digest_of

log = logging.getLogger(__name__)

VALID = "VALID"
MALFORMED = "MALFORMED"
UNSUPPORTED_ALGORITHM = "UNSUPPORTED_ALGORITHM"
UNKNOWN_KEY = "UNKNOWN_KEY"
BAD_SIGNATURE = "BAD_SIGNATURE"
WRONG_ISSUER = "WRONG_ISSUER"
WRONG_AUDIENCE = "WRONG_AUDIENCE"
NOT_YET_VALID = "NOT_YET_VALID"
EXPIRED = "EXPIRED"
REVOKED = "REVOKED"
SUSPENDED = "SUSPENDED"
CODES = (
    VALID,
    MALFORMED,
    UNSUPPORTED_ALGORITHM,
    UNKNOWN_KEY,
    BAD_SIGNATURE,
    WRONG_ISSUER,
    WRONG_AUDIENCE,
    NOT_YET_VALID,
    EXPIRED,
    REVOKED,
    SUSPENDED,
)

# Bounded work: nothing longer is hashed, split or decoded. An issued license is far smaller
# (issuance refuses entitlements that would push it past this).
MAX_TOKEN_LENGTH = 16 * 1024
# A token naming a key not in the snapshot re-reads the keys at most this often.
FORCED_REFRESH_SECONDS = 1.0
MAX_HEADER_SEGMENT = 1024
MAX_KID_LENGTH = 64
MAX_ID_LENGTH = 255
MAX_CHANNEL_LENGTH = 63
# Numeric dates must be representable as datetimes (before year 10000).
MAX_NUMERIC_DATE = 253_402_300_799
LKG_NAME = "trust.json"
LKG_FORMAT = 1
EXTRAS_KEY = "license_verifier"
NON_ACTIVE = ("revoked", "suspended")
# A status change is stamped with its writer's clock and seen only once committed; rereading
# this far back covers slow commits and clock skew between hosts.
STATUS_CHANGE_OVERLAP = timedelta(minutes=15)
# Every so often all non-active ids are read again, bounding what incremental reads could
# ever miss (a status changed in SQL by hand, without status_changed_at).
FULL_RELOAD_SECONDS = 600.0
# After a failed refresh (database down) the next one is tried this soon, so a change made
# just before the outage is read as soon as the database is back.
OUTAGE_RETRY_SECONDS = 1.0

_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
# PyJWT does the signature check; the header was vetted before it is reached.
_JWS = PyJWS()


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class LicenseView:
    """What a license whose signature verified says about itself."""

    id: str
    subject: str
    channel: str | None
    issued_at: datetime | None
    not_before: datetime | None
    expires_at: datetime | None
    entitlements: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        def when(moment: datetime | None) -> str | None:
            return None if moment is None else rfc3339(moment)

        return {
            "id": self.id,
            "subject": self.subject,
            "channel": self.channel,
            "issuedAt": when(self.issued_at),
            "notBefore": when(self.not_before),
            "expiresAt": when(self.expires_at),
            "entitlements": self.entitlements,
        }


@dataclass(frozen=True)
class Verdict:
    """The judgement on one token; ``license`` is set whenever the signature verified."""

    valid: bool
    code: str
    detail: str
    license: LicenseView | None = None

    def as_dict(self) -> dict[str, Any]:
        """The body of ``POST /api/v1/licenses/validate`` (``license`` absent when None)."""
        body: dict[str, Any] = {"valid": self.valid, "code": self.code, "detail": self.detail}
        if self.license is not None:
            body["license"] = self.license.as_dict()
        return body


@dataclass(frozen=True)
class TrustedKey:
    """A key that may verify licenses (active or verify-only), parsed once per snapshot."""

    kid: str
    alg: str
    status: str
    public_pem: str
    public_key: key_material.VerifyingKey = field(compare=False, repr=False)

    def jwk(self) -> dict[str, Any]:
        return key_material.jwk_for(self.public_key, self.kid, self.alg)


@dataclass(frozen=True)
class TrustSnapshot:
    """Public keys by kid and the statuses of licenses that are not active, read together."""

    keys: Mapping[str, TrustedKey]
    license_statuses: Mapping[str, str]
    fingerprint: str
    source: str  # "database" or "last-known-good"

    def to_json(self) -> dict[str, Any]:
        """The LKG form: public keys and license ids with statuses, never private material."""
        return {
            "format": LKG_FORMAT,
            "fingerprint": self.fingerprint,
            **_material(
                [(k.kid, k.alg, k.status, k.public_pem) for k in self.keys.values()],
                self.license_statuses,
            ),
        }

    def jwks(self) -> dict[str, Any]:
        """RFC 7517 JWK Set of every key that may still verify a license."""
        return {"keys": [key.jwk() for key in self.keys.values()]}


def _material(keys: list[tuple[str, str, str, str]], statuses: Mapping[str, str]) -> dict[str, Any]:
    return {
        "keys": [
            {"kid": kid, "alg": alg, "status": status, "publicKey": pem}
            for kid, alg, status, pem in keys
        ],
        "licenses": dict(sorted(statuses.items())),
    }


def build_snapshot(
    keys: list[tuple[str, str, str, str]],
    statuses: Mapping[str, str],
    source: str,
    previous: TrustSnapshot | None = None,
) -> TrustSnapshot:
    """A snapshot from ``(kid, alg, status, public PEM)`` rows and ``{license id: status}``.

    Keys unchanged since ``previous`` are reused rather than parsed again. A stored key that
    does not parse (damage) is left out and logged: licenses it signed read UNKNOWN_KEY.
    """
    parsed: dict[str, TrustedKey] = {}
    for kid, alg, status, pem in keys:
        old = previous.keys.get(kid) if previous else None
        if old is not None and old.public_pem == pem and old.alg == alg:
            parsed[kid] = TrustedKey(kid, alg, status, pem, old.public_key)
            continue
        if alg not in key_material.ALGORITHMS:
            log.error("signing key %s has unsupported algorithm %r; ignored", kid, alg)
            continue
        try:
            public_key = key_material.load_public_key(pem, alg)
        except (ValueError, key_material.KeyMaterialError) as exc:
            log.error("signing key %s has an unusable public key (%s); ignored", kid, exc)
            continue
        parsed[kid] = TrustedKey(kid, alg, status, pem, public_key)
    fingerprint = digest_of(_material(keys, statuses))
    return TrustSnapshot(parsed, dict(statuses), fingerprint, source)


def snapshot_from_json(data: Any) -> TrustSnapshot | None:
    """Read the LKG form back; None when it is not one of ours (then it is ignored)."""
    try:
        if data.get("format") != LKG_FORMAT:
            return None
        keys = [
            (str(k["kid"]), str(k["alg"]), str(k["status"]), str(k["publicKey"]))
            for k in data["keys"]
        ]
        statuses = {str(i): str(s) for i, s in data["licenses"].items()}
    except (AttributeError, KeyError, TypeError):
        log.warning("last-known-good %s is not a trust snapshot; ignored", LKG_NAME)
        return None
    return build_snapshot(keys, statuses, "last-known-good")


@dataclass(frozen=True)
class Judgement:
    """A verdict and how long it may be cached on its own account.

    ``cacheable`` is false for rejections made before any key was involved (they are cheap);
    ``until`` is the wall-clock second after which the verdict may change by itself (``exp``
    for a valid license, ``nbf`` for one not yet valid), or None.
    """

    verdict: Verdict
    cacheable: bool = False
    until: float | None = None


def _reject(code: str, detail: str, view: LicenseView | None = None) -> Judgement:
    return Judgement(Verdict(False, code, detail, view), cacheable=view is not None)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _numeric_date(claims: Mapping[str, Any], name: str) -> float | None:
    """The claim as seconds since the epoch; ValueError when present but not a NumericDate."""
    if name not in claims:
        return None
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} is not a number")
    if not math.isfinite(value) or not 0 <= value <= MAX_NUMERIC_DATE:
        raise ValueError(f"{name} is out of range")
    return float(value)


def _moment(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _when(seconds: float) -> str:
    return rfc3339(datetime.fromtimestamp(seconds, UTC))


def _bounded_str(claims: Mapping[str, Any], name: str, limit: int) -> str | None:
    value = claims.get(name)
    if isinstance(value, str) and 0 < len(value) <= limit:
        return value
    return None


def judge(
    token: str,
    trust: TrustSnapshot,
    *,
    issuer: str,
    audience: str,
    leeway: float,
    now: float,
) -> Judgement:
    """Judge ``token`` against ``trust`` at wall-clock ``now`` (seconds since the epoch)."""
    if len(token) > MAX_TOKEN_LENGTH:
        return _reject(MALFORMED, f"a license is at most {MAX_TOKEN_LENGTH} characters")
    segments = token.split(".")
    if len(segments) != 3:
        return _reject(MALFORMED, f"a license has 3 dot-separated segments, not {len(segments)}")
    header_segment, payload_segment, signature_segment = segments
    if len(header_segment) > MAX_HEADER_SEGMENT:
        return _reject(MALFORMED, "the header is too large")
    if not _BASE64URL.fullmatch(header_segment):
        return _reject(MALFORMED, "the header is empty or not base64url")
    try:
        header = json.loads(_b64decode(header_segment), parse_constant=_refuse_constant)
    except (ValueError, binascii.Error, RecursionError):
        return _reject(MALFORMED, "the header is not base64url-encoded JSON")
    if not isinstance(header, dict):
        return _reject(MALFORMED, "the header is not a JSON object")

    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in key_material.ALGORITHMS:
        return _reject(UNSUPPORTED_ALGORITHM, f"algorithm {_short(alg)} is not accepted")
    # Extensions change how the signature is computed (RFC 7797 b64); we use none of them.
    if "crit" in header or "b64" in header:
        return _reject(MALFORMED, "critical header extensions are not accepted")
    typ = header.get("typ", "JWT")
    if not isinstance(typ, str) or typ.upper() != "JWT":
        return _reject(MALFORMED, f"typ {_short(typ)} is not JWT")
    if not (_BASE64URL.fullmatch(payload_segment) and _BASE64URL.fullmatch(signature_segment)):
        return _reject(MALFORMED, "the payload or signature is empty or not base64url")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_LENGTH:
        return _reject(UNKNOWN_KEY, "the header names no usable key id")
    key = trust.keys.get(kid)
    if key is None:
        return _reject(UNKNOWN_KEY, f"no trusted key {_short(kid)}")
    if key.alg != alg:
        # The key decides the algorithm, never the token (no algorithm confusion).
        return Judgement(
            Verdict(False, UNSUPPORTED_ALGORITHM, f"key {kid} signs with {key.alg}, not {alg}"),
            cacheable=True,
        )

    try:
        decoded = _JWS.decode_complete(token, key=key.public_key, algorithms=[key.alg])
    except InvalidSignatureError:
        return Judgement(
            Verdict(False, BAD_SIGNATURE, "the signature does not verify"), cacheable=True
        )
    except InvalidAlgorithmError:
        return _reject(UNSUPPORTED_ALGORITHM, f"algorithm {_short(alg)} is not accepted")
    except (DecodeError, InvalidTokenError):
        return _reject(MALFORMED, "the license does not decode")
    return _judge_claims(decoded["payload"], trust, issuer, audience, leeway, now)


def _judge_claims(
    payload: bytes,
    trust: TrustSnapshot,
    issuer: str,
    audience: str,
    leeway: float,
    now: float,
) -> Judgement:
    def malformed(detail: str) -> Judgement:
        return Judgement(Verdict(False, MALFORMED, detail), cacheable=True)

    try:
        claims = json.loads(payload, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return malformed("the payload is not JSON")
    if not isinstance(claims, dict):
        return malformed("the payload is not a JSON object")
    subject = _bounded_str(claims, "sub", MAX_ID_LENGTH)
    if subject is None:
        return malformed("the license has no usable sub claim")
    license_id = _bounded_str(claims, "jti", MAX_ID_LENGTH)
    if license_id is None:
        return malformed("the license has no usable jti claim")
    try:
        expires = _numeric_date(claims, "exp")
        not_before = _numeric_date(claims, "nbf")
        issued = _numeric_date(claims, "iat")
    except ValueError as exc:
        return malformed(f"the license's {exc}")
    # Only a license issued as perpetual may omit exp, and it says so in a signed claim.
    if expires is None and claims.get("perpetual") is not True:
        return malformed("the license has no exp claim and is not perpetual")
    channel = claims.get("channel")
    if channel is not None and (
        not isinstance(channel, str) or not 0 < len(channel) <= MAX_CHANNEL_LENGTH
    ):
        return malformed("the channel claim is not a channel name")
    entitlements = claims.get("entitlements", {})
    if not isinstance(entitlements, dict):
        return malformed("the entitlements claim is not an object")

    view = LicenseView(
        id=license_id,
        subject=subject,
        channel=channel,
        issued_at=_moment(issued),
        not_before=_moment(not_before),
        expires_at=_moment(expires),
        entitlements=entitlements,
    )
    if claims.get("iss") != issuer:
        return _reject(WRONG_ISSUER, f"issuer {_short(claims.get('iss'))} is not {issuer!r}", view)
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if audience not in audiences:
        return _reject(WRONG_AUDIENCE, f"audience {_short(aud)} is not {audience!r}", view)
    status = trust.license_statuses.get(license_id)
    if status == "revoked":
        return _reject(REVOKED, "the license has been revoked", view)
    if status == "suspended":
        return _reject(SUSPENDED, "the license is suspended", view)
    if not_before is not None and not_before > now + leeway:
        return Judgement(
            Verdict(False, NOT_YET_VALID, f"not valid before {_when(not_before)}", view),
            cacheable=True,
            until=not_before - leeway,
        )
    if expires is not None and expires <= now - leeway:
        return _reject(EXPIRED, f"expired at {_when(expires)}", view)
    detail = "valid" if expires is None else f"valid until {_when(expires)}"
    # A cached valid verdict never outlives exp (the leeway only forgives clock skew).
    return Judgement(Verdict(True, VALID, detail, view), cacheable=True, until=expires)


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
        self._sessions = sessions
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
        # Non-active license statuses as last read from the database (None: read them all
        # next time), the newest status_changed_at seen, and when to read them all again.
        self._statuses: dict[str, str] | None = None
        self._changed_until: datetime | None = None
        self._full_reload_due = -math.inf
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
            keys, statuses, changed = self._read_database(started)
        except DBAPIError as exc:
            metrics.database_error()
            # Retried soon, but once per OUTAGE_RETRY_SECONDS, not per request: a dead
            # database must not stall polls.
            self._refresh_due = started + min(self._bound, OUTAGE_RETRY_SECONDS)
            # What was read before the outage may have missed changes made during it.
            self._statuses = None
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
            if snapshot is not None:
                statuses = dict(snapshot.license_statuses)
                if status in NON_ACTIVE:
                    statuses[license_id] = status
                else:
                    statuses.pop(license_id, None)
                self._replace(snapshot, statuses=statuses)
            with self._cache_lock:
                stale = [
                    digest
                    for digest, (verdict, _) in self._cache.items()
                    if verdict.license is not None and verdict.license.id == license_id
                ]
                for digest in stale:
                    self._cache.pop(digest, None)

    def keys_changed(self, kid: str, status: str) -> None:
        """A signing key changed (an invalidation message). A retired key stops verifying at
        once; any other change is read from the database on the next verification."""
        with self._refresh_lock:
            snapshot = self._snapshot
            if snapshot is not None and status == "retired":
                self._replace(snapshot, without_kid=kid)
                # Which verdicts that key signed is not kept: drop them all.
                self._cache = {}
            self._refresh_due = -math.inf

    def forget(self) -> None:
        """Drop every verdict and read the trust material again on the next verification."""
        with self._refresh_lock:
            if self._snapshot is not None:
                # A new object: a judgement made with the old one in flight is not cached.
                self._snapshot = replace(self._snapshot)
            self._cache = {}
            self._refresh_due = -math.inf

    def _replace(
        self,
        snapshot: TrustSnapshot,
        *,
        statuses: Mapping[str, str] | None = None,
        without_kid: str | None = None,
    ) -> None:
        rows = [
            (k.kid, k.alg, k.status, k.public_pem)
            for k in snapshot.keys.values()
            if k.kid != without_kid
        ]
        fresh = build_snapshot(
            rows,
            snapshot.license_statuses if statuses is None else statuses,
            snapshot.source,
            snapshot,
        )
        self._snapshot = fresh
        if fresh.fingerprint != self._saved_fingerprint:
            self._store.write_json(LKG_NAME, fresh.to_json())
            self._saved_fingerprint = fresh.fingerprint

    def _read_database(
        self, started: float
    ) -> tuple[list[tuple[str, str, str, str]], dict[str, str], bool]:
        """Keys and non-active license statuses, read in one transaction.

        Returns the statuses and whether they changed since the last read. Only licenses whose
        status changed since then (less an overlap) are read, unless a full read is due.
        """
        with self._sessions() as session, session.begin():
            keys = [
                (row.kid, row.alg, row.status, row.public_key)
                for row in session.execute(
                    select(SigningKey.kid, SigningKey.alg, SigningKey.status, SigningKey.public_key)
                    .where(SigningKey.status != "retired")
                    .order_by(SigningKey.created_at.desc(), SigningKey.kid.desc())
                )
            ]
            if self._statuses is None or started >= self._full_reload_due:
                # IN, not != 'active': an index range over the few non-active rows.
                statuses = {
                    row.id: row.status
                    for row in session.execute(
                        select(License.id, License.status).where(License.status.in_(NON_ACTIVE))
                    )
                }
                newest = session.scalar(select(func.max(License.status_changed_at)))
                changed = statuses != self._statuses
                self._full_reload_due = started + FULL_RELOAD_SECONDS
            else:
                statuses, newest, changed = self._statuses, self._changed_until, False
                query = select(License.id, License.status, License.status_changed_at).where(
                    License.status_changed_at.is_not(None)
                    if newest is None
                    else License.status_changed_at >= newest - STATUS_CHANGE_OVERLAP
                )
                for row in session.execute(query):
                    if row.status in NON_ACTIVE:
                        changed = changed or statuses.get(row.id) != row.status
                        statuses[row.id] = row.status
                    elif statuses.pop(row.id, None) is not None:
                        changed = True
                    if newest is None or row.status_changed_at > newest:
                        newest = row.status_changed_at
        self._statuses, self._changed_until = statuses, newest
        return keys, statuses, changed


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


def verify_license(app_state: AppState, token: str) -> Verdict:
    """Judge ``token`` with the app's verifier (see :class:`LicenseVerifier`)."""
    return license_verifier(app_state).verify(token)

"""License trust: the public keys and non-active license ids a verdict is judged against.

A :class:`TrustSnapshot` is read from the database by a :class:`TrustReader`, which reads the
keys and only the licenses whose status changed lately (all non-active ids are read on the
first read and every ``FULL_RELOAD_SECONDS``), so its cost does not grow with the number of
licenses. The snapshot's JSON form is what the last-known-good store keeps for outages.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from deployserver.licensing import keys as key_material
from deployserver.models import KeyStatus, License, LicenseStatus, SigningKey
from deployserver.specs.canonical import digest_of

log = logging.getLogger(__name__)

LKG_NAME = "trust.json"
LKG_FORMAT = 1
NON_ACTIVE = (LicenseStatus.REVOKED, LicenseStatus.SUSPENDED)
# A status change is stamped with its writer's clock and seen only once committed; rereading
# this far back covers slow commits and clock skew between hosts.
STATUS_CHANGE_OVERLAP = timedelta(minutes=15)
# Every so often all non-active ids are read again, bounding what incremental reads could
# ever miss (a status changed in SQL by hand, without status_changed_at).
FULL_RELOAD_SECONDS = 600.0


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


class TrustReader:
    """Reads trust material incrementally: keys each time, license statuses as they change."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        # Non-active license statuses as last read from the database (None: read them all
        # next time), the newest status_changed_at seen, and when to read them all again.
        self._statuses: dict[str, str] | None = None
        self._changed_until: datetime | None = None
        self._full_reload_due = -math.inf

    def forget(self) -> None:
        """Read every status again next time (what was read may have missed changes)."""
        self._statuses = None

    def read(self, started: float) -> tuple[list[tuple[str, str, str, str]], dict[str, str], bool]:
        """Keys and non-active license statuses, read in one transaction.

        Returns the statuses and whether they changed since the last read. Only licenses whose
        status changed since then (less an overlap) are read, unless a full read is due.
        """
        with self._sessions() as session, session.begin():
            keys = [
                (row.kid, row.alg, row.status, row.public_key)
                for row in session.execute(
                    select(SigningKey.kid, SigningKey.alg, SigningKey.status, SigningKey.public_key)
                    .where(SigningKey.status != KeyStatus.RETIRED)
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

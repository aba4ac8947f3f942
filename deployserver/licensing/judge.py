"""The license judge: pure rules that turn a token and a trust snapshot into a verdict.

Work is ordered cheapest first: size, shape and header checks, then the key named by ``kid``
(whose recorded algorithm must equal the header's), then one signature check through PyJWT,
then the claims. Nothing here reads a database, a file or a clock: the verifier
(``licensing/verifier.py``) supplies the snapshot and the time, and caches what it says.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from jwt import PyJWS
from jwt.exceptions import (
    DecodeError,
    InvalidAlgorithmError,
    InvalidSignatureError,
    InvalidTokenError,
)

from deployserver.licensing import keys as key_material
from deployserver.models.vocabularies import LicenseStatus
from deployserver.specs.served import rfc3339

if TYPE_CHECKING:
    from deployserver.licensing.trust import TrustSnapshot

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
MAX_HEADER_SEGMENT = 1024
MAX_KID_LENGTH = 64
MAX_ID_LENGTH = 255
MAX_CHANNEL_LENGTH = 63
# Numeric dates must be representable as datetimes (before year 10000).
MAX_NUMERIC_DATE = 253_402_300_799

_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
# PyJWT does the signature check; the header was vetted before it is reached.
_JWS = PyJWS()


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
    # Compared before any float conversion: an integer past 2**1024 has no float (2**1024
    # as exp once raised OverflowError, a 500 that was never cached).
    if not 0 <= value <= MAX_NUMERIC_DATE or not math.isfinite(value):
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
    if status == LicenseStatus.REVOKED:
        return _reject(REVOKED, "the license has been revoked", view)
    if status == LicenseStatus.SUSPENDED:
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

"""Licenses: issue (sign and record), revoke, suspend, reinstate, list and read.

Statuses: ``active``, ``suspended`` (refused until reinstated) and ``revoked`` (refused for
good; a revoked license is never reinstated, a new one is issued instead). Each change is one
transaction with its audit event; verifiers see it within the license cache bound.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import select
from sqlalchemy.orm import Session

from deployserver.config import Config
from deployserver.db import find_or_404, read_transaction, utcnow, view_of, write_transaction
from deployserver.errors import Conflict, Invalid
from deployserver.licensing.judge import MAX_TOKEN_LENGTH
from deployserver.models import Channel, License, LicenseStatus, words
from deployserver.pagination import Page, SortKey, cursor_str, cursor_time, keyset, page_of
from deployserver.services import audit
from deployserver.services.keys import signer_for_issuance
from deployserver.services.policy_facts import PinRef, pin_of, read_pins, with_pin
from deployserver.specs.canonical import NotCanonicalizable, digest_of, normalize
from deployserver.specs.text import is_uuid, validate_text

STATUSES = words(LicenseStatus)
MAX_TTL_DAYS = 36_500


@dataclass(frozen=True)
class LicenseRecord:
    """An issued license as stored (its JWT is never stored)."""

    id: str
    subject: str
    channel: str
    claims: dict[str, Any]
    status: str
    kid: str
    issued_at: datetime
    not_before: datetime
    expires_at: datetime | None
    issued_by: str
    status_changed_at: datetime | None
    # Installation policies: the release the license is pinned to, if any.
    pin: PinRef | None = None


def license_state(license: License) -> dict[str, Any]:
    """What the audit log digests for a license."""
    return {
        "id": license.id,
        "subject": license.subject,
        "channel": license.channel,
        "status": license.status,
        "kid": license.kid,
        "claims": license.claims,
    }


def _whole_seconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


# JWT dates are seconds since 1970 (verifiers refuse negative ones), and a lifetime added to
# the latest start must still be a date Python and the databases can hold.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC) - timedelta(days=MAX_TTL_DAYS + 1)


def _claim_time(field: str, moment: datetime) -> datetime:
    """A date given for a claim, in UTC whole seconds; 422 naming ``field`` when unusable."""
    if moment.tzinfo is None:
        raise Invalid.field(field, "must carry a time zone (use Z for UTC)")
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise Invalid.field(field, f"must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}")
    return _whole_seconds(utc)


def _lifetime(
    config: Config,
    issued: datetime,
    not_before: datetime,
    expires_at: datetime | None,
    ttl_days: int | None,
    perpetual: bool,
) -> datetime | None:
    """When the license expires (None: perpetual), from at most one of the three options."""
    given = [name for name, value in (("expiresAt", expires_at), ("ttlDays", ttl_days)) if value]
    if perpetual:
        given.append("perpetual")
    if len(given) > 1:
        message = "give at most one of expiresAt, ttlDays and perpetual"
        raise Invalid(message, errors={name: [message] for name in given})
    if perpetual:
        return None
    if expires_at is not None:
        expires = _claim_time("expiresAt", expires_at)
        if expires <= issued:
            raise Invalid.field("expiresAt", "must be in the future")
        if expires <= not_before:
            raise Invalid.field("expiresAt", "must be after notBefore")
        return expires
    days = config.license_default_ttl_days if ttl_days is None else ttl_days
    if not 1 <= days <= MAX_TTL_DAYS:
        raise Invalid.field("ttlDays", f"must be between 1 and {MAX_TTL_DAYS}")
    return not_before + timedelta(days=days)


def issue_license(
    session: Session,
    actor: audit.Actor,
    config: Config,
    *,
    subject: str,
    channel: str,
    expires_at: datetime | None = None,
    ttl_days: int | None = None,
    perpetual: bool = False,
    not_before: datetime | None = None,
    entitlements: Mapping[str, Any] | None = None,
) -> tuple[LicenseRecord, str]:
    """Sign a license with the current signing key and record it; returns it and its JWT.

    The JWT is not stored: like a token, it is shown once (a lost one is re-issued).
    """
    subject = validate_text(subject.strip(), "subject")
    if not subject or len(subject) > 255:
        raise Invalid.field("subject", "must be 1 to 255 characters")
    try:
        granted = normalize(dict(entitlements or {}))
    except NotCanonicalizable as exc:
        raise Invalid.field(f"entitlements.{exc.path}".rstrip("."), exc.message) from None
    issued = _whole_seconds(utcnow())
    valid_from = _claim_time("notBefore", not_before) if not_before is not None else issued
    expires = _lifetime(config, issued, valid_from, expires_at, ttl_days, perpetual)

    license_id = str(uuid.uuid4())
    claims: dict[str, Any] = {
        "iss": config.issuer,
        "aud": config.audience,
        "sub": subject,
        "jti": license_id,
        "iat": int(issued.timestamp()),
        "nbf": int(valid_from.timestamp()),
        "channel": channel,
        "entitlements": granted,
    }
    if expires is None:
        # Verifiers accept a missing exp only with this signed marker (a stripped or
        # forgotten exp is refused, not read as forever).
        claims["perpetual"] = True
    else:
        claims["exp"] = int(expires.timestamp())

    with write_transaction(session):
        if session.scalar(select(Channel.id).where(Channel.name == channel)) is None:
            raise Invalid.field("channel", f"unknown channel {channel!r}")
        signer = signer_for_issuance(session, actor, config.secret_key)
        token = jwt.encode(
            claims,
            signer.private_key,
            algorithm=signer.alg,
            headers={"kid": signer.kid, "typ": "JWT"},
        )
        if len(token) > MAX_TOKEN_LENGTH:
            raise Invalid.field(
                "entitlements", f"too large: the license would exceed {MAX_TOKEN_LENGTH} characters"
            )
        license = License(
            id=license_id,
            subject=subject,
            channel=channel,
            claims=claims,
            status=LicenseStatus.ACTIVE,
            kid=signer.kid,
            issued_at=issued,
            not_before=valid_from,
            expires_at=expires,
            issued_by=actor.name,
        )
        session.add(license)
        session.flush()
        audit.record(
            session,
            actor,
            "license.issue",
            f"license:{license.id}",
            None,
            digest_of(license_state(license)),
        )
        return view_of(LicenseRecord, license), token


def _change_status(
    session: Session, actor: audit.Actor, license_id: str, action: str, new_status: str
) -> LicenseRecord:
    with write_transaction(session):
        license = _find_license(session, license_id)
        if license.status == new_status:
            return view_of(LicenseRecord, license)
        if license.status == LicenseStatus.REVOKED:
            raise Conflict(
                f"license {license_id} is revoked for good; issue a new one", "LICENSE_REVOKED"
            )
        if new_status == LicenseStatus.ACTIVE and license.status != LicenseStatus.SUSPENDED:
            raise Conflict(f"license {license_id} is not suspended", "LICENSE_NOT_SUSPENDED")
        before = digest_of(license_state(license))
        license.status = new_status
        license.status_changed_at = utcnow()
        audit.record(
            session,
            actor,
            f"license.{action}",
            f"license:{license.id}",
            before,
            digest_of(license_state(license)),
        )
        return view_of(LicenseRecord, license)


def revoke_license(session: Session, actor: audit.Actor, license_id: str) -> LicenseRecord:
    """Refuse the license for good."""
    return _change_status(session, actor, license_id, "revoke", LicenseStatus.REVOKED)


def suspend_license(session: Session, actor: audit.Actor, license_id: str) -> LicenseRecord:
    """Refuse the license until it is reinstated."""
    return _change_status(session, actor, license_id, "suspend", LicenseStatus.SUSPENDED)


def reinstate_license(session: Session, actor: audit.Actor, license_id: str) -> LicenseRecord:
    """Make a suspended license valid again (a revoked one stays revoked)."""
    return _change_status(session, actor, license_id, "reinstate", LicenseStatus.ACTIVE)


def get_license(session: Session, license_id: str) -> LicenseRecord:
    with read_transaction(session):
        record = view_of(LicenseRecord, _find_license(session, license_id))
        pins = read_pins(session.connection(), [record.id])
        return replace(record, pin=pins.get(record.id))


def _find_license(session: Session, license_id: str) -> License:
    return find_or_404(
        session, License, license_id, guard=is_uuid, noun="license", code="LICENSE_NOT_FOUND"
    )


def list_licenses(
    session: Session,
    limit: int = 500,
    cursor: str | None = None,
    *,
    subject: str | None = None,
    status: str | None = None,
    channel: str | None = None,
) -> Page[LicenseRecord]:
    """Licenses, newest first, optionally of one subject, status or channel."""
    for field, value in (("subject", subject), ("status", status), ("channel", channel)):
        if value is not None:
            validate_text(value, field)
    query = keyset(
        with_pin(select(License), License.id),
        cursor,
        limit,
        SortKey("at", License.issued_at, cursor_time),
        SortKey("id", License.id, cursor_str),
    )
    if subject is not None:
        query = query.where(License.subject == subject)
    if status is not None:
        query = query.where(License.status == status)
    if channel is not None:
        query = query.where(License.channel == channel)
    with read_transaction(session):
        rows = [
            replace(view_of(LicenseRecord, row.License), pin=pin_of(row))
            for row in session.execute(query)
        ]
    return page_of(rows, limit, lambda row: {"at": row.issued_at.isoformat(), "id": row.id})

"""Signing keys: generate (rotate), retire, list, and make sure a server can always sign.

Rotation: the newest ``active`` key signs; generating a new key turns the previous active
keys ``verify-only`` (they keep verifying licenses they signed); a ``retired`` key verifies
nothing and leaves the JWKS. Private keys are stored sealed (:mod:`deployserver.licensing.keys`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from deployserver.db import (
    find_or_404,
    get_session,
    read_transaction,
    utcnow,
    view_of,
    write_transaction,
)
from deployserver.errors import Conflict, Invalid
from deployserver.extensions import AppState, state
from deployserver.licensing import keys as key_material
from deployserver.models import KeyStatus, SigningKey
from deployserver.pagination import Page, SortKey, cursor_str, cursor_time, keyset, page_of
from deployserver.services import audit
from deployserver.specs.canonical import digest_of
from deployserver.specs.ids import is_kid

log = logging.getLogger(__name__)

STARTUP_ACTOR = audit.Actor(name="system:startup")


@dataclass(frozen=True)
class Signer:
    """What issuance needs: the signing key's id, algorithm and opened private key."""

    kid: str
    alg: str
    private_key: key_material.SigningPrivateKey


@dataclass(frozen=True)
class KeyView:
    """A signing key as callers see it: public parts only."""

    kid: str
    alg: str
    status: str
    public_key: str
    created_at: datetime
    retired_at: datetime | None


def key_state(key: SigningKey) -> dict[str, object]:
    """What the audit log digests for a key (public parts only)."""
    return {"kid": key.kid, "alg": key.alg, "status": key.status, "publicKey": key.public_key}


def generate_key(
    session: Session, actor: audit.Actor, secret: str, alg: str = key_material.DEFAULT_ALGORITHM
) -> KeyView:
    """Create a new signing key; earlier active keys become verify-only."""
    if alg not in key_material.ALGORITHMS:
        raise Invalid.field("alg", f"must be one of {', '.join(key_material.ALGORITHMS)}")
    new = key_material.generate(alg)
    for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
        try:
            with write_transaction(session):
                return view_of(KeyView, _store_new_key(session, actor, secret, new))
        except OperationalError as exc:
            # InnoDB may pick a concurrent rotation as a deadlock victim (gap locks against
            # the other's insert); its advice is to run the transaction again.
            if attempt == DEADLOCK_ATTEMPTS or not _is_deadlock(exc):
                raise
    raise AssertionError("unreachable")


# MySQL/MariaDB: ER_LOCK_DEADLOCK and ER_LOCK_WAIT_TIMEOUT.
_DEADLOCK_CODES = {1213, 1205}
DEADLOCK_ATTEMPTS = 5


def _is_deadlock(exc: OperationalError) -> bool:
    args: tuple[object, ...] = tuple(getattr(exc.orig, "args", ()))
    return bool(args) and args[0] in _DEADLOCK_CODES


def _lock_keys(session: Session) -> None:
    """Serialise key changes: concurrent rotations must leave exactly one active key.

    Locks every key row (PostgreSQL, MariaDB; SQLite write transactions are IMMEDIATE
    already), so a second rotation waits, then sees and demotes the first one's key.
    """
    session.execute(select(SigningKey.kid).with_for_update()).all()


def _store_new_key(
    session: Session, actor: audit.Actor, secret: str, new: key_material.NewKey
) -> SigningKey:
    _lock_keys(session)
    demoted = list(session.scalars(select(SigningKey).where(SigningKey.status == KeyStatus.ACTIVE)))
    for old in demoted:
        before = digest_of(key_state(old))
        old.status = KeyStatus.VERIFY_ONLY
        audit.record(
            session, actor, "key.demote", f"key:{old.kid}", before, digest_of(key_state(old))
        )
    key = SigningKey(
        kid=new.kid,
        alg=new.alg,
        public_key=new.public_pem,
        private_key_encrypted=key_material.seal(new.private_key, new.kid, secret),
        status=KeyStatus.ACTIVE,
        created_at=utcnow(),
    )
    session.add(key)
    session.flush()
    audit.record(session, actor, "key.generate", f"key:{key.kid}", None, digest_of(key_state(key)))
    return key


def retire_key(session: Session, actor: audit.Actor, kid: str) -> KeyView:
    """Retire a key: it verifies nothing from now on (within the license cache bound).

    The current signing key cannot be retired: generate its successor first, so the server
    never ends up unable to sign.
    """
    with write_transaction(session):
        _lock_keys(session)
        # The REST route refuses other shapes; the CLI passes what was typed (argv may carry
        # surrogate escapes, which PostgreSQL cannot compare).
        key = find_or_404(
            session, SigningKey, kid, guard=is_kid, noun="signing key", code="KEY_NOT_FOUND"
        )
        if key.status == KeyStatus.ACTIVE:
            raise Conflict(
                f"key {kid} is the current signing key; generate a new key before retiring it",
                "KEY_IN_USE",
            )
        if key.status != KeyStatus.RETIRED:
            before = digest_of(key_state(key))
            key.status = KeyStatus.RETIRED
            key.retired_at = utcnow()
            audit.record(
                session, actor, "key.retire", f"key:{key.kid}", before, digest_of(key_state(key))
            )
        return view_of(KeyView, key)


def list_keys(session: Session, limit: int = 500, cursor: str | None = None) -> Page[KeyView]:
    """Every key, newest first."""
    query = keyset(
        select(SigningKey),
        cursor,
        limit,
        SortKey("at", SigningKey.created_at, cursor_time),
        SortKey("kid", SigningKey.kid, cursor_str),
    )
    with read_transaction(session):
        rows = [view_of(KeyView, row) for row in session.scalars(query)]
    return page_of(rows, limit, lambda key: {"at": key.created_at.isoformat(), "kid": key.kid})


def signer_for_issuance(session: Session, actor: audit.Actor, secret: str) -> Signer:
    """The signer, in the caller's transaction; with no active key, one is generated first.

    So ``deployserver licenses issue`` works on a database the server never started on.
    """
    signer = current_signer(session, secret)
    if signer is not None:
        return signer
    key = _store_new_key(session, actor, secret, key_material.generate())
    log.info("generated signing key %s (%s): no active signing key was present", key.kid, key.alg)
    signer = current_signer(session, secret)
    assert signer is not None
    return signer


def current_signer(session: Session, secret: str) -> Signer | None:
    """The newest active key, opened for signing; None when the server has none."""
    key = session.scalar(
        select(SigningKey)
        .where(SigningKey.status == KeyStatus.ACTIVE)
        .order_by(SigningKey.created_at.desc(), SigningKey.kid.desc())
        .limit(1)
    )
    if key is None:
        return None
    try:
        private_key = key_material.unseal(key.private_key_encrypted, key.kid, secret)
    except key_material.KeyMaterialError as exc:
        # The operator changed or lost the secret: say which key, never show material.
        raise Conflict(str(exc), "SIGNING_KEY_UNUSABLE") from None
    return Signer(kid=key.kid, alg=key.alg, private_key=private_key)


def ensure_key_in(session: Session, actor: audit.Actor, secret: str) -> KeyView | None:
    """Generate an EdDSA signing key when no key is active; returns the new key, if any."""
    with write_transaction(session):
        _lock_keys(session)
        if session.scalar(
            select(SigningKey.kid).where(SigningKey.status == KeyStatus.ACTIVE).limit(1)
        ):
            return None
        key = view_of(KeyView, _store_new_key(session, actor, secret, key_material.generate()))
    log.info("generated signing key %s (%s): no active signing key was present", key.kid, key.alg)
    return key


def ensure_signing_key(app: Flask) -> None:
    """Start-up task: the embedded default can issue and verify licenses with no set-up."""
    ensure_key_in(get_session(), STARTUP_ACTOR, state(app).config.secret_key)


def signing_key_ready(app_state: AppState) -> str:
    try:
        with app_state.sessions() as session:
            found = session.scalar(
                select(SigningKey.kid).where(SigningKey.status == KeyStatus.ACTIVE).limit(1)
            )
    except SQLAlchemyError as exc:
        log.warning("readiness: cannot read signing keys: %s", type(exc).__name__)
        return "unreadable"
    return "ok" if found else "no active signing key"

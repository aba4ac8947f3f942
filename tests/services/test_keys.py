"""Signing-key service: rotation, retirement, the start-up key and readiness."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from deployserver.errors import Conflict, Invalid, NotFound
from deployserver.extensions import state
from deployserver.models import AuditEvent, KeyStatus, SigningKey
from deployserver.services import keys
from tests.licensing.factories import ACTOR


def secret(app: Flask) -> str:
    return state(app).config.secret_key


def test_generate_rotates_the_signing_key(app: Flask, session: Any) -> None:
    first = keys.generate_key(session, ACTOR, secret(app))
    second = keys.generate_key(session, ACTOR, secret(app), "ES256")
    statuses = {key.kid: key.status for key in keys.list_keys(session).items}
    assert statuses == {first.kid: KeyStatus.VERIFY_ONLY, second.kid: KeyStatus.ACTIVE}
    signer = keys.current_signer(session, secret(app))
    assert signer is not None and (signer.kid, signer.alg) == (second.kid, "ES256")
    actions = list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions == ["key.generate", "key.demote", "key.generate"]


def test_private_key_is_stored_sealed(app: Flask, session: Any) -> None:
    key = keys.generate_key(session, ACTOR, secret(app))
    stored = session.get(SigningKey, key.kid).private_key_encrypted
    assert b"PRIVATE KEY" not in stored
    assert "PRIVATE" not in key.public_key


def test_unknown_algorithm_is_invalid(app: Flask, session: Any) -> None:
    with pytest.raises(Invalid):
        keys.generate_key(session, ACTOR, secret(app), "HS256")
    assert session.scalar(select(SigningKey.kid)) is None


def test_retire(app: Flask, session: Any) -> None:
    old = keys.generate_key(session, ACTOR, secret(app))
    keys.generate_key(session, ACTOR, secret(app))
    retired = keys.retire_key(session, ACTOR, old.kid)
    assert retired.status == KeyStatus.RETIRED and retired.retired_at is not None
    # Retiring again changes nothing and records nothing.
    count = len(list(session.scalars(select(AuditEvent))))
    keys.retire_key(session, ACTOR, old.kid)
    assert len(list(session.scalars(select(AuditEvent)))) == count


def test_the_signing_key_cannot_be_retired(app: Flask, session: Any) -> None:
    key = keys.generate_key(session, ACTOR, secret(app))
    with pytest.raises(Conflict) as caught:
        keys.retire_key(session, ACTOR, key.kid)
    assert caught.value.code == "KEY_IN_USE"
    assert session.get(SigningKey, key.kid).status == KeyStatus.ACTIVE


@pytest.mark.parametrize("kid", ["nope", "x" * 500])
def test_retire_unknown_key(session: Any, kid: str) -> None:
    with pytest.raises(NotFound):
        keys.retire_key(session, ACTOR, kid)


def test_list_pages(app: Flask, session: Any) -> None:
    made = [keys.generate_key(session, ACTOR, secret(app)).kid for _ in range(3)]
    first = keys.list_keys(session, limit=2)
    assert len(first.items) == 2 and first.next_cursor
    second = keys.list_keys(session, limit=2, cursor=first.next_cursor)
    assert second.next_cursor is None
    listed = [key.kid for key in first.items + second.items]
    assert sorted(listed) == sorted(made) and len(set(listed)) == 3


def test_signer_does_not_open_with_another_secret(app: Flask, session: Any) -> None:
    keys.generate_key(session, ACTOR, secret(app))
    with pytest.raises(Conflict) as caught:
        keys.current_signer(session, "a different secret")
    assert caught.value.code == "SIGNING_KEY_UNUSABLE"
    assert "PRIVATE" not in caught.value.detail


def test_startup_generates_one_eddsa_key_and_logs_only_its_kid(
    app: Flask, session: Any, caplog: pytest.LogCaptureFixture
) -> None:
    assert keys.ensure_signing_key in state(app).startup_tasks
    caplog.set_level(logging.INFO)
    with app.app_context():
        keys.ensure_signing_key(app)
        keys.ensure_signing_key(app)
    rows = list(session.scalars(select(SigningKey)))
    assert len(rows) == 1 and rows[0].alg == "EdDSA" and rows[0].status == KeyStatus.ACTIVE
    assert rows[0].kid in caplog.text
    assert "PRIVATE" not in caplog.text and "BEGIN" not in caplog.text


def test_readiness_check(app: Flask, session: Any) -> None:
    assert keys.signing_key_ready(state(app)) == "no active signing key"
    keys.generate_key(session, ACTOR, secret(app))
    assert keys.signing_key_ready(state(app)) == "ok"


def test_concurrent_rotations_leave_exactly_one_active_key(app: Flask) -> None:
    import threading

    from deployserver.db import get_session

    with app.app_context():
        keys.generate_key(get_session(), ACTOR, secret(app))
    workers = 6
    barrier = threading.Barrier(workers)
    failures: list[BaseException] = []

    def rotate() -> None:
        with app.app_context():
            barrier.wait()
            try:
                keys.generate_key(get_session(), ACTOR, secret(app))
            except BaseException as exc:  # reported below
                failures.append(exc)

    threads = [threading.Thread(target=rotate) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    with app.app_context():
        statuses = list(get_session().scalars(select(SigningKey.status)))
    assert sorted(statuses).count(KeyStatus.ACTIVE) == 1
    assert len(statuses) == workers + 1

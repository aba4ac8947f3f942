"""License service: issuance rules, the recorded row and audit, status changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from flask import Flask
from sqlalchemy import select

from deployserver.errors import Conflict, Invalid, NotFound
from deployserver.extensions import state
from deployserver.models import AuditEvent, License
from deployserver.services import licenses
from tests.licensing.factories import ACTOR, add_channel
from tests.queries import QueryRecorder, assert_index_walk


def issue(app: Flask, session: Any, **kwargs: Any) -> tuple[License, str]:
    kwargs.setdefault("subject", "acme")
    kwargs.setdefault("channel", "stable")
    return licenses.issue_license(session, ACTOR, state(app).config, **kwargs)


@pytest.fixture
def stable(session: Any) -> None:
    add_channel(session, "stable")


@pytest.mark.usefixtures("stable")
def test_issue_records_and_signs_the_claims(app: Flask, session: Any) -> None:
    config = state(app).config
    row, token = issue(app, session, entitlements={"seats": 10.0, "features": ["sso"]})
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "JWT" and header["alg"] == "EdDSA" and header["kid"] == row.kid
    claims = jwt.decode(token, options={"verify_signature": False})
    assert set(claims) == {
        "iss", "aud", "sub", "jti", "iat", "nbf", "exp", "channel", "entitlements"
    }  # fmt: skip
    assert claims["iss"] == config.issuer and claims["aud"] == config.audience
    assert claims["jti"] == row.id and claims["sub"] == "acme" and claims["channel"] == "stable"
    assert claims["entitlements"] == {"seats": 10, "features": ["sso"]}
    assert claims["exp"] - claims["nbf"] == config.license_default_ttl_days * 86400
    stored = session.get(License, row.id)
    assert stored.status == "active" and stored.issued_by == "test"
    assert stored.claims == claims
    assert int(stored.expires_at.timestamp()) == claims["exp"]
    event = session.scalar(select(AuditEvent).where(AuditEvent.target == f"license:{row.id}"))
    assert event.action == "license.issue" and event.before is None and event.after


@pytest.mark.usefixtures("stable")
def test_lifetimes(app: Flask, session: Any) -> None:
    row, _ = issue(app, session, ttl_days=7)
    assert row.expires_at - row.not_before == timedelta(days=7)
    when = datetime(2099, 1, 31, tzinfo=UTC)
    row, _ = issue(app, session, expires_at=when)
    assert row.expires_at == when
    row, token = issue(app, session, perpetual=True)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert row.expires_at is None and "exp" not in claims and claims["perpetual"] is True


@pytest.mark.usefixtures("stable")
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"ttl_days": 3, "perpetual": True}, "ttlDays"),
        ({"expires_at": datetime(2099, 1, 1, tzinfo=UTC), "ttl_days": 3}, "expiresAt"),
        ({"expires_at": datetime(2001, 1, 1, tzinfo=UTC)}, "expiresAt"),
        ({"expires_at": datetime(2099, 1, 1)}, "expiresAt"),
        ({"ttl_days": 0}, "ttlDays"),
        ({"channel": "nope"}, "channel"),
        ({"subject": "  "}, "subject"),
        ({"entitlements": {"x": float("nan")}}, "entitlements.x"),
        ({"entitlements": {"blob": "x" * 20_000}}, "entitlements"),
    ],
)
def test_invalid_issuance_writes_nothing(
    app: Flask, session: Any, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(Invalid) as caught:
        issue(app, session, **kwargs)
    assert caught.value.errors and field in caught.value.errors
    assert session.scalar(select(License.id)) is None
    assert session.scalar(select(AuditEvent.id).where(AuditEvent.action == "license.issue")) is None


@pytest.mark.usefixtures("stable")
def test_status_transitions(app: Flask, session: Any) -> None:
    row, _ = issue(app, session)
    assert licenses.suspend_license(session, ACTOR, row.id).status == "suspended"
    assert licenses.reinstate_license(session, ACTOR, row.id).status == "active"
    # Already in the asked-for status: nothing changes and nothing is audited.
    assert licenses.reinstate_license(session, ACTOR, row.id).status == "active"
    assert licenses.revoke_license(session, ACTOR, row.id).status == "revoked"
    assert licenses.revoke_license(session, ACTOR, row.id).status == "revoked"
    for change in (licenses.suspend_license, licenses.reinstate_license):
        with pytest.raises(Conflict) as caught:
            change(session, ACTOR, row.id)
        assert caught.value.code == "LICENSE_REVOKED"
    actions = list(
        session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.target == f"license:{row.id}")
            .order_by(AuditEvent.id)
        )
    )
    assert actions == ["license.issue", "license.suspend", "license.reinstate", "license.revoke"]


@pytest.mark.parametrize("license_id", ["00000000-0000-4000-8000-000000000000", "x' OR 1=1"])
def test_unknown_license(session: Any, license_id: str) -> None:
    with pytest.raises(NotFound):
        licenses.revoke_license(session, ACTOR, license_id)
    with pytest.raises(NotFound):
        licenses.get_license(session, license_id)


@pytest.mark.usefixtures("stable")
def test_list_filters_and_pages(app: Flask, session: Any) -> None:
    ids = [issue(app, session, subject=f"s{i % 2}")[0].id for i in range(5)]
    licenses.revoke_license(session, ACTOR, ids[0])
    seen: list[str] = []
    page = licenses.list_licenses(session, limit=2)
    seen += [row.id for row in page.items]
    while page.next_cursor:
        page = licenses.list_licenses(session, limit=2, cursor=page.next_cursor)
        seen += [row.id for row in page.items]
    assert sorted(seen) == sorted(ids) and len(seen) == 5
    assert {r.id for r in licenses.list_licenses(session, status="revoked").items} == {ids[0]}
    assert len(licenses.list_licenses(session, subject="s1").items) == 2


def test_deep_page_walks_the_issued_at_index(app: Flask, session: Any, stable: None) -> None:
    # Same issued_at second for all of them: the id breaks the tie inside the keyset.
    issued = {issue(app, session, subject=f"s{n}")[0].id for n in range(5)}
    engine = state(app).engine
    seen: list[str] = []
    cursor = None
    with QueryRecorder(engine) as recorder:
        while True:
            page = licenses.list_licenses(session, limit=2, cursor=cursor)
            seen += [row.id for row in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    assert len(seen) == len(set(seen)) == 5 and set(seen) == issued
    assert recorder.count == 3  # one query per page, whatever its depth
    deep, parameters = recorder.statements[-1]
    assert "licenses.issued_at <=" in deep
    assert_index_walk(engine, deep, parameters, "ix_licenses_issued_at_id")

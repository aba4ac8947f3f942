"""Tokens over REST (admin only, secret shown once, sha256 stored) and whoami."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask.testing import FlaskClient

from deployserver.models import ApiToken, AuditEvent


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_create_list_revoke(
    client: FlaskClient, admin_headers: dict[str, str], count: Callable[[Any], int], app: Any
) -> None:
    created = client.post(
        "/api/v1/tokens", json={"name": "ci", "role": "viewer"}, headers=admin_headers
    )
    assert created.status_code == 201
    body = created.get_json()
    secret = body["token"]
    assert secret.startswith("dst_")
    assert body["role"] == "viewer" and body["channels"] is None and body["expiresAt"] is None
    with app.app_context():
        from deployserver.db import get_session

        row = get_session().get(ApiToken, body["id"])
        assert row is not None
        assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    listed = client.get("/api/v1/tokens", headers=admin_headers).get_json()
    assert body["id"] in [item["id"] for item in listed["items"]]
    assert all("token" not in item for item in listed["items"])
    assert client.get("/api/v1/whoami", headers=bearer(secret)).get_json() == {
        "id": body["id"],
        "name": "ci",
        "role": "viewer",
        "channels": None,
    }
    revoked = client.post(f"/api/v1/tokens/{body['id']}/revoke", headers=admin_headers)
    assert revoked.status_code == 200 and revoked.get_json()["revoked"] is True
    assert client.get("/api/v1/whoami", headers=bearer(secret)).status_code == 401
    assert count(AuditEvent) >= 2


def test_only_admins_manage_tokens(
    client: FlaskClient, make_token: Callable[..., dict[str, str]], count: Callable[[Any], int]
) -> None:
    publisher = make_token("publisher")
    before = count(ApiToken)
    answer = client.post("/api/v1/tokens", json={"name": "x", "role": "admin"}, headers=publisher)
    assert answer.status_code == 403 and answer.get_json()["code"] == "FORBIDDEN"
    assert client.get("/api/v1/tokens", headers=publisher).status_code == 403
    assert client.get("/api/v1/tokens").status_code == 401
    assert count(ApiToken) == before


def test_expired_token_is_refused(
    client: FlaskClient, admin_headers: dict[str, str], count: Callable[[Any], int]
) -> None:
    soon = datetime.now(UTC) + timedelta(days=1)
    created = client.post(
        "/api/v1/tokens",
        json={"name": "temp", "role": "viewer", "expiresAt": soon.isoformat()},
        headers=admin_headers,
    ).get_json()
    assert created["expiresAt"] == soon.strftime("%Y-%m-%dT%H:%M:%SZ")
    before = count(ApiToken)
    past = client.post(
        "/api/v1/tokens",
        json={"name": "old", "role": "viewer", "expiresAt": "2020-01-01T00:00:00Z"},
        headers=admin_headers,
    )
    assert past.status_code == 422 and "expiresAt" in past.get_json()["errors"]
    naive = client.post(
        "/api/v1/tokens",
        json={"name": "old", "role": "viewer", "expiresAt": "2030-01-01T00:00:00"},
        headers=admin_headers,
    )
    assert naive.status_code == 422
    assert count(ApiToken) == before


def test_bad_token_bodies_are_refused(
    client: FlaskClient, admin_headers: dict[str, str], count: Callable[[Any], int]
) -> None:
    before = count(ApiToken)
    for body, field in [
        ({"name": "x", "role": "owner"}, "role"),
        ({"role": "viewer"}, "name"),
        ({"name": "x", "role": "viewer", "channels": ["stable"]}, "channels"),
        ({"name": "x", "role": "publisher", "channels": ["nope"]}, "channels"),
        ({"name": "x", "role": "viewer", "extra": 1}, "extra"),
    ]:
        answer = client.post("/api/v1/tokens", json=body, headers=admin_headers)
        assert answer.status_code == 422, body
        assert field in answer.get_json()["errors"], answer.get_json()
    assert client.post("/api/v1/tokens/nope/revoke", headers=admin_headers).status_code == 404
    assert count(ApiToken) == before

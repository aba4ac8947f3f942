"""License endpoints: validation (body or Basic), issuing and status changes (admin)."""

from __future__ import annotations

import base64
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from deployserver import create_app
from deployserver.db import get_session
from deployserver.extensions import state
from deployserver.models import License
from tests.licensing.factories import add_channel, good_claims, issue, sign


def basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


@pytest.fixture
def stable(app: Flask) -> None:
    with app.app_context():
        add_channel(get_session(), "stable")


# --- validate --------------------------------------------------------------------------------


def test_validate_valid_license_in_body(app: Flask, client: FlaskClient) -> None:
    row, token = issue(app, entitlements={"seats": 100, "features": ["sso"]})
    response = client.post("/api/v1/licenses/validate", json={"license": token})
    assert response.status_code == 200
    body = response.get_json()
    assert body["valid"] is True and body["code"] == "VALID"
    assert body["license"]["id"] == row.id
    assert body["license"]["entitlements"] == {"seats": 100, "features": ["sso"]}


def test_validate_license_as_basic_password(app: Flask, client: FlaskClient) -> None:
    _, token = issue(app)
    response = client.post("/api/v1/licenses/validate", headers=basic("license", token))
    assert response.status_code == 200
    assert response.get_json()["code"] == "VALID"


def test_validate_expired_shows_the_license(app: Flask, client: FlaskClient) -> None:
    token = sign(app, good_claims(app, exp=1767225600))
    body = client.post("/api/v1/licenses/validate", json={"license": token}).get_json()
    assert body["valid"] is False and body["code"] == "EXPIRED"
    assert body["detail"] == "expired at 2026-01-01T00:00:00Z"
    assert body["license"]["expiresAt"] == "2026-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("token", "code", "detail"),
    [
        ("", "MALFORMED", "a license has 3 dot-separated segments, not 1"),
        ("a.b", "MALFORMED", "a license has 3 dot-separated segments, not 2"),
        ("x" * 200_000, "MALFORMED", "a license is at most 16384 characters"),
        ("eyJhbGciOiJub25lIn0.e30.", "UNSUPPORTED_ALGORITHM", "algorithm 'none' is not accepted"),
    ],
)
def test_validate_bad_tokens_is_200_with_a_verdict(
    client: FlaskClient, token: str, code: str, detail: str
) -> None:
    response = client.post("/api/v1/licenses/validate", json={"license": token})
    assert response.status_code == 200
    assert response.get_json() == {"valid": False, "code": code, "detail": detail}


def test_validate_200kb_license_in_a_basic_header(client: FlaskClient) -> None:
    response = client.post("/api/v1/licenses/validate", headers=basic("license", "A" * 200_000))
    assert response.status_code == 200
    assert response.get_json()["code"] == "MALFORMED"


def test_validate_needs_a_license(client: FlaskClient) -> None:
    response = client.post("/api/v1/licenses/validate", json={})
    assert response.status_code == 422
    assert "license" in response.get_json()["errors"]


@pytest.mark.parametrize(
    "headers",
    [basic("admin", "x.y.z"), {"Authorization": "Bearer abc"}, {"Authorization": "Basic !!"}],
)
def test_validate_other_credentials_are_license_invalid(
    client: FlaskClient, headers: dict[str, str]
) -> None:
    response = client.post("/api/v1/licenses/validate", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["code"] == "LICENSE_INVALID"
    assert response.headers["WWW-Authenticate"] == 'Basic realm="deployserver"'


@pytest.mark.parametrize("body", [{"license": 42}, {"license": "a.b.c", "extra": 1}])
def test_validate_malformed_request_is_422(client: FlaskClient, body: dict[str, Any]) -> None:
    assert client.post("/api/v1/licenses/validate", json=body).status_code == 422


def test_validate_during_an_outage_with_nothing_known_is_503(
    make_config: Any, tmp_path: Any
) -> None:
    down = create_app(
        make_config(
            database_url="postgresql://nobody@127.0.0.1:1/none", instance_path=tmp_path / "empty"
        )
    )
    response = down.test_client().post("/api/v1/licenses/validate", json={"license": "a.b.c"})
    assert response.status_code == 503
    assert response.get_json()["code"] == "DATABASE_UNAVAILABLE"
    state(down).engine.dispose()


# --- admin -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("stable")
def test_issue_read_and_validate(
    app: Flask, client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    response = client.post(
        "/api/v1/licenses",
        json={"subject": "acme", "channel": "stable", "ttlDays": 30, "entitlements": {"seats": 5}},
        headers=admin_headers,
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "active" and body["subject"] == "acme"
    assert body["entitlements"] == {"seats": 5}
    assert body["expiresAt"].endswith("Z")
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["jti"] == body["id"]
    verdict = client.post("/api/v1/licenses/validate", json={"license": body["token"]})
    assert verdict.get_json()["code"] == "VALID"
    read = client.get(f"/api/v1/licenses/{body['id']}", headers=admin_headers).get_json()
    assert "token" not in read and read["id"] == body["id"]
    listed = client.get("/api/v1/licenses?limit=10", headers=admin_headers).get_json()
    assert [item["id"] for item in listed["items"]] == [body["id"]]
    assert listed["nextCursor"] is None


@pytest.mark.usefixtures("stable")
def test_perpetual_and_expires_at(client: FlaskClient, admin_headers: dict[str, str]) -> None:
    body = client.post(
        "/api/v1/licenses",
        json={"subject": "a", "channel": "stable", "perpetual": True},
        headers=admin_headers,
    ).get_json()
    assert body["expiresAt"] is None
    body = client.post(
        "/api/v1/licenses",
        json={"subject": "a", "channel": "stable", "expiresAt": "2099-01-31T00:00:00Z"},
        headers=admin_headers,
    ).get_json()
    assert body["expiresAt"] == "2099-01-31T00:00:00Z"


@pytest.mark.usefixtures("stable")
@pytest.mark.parametrize(
    "body",
    [
        {"subject": "a", "channel": "nope"},
        {"subject": "a", "channel": "stable", "ttlDays": 3, "perpetual": True},
        {"subject": "a", "channel": "stable", "ttlDays": "3"},
        {"subject": "a", "channel": "stable", "expiresAt": "2099-01-31T00:00:00"},
        {"subject": "a", "channel": "stable", "entitlements": []},
        {"subject": "a", "channel": "stable", "unknown": 1},
        {"channel": "stable"},
    ],
)
def test_issue_refusals_are_422_and_write_nothing(
    app: Flask, client: FlaskClient, admin_headers: dict[str, str], body: dict[str, Any]
) -> None:
    response = client.post("/api/v1/licenses", json=body, headers=admin_headers)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    with app.app_context():
        assert get_session().scalar(select(License.id)) is None


def test_admin_endpoints_need_an_admin(app: Flask, client: FlaskClient, make_token: Any) -> None:
    row, _ = issue(app)
    viewer = make_token("viewer")
    calls = [
        ("post", "/api/v1/licenses"),
        ("get", "/api/v1/licenses"),
        ("get", f"/api/v1/licenses/{row.id}"),
        ("post", f"/api/v1/licenses/{row.id}/revoke"),
        ("post", f"/api/v1/licenses/{row.id}/suspend"),
        ("post", f"/api/v1/licenses/{row.id}/reinstate"),
    ]
    for method, url in calls:
        assert getattr(client, method)(url, json={"x": 1}).status_code == 401, url
        assert getattr(client, method)(url, headers=viewer, json={}).status_code == 403, url


def test_status_changes(app: Flask, client: FlaskClient, admin_headers: dict[str, str]) -> None:
    row, _ = issue(app)
    url = f"/api/v1/licenses/{row.id}"
    assert client.post(f"{url}/suspend", headers=admin_headers).get_json()["status"] == "suspended"
    assert client.post(f"{url}/reinstate", headers=admin_headers).get_json()["status"] == "active"
    assert client.post(f"{url}/revoke", headers=admin_headers).get_json()["status"] == "revoked"
    response = client.post(f"{url}/reinstate", headers=admin_headers)
    assert response.status_code == 409 and response.get_json()["code"] == "LICENSE_REVOKED"
    missing = client.post("/api/v1/licenses/not-a-license/revoke", headers=admin_headers)
    assert missing.status_code == 404 and missing.get_json()["code"] == "LICENSE_NOT_FOUND"


def test_openapi_documents_the_license_endpoints(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    validate = spec["paths"]["/api/v1/licenses/validate"]["post"]
    assert validate["summary"]
    assert {"200", "401", "422", "503"} <= set(validate["responses"])
    for path in (
        "/api/v1/licenses",
        "/api/v1/licenses/{license_id}",
        "/api/v1/licenses/{license_id}/revoke",
        "/api/v1/licenses/{license_id}/suspend",
        "/api/v1/licenses/{license_id}/reinstate",
    ):
        assert path in spec["paths"], path
    assert "422" in spec["paths"]["/api/v1/licenses"]["post"]["responses"]


@pytest.mark.usefixtures("stable")
@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"notBefore": "9999-12-01T00:00:00Z"}, "notBefore"),
        ({"notBefore": "9999-12-01T00:00:00Z", "ttlDays": 30}, "notBefore"),
        ({"expiresAt": "9999-12-31T23:59:59-01:00"}, "expiresAt"),
        ({"notBefore": "0001-01-01T00:30:00+01:00"}, "notBefore"),
        ({"notBefore": "1960-01-01T00:00:00Z", "expiresAt": "2030-01-01T00:00:00Z"}, "notBefore"),
    ],
)
def test_issue_refuses_dates_a_license_cannot_carry(
    client: FlaskClient, admin_headers: dict[str, str], extra: dict[str, Any], field: str
) -> None:
    before = client.get("/api/v1/licenses", headers=admin_headers).get_json()["items"]
    response = client.post(
        "/api/v1/licenses",
        json={"subject": "acme", "channel": "stable", **extra},
        headers=admin_headers,
    )
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]
    assert client.get("/api/v1/licenses", headers=admin_headers).get_json()["items"] == before


@pytest.mark.usefixtures("stable")
@pytest.mark.parametrize("subject", ["acme\x00corp", "acme\ud800"])
def test_issue_refuses_unstorable_subjects(
    client: FlaskClient, admin_headers: dict[str, str], subject: str
) -> None:
    response = client.post(
        "/api/v1/licenses", json={"subject": subject, "channel": "stable"}, headers=admin_headers
    )
    assert response.status_code == 422
    assert "subject" in response.get_json()["errors"]
    if "\x00" in subject:  # (a URL cannot carry a lone surrogate at all)
        listed = client.get(
            "/api/v1/licenses", query_string={"subject": subject}, headers=admin_headers
        )
        assert listed.status_code == 422

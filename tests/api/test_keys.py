"""Key endpoints (admin) and the public JWKS: a license verifies offline from the JWKS alone."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient

from deployserver import create_app
from deployserver.db import get_session
from deployserver.services import tokens
from tests.licensing.factories import ACTOR, issue


def test_jwks_verifies_an_issued_license_offline(app: Flask, client: FlaskClient) -> None:
    _, token = issue(app, entitlements={"seats": 3})
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["Cache-Control"].startswith("public")
    jwks = response.get_json()
    kid = jwt.get_unverified_header(token)["kid"]
    (entry,) = [key for key in jwks["keys"] if key["kid"] == kid]
    assert entry["use"] == "sig" and entry["alg"] == "EdDSA"
    # Offline: PyJWT with nothing but the published key and our issuer/audience.
    claims = jwt.decode(
        token,
        jwt.PyJWK(entry).key,
        algorithms=[entry["alg"]],
        audience="wandb-operator",
        issuer="deployserver",
        options={"require": ["exp", "iat", "nbf", "sub", "jti"]},
    )
    assert claims["entitlements"] == {"seats": 3}


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_jwks_offline_verification_for_each_algorithm(
    app: Flask, client: FlaskClient, admin_headers: dict[str, str], alg: str
) -> None:
    created = client.post("/api/v1/keys", json={"alg": alg}, headers=admin_headers)
    assert created.status_code == 201
    _, token = issue(app)
    entry = next(
        k for k in client.get("/.well-known/jwks.json").get_json()["keys"]
        if k["kid"] == created.get_json()["kid"]
    )  # fmt: skip
    claims = jwt.decode(token, jwt.PyJWK(entry).key, algorithms=[alg], audience="wandb-operator")
    assert claims["sub"] == "acme"


def test_key_lifecycle(client: FlaskClient, admin_headers: dict[str, str]) -> None:
    first = client.post("/api/v1/keys", json={}, headers=admin_headers).get_json()
    assert first["alg"] == "EdDSA" and first["status"] == "active"
    second = client.post("/api/v1/keys", json={"alg": "ES256"}, headers=admin_headers).get_json()
    listed = client.get("/api/v1/keys", headers=admin_headers).get_json()
    statuses = {key["kid"]: key["status"] for key in listed["items"]}
    assert statuses == {first["kid"]: "verify-only", second["kid"]: "active"}
    in_use = client.post(f"/api/v1/keys/{second['kid']}/retire", headers=admin_headers)
    assert in_use.status_code == 409 and in_use.get_json()["code"] == "KEY_IN_USE"
    retired = client.post(f"/api/v1/keys/{first['kid']}/retire", headers=admin_headers)
    assert retired.status_code == 200 and retired.get_json()["status"] == "retired"
    missing = client.post("/api/v1/keys/nope/retire", headers=admin_headers)
    assert missing.status_code == 404 and missing.get_json()["code"] == "KEY_NOT_FOUND"


def test_retired_key_leaves_the_jwks(make_config: Any) -> None:
    app = create_app(make_config(license_cache_seconds=0))
    client = app.test_client()
    with app.app_context():
        _, secret = tokens.create_token(get_session(), ACTOR, "a", "admin")
    admin = {"Authorization": f"Bearer {secret}"}
    old = client.post("/api/v1/keys", json={}, headers=admin).get_json()["kid"]
    new = client.post("/api/v1/keys", json={}, headers=admin).get_json()["kid"]
    kids = {k["kid"] for k in client.get("/.well-known/jwks.json").get_json()["keys"]}
    assert kids == {old, new}
    client.post(f"/api/v1/keys/{old}/retire", headers=admin)
    kids = {k["kid"] for k in client.get("/.well-known/jwks.json").get_json()["keys"]}
    assert kids == {new}
    app.extensions["deployserver"].engine.dispose()


def test_unsupported_algorithm_is_422(client: FlaskClient, admin_headers: dict[str, str]) -> None:
    for alg in ("HS256", "none", "RS512"):
        response = client.post("/api/v1/keys", json={"alg": alg}, headers=admin_headers)
        assert response.status_code == 422, alg


def test_no_private_material_in_any_answer(
    app: Flask, client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    client.post("/api/v1/keys", json={"alg": "RS256"}, headers=admin_headers)
    issue(app)
    texts = [
        client.get("/api/v1/keys", headers=admin_headers).get_data(as_text=True),
        client.get("/.well-known/jwks.json").get_data(as_text=True),
        client.get("/openapi.json").get_data(as_text=True),
    ]
    for text in texts:
        assert "PRIVATE" not in text
        for member in ('"d"', '"p"', '"q"', '"dp"', '"dq"', '"qi"'):
            assert member not in text


def test_keys_need_an_admin(client: FlaskClient, make_token: Any) -> None:
    publisher = make_token("publisher")
    assert client.get("/api/v1/keys").status_code == 401
    assert client.get("/api/v1/keys", headers=publisher).status_code == 403
    assert client.post("/api/v1/keys", json={}, headers=publisher).status_code == 403
    assert client.post("/api/v1/keys/k/retire", headers=publisher).status_code == 403

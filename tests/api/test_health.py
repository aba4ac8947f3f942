"""Probes and the OpenAPI document."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from deployserver.extensions import state
from deployserver.services.keys import ensure_signing_key


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_when_migrated(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        ensure_signing_key(app)
    response = client.get("/readyz")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["migrations"] == "ok"
    assert body["checks"]["signing_key"] == "ok"


def test_readyz_not_ready_without_a_signing_key(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["signing_key"] == "no active signing key"


def test_readyz_not_ready_when_migrations_behind(app: Flask, client: FlaskClient) -> None:
    engine = state(app).engine
    with engine.begin() as connection:
        (current,) = connection.execute(text("SELECT version_num FROM alembic_version")).one()
        connection.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    try:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.get_json()["checks"]["migrations"] == "not at head"
    finally:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": current})


def test_readyz_when_database_unreachable(make_config) -> None:  # type: ignore[no-untyped-def]
    from deployserver import create_app

    app = create_app(make_config(database_url="postgresql://nobody@127.0.0.1:1/none"))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == "unreachable"
    assert "nobody" not in response.get_data(as_text=True)


def test_openapi_document_and_docs(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    assert spec["info"]["title"] == "deployserver"
    assert "/healthz" in spec["paths"]
    assert client.get("/docs").status_code == 200

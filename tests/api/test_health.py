"""Probes and the OpenAPI document."""

from __future__ import annotations

import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from deployserver import migrate
from deployserver.config import Config
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


def test_readyz_reads_the_migration_heads_once(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[set[str]] = []
    parse = migrate.head_revisions

    def counted() -> set[str]:
        reads.append(parse())
        return reads[-1]

    monkeypatch.setattr(migrate, "head_revisions", counted)
    with app.app_context():
        ensure_signing_key(app)
    statuses = [client.get("/readyz").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert len(reads) == 1


def test_readyz_logs_nothing_at_the_default_level(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with app.app_context():
        ensure_signing_key(app)
    assert Config().log_level == "INFO"
    caplog.clear()
    with caplog.at_level(logging.INFO):
        # The first probe (which reads the migration heads) and the ones after it.
        responses = [client.get("/readyz") for _ in range(2)]
    assert [response.status_code for response in responses] == [200, 200]
    assert [(r.name, r.getMessage()) for r in caplog.records] == []

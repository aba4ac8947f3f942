"""The migrations build what the models describe, on every configured backend."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from flask import Flask
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from deployserver import migrate
from deployserver.config import Config
from deployserver.db import create_db_engine
from deployserver.models import (
    ApiToken,
    Channel,
    ChannelEvent,
    Installation,
    License,
    Release,
    SigningKey,
)
from tests.backends import configured_backends, temporary_database


def test_models_and_migrations_agree(app: Flask, backend: str) -> None:
    # What `deployserver db check` runs, here against the suite's database of each backend
    # (created with the server's default collation, as an operator's is).
    engine = app.extensions["deployserver"].engine
    migrate.check(engine)
    if backend in ("mysql", "mariadb"):
        columns = {column["name"]: column for column in inspect(engine).get_columns("releases")}
        assert columns["version"]["type"].collation == "utf8mb4_bin"


@contextmanager
def _fresh_engine(backend: str, folder: Path) -> Iterator[Engine]:
    """An engine on a new, empty database of ``backend`` (dropped afterwards)."""
    with temporary_database(backend, folder) as url:
        engine = create_db_engine(Config(database_url=url).sqlalchemy_url)
        try:
            yield engine
        finally:
            engine.dispose()


def _rows_of_every_vocabulary(connection: Connection) -> None:
    """One row in each table whose column 0005 constrains, as 0002 stored them."""
    moment = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    release = "0b0e1d2c-3a4b-4c5d-8e6f-708192a3b4c5"
    connection.execute(
        Release.__table__.insert(),
        {
            "id": release,
            "version": "1.0.0",
            "chart": {"name": "operator-wandb"},
            "values": {},
            "metadata": {},
            "notes": "",
            "spec": "{}",
            "digest": "0" * 64,
            "created_at": moment,
            "created_by": "test",
        },
    )
    connection.execute(
        Channel.__table__.insert(),
        {"id": 1, "name": "stable", "description": "", "values": {}, "strict_values": False},
    )
    connection.execute(
        ChannelEvent.__table__.insert(),
        {"channel_id": 1, "release_id": release, "action": "publish", "actor": "test"},
    )
    connection.execute(
        License.__table__.insert(),
        {
            "id": "1c2d3e4f-5a6b-4c7d-8e9f-a0b1c2d3e4f5",
            "subject": "acme",
            "channel": "stable",
            "claims": {},
            "status": "suspended",
            "kid": "k1",
            "not_before": moment,
            "issued_by": "test",
        },
    )
    connection.execute(
        SigningKey.__table__.insert(),
        {
            "kid": "k1",
            "alg": "EdDSA",
            "public_key": "PEM",
            "private_key_encrypted": b"sealed",
            "status": "verify-only",
        },
    )
    connection.execute(
        ApiToken.__table__.insert(),
        {
            "id": "2d3e4f5a-6b7c-4d8e-9fa0-b1c2d3e4f5a6",
            "name": "ci",
            "token_hash": "1" * 64,
            "role": "publisher",
        },
    )
    connection.execute(
        Installation.__table__.insert(),
        {"license_id": "1c2d3e4f-5a6b-4c7d-8e9f-a0b1c2d3e4f5", "channel": "stable"},
    )


VOCABULARY_COLUMNS = [
    ("licenses", "status", "suspended"),
    ("signing_keys", "status", "verify-only"),
    ("api_tokens", "role", "publisher"),
    ("channel_events", "action", "publish"),
]


@pytest.mark.parametrize("backend", configured_backends())
def test_upgrade_from_0002_keeps_rows_and_adds_the_checks(backend: str, tmp_path: Path) -> None:
    with _fresh_engine(backend, tmp_path) as engine:
        command.upgrade(migrate.alembic_config(engine), "0002_rollouts_installations")
        with engine.begin() as connection:
            _rows_of_every_vocabulary(connection)
        migrate.upgrade(engine)
        assert migrate.current_revisions(engine) == {"0007_installation_policies"}
        migrate.check(engine)  # what `deployserver db check` runs: models and migrations agree
        for table, column, stored in VOCABULARY_COLUMNS:
            with engine.connect() as connection:
                assert connection.scalar(text(f"SELECT {column} FROM {table}")) == stored
            with pytest.raises(DBAPIError) as refused, engine.begin() as connection:
                connection.execute(text(f"UPDATE {table} SET {column} = 'bogus'"))
            assert f"ck_{table}_{column}" in str(refused.value.orig)
            with engine.connect() as connection:
                assert connection.scalar(text(f"SELECT {column} FROM {table}")) == stored
        indexes = {index["name"] for index in inspect(engine).get_indexes("installations")}
        assert "ix_installations_last_seen_license_id" in indexes
        assert "ix_installations_last_seen" not in indexes
        # And back: 0006 downgrades to what came before it, with the rows still there.
        command.downgrade(migrate.alembic_config(engine), "0005_token_expiry")
        indexes = {index["name"] for index in inspect(engine).get_indexes("installations")}
        assert "ix_installations_last_seen" in indexes
        with engine.begin() as connection:
            connection.execute(text("UPDATE licenses SET status = 'bogus'"))
            assert connection.scalar(text("SELECT count(*) FROM channel_events")) == 1


@pytest.mark.parametrize("backend", configured_backends())
def test_a_database_never_migrated_is_at_no_revision(backend: str, tmp_path: Path) -> None:
    with _fresh_engine(backend, tmp_path) as engine:
        assert migrate.current_revisions(engine) == set()


def test_a_bad_status_is_refused_by_the_database(app: Flask) -> None:
    engine = app.extensions["deployserver"].engine
    with engine.begin() as connection:
        _rows_of_every_vocabulary(connection)
    try:
        with pytest.raises(DBAPIError) as refused, engine.begin() as connection:
            connection.execute(
                License.__table__.insert(),
                {
                    "id": "3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7",
                    "subject": "acme",
                    "channel": "stable",
                    "claims": {},
                    "status": "expired",
                    "kid": "k1",
                    "not_before": datetime(2026, 11, 30, tzinfo=UTC),
                    "issued_by": "test",
                },
            )
        assert "ck_licenses_status" in str(refused.value.orig)
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM licenses")) == 1
    finally:
        with engine.begin() as connection:
            for table in ("installations", "api_tokens", "signing_keys", "licenses"):
                connection.execute(text(f"DELETE FROM {table}"))
            connection.execute(text("DELETE FROM channel_events"))
            connection.execute(text("DELETE FROM channels"))
            connection.execute(text("DELETE FROM releases"))

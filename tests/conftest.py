"""Fixtures: an app on each configured database (built by the migrations), clients, factories.

The database of each backend is created and migrated once per run; every test starts from
empty tables (rows are deleted after each test).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import delete

from deployserver import create_app, migrate
from deployserver.config import Config
from deployserver.db import create_db_engine, get_session
from deployserver.feed.recorder import stop_all
from deployserver.models import Base
from deployserver.services import tokens
from deployserver.services.audit import Actor
from tests.backends import configured_backends, temporary_database

TEST_ACTOR = Actor(name="test", request_id=None)


@pytest.fixture(scope="session", params=configured_backends())
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    folder = tmp_path_factory.mktemp(request.param)
    with temporary_database(request.param, folder) as url:
        engine = create_db_engine(Config(database_url=url).sqlalchemy_url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture
def backend(database_url: str) -> str:
    return Config(database_url=database_url).sqlalchemy_url.get_backend_name()


@pytest.fixture
def make_config(database_url: str, tmp_path: Path) -> Callable[..., Config]:
    def factory(**overrides: Any) -> Config:
        settings: dict[str, Any] = {
            "instance_path": tmp_path / "instance",
            "database_url": database_url,
            "secret_key": "test-secret-key-not-for-production",
            "testing": True,
            # Tests flush installation batches themselves; a background flush of an app a
            # test built on its own must not land in a later test.
            "installation_flush_seconds": 3600,
        }
        settings.update(overrides)
        return Config.from_env({}, **settings)

    return factory


@pytest.fixture
def config(make_config: Callable[..., Config]) -> Config:
    return make_config()


@pytest.fixture
def app(config: Config) -> Iterator[Flask]:
    app = create_app(config)
    yield app
    # Write and stop the installation recorders of this app and of any app the test built
    # on its own before the rows are cleared, so no batch of this test lands in the next.
    stop_all()
    engine = app.extensions["deployserver"].engine
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(delete(table))
    engine.dispose()


@pytest.fixture(autouse=True)
def stop_installation_recorders() -> Iterator[None]:
    """Apps a test builds on its own may start recorders too: flush and stop them all."""
    yield
    stop_all()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def session(app: Flask) -> Iterator[Any]:
    with app.app_context():
        yield get_session()


@pytest.fixture
def make_token(app: Flask) -> Callable[..., dict[str, str]]:
    """Create a token with ``role`` (and channels); returns headers that present it."""

    def factory(role: str = "admin", channels: list[str] | None = None) -> dict[str, str]:
        with app.app_context():
            _, secret = tokens.create_token(
                get_session(), TEST_ACTOR, f"{role}-{len(secret_names)}", role, channels
            )
        secret_names.append(secret)
        return {"Authorization": f"Bearer {secret}"}

    secret_names: list[str] = []
    return factory


@pytest.fixture
def admin_headers(make_token: Callable[..., dict[str, str]]) -> dict[str, str]:
    return make_token("admin")

"""Fixtures: an app on each configured database (built by the migrations), clients, factories.

The database of each backend is created and migrated once per run. An app is built once per
test module and configuration and shared by the module's tests that ask for that
configuration. Every test starts from a clean slate all the same: after each test that used
the database, the tables are emptied, the shared apps' per-app caches are dropped and the
instance folder is emptied (see :func:`isolate_tests`).
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import Engine, delete

from deployserver import create_app, migrate
from deployserver.config import Config
from deployserver.db import create_db_engine, get_session
from deployserver.extensions import state
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


@pytest.fixture(scope="session")
def database_engine(database_url: str) -> Iterator[Engine]:
    """The suite's own engine on the test database (it empties the tables between tests)."""
    engine = create_db_engine(Config(database_url=database_url).sqlalchemy_url)
    yield engine
    engine.dispose()


@pytest.fixture
def backend(database_url: str) -> str:
    return Config(database_url=database_url).sqlalchemy_url.get_backend_name()


@pytest.fixture(scope="module")
def instance_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The instance folder of the module's apps; emptied after every test."""
    return tmp_path_factory.mktemp("instance")


@pytest.fixture
def make_config(database_url: str, instance_folder: Path) -> Callable[..., Config]:
    def factory(**overrides: Any) -> Config:
        settings: dict[str, Any] = {
            "instance_path": instance_folder,
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


class SharedApp:
    """An app shared by a module's tests, and its state as ``create_app`` left it."""

    def __init__(self, config: Config) -> None:
        self.app = create_app(config)
        built = state(self.app)
        self._pristine = dataclasses.replace(built, extras=dict(built.extras))

    def reset(self) -> None:
        """Drop what the last test left in the app's state (caches, recorder, read-once data).

        In place: the poll's WSGI front holds the app's state object itself.
        """
        current = state(self.app)
        for item in dataclasses.fields(current):
            setattr(current, item.name, getattr(self._pristine, item.name))
        current.extras = dict(self._pristine.extras)


@pytest.fixture(scope="module")
def module_apps() -> Iterator[list[SharedApp]]:
    """The apps built for this module, one per distinct configuration."""
    apps: list[SharedApp] = []
    yield apps
    stop_all()
    for shared in apps:
        state(shared.app).engine.dispose()


@pytest.fixture
def app(config: Config, module_apps: list[SharedApp]) -> Flask:
    """The module's app for ``config``: built on first use, shared by later tests."""
    for shared in module_apps:
        if state(shared.app).config == config:
            return shared.app
    shared = SharedApp(config)
    module_apps.append(shared)
    return shared.app


def _stop_recorders() -> None:
    """Flush and stop every recorder, then close the connections their last flush opened:
    an app built by a test may have disposed its engine before this teardown runs, and a
    pooled connection left to the garbage collector is a leak (a ResourceWarning, an error)."""
    for recorder in stop_all():
        recorder.engine.dispose()


@pytest.fixture(autouse=True)
def isolate_tests(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test: stop the recorders, then reset what the next test must not inherit.

    Apps a test builds on its own may start installation recorders too: every recorder is
    flushed and stopped before the rows are cleared, so no batch of this test lands in the
    next. Shared apps get back the state ``create_app`` gave them: no cached verdicts or served
    bodies, no recorder, nothing read once.
    """
    if "database_url" not in request.fixturenames:
        yield
        _stop_recorders()
        return
    engine: Engine = request.getfixturevalue("database_engine")
    apps: list[SharedApp] = request.getfixturevalue("module_apps")
    folder: Path = request.getfixturevalue("instance_folder")
    yield
    _stop_recorders()
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(delete(table))
    for shared in apps:
        shared.reset()
    for entry in folder.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


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

"""What a server does once before it serves: check the database, migrate, run start-up tasks."""

from __future__ import annotations

import logging

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from deployserver import migrate
from deployserver.app import create_app
from deployserver.config import Config, ConfigError
from deployserver.db import create_db_engine
from deployserver.extensions import state

log = logging.getLogger(__name__)


def connect_database(config: Config) -> Engine:
    """An engine that has proven it can connect; a clear ConfigError otherwise."""
    config.prepare_instance()
    url = config.sqlalchemy_url
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else "no answer"
        raise ConfigError(
            f"database {url.render_as_string(hide_password=True)} is unreachable: {reason}"
        ) from None
    return engine


def prepare_server(config: Config) -> None:
    """Migrate to head and run the start-up tasks; the engine is disposed before forking."""
    engine = connect_database(config)
    migrate.upgrade(engine)
    engine.dispose()
    app = create_app(config)
    with app.app_context():
        for task in state(app).startup_tasks:
            task(app)
    state(app).engine.dispose()

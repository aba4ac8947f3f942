"""The databases the suite runs on: SQLite always, PostgreSQL and MariaDB when configured.

``DEPLOYSERVER_TEST_POSTGRES_URL`` and ``DEPLOYSERVER_TEST_MYSQL_URL`` name a server and an
account allowed to create databases. Each run creates its own uniquely named database there
and drops it afterwards; a configured but unreachable server fails the run (never skips).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

from deployserver.config import normalize_database_url

POSTGRES_ENV = "DEPLOYSERVER_TEST_POSTGRES_URL"
MYSQL_ENV = "DEPLOYSERVER_TEST_MYSQL_URL"


def configured_backends() -> list[str]:
    backends = ["sqlite"]
    if os.environ.get(POSTGRES_ENV):
        backends.append("postgresql")
    if os.environ.get(MYSQL_ENV):
        backends.append("mysql")
    return backends


@contextmanager
def temporary_database(backend: str, folder: Path) -> Iterator[str]:
    """Create an empty database for this run; yield its URL; drop it afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'test.db'}"
        return
    server = normalize_database_url(
        os.environ[POSTGRES_ENV if backend == "postgresql" else MYSQL_ENV]
    )
    name = f"deployserver_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    quote = '"' if backend == "postgresql" else "`"
    with admin.connect() as connection:
        # The server's default character set and collation, as an operator's database gets
        # (on MariaDB a case-insensitive one: the models must not depend on it).
        connection.execute(text(f"CREATE DATABASE {quote}{name}{quote}"))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            if backend == "postgresql":
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )
            connection.execute(text(f"DROP DATABASE {quote}{name}{quote}"))
        admin.dispose()

"""The command line on the server host: the REST API answered in-process, as the local user.

Imported only by commands that act locally, so a client of a remote server never loads the
server stack. Commands refuse to run against a folder that holds no instance (no database,
no secret) instead of silently creating an empty one; ``db upgrade`` and ``serve`` create it.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from flask import Flask
from sqlalchemy.exc import OperationalError

from deployserver.app import create_app
from deployserver.auth import LOCAL_PRINCIPAL_KEY
from deployserver.cli.client import Client, Refusal
from deployserver.config import SECRET_KEY_FILE, Config, ConfigError
from deployserver.errors import DeployServerError
from deployserver.services.audit import Actor
from deployserver.services.tokens import Principal


def local_user() -> str:
    return f"cli:{getpass.getuser()}"


def cli_actor() -> Actor:
    """The CLI acts as the local user (audit trail)."""
    return Actor(name=local_user())


def existing_instance() -> Config:
    """The configured instance, refused when it holds no database or no secret yet."""
    try:
        config = Config.from_env()
    except ConfigError as exc:
        raise Refusal(str(exc)) from None
    missing = []
    if not config.database_url and not (config.instance_path / "deployserver.db").is_file():
        missing.append("database")
    if not config.secret_key and not (config.instance_path / SECRET_KEY_FILE).is_file():
        missing.append("secret")
    if missing:
        raise Refusal(
            f"no deployserver instance in {config.instance_path} (no {' or '.join(missing)}): "
            "run where the server runs or set DEPLOYSERVER_INSTANCE_PATH, create one with "
            "`deployserver db upgrade`, or use a remote server with --server URL"
        )
    return config


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Configuration, service and database errors of local work as one line, no traceback."""
    try:
        yield
    except (ConfigError, DeployServerError) as exc:
        raise Refusal(str(exc)) from None
    except OperationalError as exc:
        raise click.ClickException(f"database unavailable: {_first_line(exc)}") from None


@contextmanager
def app_context() -> Iterator[Flask]:
    """The app of the existing instance, its context pushed for a command's own work."""
    with one_line_errors():
        app = create_app(existing_instance())
        try:
            with app.app_context():
                yield app
        finally:
            # Close pooled connections now rather than at garbage collection.
            app.extensions["deployserver"].engine.dispose()


def _first_line(exc: OperationalError) -> str:
    text = str(exc.orig or "").strip().splitlines()
    return text[0] if text else type(exc).__name__


class AppTransport:
    """Requests answered by the app in this process, as an admin named after the user."""

    def __init__(self) -> None:
        with one_line_errors():
            self.app = create_app(existing_instance())
        principal = Principal(
            token_id="", name=local_user(), role="admin", channels=None, local=True
        )
        self.http = self.app.test_client()
        self.environ = {LOCAL_PRINCIPAL_KEY: principal, "REMOTE_ADDR": "127.0.0.1"}

    def send(
        self, method: str, path: str, body: Any, params: dict[str, Any] | None
    ) -> tuple[int, Any]:
        response = self.http.open(
            path,
            method=method,
            json=body,
            query_string=params,
            environ_base=self.environ,
        )
        document = response.get_json(silent=True) if response.data else None
        return response.status_code, document

    def close(self) -> None:
        self.app.extensions["deployserver"].engine.dispose()


def local_client() -> Client:
    return Client(AppTransport(), "the local instance")

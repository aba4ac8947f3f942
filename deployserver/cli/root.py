"""The root ``deployserver`` command group and what every command shares.

User errors end a command with one line on stderr and a non-zero exit, never a traceback.
Commands that create a secret print it alone on the last line of stdout.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from flask import Flask
from sqlalchemy.exc import OperationalError

from deployserver.config import Config, ConfigError
from deployserver.errors import DeployServerError
from deployserver.services.audit import Actor


class CommandGroup(click.Group):
    """A click group that reports our errors as one line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ConfigError, DeployServerError) as exc:
            raise click.ClickException(str(exc)) from None
        except OperationalError as exc:
            raise click.ClickException(f"database unavailable: {_first_line(exc.orig)}") from None


def _first_line(exc: BaseException | None) -> str:
    text = str(exc or "").strip().splitlines()
    return text[0] if text else type(exc).__name__


@click.group(cls=CommandGroup)
def cli() -> None:
    """deployserver: the release-channel server that Kubernetes operators poll."""


@contextmanager
def app_context(config: Config | None = None) -> Iterator[Flask]:
    """Build the app from the environment and push its context for a command's work."""
    from deployserver.app import create_app

    app = create_app(config)
    try:
        with app.app_context():
            yield app
    finally:
        # Close pooled connections now rather than at garbage collection (tests run many
        # commands in one process; a connection left to the collector warns).
        app.extensions["deployserver"].engine.dispose()


def cli_actor() -> Actor:
    """The CLI acts as the local user (audit trail)."""
    return Actor(name=f"cli:{getpass.getuser()}")


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))

"""The root ``deployserver`` command group and where commands send their requests.

With ``--server``/``DEPLOYSERVER_URL`` (or a saved login) commands call a remote server over
HTTP; without, the same requests are answered in-process by the local instance, as the local
user. User errors end a command with one line on stderr (exit 2 for a refusal, 1 for a
transport failure), never a traceback. Commands that create a secret print it alone on the
last line of stdout.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from deployserver.cli.client import Client, Refusal, remote_client
from deployserver.cli.profile import load_profile

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Target:
    """Where commands send their requests, as the root options and environment say."""

    server: str | None
    token: str | None

    def client(self) -> Client:
        """Flags, then environment (both in ``server``/``token``), then the saved login."""
        server, token = self.server, self.token
        if server is None:
            profile = load_profile()
            if profile is not None:
                server = profile.url
                token = token or profile.token
        elif token is None:
            profile = load_profile()
            # The saved token goes only to the server it was saved for.
            if profile is not None and profile.url.rstrip("/") == server.rstrip("/"):
                token = profile.token
        if server is not None:
            return remote_client(server, token)
        if token is not None:
            raise Refusal("a token needs a server: give --server URL or DEPLOYSERVER_URL")
        from deployserver.cli.local import local_client

        return local_client()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--server",
    envvar="DEPLOYSERVER_URL",
    help="Base URL of a remote server (env DEPLOYSERVER_URL; default: the saved login, "
    "else the local instance).",
)
@click.option("--token", envvar="DEPLOYSERVER_TOKEN", help="Bearer token (env DEPLOYSERVER_TOKEN).")
@click.version_option(package_name="deployserver", prog_name="deployserver")
@click.pass_context
def cli(ctx: click.Context, server: str | None, token: str | None) -> None:
    """deployserver: the release-channel server that Kubernetes operators poll."""
    ctx.obj = Target(server or None, token or None)


def with_client(command: F) -> F:
    """Pass the command a ``client`` for the chosen server, closed when it is done."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        target = click.get_current_context().find_object(Target) or Target(None, None)
        client = target.client()
        try:
            return command(*args, client=client, **kwargs)
        finally:
            client.close()

    return wrapper  # type: ignore[return-value]

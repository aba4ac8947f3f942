"""``deployserver login``, ``logout`` and ``whoami``: the saved connection to a server."""

from __future__ import annotations

import sys
from typing import Any

import click

from deployserver.cli.client import Client, Refusal, remote_client
from deployserver.cli.output import emit, fields_table, output_options
from deployserver.cli.profile import Profile, remove_profile, save_profile
from deployserver.cli.root import cli, with_client


@cli.command()
@click.argument("url")
@click.option("--token", "token", help="The bearer token (default: read from stdin).")
@output_options
def login(url: str, token: str | None, fmt: str) -> None:
    """Check a token against the server at URL with /whoami and save both (mode 0600)."""
    if token is None:
        if sys.stdin.isatty():
            token = click.prompt("token", hide_input=True)
        else:
            token = sys.stdin.readline()
    token = token.strip()
    if not token:
        raise Refusal("no token given: pass --token or write it on stdin")
    client = remote_client(url, token)
    try:
        me = client.get("/api/v1/whoami")
    finally:
        client.close()
    path = save_profile(Profile(url.rstrip("/"), token))
    emit(me, fmt, lambda doc: click.echo(f"logged in to {url} as {_who(doc)}; saved in {path}"))


@cli.command()
def logout() -> None:
    """Forget the saved server and token."""
    removed = remove_profile()
    click.echo(f"removed {removed}" if removed else "no saved login")


@cli.command()
@output_options
@with_client
def whoami(client: Client, fmt: str) -> None:
    """Show the token the commands act with: name, role, channels."""
    me = client.get("/api/v1/whoami")
    emit(
        me,
        fmt,
        lambda doc: fields_table(
            [
                ("server", client.where),
                ("name", doc["name"]),
                ("role", doc["role"]),
                ("channels", doc["channels"] or "every channel"),
                ("id", doc["id"]),
            ]
        ),
    )


def _who(doc: dict[str, Any]) -> str:
    scope = ",".join(doc["channels"]) if doc.get("channels") else "every channel"
    return f"{doc['name']} ({doc['role']}, {scope})"

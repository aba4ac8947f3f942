"""``deployserver tokens``: bearer tokens for release engineers and CI."""

from __future__ import annotations

from datetime import datetime

import click

from deployserver.cli.client import Client
from deployserver.cli.licenses import parse_expiry
from deployserver.cli.output import emit, emit_rows, output_options
from deployserver.cli.root import cli, with_client

ROLES = ("viewer", "publisher", "admin")
TOKEN_COLUMNS = (
    ("ID", lambda t: t["id"]),
    ("NAME", lambda t: t["name"]),
    ("ROLE", lambda t: t["role"]),
    ("CHANNELS", lambda t: t["channels"] or "*"),
    ("STATE", lambda t: "revoked" if t["revoked"] else "active"),
    ("EXPIRES", lambda t: t.get("expiresAt")),
    ("LAST USED", lambda t: t.get("lastUsedAt")),
)


@cli.group("tokens")
def tokens_group() -> None:
    """Bearer tokens: create, list, revoke."""


@tokens_group.command("create")
@click.option("--name", required=True, help="Who or what holds the token.")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the token may do.")
@click.option(
    "--channel",
    "channels",
    multiple=True,
    help="Limit a publisher to this channel (repeatable; default: every channel).",
)
@click.option("--expires", callback=parse_expiry, help="Expiry date or time (UTC if no zone).")
@output_options
@with_client
def create(
    client: Client,
    fmt: str,
    name: str,
    role: str,
    channels: tuple[str, ...],
    expires: datetime | None,
) -> None:
    """Create a token; it is printed once, alone on the last line."""
    body: dict[str, object] = {"name": name, "role": role}
    if channels:
        body["channels"] = list(channels)
    if expires is not None:
        body["expiresAt"] = expires.isoformat()
    created = client.post("/api/v1/tokens", body)
    if fmt != "table":
        emit({key: value for key, value in created.items() if key != "token"}, fmt, print)
    else:
        scope = ", ".join(created["channels"]) if created["channels"] else "every channel"
        click.echo(
            f"created token {created['id']} ({created['role']}, {scope}); it is shown only once:"
        )
    click.echo(created["token"])


@tokens_group.command("list")
@output_options
@with_client
def list_(client: Client, fmt: str) -> None:
    """List tokens (never their secrets)."""
    emit_rows(client.items("/api/v1/tokens"), fmt, TOKEN_COLUMNS)


@tokens_group.command("revoke")
@click.argument("token_id")
@output_options
@with_client
def revoke(client: Client, fmt: str, token_id: str) -> None:
    """Revoke a token; requests presenting it get 401 from now on."""
    token = client.post(f"/api/v1/tokens/{token_id}/revoke")
    emit(token, fmt, lambda doc: click.echo(f"revoked token {doc['id']} ({doc['name']})"))

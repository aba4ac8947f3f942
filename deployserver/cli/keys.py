"""``deployserver keys``: generate, list and retire license signing keys."""

from __future__ import annotations

import click

from deployserver.cli.client import Client
from deployserver.cli.output import emit, emit_rows, output_options
from deployserver.cli.root import cli, with_client

# The server's allow-list (licensing/keys.ALGORITHMS); the server refuses anything else.
ALGORITHMS = ("EdDSA", "ES256", "RS256")
KEY_COLUMNS = (
    ("KID", lambda key: key["kid"]),
    ("ALG", lambda key: key["alg"]),
    ("STATUS", lambda key: key["status"]),
    ("CREATED", lambda key: key.get("createdAt")),
    ("RETIRED", lambda key: key.get("retiredAt")),
)


@cli.group("keys")
def keys_group() -> None:
    """License signing keys: generate (rotate), list, retire."""


@keys_group.command("generate")
@click.option("--alg", type=click.Choice(ALGORITHMS), default="EdDSA", show_default=True)
@output_options
@with_client
def generate(client: Client, fmt: str, alg: str) -> None:
    """Generate a signing key (it signs from now on) and print its kid."""
    key = client.post("/api/v1/keys", {"alg": alg})
    emit(key, fmt, lambda doc: click.echo(doc["kid"]))


@keys_group.command("list")
@output_options
@with_client
def list_keys(client: Client, fmt: str) -> None:
    """List signing keys, newest first."""
    emit_rows(client.items("/api/v1/keys"), fmt, KEY_COLUMNS)


@keys_group.command("retire")
@click.argument("kid")
@output_options
@with_client
def retire(client: Client, fmt: str, kid: str) -> None:
    """Retire a key: licenses it signed stop verifying.

    Kids are base64url thumbprints and may start with a dash: write
    `deployserver keys retire -- KID` for those.
    """
    key = client.post(f"/api/v1/keys/{kid}/retire")
    emit(key, fmt, lambda doc: click.echo(f"{doc['kid']} {doc['status']}"))

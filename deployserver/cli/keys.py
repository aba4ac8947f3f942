"""``deployserver keys``: generate, list and retire license signing keys."""

from __future__ import annotations

import getpass
from typing import Any

import click

from deployserver.cli.root import app_context, cli, echo_json
from deployserver.db import get_session
from deployserver.extensions import state
from deployserver.licensing import keys as key_material
from deployserver.services import keys
from deployserver.services.audit import Actor


def cli_actor() -> Actor:
    return Actor(name=f"cli:{getpass.getuser()}")


def key_document(key: keys.KeyView) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "alg": key.alg,
        "status": key.status,
        "createdAt": key.created_at.isoformat(),
        "retiredAt": key.retired_at.isoformat() if key.retired_at else None,
    }


@cli.group("keys")
def keys_group() -> None:
    """License signing keys: generate (rotate), list, retire."""


@keys_group.command("generate")
@click.option(
    "--alg",
    type=click.Choice(key_material.ALGORITHMS),
    default=key_material.DEFAULT_ALGORITHM,
    show_default=True,
)
@click.option("--json", "as_json", is_flag=True, help="Print the key as JSON.")
def generate(alg: str, as_json: bool) -> None:
    """Generate a signing key (it signs from now on) and print its kid."""
    with app_context() as app:
        key = keys.generate_key(get_session(), cli_actor(), state(app).config.secret_key, alg)
        if as_json:
            echo_json(key_document(key))
        else:
            click.echo(key.kid)


@keys_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the keys as JSON.")
def list_keys(as_json: bool) -> None:
    """List signing keys, newest first."""
    with app_context():
        found: list[keys.KeyView] = []
        cursor = None
        while True:
            page = keys.list_keys(get_session(), cursor=cursor)
            found.extend(page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    if as_json:
        echo_json([key_document(key) for key in found])
        return
    for key in found:
        click.echo(f"{key.kid}  {key.alg:<6}  {key.status:<11}  {key.created_at:%Y-%m-%d %H:%M}")


@keys_group.command("retire")
@click.argument("kid")
def retire(kid: str) -> None:
    """Retire a key: licenses it signed stop verifying.

    Kids are base64url thumbprints and may start with a dash: write
    `deployserver keys retire -- KID` for those.
    """
    with app_context():
        key = keys.retire_key(get_session(), cli_actor(), kid)
        click.echo(f"{key.kid} {key.status}")

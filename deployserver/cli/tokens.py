"""``deployserver tokens``: bearer tokens for release engineers."""

from __future__ import annotations

import click

from deployserver.cli.root import app_context, cli, cli_actor, echo_json
from deployserver.db import get_session
from deployserver.services import tokens


def token_row(token: tokens.TokenView) -> dict[str, object]:
    return {
        "id": token.id,
        "name": token.name,
        "role": token.role,
        "channels": token.channels,
        "createdAt": token.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lastUsedAt": token.last_used_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        if token.last_used_at
        else None,
        "revoked": token.revoked_at is not None,
    }


@cli.group("tokens")
def tokens_group() -> None:
    """Bearer tokens: create, list, revoke."""


@tokens_group.command("create")
@click.option("--name", required=True, help="Who or what holds the token.")
@click.option(
    "--role", required=True, type=click.Choice(tokens.ROLES), help="What the token may do."
)
@click.option(
    "--channel",
    "channels",
    multiple=True,
    help="Limit a publisher to this channel (repeatable; default: every channel).",
)
def create(name: str, role: str, channels: tuple[str, ...]) -> None:
    """Create a token; it is printed once, alone on the last line."""
    with app_context():
        token, secret = tokens.create_token(
            get_session(), cli_actor(), name, role, list(channels) or None
        )
        scope = ", ".join(token.channels) if token.channels else "every channel"
        click.echo(f"created token {token.id} ({token.role}, {scope}); it is shown only once:")
        click.echo(secret)


@tokens_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(as_json: bool) -> None:
    """List tokens (never their secrets)."""
    with app_context():
        rows: list[dict[str, object]] = []
        cursor = None
        while True:
            page = tokens.list_tokens(get_session(), cursor=cursor)
            rows.extend(token_row(token) for token in page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        channels = row["channels"]
        scope = ",".join(channels) if isinstance(channels, list) else "*"
        state = "revoked" if row["revoked"] else "active"
        click.echo(f"{row['id']}  {row['role']:<9}  {state:<7}  {scope:<20}  {row['name']}")


@tokens_group.command("revoke")
@click.argument("token_id")
def revoke(token_id: str) -> None:
    """Revoke a token; requests presenting it get 401 from now on."""
    with app_context():
        token = tokens.revoke_token(get_session(), cli_actor(), token_id)
        click.echo(f"revoked token {token.id} ({token.name})")

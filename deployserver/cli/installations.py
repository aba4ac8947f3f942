"""``deployserver installations prune``: apply the retention to installation insights."""

from __future__ import annotations

import click

from deployserver.cli.root import app_context, cli, cli_actor
from deployserver.db import get_session
from deployserver.extensions import state
from deployserver.services.installations import prune_installations


@cli.group("installations")
def installations_group() -> None:
    """Installation insights recorded from polls."""


@installations_group.command("prune")
@click.option(
    "--days",
    type=click.IntRange(min=1),
    help="Delete installations not seen for this many days "
    "(default: DEPLOYSERVER_INSTALLATION_RETENTION_DAYS, 180).",
)
def prune(days: int | None) -> None:
    """Delete installations (and anonymous poll counts) older than the retention."""
    with app_context() as app:
        days = days or state(app).config.installation_retention_days
        installations, anonymous = prune_installations(get_session(), cli_actor(), days)
    click.echo(
        f"pruned {installations} installations and {anonymous} hourly anonymous counts "
        f"not seen for {days} days"
    )

"""``deployserver installations`` and ``adoption``: what polls tell about installations."""

from __future__ import annotations

from typing import Any

import click

from deployserver.cli.client import Client
from deployserver.cli.output import emit, emit_rows, output_options
from deployserver.cli.root import cli, with_client

INSTALLATION_COLUMNS = (
    ("LICENSE", lambda i: i["licenseId"]),
    ("SUBJECT", lambda i: i["subject"]),
    ("CHANNEL", lambda i: i["channel"]),
    ("VERSION", lambda i: i["lastReleaseVersion"]),
    ("LAST SEEN", lambda i: i["lastSeen"]),
    ("POLLS", lambda i: i["pollCount"]),
)
ADOPTION_COLUMNS = (
    ("VERSION", lambda r: r["version"]),
    ("ACTIVE", lambda r: r["active"]),
    ("STALE", lambda r: r["stale"]),
    ("HEAD", lambda r: r["head"]),
    ("CANDIDATE", lambda r: r["candidate"]),
    ("ID", lambda r: r["releaseId"]),
)


@cli.group("installations")
def installations_group() -> None:
    """Installation insights recorded from polls: list, prune."""


@installations_group.command("list")
@click.option("--channel", help="Only installations on this channel.")
@click.option("--subject", help="Only this customer's.")
@click.option("--release", help="Only those last served this release id.")
@click.option("--seen-since", help="Only those that polled at or after this RFC 3339 time.")
@output_options
@with_client
def list_installations(
    client: Client,
    fmt: str,
    channel: str | None,
    subject: str | None,
    release: str | None,
    seen_since: str | None,
) -> None:
    """List installations, most recently seen first."""
    rows = client.items(
        "/api/v1/installations",
        channel=channel,
        subject=subject,
        release=release,
        seenSince=seen_since,
    )
    emit_rows(rows, fmt, INSTALLATION_COLUMNS)


@installations_group.command("prune")
@click.option(
    "--days",
    type=click.IntRange(min=1),
    help="Delete installations not seen for this many days "
    "(default: DEPLOYSERVER_INSTALLATION_RETENTION_DAYS, 180).",
)
def prune(days: int | None) -> None:
    """Delete installations (and anonymous poll counts) older than the retention (local)."""
    from deployserver.cli.local import app_context, cli_actor
    from deployserver.db import get_session
    from deployserver.extensions import state
    from deployserver.services.installations import prune_installations

    with app_context() as app:
        days = days or state(app).config.installation_retention_days
        installations, anonymous = prune_installations(get_session(), cli_actor(), days)
    click.echo(
        f"pruned {installations} installations and {anonymous} hourly anonymous counts "
        f"not seen for {days} days"
    )


@cli.command("adoption")
@click.argument("channel")
@click.option("--window-hours", type=click.IntRange(min=1), help="Active window (default 24).")
@output_options
@with_client
def adoption(client: Client, fmt: str, channel: str, window_hours: int | None) -> None:
    """Installations per release on CHANNEL: active and stale counts."""
    found = client.get(f"/api/v1/channels/{channel}/adoption", windowHours=window_hours)

    def table(doc: dict[str, Any]) -> None:
        emit_rows(doc["releases"], "table", ADOPTION_COLUMNS)
        click.echo(
            f"{doc['active']} active, {doc['stale']} stale, {doc['anonymousPolls']} anonymous "
            f"polls in the last {doc['windowHours']} h"
        )

    emit(found, fmt, table)

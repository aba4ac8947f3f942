"""``deployserver audit``: every write anywhere, newest first."""

from __future__ import annotations

import click

from deployserver.cli.client import Client
from deployserver.cli.output import emit_rows, output_options
from deployserver.cli.root import cli, with_client

AUDIT_COLUMNS = (
    ("AT", lambda e: e["at"]),
    ("ACTOR", lambda e: e["actor"]),
    ("ACTION", lambda e: e["action"]),
    ("TARGET", lambda e: e["target"]),
    ("REQUEST", lambda e: e.get("requestId")),
)


@cli.command("audit")
@click.option("--target", help="Only events of this target (e.g. channel:stable).")
@output_options
@with_client
def audit_command(client: Client, fmt: str, target: str | None) -> None:
    """List the audit log, newest first."""
    emit_rows(client.items("/api/v1/audit", target=target), fmt, AUDIT_COLUMNS)
